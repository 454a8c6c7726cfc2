import { Compute, GpuKind } from '../../spec/compute';
import { InstanceOffer, cpuOffer as cpu, gpuOffer as gpu, selectInstance } from '../../spec/instance-catalog';
import { TARGET } from './name';

/**
 * The SageMaker hosting instance types (`ml.*`) that the target picks from for a Compute.
 *
 * Sources: AWS SageMaker instance pages, and the SageMaker Python SDK's instance_gpu_info.json
 * (vendored in scripts/data/sagemaker-image-uris). Checked in test/sagemaker/instance-types.test.ts:
 * every name is a member of the AWS SDK's `ProductionVariantInstanceType` (@aws-sdk/client-sagemaker,
 * a devDependency), and GPU counts and memory agree with instance_gpu_info.json where it lists the type.
 */

const { NVIDIA_T4: T4, NVIDIA_L4: L4, NVIDIA_A10G: A10G, NVIDIA_A100_40GB: A100_40, NVIDIA_A100_80GB: A100_80, NVIDIA_H100_80GB: H100, NVIDIA_H200_141GB: H200 } = GpuKind;

/** Selection takes the smallest offer that fits. */
export const SAGEMAKER_INSTANCE_TYPES: readonly InstanceOffer[] = [
  cpu('ml.c5.large', 2, 4), cpu('ml.m5.large', 2, 8), cpu('ml.r5.large', 2, 16),
  cpu('ml.c5.xlarge', 4, 8), cpu('ml.m5.xlarge', 4, 16), cpu('ml.r5.xlarge', 4, 32),
  cpu('ml.c5.2xlarge', 8, 16), cpu('ml.m5.2xlarge', 8, 32), cpu('ml.r5.2xlarge', 8, 64),
  cpu('ml.c5.4xlarge', 16, 32), cpu('ml.m5.4xlarge', 16, 64), cpu('ml.r5.4xlarge', 16, 128),
  cpu('ml.c5.9xlarge', 36, 72), cpu('ml.m5.12xlarge', 48, 192), cpu('ml.r5.12xlarge', 48, 384),
  cpu('ml.c5.18xlarge', 72, 144), cpu('ml.m5.24xlarge', 96, 384), cpu('ml.r5.24xlarge', 96, 768),
  gpu('ml.g4dn.xlarge', T4, 1, 4, 16), gpu('ml.g4dn.2xlarge', T4, 1, 8, 32), gpu('ml.g4dn.4xlarge', T4, 1, 16, 64),
  gpu('ml.g4dn.8xlarge', T4, 1, 32, 128), gpu('ml.g4dn.16xlarge', T4, 1, 64, 256), gpu('ml.g4dn.12xlarge', T4, 4, 48, 192),
  gpu('ml.g5.xlarge', A10G, 1, 4, 16), gpu('ml.g5.2xlarge', A10G, 1, 8, 32), gpu('ml.g5.4xlarge', A10G, 1, 16, 64),
  gpu('ml.g5.8xlarge', A10G, 1, 32, 128), gpu('ml.g5.16xlarge', A10G, 1, 64, 256), gpu('ml.g5.12xlarge', A10G, 4, 48, 192),
  gpu('ml.g5.24xlarge', A10G, 4, 96, 384), gpu('ml.g5.48xlarge', A10G, 8, 192, 768),
  gpu('ml.g6.xlarge', L4, 1, 4, 16), gpu('ml.g6.2xlarge', L4, 1, 8, 32), gpu('ml.g6.4xlarge', L4, 1, 16, 64),
  gpu('ml.g6.8xlarge', L4, 1, 32, 128), gpu('ml.g6.16xlarge', L4, 1, 64, 256), gpu('ml.g6.12xlarge', L4, 4, 48, 192),
  gpu('ml.g6.24xlarge', L4, 4, 96, 384), gpu('ml.g6.48xlarge', L4, 8, 192, 768),
  gpu('ml.p4d.24xlarge', A100_40, 8, 96, 1152), gpu('ml.p4de.24xlarge', A100_80, 8, 96, 1152),
  gpu('ml.p5.48xlarge', H100, 8, 192, 2048), gpu('ml.p5e.48xlarge', H200, 8, 192, 2048),
];

/** The SageMaker instance types the target chooses from when no `instanceType` is set. */
export class SageMakerInstanceTypes {
  /** Every instance type in the table. */
  public static offers(): InstanceOffer[] {
    return [...SAGEMAKER_INSTANCE_TYPES];
  }

  /**
   * The instance type the target picks for `compute`: the smallest that has exactly its GPU kind
   * and count (no GPU for CPU compute) and at least its vCPUs and memory. Throws
   * ModelDeploymentValidationError when none does.
   */
  public static select(compute: Compute): InstanceOffer {
    return selectInstance(SAGEMAKER_INSTANCE_TYPES, compute, TARGET);
  }

  private constructor() {}
}
