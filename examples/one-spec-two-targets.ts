import * as path from 'path';
import * as cdk from 'aws-cdk-lib';
import * as cdktf from 'cdktf';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ModelDeploymentSpecProps, ServingContainer } from '../lib';
import { ContainerRuntime } from '../lib/targets/on-prem';

/**
 * One description of a model, two places to run it: SageMaker for the cloud region, and the
 * team's own GPU hosts for data that must not leave the building. Only the `target` differs.
 */
export const fraudScorer: ModelDeploymentSpecProps = {
  model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
  serving: ServingContainer.custom({
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-scorer:4.2.0',
    environment: { LOG_LEVEL: 'info' },
    startupTimeoutSeconds: 300,
  }),
  compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 1 }),
  scaling: { minReplicas: 2 },
  endpointName: 'fraud-scorer',
  tags: { team: 'risk' },
};

export function onSageMaker(app: cdk.App): cdk.Stack {
  const stack = new cdk.Stack(app, 'FraudScorerCloud');
  new ModelDeployment(stack, 'FraudScorer', {
    ...fraudScorer,
    // access.network PRIVATE (the default): callers reach SageMaker only through this runtime VPC endpoint.
    target: DeploymentTarget.sageMaker({ invokeVpcEndpointIds: ['vpce-0a1b2c3d4e5f67890'] }),
  });
  return stack;
}

export function onPrem(app: cdktf.App): cdktf.TerraformStack {
  const stack = new cdktf.TerraformStack(app, 'fraud-scorer-on-prem');
  new ModelDeployment(stack, 'FraudScorer', {
    ...fraudScorer,
    target: DeploymentTarget.onPrem({
      hosts: [
        { name: 'gpu01', address: '192.0.2.21', user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk' },
        { name: 'gpu02', address: '192.0.2.22', user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0mF6dJd0wq1b6eBi7hWcKQGKa9yBC8mR0cX4Q2u1v' },
      ],
      runtime: ContainerRuntime.DOCKER,
      apiKeyFile: '~/.config/model-deploy/fraud-scorer-api-keys',
    }),
  });
  return stack;
}
