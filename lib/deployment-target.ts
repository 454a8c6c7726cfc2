import { Construct } from 'constructs';
import { IacEngine, assertEngine } from './common/engine';
import type { IModelEndpoint } from './model-endpoint';
import { checkTargetOptions } from './spec/check';
import { ModelDeploymentSpecProps, SPEC_KEYS } from './spec/spec';
// Options modules hold no engine code (their aws-cdk-lib imports are types only), so checking option
// keys when a factory is called loads no engine.
import { TARGET as AZURE_ML } from './targets/azure-ml/name';
import { AZURE_ML_OPTION_KEYS, AzureMlTargetOptions } from './targets/azure-ml/options';
import { TARGET as ON_PREM } from './targets/on-prem/name';
import { ON_PREM_OPTION_KEYS, OnPremTargetOptions } from './targets/on-prem/options';
import { TARGET as SAGEMAKER } from './targets/sagemaker/name';
import { SAGEMAKER_OPTION_KEYS, SageMakerTargetOptions } from './targets/sagemaker/options';
import { TARGET as VERTEX_AI } from './targets/vertex-ai/name';
import { VERTEX_AI_OPTION_KEYS, VertexAiTargetOptions } from './targets/vertex-ai/options';


/**
 * Where a ModelDeployment runs. Each factory's target is loaded only when it is bound, so a
 * SageMaker user never loads cdktf, and a Terraform user never loads aws-cdk-lib.
 */
export abstract class DeploymentTarget {
  /**
   * Amazon SageMaker real-time (or serverless, or asynchronous) inference, built with
   * aws-cdk-lib. Place the ModelDeployment in an aws-cdk-lib Stack and ship it with `cdk deploy`.
   */
  public static sageMaker(options: SageMakerTargetOptions = {}): DeploymentTarget {
    checkTargetOptions(SAGEMAKER, options, SAGEMAKER_OPTION_KEYS, SPEC_KEYS);
    return new LazyTarget(SAGEMAKER, IacEngine.AWS_CDK, options, (scope, id, props) => {
      // Loaded here, not at the top, so that importing the package root loads no engine.
      const { SageMakerModelEndpoint } = require('./targets/sagemaker/endpoint') as typeof import('./targets/sagemaker/endpoint');
      return new SageMakerModelEndpoint(scope, id, { ...props, ...options });
    });
  }

  /**
   * Your own GPU hosts over SSH, built with cdktf and Terraform's built-in `terraform_data` (no
   * provider to download). Place the ModelDeployment in a cdktf TerraformStack and ship it with
   * `cdktf apply`.
   */
  public static onPrem(options: OnPremTargetOptions): DeploymentTarget {
    checkTargetOptions(ON_PREM, options, ON_PREM_OPTION_KEYS, SPEC_KEYS);
    return new LazyTarget(ON_PREM, IacEngine.CDKTF, options, (scope, id, props) => {
      const { OnPremModelEndpoint } = require('./targets/on-prem/endpoint') as typeof import('./targets/on-prem/endpoint');
      return new OnPremModelEndpoint(scope, id, { ...props, ...options });
    });
  }

  /**
   * An Azure Machine Learning managed online endpoint, built with cdktf (azurerm for the workspace
   * and its neighbours, azapi for the endpoint and its deployment). Place the ModelDeployment in a
   * cdktf TerraformStack and ship it with `cdktf apply`.
   */
  public static azureMl(options: AzureMlTargetOptions): DeploymentTarget {
    checkTargetOptions(AZURE_ML, options, AZURE_ML_OPTION_KEYS, SPEC_KEYS);
    return new LazyTarget(AZURE_ML, IacEngine.CDKTF, options, (scope, id, props) => {
      const { AzureMlModelEndpoint } = require('./targets/azure-ml/endpoint') as typeof import('./targets/azure-ml/endpoint');
      return new AzureMlModelEndpoint(scope, id, { ...props, ...options });
    });
  }

  /**
   * A Google Vertex AI online prediction endpoint, built with cdktf (the google provider for the
   * endpoint, bucket, service account and alerts; a `terraform_data` running this package's bridge,
   * with `@google-cloud/aiplatform`, to upload and deploy the model). Place the ModelDeployment in a
   * cdktf TerraformStack and ship it with `cdktf apply`.
   */
  public static vertexAi(options: VertexAiTargetOptions): DeploymentTarget {
    checkTargetOptions(VERTEX_AI, options, VERTEX_AI_OPTION_KEYS, SPEC_KEYS);
    return new LazyTarget(VERTEX_AI, IacEngine.CDKTF, options, (scope, id, props) => {
      const { VertexAiModelEndpoint } = require('./targets/vertex-ai/endpoint') as typeof import('./targets/vertex-ai/endpoint');
      return new VertexAiModelEndpoint(scope, id, { ...props, ...options });
    });
  }

  /** The target's name, as used in messages: `sageMaker`, `azureMl`, `vertexAi`, `onPrem`. */
  public abstract readonly targetName: string;

  /**
   * Builds the endpoint under `scope`. Called by ModelDeployment.
   * @internal
   */
  public abstract _bind(scope: Construct, id: string, props: ModelDeploymentSpecProps): IModelEndpoint;
}

type Builder = (scope: Construct, id: string, props: ModelDeploymentSpecProps) => IModelEndpoint;

const TERRAFORM_TARGETS = 'DeploymentTarget.azureMl(), DeploymentTarget.vertexAi() or DeploymentTarget.onPrem() (cdktf)';
const CDK_TARGETS = 'DeploymentTarget.sageMaker() (aws-cdk-lib)';

class LazyTarget extends DeploymentTarget {
  constructor(public readonly targetName: string, private readonly engine: IacEngine, public readonly options: object, private readonly build: Builder) {
    super();
  }

  public _bind(scope: Construct, id: string, props: ModelDeploymentSpecProps): IModelEndpoint {
    assertEngine(scope, this.engine, this.targetName, this.engine === IacEngine.AWS_CDK ? TERRAFORM_TARGETS : CDK_TARGETS);
    return this.build(scope, id, props);
  }
}
