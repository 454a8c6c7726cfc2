import { Compute, ComputeKind, GpuKind } from './compute';
import { ModelDeploymentValidationError } from './errors';

/**
 * What every target needs to know about instances, and nothing that belongs to one target: the
 * facts about each GPU kind, the shape of an offer, and how to pick the smallest offer that fits a
 * Compute. Each target keeps its own table of offers in its folder (lib/targets/<target>/) and
 * passes it to `selectInstance`, so adding a target touches nothing here.
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
  readonly nvidiaSmiNames: string[];
}

export const GPU_FACTS: { readonly [kind in GpuKind]: GpuFacts } = {
  [GpuKind.NVIDIA_T4]: { displayName: 'NVIDIA T4', memoryGiB: 16, minReportedMemoryMiB: 15000, nvidiaSmiNames: ['Tesla T4', 'NVIDIA T4'] },
  [GpuKind.NVIDIA_L4]: { displayName: 'NVIDIA L4', memoryGiB: 24, minReportedMemoryMiB: 22000, nvidiaSmiNames: ['NVIDIA L4'] },
  [GpuKind.NVIDIA_A10G]: { displayName: 'NVIDIA A10G', memoryGiB: 24, minReportedMemoryMiB: 22000, nvidiaSmiNames: ['NVIDIA A10G'] },
  [GpuKind.NVIDIA_A100_40GB]: { displayName: 'NVIDIA A100 40GB', memoryGiB: 40, minReportedMemoryMiB: 39000, nvidiaSmiNames: ['NVIDIA A100-SXM4-40GB', 'NVIDIA A100-PCIE-40GB', 'A100-SXM4-40GB', 'A100-PCIE-40GB'] },
  [GpuKind.NVIDIA_A100_80GB]: { displayName: 'NVIDIA A100 80GB', memoryGiB: 80, minReportedMemoryMiB: 79000, nvidiaSmiNames: ['NVIDIA A100-SXM4-80GB', 'NVIDIA A100 80GB PCIe', 'NVIDIA A100-SXM-80GB'] },
  [GpuKind.NVIDIA_H100_80GB]: { displayName: 'NVIDIA H100 80GB', memoryGiB: 80, minReportedMemoryMiB: 79000, nvidiaSmiNames: ['NVIDIA H100 80GB HBM3', 'NVIDIA H100 PCIe', 'NVIDIA H100', 'NVIDIA H100 NVL'] },
  [GpuKind.NVIDIA_H200_141GB]: { displayName: 'NVIDIA H200 141GB', memoryGiB: 141, minReportedMemoryMiB: 139000, nvidiaSmiNames: ['NVIDIA H200', 'NVIDIA H200 NVL'] },
};

/** One instance type a target offers. Targets that need more about an offer extend this. */
export interface InstanceOffer {
  /** The target's own name for it: an instance type, SKU or machine type. */
  readonly name: string;
  /** vCPUs. */
  readonly vcpus: number;
  /** Memory in GiB. */
  readonly memoryGiB: number;
  /** GPUs (0 for CPU instances). */
  readonly gpuCount: number;
  /** The GPU kind, for GPU instances. */
  readonly gpu?: GpuKind;
}

/** A CPU offer, for targets' tables. */
export function cpuOffer(name: string, vcpus: number, memoryGiB: number): InstanceOffer {
  return { name, vcpus, memoryGiB, gpuCount: 0 };
}

/** A GPU offer, for targets' tables. */
export function gpuOffer(name: string, gpu: GpuKind, gpuCount: number, vcpus: number, memoryGiB: number): InstanceOffer {
  return { name, vcpus, memoryGiB, gpuCount, gpu };
}

/**
 * The smallest of `offers` that has exactly the asked GPUs (or no GPU, for CPU compute) and at
 * least the asked vCPUs and memory. Throws, naming `targetName` and what `offers` holds, when
 * nothing fits.
 */
export function selectInstance<T extends InstanceOffer>(offers: readonly T[], compute: Compute, targetName: string): T {
  const sameGpu = offers.filter(o => compute.kind === ComputeKind.CPU ? o.gpuCount === 0 : o.gpu === compute.gpu);
  const fitting = sameGpu
    .filter(o => o.gpuCount === compute.gpuCount && o.vcpus >= compute.vcpus && o.memoryGiB >= compute.memoryGiB)
    .sort((a, b) => a.vcpus - b.vcpus || a.memoryGiB - b.memoryGiB);
  if (fitting.length > 0) return fitting[0];

  const override = 'or set the target\'s instanceType to choose one yourself';
  if (sameGpu.length === 0) {
    const kinds = [...new Set(offers.filter(o => o.gpu).map(o => o.gpu))].join(', ') || 'none';
    if (compute.kind === ComputeKind.GPU) {
      throw new ModelDeploymentValidationError('compute.gpu', compute.gpu, `GPU kinds this platform offers: ${kinds}; ${override}`, targetName);
    }
    throw new ModelDeploymentValidationError('compute', compute.describe(), `GPU compute: this platform offers no CPU instances (GPU kinds: ${kinds}); ${override}`, targetName);
  }
  if (compute.kind === ComputeKind.GPU && !sameGpu.some(o => o.gpuCount === compute.gpuCount)) {
    const counts = [...new Set(sameGpu.map(o => o.gpuCount))].sort((a, b) => a - b).join(', ');
    throw new ModelDeploymentValidationError('compute.count', compute.gpuCount, `${compute.gpu} counts this platform offers: ${counts}; ${override}`, targetName);
  }
  const largest = sameGpu.filter(o => o.gpuCount === compute.gpuCount).sort((a, b) => b.vcpus - a.vcpus || b.memoryGiB - a.memoryGiB)[0];
  throw new ModelDeploymentValidationError('compute', compute.describe() + ` with ${compute.vcpus} vCPU / ${compute.memoryGiB} GiB`,
    `at most ${largest.vcpus} vCPU / ${largest.memoryGiB} GiB (${largest.name}); ${override}`, targetName);
}

/** The offer named `name` in `offers`, if there is one. */
export function findInstance<T extends InstanceOffer>(offers: readonly T[], name: string): T | undefined {
  return offers.find(o => o.name === name);
}

/**
 * GPU facts and instance selection, for tools and tests. Each target lists its own offers (for
 * SageMaker, `SageMakerInstanceTypes` in `cdk-model-deployment/sagemaker`).
 */
export class InstanceCatalog {
  /**
   * The smallest of `offers` that fits `compute`: exactly its GPU kind and count (no GPU for CPU
   * compute), at least its vCPUs and memory. Throws ModelDeploymentValidationError, naming
   * `targetName`, when none does.
   */
  public static select(offers: InstanceOffer[], compute: Compute, targetName: string): InstanceOffer {
    return selectInstance(offers, compute, targetName);
  }

  /** Facts about a GPU kind, including its `nvidia-smi` names. */
  public static gpuFacts(gpu: GpuKind): GpuFacts {
    return GPU_FACTS[gpu];
  }

  private constructor() {}
}
