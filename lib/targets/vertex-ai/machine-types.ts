import { GpuKind } from '../../spec/compute';
import { InstanceOffer, cpuOffer as cpu, gpuOffer } from '../../spec/instance-catalog';

/**
 * The Vertex AI machine types, with their accelerators, that the Vertex AI target will pick from for
 * a Compute (exported from `cdk-model-deployment/vertex-ai`).
 *
 * Source: Google's Vertex AI machine-type and accelerator tables (as published in November 2026).
 * test/vertex-ai/machine-types.test.ts checks every `acceleratorType` against the `AcceleratorType`
 * enum of Vertex AI's v1 API, as @google-cloud/aiplatform (a devDependency) ships it.
 */

/** A Vertex AI machine type with the accelerators attached to it. */
export interface VertexMachineOffer extends InstanceOffer {
  /** Vertex AI's accelerator type (a name in its `AcceleratorType` enum), for GPU offers. */
  readonly acceleratorType?: string;
}

const gpu = (name: string, kind: GpuKind, gpuCount: number, vcpus: number, memoryGiB: number, acceleratorType: string): VertexMachineOffer =>
  ({ ...gpuOffer(name, kind, gpuCount, vcpus, memoryGiB), acceleratorType });

const { NVIDIA_T4: T4, NVIDIA_L4: L4, NVIDIA_A100_40GB: A100_40, NVIDIA_A100_80GB: A100_80, NVIDIA_H100_80GB: H100, NVIDIA_H200_141GB: H200 } = GpuKind;

/**
 * Selection takes the smallest offer that fits. N1 machines take accelerators, so an N1 name may
 * appear bare and with GPUs (never with two GPU kinds).
 */
export const VERTEX_AI_MACHINE_TYPES: readonly VertexMachineOffer[] = [
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
];
