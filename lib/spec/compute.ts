import { checkInteger, checkNumber, checkOptions } from './check';
import { ModelDeploymentValidationError } from './errors';

/** Whether replicas run on CPUs only or with GPUs. */
export enum ComputeKind {
  /** CPU only. */
  CPU = 'cpu',
  /** One or more whole GPUs per replica. */
  GPU = 'gpu',
}

/** A kind of NVIDIA GPU. The instance catalog maps each kind and count onto every target. */
export enum GpuKind {
  /** NVIDIA T4, 16 GB. */
  NVIDIA_T4 = 'nvidia-t4',
  /** NVIDIA L4, 24 GB. */
  NVIDIA_L4 = 'nvidia-l4',
  /** NVIDIA A10G, 24 GB (AWS). */
  NVIDIA_A10G = 'nvidia-a10g',
  /** NVIDIA A100, 40 GB. */
  NVIDIA_A100_40GB = 'nvidia-a100-40gb',
  /** NVIDIA A100, 80 GB. */
  NVIDIA_A100_80GB = 'nvidia-a100-80gb',
  /** NVIDIA H100, 80 GB. */
  NVIDIA_H100_80GB = 'nvidia-h100-80gb',
  /** NVIDIA H200, 141 GB. */
  NVIDIA_H200_141GB = 'nvidia-h200-141gb',
}

/** Options for CPU compute. */
export interface CpuComputeOptions {
  /**
   * The fewest vCPUs one replica needs; the target picks the smallest instance that has them.
   * @default 2
   */
  readonly vcpus?: number;
  /**
   * The least memory one replica needs, in GiB.
   * @default 4
   */
  readonly memoryGiB?: number;
}

/** Options for GPU compute. */
export interface GpuComputeOptions {
  /** The GPU kind. */
  readonly gpu: GpuKind;
  /**
   * Whole GPUs per replica. Targets offer only the counts their instance types have.
   * @default 1
   */
  readonly count?: number;
  /**
   * The fewest host vCPUs one replica needs.
   * @default - the smallest instance with the GPUs
   */
  readonly vcpus?: number;
  /**
   * The least host memory one replica needs, in GiB.
   * @default - the smallest instance with the GPUs
   */
  readonly memoryGiB?: number;
}

/**
 * What one replica runs on: CPU only, or whole GPUs of one kind. Targets map it to their instance
 * types through the one instance catalog; each target also takes an explicit instance type as an
 * override.
 */
export class Compute {
  /** CPU only. */
  public static cpu(options: CpuComputeOptions = {}): Compute {
    options = checkOptions('compute', options, ['vcpus', 'memoryGiB']);
    const vcpus = checkInteger('compute.vcpus', options.vcpus ?? 2, 1, 448);
    const memoryGiB = checkNumber('compute.memoryGiB', options.memoryGiB ?? 4, 0.5, 12288);
    return new Compute(ComputeKind.CPU, undefined, 0, vcpus, memoryGiB);
  }

  /** Whole GPUs of one kind. */
  public static gpu(options: GpuComputeOptions): Compute {
    options = checkOptions('compute', options, ['gpu', 'count', 'vcpus', 'memoryGiB']);
    if ( !Object.values(GpuKind).includes(options.gpu)) {
      throw new ModelDeploymentValidationError('compute.gpu', options?.gpu, `one of GpuKind: ${Object.values(GpuKind).join(', ')}`);
    }
    const count = checkInteger('compute.count', options.count ?? 1, 1, 16);
    const vcpus = checkInteger('compute.vcpus', options.vcpus ?? 1, 1, 448);
    const memoryGiB = checkNumber('compute.memoryGiB', options.memoryGiB ?? 1, 0.5, 12288);
    return new Compute(ComputeKind.GPU, options.gpu, count, vcpus, memoryGiB);
  }

  /** CPU or GPU. */
  public readonly kind: ComputeKind;
  /**
   * The GPU kind, for GPU compute. The same as `gpuKind`; in TypeScript only (jsii bindings cannot
   * have a property named like the static `Compute.gpu()`).
   * @jsii ignore
   */
  public readonly gpu?: GpuKind;
  /** GPUs per replica (0 for CPU compute). */
  public readonly gpuCount: number;
  /** The fewest vCPUs per replica. */
  public readonly vcpus: number;
  /** The least memory per replica, in GiB. */
  public readonly memoryGiB: number;

  private constructor(kind: ComputeKind, gpu: GpuKind | undefined, gpuCount: number, vcpus: number, memoryGiB: number) {
    this.kind = kind;
    this.gpu = gpu;
    this.gpuCount = gpuCount;
    this.vcpus = vcpus;
    this.memoryGiB = memoryGiB;
  }

  /** The GPU kind, for GPU compute (`gpu` in TypeScript). */
  public get gpuKind(): GpuKind | undefined {
    return this.gpu;
  }

  /** A short description for messages, e.g. `2 x nvidia-a10g` or `2 vCPU / 4 GiB`. */
  public describe(): string {
    return this.kind === ComputeKind.GPU ? `${this.gpuCount} x ${this.gpu}` : `${this.vcpus} vCPU / ${this.memoryGiB} GiB`;
  }
}
