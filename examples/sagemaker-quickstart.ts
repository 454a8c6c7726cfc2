import { App, Stack } from 'aws-cdk-lib';
import * as path from 'path';
import { DeploymentTarget, ModelArtifact, ModelDeployment, NetworkAccess, ServingContainer } from '../lib';

/**
 * The smallest useful deployment: a scikit-learn model from a local folder on SageMaker's managed
 * scikit-learn image, with every secure default (own KMS key, least-privilege role, network
 * isolation, blue/green updates with rollback on alarms, encrypted logs) but one: callers may come
 * from any network. Every request still needs SigV4 and an IAM grant; the default, PRIVATE, needs
 * the VPC endpoints callers come through (see sagemaker-production.ts).
 */
export function sageMakerQuickstart(app: App): Stack {
  const stack = new Stack(app, 'ModelDeploymentQuickstart');
  new ModelDeployment(stack, 'Churn', {
    model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
    serving: ServingContainer.sklearn(),
    access: { network: NetworkAccess.PUBLIC },
    target: DeploymentTarget.sageMaker(),
  });
  return stack;
}
