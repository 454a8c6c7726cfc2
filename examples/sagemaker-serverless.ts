import { App, Stack } from 'aws-cdk-lib';
import { Compute, DeploymentTarget, ModelArtifact, ModelDeployment, NetworkAccess, ServingContainer } from '../lib';

/** An XGBoost model on serverless inference: pay per request, CPU only, no instances to manage. */
export function sageMakerServerless(app: App): Stack {
  const stack = new Stack(app, 'ModelDeploymentServerless');
  new ModelDeployment(stack, 'Pricing', {
    model: ModelArtifact.fromUri('s3://acme-ml-models/pricing/v7/model.tar.gz'),
    serving: ServingContainer.xgboost({ frameworkVersion: '1.7-1' }),
    compute: Compute.cpu({ memoryGiB: 4 }),
    // Serverless endpoints can be neither network-isolated nor placed in a VPC: say so explicitly.
    access: { network: NetworkAccess.PUBLIC },
    target: DeploymentTarget.sageMaker({ serverless: { maxConcurrency: 50 } }),
  });
  return stack;
}
