/**
 * The SageMaker instance table (lib/targets/sagemaker/instance-types.ts), checked against AWS's own
 * list: the SDK's `ProductionVariantInstanceType` (@aws-sdk/client-sagemaker, a devDependency: the
 * instance types a SageMaker endpoint accepts), and the GPU counts and memory of the SageMaker
 * Python SDK's instance_gpu_info.json (vendored, read through sageMakerInstanceGpus).
 */
import { ProductionVariantInstanceType } from '@aws-sdk/client-sagemaker';
import { Compute, GpuKind } from '../../lib/spec/compute';
import { GPU_FACTS, findInstance } from '../../lib/spec/instance-catalog';
import { SageMakerInstanceTypes } from '../../lib/targets/sagemaker';
import { sageMakerInstanceGpus } from '../../lib/targets/sagemaker/image-catalog';
import { SAGEMAKER_INSTANCE_TYPES } from '../../lib/targets/sagemaker/instance-types';
import { TARGET } from '../../lib/targets/sagemaker/name';
import { describeInstanceTable, expectFits } from '../support/instance-table';
import { expectRefusal } from '../support/refusal';

describeInstanceTable(TARGET, SAGEMAKER_INSTANCE_TYPES, /^ml\.[a-z0-9]+\.[a-z0-9]+$/);

describe('SageMaker instance table: against AWS\'s lists', () => {
  test('every name is an instance type a SageMaker endpoint accepts (the AWS SDK\'s ProductionVariantInstanceType)', () => {
    const accepted = new Set<string>(Object.values(ProductionVariantInstanceType));
    expect(accepted.size).toBeGreaterThan(100);
    expect(SAGEMAKER_INSTANCE_TYPES.map(o => o.name).filter(name => !accepted.has(name))).toEqual([]);
  });

  test('GPU counts agree with instance_gpu_info.json where it lists the type, and its memory per GPU fits the GPU kind', () => {
    const bad: string[] = [];
    let listed = 0;
    for (const offer of SAGEMAKER_INSTANCE_TYPES) {
      const sdk = sageMakerInstanceGpus(offer.name);
      if (sdk === undefined) continue;
      listed++;
      if (sdk.gpuCount !== offer.gpuCount) bad.push(`${offer.name}: ${offer.gpuCount} GPUs, the SDK says ${sdk.gpuCount}`);
      if (offer.gpu === undefined) continue;
      // The SDK gives total GPU memory; per GPU it lies between what nvidia-smi reports and what is sold.
      const perGpuMiB = sdk.gpuMemoryMiB / sdk.gpuCount;
      const facts = GPU_FACTS[offer.gpu];
      if (perGpuMiB < facts.minReportedMemoryMiB || perGpuMiB > facts.memoryGiB * 1024) {
        bad.push(`${offer.name}: ${perGpuMiB} MiB per GPU in the SDK, not ${facts.displayName}`);
      }
    }
    expect(bad).toEqual([]);
    // Most GPU types are listed there (the SDK's table lags behind, e.g. ml.g6.* and ml.p5e.*).
    expect(listed).toBeGreaterThanOrEqual(15);
  });

  test('the size in the name gives the vCPUs: large 2, xlarge 4, Nxlarge 4N', () => {
    const bad = SAGEMAKER_INSTANCE_TYPES.filter(o => {
      const size = /\.(\d*)(x?)large$/.exec(o.name);
      const vcpus = size === null ? NaN : size[2] === '' ? 2 : 4 * Number(size[1] || '1');
      return vcpus !== o.vcpus;
    }).map(o => `${o.name}: ${o.vcpus} vCPUs`);
    expect(bad).toEqual([]);
  });
});

describe('SageMaker instance selection', () => {
  test.each([
    [Compute.cpu({ vcpus: 2, memoryGiB: 4 }), 'ml.c5.large'],
    [Compute.cpu({ vcpus: 2, memoryGiB: 5 }), 'ml.m5.large'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), 'ml.g5.xlarge'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 4 }), 'ml.g5.12xlarge'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, vcpus: 10 }), 'ml.g5.4xlarge'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB, count: 8 }), 'ml.p5.48xlarge'],
  ])('%p -> %s', (compute, name) => {
    const offer = SageMakerInstanceTypes.select(compute);
    expect(offer.name).toBe(name);
    expectFits(offer, compute);
  });

  test('A10G x2 is refused by the sageMaker target, listing the counts 1, 4, 8', () => {
    const err = expectRefusal(() => SageMakerInstanceTypes.select(Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 2 })), 'compute.count',
      { value: '2', allowed: '1, 4, 8', target: 'sageMaker' });
    expect(err.allowed).toContain('nvidia-a10g');
    expect(err.allowed).toContain('instanceType');
  });

  test('a CPU ask larger than any instance is refused, naming the largest', () => {
    const err = expectRefusal(() => SageMakerInstanceTypes.select(Compute.cpu({ vcpus: 200, memoryGiB: 4 })), 'compute',
      { allowed: 'at most 96 vCPU / 768 GiB (ml.r5.24xlarge)', target: 'sageMaker' });
    expect(err.value).toContain('200 vCPU');
  });

  test('a GPU count offered but too small a host is refused naming the largest host', () => {
    expectRefusal(() => SageMakerInstanceTypes.select(Compute.gpu({ gpu: GpuKind.NVIDIA_T4, vcpus: 100 })), 'compute',
      { allowed: 'ml.g4dn.16xlarge', target: 'sageMaker' });
  });

  test('offers() is a copy of the table; findInstance looks a name up in it', () => {
    const offers = SageMakerInstanceTypes.offers();
    expect(offers).toEqual(SAGEMAKER_INSTANCE_TYPES);
    expect(offers).not.toBe(SAGEMAKER_INSTANCE_TYPES);
    offers.pop();
    expect(SageMakerInstanceTypes.offers()).toHaveLength(SAGEMAKER_INSTANCE_TYPES.length);
    expect(findInstance(SAGEMAKER_INSTANCE_TYPES, 'ml.g5.xlarge')).toMatchObject({ gpu: GpuKind.NVIDIA_A10G, gpuCount: 1, vcpus: 4, memoryGiB: 16 });
    expect(findInstance(SAGEMAKER_INSTANCE_TYPES, 'ml.nope.large')).toBeUndefined();
  });
});
