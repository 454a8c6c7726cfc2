import { GpuKind } from '../../spec/compute';
import { InstanceOffer, cpuOffer as cpu, gpuOffer as gpu } from '../../spec/instance-catalog';

/**
 * The Azure Machine Learning managed online endpoint SKUs (`Standard_*`) that the Azure ML target
 * picks from for a Compute, and that an `instanceType` override must be one of (exported from
 * `cdk-model-deployment/azure-ml`).
 *
 * Source: Azure ML's managed online endpoint SKU list and the Azure VM size pages (as published in
 * November 2026). Azure publishes no offline list of VM sizes to check against (the ARM API lists
 * them per region at run time), so test/azure-ml/instance-types.test.ts checks only the naming
 * pattern, GPU kinds and counts, and the vCPUs and GPU the size names spell out.
 */

const { NVIDIA_T4: T4, NVIDIA_A100_80GB: A100_80, NVIDIA_H100_80GB: H100 } = GpuKind;

/** Selection takes the smallest offer that fits. */
export const AZURE_ML_INSTANCE_TYPES: readonly InstanceOffer[] = [
  cpu('Standard_F2s_v2', 2, 4), cpu('Standard_DS2_v2', 2, 7), cpu('Standard_F4s_v2', 4, 8), cpu('Standard_DS3_v2', 4, 14),
  cpu('Standard_E4s_v3', 4, 32), cpu('Standard_F8s_v2', 8, 16), cpu('Standard_DS4_v2', 8, 28), cpu('Standard_E8s_v3', 8, 64),
  cpu('Standard_F16s_v2', 16, 32), cpu('Standard_DS5_v2', 16, 56), cpu('Standard_E16s_v3', 16, 128), cpu('Standard_F32s_v2', 32, 64),
  cpu('Standard_E32s_v3', 32, 256), cpu('Standard_F48s_v2', 48, 96), cpu('Standard_E48s_v3', 48, 384), cpu('Standard_F64s_v2', 64, 128),
  cpu('Standard_E64s_v3', 64, 432), cpu('Standard_F72s_v2', 72, 144),
  gpu('Standard_NC4as_T4_v3', T4, 1, 4, 28), gpu('Standard_NC8as_T4_v3', T4, 1, 8, 56), gpu('Standard_NC16as_T4_v3', T4, 1, 16, 110),
  gpu('Standard_NC64as_T4_v3', T4, 4, 64, 440),
  gpu('Standard_NC24ads_A100_v4', A100_80, 1, 24, 220), gpu('Standard_NC48ads_A100_v4', A100_80, 2, 48, 440),
  gpu('Standard_NC96ads_A100_v4', A100_80, 4, 96, 880), gpu('Standard_ND96amsr_A100_v4', A100_80, 8, 96, 1900),
  // The NCads H100 v5 sizes carry H100 NVL boards with 94 GB each (Azure's size page); GpuKind has no
  // such kind, so they stand under NVIDIA_H100_80GB, which they more than cover.
  gpu('Standard_NC40ads_H100_v5', H100, 1, 40, 320), gpu('Standard_NC80adis_H100_v5', H100, 2, 80, 640),
  gpu('Standard_ND96isr_H100_v5', H100, 8, 96, 1900),
];
