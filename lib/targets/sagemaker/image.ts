import { Aws, CfnMapping, Fn, Stack, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { ResolvedModelDeploymentSpec } from '../../spec/spec';
import { ServingFramework } from '../../spec/serving';
import { DlcFramework, dlcImageUri, resolveDlcImage } from './image-catalog';
import { TARGET } from './name';

/** The image SageMaker pulls, and the repository the execution role may pull from. */
export interface ResolvedSageMakerImage {
  readonly imageUri: string;
  readonly repositoryArn: string;
  /** Environment the framework's SageMaker image needs (model name and so on). */
  readonly environment: { [name: string]: string };
}

const FRAMEWORK_IMAGES: { readonly [f in ServingFramework]?: DlcFramework } = {
  [ServingFramework.TRITON]: DlcFramework.TRITON,
  [ServingFramework.TORCHSERVE]: DlcFramework.PYTORCH,
  [ServingFramework.TENSORFLOW_SERVING]: DlcFramework.TENSORFLOW,
  [ServingFramework.SKLEARN]: DlcFramework.SKLEARN,
  [ServingFramework.XGBOOST]: DlcFramework.XGBOOST,
  [ServingFramework.VLLM]: DlcFramework.VLLM,
};

// account.dkr.ecr.region.amazonaws.com[.cn]/repository[:tag|@digest]
const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9]+(?:[._/-][a-z0-9]+)*)(?::[\w][\w.-]{0,127}|@sha256:[a-f0-9]{64})$/;

/** SageMaker's own serving contract: every container is called on port 8080, GET /ping, POST /invocations. */
const SAGEMAKER_CONTRACT = { port: 8080, healthPath: '/ping', predictPath: '/invocations' };

/**
 * Picks the image: the user's ECR image, or the SageMaker Deep Learning Container for the preset's
 * framework from the generated table. In an environment-agnostic stack the region is a token, so
 * the DLC account is looked up at deploy time through a CfnMapping built from the table.
 */
export function resolveSageMakerImage(scope: Construct, spec: ResolvedModelDeploymentSpec): ResolvedSageMakerImage {
  const serving = spec.serving;
  if (serving.image !== undefined) {
    const match = ECR_IMAGE.exec(serving.image);
    if (!match) {
      throw new ModelDeploymentValidationError('serving.image', serving.image,
        'an Amazon ECR image (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY:TAG or @sha256:DIGEST): SageMaker pulls only from ECR, so push the image there first', TARGET);
    }
    if (serving.framework === ServingFramework.CUSTOM) checkContract(spec);
    const [, account, region, repository] = match;
    return {
      imageUri: serving.image,
      repositoryArn: `arn:${Aws.PARTITION}:ecr:${region}:${account}:repository/${repository}`,
      environment: frameworkEnvironment(spec),
    };
  }

  const framework = FRAMEWORK_IMAGES[serving.framework];
  if (framework === undefined) {
    throw new ModelDeploymentValidationError('serving.image', undefined, 'an Amazon ECR image for a custom container', TARGET);
  }
  const processor = spec.compute.kind === ComputeKind.GPU ? 'gpu' : 'cpu';
  const image = resolveDlcImage(framework, serving.frameworkVersion, processor);

  const stack = Stack.of(scope);
  if (!Token.isUnresolved(stack.region)) {
    // A concrete region: the URI is a plain string (and an unpublished region fails here, naming it).
    const imageUri = dlcImageUri(image, stack.region);
    const account = image.registries[stack.region];
    return {
      imageUri,
      repositoryArn: Fn.join('', ['arn:', Aws.PARTITION, ':ecr:', stack.region, ':', account, ':repository/', image.repository]),
      environment: frameworkEnvironment(spec),
    };
  }
  const mappingId = `DlcRegistry${image.repository.replace(/[^A-Za-z0-9]/g, '')}`;
  const existing = stack.node.tryFindChild(mappingId) as CfnMapping | undefined;
  const mapping = existing ?? new CfnMapping(stack, mappingId, {
    mapping: Object.fromEntries(Object.entries(image.registries).map(([region, id]) => [region, { account: id }])),
  });
  const account = mapping.findInMap(Aws.REGION, 'account');
  return {
    imageUri: Fn.join('', [account, '.dkr.ecr.', Aws.REGION, '.', Aws.URL_SUFFIX, '/', image.repository, ':', image.tag]),
    repositoryArn: Fn.join('', ['arn:', Aws.PARTITION, ':ecr:', Aws.REGION, ':', account, ':repository/', image.repository]),
    environment: frameworkEnvironment(spec),
  };
}

/** A custom container must answer where SageMaker calls; anything else would fail its health check at deploy time. */
function checkContract(spec: ResolvedModelDeploymentSpec): void {
  const serving = spec.serving;
  const declared = { port: serving.port, healthPath: serving.healthPath, predictPath: serving.predictPath };
  for (const key of Object.keys(SAGEMAKER_CONTRACT) as Array<keyof typeof SAGEMAKER_CONTRACT>) {
    if (declared[key] !== SAGEMAKER_CONTRACT[key]) {
      throw new ModelDeploymentValidationError(`serving.${key}`, declared[key],
        `${SAGEMAKER_CONTRACT[key]}: SageMaker sends health checks to GET /ping and requests to POST /invocations on port 8080`, TARGET);
    }
  }
}

/** What the framework's SageMaker image needs to find the model. */
function frameworkEnvironment(spec: ResolvedModelDeploymentSpec): { [name: string]: string } {
  const serving = spec.serving;
  switch (serving.framework) {
    case ServingFramework.TRITON: return { SAGEMAKER_TRITON_DEFAULT_MODEL_NAME: serving.modelName! };
    case ServingFramework.TENSORFLOW_SERVING: return { SAGEMAKER_TFS_DEFAULT_MODEL_NAME: serving.modelName! };
    case ServingFramework.VLLM: return { SM_VLLM_MODEL: serving.modelName! };
    default: return {};
  }
}
