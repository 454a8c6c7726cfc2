import { App, Stack } from 'aws-cdk-lib';
import { Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, Rollout, ScalingTarget, ServingContainer } from '../lib';

/**
 * Triton on NVIDIA A10G GPUs (ml.g5), 2 to 6 instances tracking GPU utilisation, linear rollout.
 *
 * Known cdk-nag result: the HIPAA, NIST 800-53 R5 and PCI DSS packs report
 * SageMakerEndpointConfigurationKMSKeyConfigured here, because SageMaker refuses a KMS key for
 * instance types with local NVMe storage (every GPU family in the catalog) and encrypts that
 * storage in hardware instead. Setting the key would make CreateEndpointConfig fail at deploy
 * time, so the library leaves it out and this example stays out of bin/ (whose synth fails on
 * any finding). See README, "Compliance".
 */
export function sageMakerGpu(app: App): Stack {
  const stack = new Stack(app, 'ModelDeploymentGpu');
  new ModelDeployment(stack, 'Vision', {
    model: ModelArtifact.fromUri('s3://acme-ml-models/vision/resnet50/v12/model.tar.gz'),
    serving: ServingContainer.triton({ modelName: 'resnet50' }),
    compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 1 }),
    scaling: { minReplicas: 2, maxReplicas: 6, target: ScalingTarget.gpuPercent(60) },
    rollout: Rollout.linear({ stepPercent: 50, intervalMinutes: 5 }),
    target: DeploymentTarget.sageMaker({ invokeVpcEndpointIds: ['vpce-0a1b2c3d4e5f67890'] }),
  });
  return stack;
}
