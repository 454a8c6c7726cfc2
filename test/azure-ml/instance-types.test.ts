/**
 * The Azure ML instance table (lib/targets/azure-ml/instance-types.ts). Azure publishes no offline
 * list of VM sizes to check the names against (the Azure SDKs list them per region through the ARM
 * API at run time), so the checks here are internal: the naming pattern, GPU kinds and counts, and
 * the vCPUs and GPU that the size names spell out.
 */
import { Compute, GpuKind } from '../../lib/spec/compute';
import { selectInstance } from '../../lib/spec/instance-catalog';
import { AZURE_ML_INSTANCE_TYPES } from '../../lib/targets/azure-ml/instance-types';
import { TARGET } from '../../lib/targets/azure-ml/name';
import { describeInstanceTable } from '../support/instance-table';

describeInstanceTable(TARGET, AZURE_ML_INSTANCE_TYPES, /^Standard_[A-Za-z0-9_]+$/);

describe('Azure ML instance table: what the size names spell out', () => {
  test('the number after the family letters is the vCPU count (F, E, NC and ND sizes; DSv2 sizes number differently)', () => {
    const bad = AZURE_ML_INSTANCE_TYPES.filter(o => !/^Standard_DS\d_v2$/.test(o.name)).filter(o => {
      const n = /^Standard_[A-Z]+(\d+)/.exec(o.name);
      return n === null || Number(n[1]) !== o.vcpus;
    }).map(o => `${o.name}: ${o.vcpus} vCPUs`);
    expect(bad).toEqual([]);
  });

  test('GPU sizes are the N series and name their GPU; CPU sizes are not', () => {
    const gpuInName: Partial<Record<GpuKind, string>> = {
      [GpuKind.NVIDIA_T4]: '_T4_', [GpuKind.NVIDIA_A100_80GB]: '_A100_', [GpuKind.NVIDIA_H100_80GB]: '_H100_',
    };
    const bad: string[] = [];
    for (const offer of AZURE_ML_INSTANCE_TYPES) {
      if (offer.gpu === undefined) {
        if (/^Standard_N/.test(offer.name)) bad.push(`${offer.name}: an N-series size without a GPU`);
        continue;
      }
      const marker = gpuInName[offer.gpu];
      if (!/^Standard_N[CD]/.test(offer.name) || marker === undefined || !offer.name.includes(marker)) bad.push(`${offer.name}: ${offer.gpu}`);
    }
    expect(bad).toEqual([]);
  });
});

describe('Azure ML instance selection', () => {
  test.each([
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A100_80GB }), 'Standard_NC24ads_A100_v4'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB, count: 8 }), 'Standard_ND96isr_H100_v5'],
    [Compute.cpu(), 'Standard_F2s_v2'],
  ])('%p -> %s', (compute, name) => {
    expect(selectInstance(AZURE_ML_INSTANCE_TYPES, compute, TARGET).name).toBe(name);
  });
});
