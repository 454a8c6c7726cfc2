import * as path from 'path';
import * as cdk from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as cdktf from 'cdktf';
import { Construct } from 'constructs';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, ModelDeploymentSpecProps, ServingContainer } from '../lib';
import type { AzureMlTargetOptions } from '../lib/targets/azure-ml/options';
import { ContainerRuntime } from '../lib/targets/on-prem';
import type { OnPremTargetOptions } from '../lib/targets/on-prem/options';
import type { SageMakerTargetOptions } from '../lib/targets/sagemaker/options';
import type { VertexAiTargetOptions } from '../lib/targets/vertex-ai/options';

/**
 * One description of a model, four places to run it: SageMaker, Azure ML and Vertex AI for the
 * cloud regions, and the team's own GPU hosts for data that must not leave the building. Only the
 * `target` (where it runs, and that platform's own identifiers) differs; everything the model
 * needs (GPU, replicas, routes, environment, the sample predictions that gate every rollout) is
 * here once. The one thing no spec can share is the image's registry: SageMaker pulls only from
 * ECR and Vertex AI only from Artifact Registry, so the same image is mirrored and the Azure ML and
 * Vertex AI stacks name their copy (`specs`); the on-prem hosts pull the ECR original.
 *
 * `npx model-deployment explain examples/one-spec-four-targets.ts` prints what each target makes of it.
 */
/** The same image in each platform's registry (pushed there by the team's release pipeline). */
export const IMAGES = {
  sageMaker: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-scorer:4.2.0',
  azureMl: 'contosoml.azurecr.io/fraud-scorer:4.2.0',
  vertexAi: 'europe-west4-docker.pkg.dev/ml-prod-4711/serving/fraud-scorer:4.2.0',
};

const SERVING_OPTIONS = {
  port: 8080, healthPath: '/ping', predictPath: '/invocations',
  environment: { LOG_LEVEL: 'info' },
  startupTimeoutSeconds: 600,
};

export const spec: ModelDeploymentSpecProps = {
  model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'test', 'fixtures', 'linear-model')),
  serving: ServingContainer.custom({ ...SERVING_OPTIONS, image: IMAGES.sageMaker }),
  compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 1 }),
  scaling: { minReplicas: 2, maxReplicas: 2 },
  endpointName: 'fraud-scorer',
  tags: { team: 'risk' },
  // Every target sends these before the new version takes traffic, and keeps the old one when one fails.
  verification: {
    samples: [
      { name: 'legit-purchase', request: { instances: [[42.5, 0, 1, 3]] }, expectedResponse: { predictions: [0.02] }, absoluteTolerance: 0.01 },
      { name: 'card-testing', request: { instances: [[1, 1, 0, 97]] }, expectedResponse: { predictions: [0.97] }, absoluteTolerance: 0.02 },
    ],
    latencyBudgetMs: 2000,
  },
};

/** The spec with `serving.image` pointing at one platform's copy of the image. */
export function specWithImage(image: string): ModelDeploymentSpecProps {
  return { ...spec, serving: ServingContainer.custom({ ...SERVING_OPTIONS, image }) };
}

/** The targets whose spec differs (only in the image's registry): what `explain` uses for them. */
export const specs = {
  azureMl: specWithImage(IMAGES.azureMl),
  vertexAi: specWithImage(IMAGES.vertexAi),
};

const SUBSCRIPTION = '00000000-0000-0000-0000-000000000000';
const PROJECT = 'ml-prod-4711';

/**
 * Each target's own options for this spec, as functions of the stack they go in (SageMaker's
 * verification function needs the team's VPC, a construct in that stack). `explain` uses them too.
 */
export const targets = {
  sageMaker: (stack: Construct): SageMakerTargetOptions => ({
    // access.network PRIVATE (the default): callers reach SageMaker only through this runtime VPC endpoint.
    invokeVpcEndpointIds: ['vpce-0a1b2c3d4e5f67890'],
    // The sample predictions are sent from a function in the team's VPC, through that endpoint.
    verificationFunction: {
      vpc: ec2.Vpc.fromVpcAttributes(stack, 'TeamVpc', {
        vpcId: 'vpc-0a1b2c3d4e5f67890', availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        privateSubnetIds: ['subnet-0a1b2c3d4e5f67890', 'subnet-0f1e2d3c4b5a69870'],
        privateSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f67890', 'rtb-0f1e2d3c4b5a69870'],
      }),
      // The platform team's role for Lambda functions in that VPC (it holds the EC2 network-interface permissions).
      role: iam.Role.fromRoleArn(stack, 'VpcFunctionRole', 'arn:aws:iam::123456789012:role/platform/lambda-in-vpc', { mutable: false }),
    },
  }),
  azureMl: (): AzureMlTargetOptions => ({
    location: 'westeurope',
    containerRegistryId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shared/providers/Microsoft.ContainerRegistry/registries/contosoml`,
  }),
  vertexAi: (): VertexAiTargetOptions => ({ project: PROJECT, location: 'europe-west4' }),
  onPrem: (): OnPremTargetOptions => ({
    hosts: [
      { name: 'gpu01', address: '192.0.2.21', user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk' },
      { name: 'gpu02', address: '192.0.2.22', user: 'deploy', hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0mF6dJd0wq1b6eBi7hWcKQGKa9yBC8mR0cX4Q2u1v' },
    ],
    runtime: ContainerRuntime.DOCKER,
    apiKeyFile: '~/.config/model-deploy/fraud-scorer-api-keys',
    // HTTPS on the hosts' proxies (the clouds' endpoints are HTTPS already).
    tls: { certificatePath: '/etc/ssl/model-deploy/fraud-scorer.pem', keyPath: '/etc/ssl/model-deploy/fraud-scorer.key' },
  }),
};

export function onSageMaker(app: cdk.App): cdk.Stack {
  const stack = new cdk.Stack(app, 'FraudScorerCloud');
  new ModelDeployment(stack, 'FraudScorer', { ...spec, target: DeploymentTarget.sageMaker(targets.sageMaker(stack)) });
  return stack;
}

export function onAzureMl(app: cdktf.App): cdktf.TerraformStack {
  const stack = new cdktf.TerraformStack(app, 'fraud-scorer-azure-ml');
  new ModelDeployment(stack, 'FraudScorer', { ...specs.azureMl, target: DeploymentTarget.azureMl(targets.azureMl()) });
  return stack;
}

export function onVertexAi(app: cdktf.App): cdktf.TerraformStack {
  const stack = new cdktf.TerraformStack(app, 'fraud-scorer-vertex-ai');
  new ModelDeployment(stack, 'FraudScorer', { ...specs.vertexAi, target: DeploymentTarget.vertexAi(targets.vertexAi()) });
  return stack;
}

export function onPrem(app: cdktf.App): cdktf.TerraformStack {
  const stack = new cdktf.TerraformStack(app, 'fraud-scorer-on-prem');
  new ModelDeployment(stack, 'FraudScorer', { ...spec, target: DeploymentTarget.onPrem(targets.onPrem()) });
  return stack;
}
