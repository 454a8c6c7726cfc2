import { Construct } from 'constructs';
import { DeploymentTarget } from './deployment-target';
import { IModelEndpoint } from './model-endpoint';
import { ModelDeploymentValidationError } from './spec/errors';
import { ModelDeploymentSpecProps } from './spec/spec';

/** Props for {@link ModelDeployment}: the target-free spec plus where it runs. */
export interface ModelDeploymentProps extends ModelDeploymentSpecProps {
  /** Where the model runs, e.g. `DeploymentTarget.sageMaker()`. */
  readonly target: DeploymentTarget;
}

/**
 * A trained model deployed behind an authenticated inference endpoint, described once and built
 * by the chosen target. The target's own construct is `endpoint` (for SageMaker,
 * `SageMakerModelEndpoint.of(deployment)` returns it typed).
 */
export class ModelDeployment extends Construct implements IModelEndpoint {
  /** The construct the target built. */
  public readonly endpoint: IModelEndpoint;
  /** The endpoint's name on its platform. */
  public readonly endpointName: string;
  /** The HTTPS URL that prediction requests go to. */
  public readonly endpointUrl: string;
  /** The target that built it. */
  public readonly targetName: string;

  constructor(scope: Construct, id: string, props: ModelDeploymentProps) {
    super(scope, id);
    if (!props || !(props.target instanceof DeploymentTarget)) {
      throw new ModelDeploymentValidationError('target', props?.target, 'a DeploymentTarget, e.g. DeploymentTarget.sageMaker()');
    }
    const { target, ...spec } = props;
    // The target validates the spec (once) and its own options, then builds its resources.
    this.endpoint = target._bind(this, 'Endpoint', spec);
    this.endpointName = this.endpoint.endpointName;
    this.endpointUrl = this.endpoint.endpointUrl;
    this.targetName = target.targetName;
  }
}
