import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Compute, DeploymentTarget, ModelArtifact, ModelDeployment, Rollout, ScalingTarget, ServingContainer } from '../lib';
import { SageMakerModelEndpoint } from '../lib/targets/sagemaker';

/**
 * What a platform team runs: its own container from ECR, a versioned model in S3, 2 to 8
 * instances tracking requests per instance, a 20% canary baked for 10 minutes and rolled back
 * automatically on the error-rate or latency alarm, and a caller role that may invoke this
 * endpoint and nothing else, only through the team's SageMaker runtime VPC endpoint (the default,
 * `access.network` PRIVATE). Every update is gated by two sample predictions: CloudFormation
 * checks them after the endpoint update, from a function in the team's VPC (through that VPC
 * endpoint), and rolls the endpoint back when one is wrong or slow.
 */
export function sageMakerProduction(app: App): Stack {
  const stack = new Stack(app, 'ModelDeploymentProduction');
  const fraud = new ModelDeployment(stack, 'FraudScorer', {
    model: ModelArtifact.fromUri('s3://acme-ml-models/fraud/2026-11-20/model.tar.gz'),
    serving: ServingContainer.custom({
      image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-scorer:4.2.0',
      environment: { LOG_LEVEL: 'info', MAX_BATCH: '32' },
      startupTimeoutSeconds: 300,
    }),
    compute: Compute.cpu({ vcpus: 4, memoryGiB: 8 }),
    scaling: { minReplicas: 2, maxReplicas: 8, target: ScalingTarget.invocationsPerReplicaPerMinute(600) },
    rollout: Rollout.canary({ percent: 20, bakeMinutes: 10 }),
    monitoring: { errorRatePercent: 1, latencyP99Ms: 250 },
    tags: { team: 'risk', 'cost-center': 'ml-platform' },
    verification: {
      samples: [
        { name: 'legit-purchase', request: { instances: [[42.5, 0, 1, 3]] }, expectedResponse: { predictions: [0.02] }, absoluteTolerance: 0.01 },
        { name: 'card-testing', request: { instances: [[1, 1, 0, 97]] }, expectedResponse: { predictions: [0.97] }, absoluteTolerance: 0.02 },
      ],
      latencyBudgetMs: 1000,
    },
    target: DeploymentTarget.sageMaker({
      // The interface VPC endpoint (com.amazonaws.us-east-1.sagemaker.runtime, private DNS on) the callers' VPC already has.
      invokeVpcEndpointIds: ['vpce-0a1b2c3d4e5f67890'],
      verificationFunction: {
        // The team's VPC: private subnets with a NAT gateway (for CloudFormation's S3 response URL) and that runtime endpoint.
        vpc: ec2.Vpc.fromVpcAttributes(stack, 'TeamVpc', {
          vpcId: 'vpc-0a1b2c3d4e5f67890', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-0a1b2c3d4e5f67890', 'subnet-0f1e2d3c4b5a69870'],
          privateSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f67890', 'rtb-0f1e2d3c4b5a69870'],
        }),
        // The platform team's role for Lambda functions in that VPC (it holds the EC2 network-interface permissions).
        role: iam.Role.fromRoleArn(stack, 'VpcFunctionRole', 'arn:aws:iam::123456789012:role/platform/lambda-in-vpc', { mutable: false }),
      },
    }),
  });
  const caller = new iam.Role(stack, 'CheckoutServiceRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
  // grantInvoke(caller) would add to the caller's inline policy; a managed policy keeps the stack free of them.
  new iam.ManagedPolicy(stack, 'InvokeFraudScorer', { roles: [caller], statements: [SageMakerModelEndpoint.of(fraud).invokeStatement()] });
  return stack;
}
