import { Compute, ComputeKind, GpuKind } from './compute';
import { ModelDeploymentValidationError } from './errors';

/**
 * The one place that says which instance types each target offers for each kind of compute.
 * Data only: targets call `selectInstance` and never keep tables of their own.
 *
 * Sources: AWS SageMaker instance pages and the SageMaker SDK's instance_gpu_info.json
 * (vendored in scripts/data/sagemaker-image-uris), Azure ML's managed online endpoint SKU list,
 * Google's Vertex AI machine-type and accelerator tables (as published in November 2026).
 */

/** Facts about a GPU kind that every target needs, including how `nvidia-smi` names it on a host. */
export interface GpuFacts {
  /** A name for messages. */
  readonly displayName: string;
  /** Memory per GPU in GiB, as sold. */
  readonly memoryGiB: number;
  /**
   * The least `memory.total` (MiB) that `nvidia-smi` reports for this kind; drivers reserve a
   * little, so it is below `memoryGiB * 1024`.
   */
  readonly minReportedMemoryMiB: number;
  /** The names `nvidia-smi --query-gpu=name` prints for this kind (all board variants). */
  readonly nvidiaSmiNames: readonly string[];
}

export const GPU_FACTS: { readonly [kind in GpuKind]: GpuFacts } = {
  [GpuKind.NVIDIA_T4]: { displayName: 'NVIDIA T4', memoryGiB: 16, minReportedMemoryMiB: 15000, nvidiaSmiNames: ['Tesla T4', 'NVIDIA T4'] },
  [GpuKind.NVIDIA_L4]: { displayName: 'NVIDIA L4', memoryGiB: 24, minReportedMemoryMiB: 22000, nvidiaSmiNames: ['NVIDIA L4'] },
  [GpuKind.NVIDIA_A10G]: { displayName: 'NVIDIA A10G', memoryGiB: 24, minReportedMemoryMiB: 22000, nvidiaSmiNames: ['NVIDIA A10G'] },
  [GpuKind.NVIDIA_A100_40GB]: { displayName: 'NVIDIA A100 40GB', memoryGiB: 40, minReportedMemoryMiB: 39000, nvidiaSmiNames: ['NVIDIA A100-SXM4-40GB', 'NVIDIA A100-PCIE-40GB', 'A100-SXM4-40GB', 'A100-PCIE-40GB'] },
  [GpuKind.NVIDIA_A100_80GB]: { displayName: 'NVIDIA A100 80GB', memoryGiB: 80, minReportedMemoryMiB: 79000, nvidiaSmiNames: ['NVIDIA A100-SXM4-80GB', 'NVIDIA A100 80GB PCIe', 'NVIDIA A100-SXM-80GB'] },
  [GpuKind.NVIDIA_H100_80GB]: { displayName: 'NVIDIA H100 80GB', memoryGiB: 80, minReportedMemoryMiB: 79000, nvidiaSmiNames: ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 PCIe', 'NVIDIA H100'] },
  [GpuKind.NVIDIA_H200_141GB]: { displayName: 'NVIDIA H200 141GB', memoryGiB: 141, minReportedMemoryMiB: 139000, nvidiaSmiNames: ['NVIDIA H200', 'NVIDIA H200 NVL'] },
};

/** The managed platforms whose instance types are in the catalog. */
export enum CatalogPlatform {
  /** Amazon SageMaker hosting instance types (`ml.*`). */
  SAGEMAKER = 'sageMaker',
  /** Azure Machine Learning managed online endpoint SKUs (`Standard_*`). */
  AZURE_ML = 'azureMl',
  /** Vertex AI machine types plus accelerator types. */
  VERTEX_AI = 'vertexAi',
}

/** One instance type a platform offers. */
export interface InstanceOffer {
  /** The platform's name for it: `ml.g5.xlarge`, `Standard_NC4as_T4_v3`, `g2-standard-8`. */
  readonly name: string;
  /** vCPUs. */
  readonly vcpus: number;
  /** Memory in GiB. */
  readonly memoryGiB: number;
  /** GPUs (0 for CPU instances). */
  readonly gpuCount: number;
  /** The GPU kind, for GPU instances. */
  readonly gpu?: GpuKind;
  /** Vertex AI's accelerator type name, for GPU offers on Vertex AI. */
  readonly acceleratorType?: string;
}

const cpu = (name: string, vcpus: number, memoryGiB: number): InstanceOffer => ({ name, vcpus, memoryGiB, gpuCount: 0 });
const gpu = (name: string, kind: GpuKind, gpuCount: number, vcpus: number, memoryGiB: number, acceleratorType?: string): InstanceOffer =>
  ({ name, vcpus, memoryGiB, gpuCount, gpu: kind, acceleratorType });

const { NVIDIA_T4: T4, NVIDIA_L4: L4, NVIDIA_A10G: A10G, NVIDIA_A100_40GB: A100_40, NVIDIA_A100_80GB: A100_80, NVIDIA_H100_80GB: H100, NVIDIA_H200_141GB: H200 } = GpuKind;

/** Every platform's offers. Within a platform, selection takes the smallest offer that fits. */
export const INSTANCE_CATALOG: { readonly [platform in CatalogPlatform]: readonly InstanceOffer[] } = {
  [CatalogPlatform.SAGEMAKER]: [
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
  ],
  [CatalogPlatform.AZURE_ML]: [
    cpu('Standard_F2s_v2', 2, 4), cpu('Standard_DS2_v2', 2, 7), cpu('Standard_F4s_v2', 4, 8), cpu('Standard_DS3_v2', 4, 14),
    cpu('Standard_E4s_v3', 4, 32), cpu('Standard_F8s_v2', 8, 16), cpu('Standard_DS4_v2', 8, 28), cpu('Standard_E8s_v3', 8, 64),
    cpu('Standard_F16s_v2', 16, 32), cpu('Standard_DS5_v2', 16, 56), cpu('Standard_E16s_v3', 16, 128), cpu('Standard_F32s_v2', 32, 64),
    cpu('Standard_E32s_v3', 32, 256), cpu('Standard_F48s_v2', 48, 96), cpu('Standard_E48s_v3', 48, 384), cpu('Standard_F64s_v2', 64, 128),
    cpu('Standard_E64s_v3', 64, 432), cpu('Standard_F72s_v2', 72, 144),
    gpu('Standard_NC4as_T4_v3', T4, 1, 4, 28), gpu('Standard_NC8as_T4_v3', T4, 1, 8, 56), gpu('Standard_NC16as_T4_v3', T4, 1, 16, 110),
    gpu('Standard_NC64as_T4_v3', T4, 4, 64, 440),
    gpu('Standard_NC24ads_A100_v4', A100_80, 1, 24, 220), gpu('Standard_NC48ads_A100_v4', A100_80, 2, 48, 440),
    gpu('Standard_NC96ads_A100_v4', A100_80, 4, 96, 880), gpu('Standard_ND96amsr_A100_v4', A100_80, 8, 96, 1900),
    gpu('Standard_NC40ads_H100_v5', H100, 1, 40, 320), gpu('Standard_NC80adis_H100_v5', H100, 2, 80, 640),
    gpu('Standard_ND96isr_H100_v5', H100, 8, 96, 1900),
  ],
  [CatalogPlatform.VERTEX_AI]: [
    cpu('e2-standard-2', 2, 8), cpu('e2-highmem-2', 2, 16), cpu('e2-standard-4', 4, 16), cpu('e2-highmem-4', 4, 32),
    cpu('e2-standard-8', 8, 32), cpu('e2-highmem-8', 8, 64), cpu('e2-standard-16', 16, 64), cpu('e2-highmem-16', 16, 128),
    cpu('e2-standard-32', 32, 128), cpu('n1-standard-64', 64, 240), cpu('n1-standard-96', 96, 360),
    gpu('n1-standard-4', T4, 1, 4, 15, 'NVIDIA_TESLA_T4'), gpu('n1-standard-8', T4, 1, 8, 30, 'NVIDIA_TESLA_T4'),
    gpu('n1-standard-16', T4, 1, 16, 60, 'NVIDIA_TESLA_T4'), gpu('n1-standard-8', T4, 2, 8, 30, 'NVIDIA_TESLA_T4'),
    gpu('n1-standard-16', T4, 2, 16, 60, 'NVIDIA_TESLA_T4'), gpu('n1-standard-32', T4, 2, 32, 120, 'NVIDIA_TESLA_T4'),
    gpu('n1-standard-16', T4, 4, 16, 60, 'NVIDIA_TESLA_T4'), gpu('n1-standard-32', T4, 4, 32, 120, 'NVIDIA_TESLA_T4'),
    gpu('n1-standard-64', T4, 4, 64, 240, 'NVIDIA_TESLA_T4'),
    gpu('g2-standard-4', L4, 1, 4, 16, 'NVIDIA_L4'), gpu('g2-standard-8', L4, 1, 8, 32, 'NVIDIA_L4'),
    gpu('g2-standard-12', L4, 1, 12, 48, 'NVIDIA_L4'), gpu('g2-standard-16', L4, 1, 16, 64, 'NVIDIA_L4'),
    gpu('g2-standard-32', L4, 1, 32, 128, 'NVIDIA_L4'), gpu('g2-standard-24', L4, 2, 24, 96, 'NVIDIA_L4'),
    gpu('g2-standard-48', L4, 4, 48, 192, 'NVIDIA_L4'), gpu('g2-standard-96', L4, 8, 96, 384, 'NVIDIA_L4'),
    gpu('a2-highgpu-1g', A100_40, 1, 12, 85, 'NVIDIA_TESLA_A100'), gpu('a2-highgpu-2g', A100_40, 2, 24, 170, 'NVIDIA_TESLA_A100'),
    gpu('a2-highgpu-4g', A100_40, 4, 48, 340, 'NVIDIA_TESLA_A100'), gpu('a2-highgpu-8g', A100_40, 8, 96, 680, 'NVIDIA_TESLA_A100'),
    gpu('a2-ultragpu-1g', A100_80, 1, 12, 170, 'NVIDIA_A100_80GB'), gpu('a2-ultragpu-2g', A100_80, 2, 24, 340, 'NVIDIA_A100_80GB'),
    gpu('a2-ultragpu-4g', A100_80, 4, 48, 680, 'NVIDIA_A100_80GB'), gpu('a2-ultragpu-8g', A100_80, 8, 96, 1360, 'NVIDIA_A100_80GB'),
    gpu('a3-highgpu-1g', H100, 1, 26, 234, 'NVIDIA_H100_80GB'), gpu('a3-highgpu-2g', H100, 2, 52, 468, 'NVIDIA_H100_80GB'),
    gpu('a3-highgpu-4g', H100, 4, 104, 936, 'NVIDIA_H100_80GB'), gpu('a3-highgpu-8g', H100, 8, 208, 1872, 'NVIDIA_H100_80GB'),
    gpu('a3-ultragpu-8g', H200, 8, 224, 2952, 'NVIDIA_H200_141GB'),
  ],
};

/**
 * The smallest offer on `platform` that has exactly the asked GPUs (or no GPU, for CPU compute)
 * and at least the asked vCPUs and memory. Throws, naming the platform and what it offers, when
 * nothing fits.
 */
export function selectInstance(platform: CatalogPlatform, compute: Compute, targetName: string = platform): InstanceOffer {
  const offers = INSTANCE_CATALOG[platform];
  const sameGpu = offers.filter(o => compute.kind === ComputeKind.CPU ? o.gpuCount === 0 : o.gpu === compute.gpu);
  const fitting = sameGpu
    .filter(o => o.gpuCount === compute.gpuCount && o.vcpus >= compute.vcpus && o.memoryGiB >= compute.memoryGiB)
    .sort((a, b) => a.vcpus - b.vcpus || a.memoryGiB - b.memoryGiB);
  if (fitting.length > 0) return fitting[0];

  const override = 'or set the target\'s instanceType to choose one yourself';
  if (compute.kind === ComputeKind.GPU && sameGpu.length === 0) {
    const kinds = [...new Set(offers.filter(o => o.gpu).map(o => o.gpu))].join(', ');
    throw new ModelDeploymentValidationError('compute.gpu', compute.gpu, `GPU kinds this platform offers: ${kinds}; ${override}`, targetName);
  }
  if (compute.kind === ComputeKind.GPU && !sameGpu.some(o => o.gpuCount === compute.gpuCount)) {
    const counts = [...new Set(sameGpu.map(o => o.gpuCount))].sort((a, b) => a - b).join(', ');
    throw new ModelDeploymentValidationError('compute.count', compute.gpuCount, `${compute.gpu} counts this platform offers: ${counts}; ${override}`, targetName);
  }
  const largest = sameGpu.filter(o => o.gpuCount === compute.gpuCount).sort((a, b) => b.vcpus - a.vcpus || b.memoryGiB - a.memoryGiB)[0];
  throw new ModelDeploymentValidationError('compute', compute.describe() + ` with ${compute.vcpus} vCPU / ${compute.memoryGiB} GiB`,
    `at most ${largest.vcpus} vCPU / ${largest.memoryGiB} GiB (${largest.name}); ${override}`, targetName);
}

/** The catalog entry for an instance type name on a platform, if it is in the catalog. */
export function findInstance(platform: CatalogPlatform, name: string): InstanceOffer | undefined {
  return INSTANCE_CATALOG[platform].find(o => o.name === name);
}

/** The instance catalog, for tools and tests that want to see what each platform offers. */
export class InstanceCatalog {
  /** Every offer of a platform. */
  public static offers(platform: CatalogPlatform): InstanceOffer[] {
    return [...INSTANCE_CATALOG[platform]];
  }

  /** The smallest offer that fits `compute` on `platform`; throws ModelDeploymentValidationError when none does. */
  public static select(platform: CatalogPlatform, compute: Compute): InstanceOffer {
    return selectInstance(platform, compute);
  }

  /** Facts about a GPU kind, including its `nvidia-smi` names. */
  public static gpuFacts(gpu: GpuKind): GpuFacts {
    return GPU_FACTS[gpu];
  }

  private constructor() {}
}
