/**
 * The Vertex AI machine-type table (lib/targets/vertex-ai/machine-types.ts), its accelerator types
 * checked against Google's own list: the `AcceleratorType` enum of the Vertex AI v1 API, read from
 * the protos that @google-cloud/aiplatform (a devDependency) ships. Machine types have no such
 * offline list (Compute Engine lists them per zone at run time); their names are checked internally.
 */
import * as fs from 'fs';
import { Compute, GpuKind } from '../../lib/spec/compute';
import { selectInstance } from '../../lib/spec/instance-catalog';
import { VERTEX_AI_MACHINE_TYPES } from '../../lib/targets/vertex-ai/machine-types';
import { TARGET } from '../../lib/targets/vertex-ai/name';
import { describeInstanceTable } from '../support/instance-table';
import { expectRefusal } from '../support/refusal';

describeInstanceTable(TARGET, VERTEX_AI_MACHINE_TYPES, /^[a-z][a-z0-9]*-[a-z]+-[0-9]+g?$/);

interface ProtoEnum { readonly values: Record<string, number>; readonly valuesOptions?: Record<string, { deprecated?: boolean }> }

/** Vertex AI v1's AcceleratorType enum, from google/cloud/aiplatform/v1/accelerator_type.proto as compiled into the package. */
function acceleratorTypeEnum(): ProtoEnum {
  const protos = JSON.parse(fs.readFileSync(require.resolve('@google-cloud/aiplatform/build/protos/protos.json'), 'utf8'));
  return protos.nested.google.nested.cloud.nested.aiplatform.nested.v1.nested.AcceleratorType;
}

describe('Vertex AI machine table: against Google\'s AcceleratorType enum', () => {
  const accelerated = VERTEX_AI_MACHINE_TYPES.filter(o => o.acceleratorType !== undefined);

  test('every GPU offer has an accelerator type; no CPU offer has one', () => {
    const bad = VERTEX_AI_MACHINE_TYPES.filter(o => (o.gpuCount > 0) !== (o.acceleratorType !== undefined)).map(o => `${o.name} x${o.gpuCount}`);
    expect(bad).toEqual([]);
    expect(accelerated.length).toBeGreaterThan(0);
  });

  test('every accelerator type is a value of Vertex AI v1\'s AcceleratorType, neither unspecified nor deprecated', () => {
    const { values, valuesOptions = {} } = acceleratorTypeEnum();
    // The enum read is the real one: it has the values the table has always used.
    expect(Object.keys(values)).toEqual(expect.arrayContaining(['ACCELERATOR_TYPE_UNSPECIFIED', 'NVIDIA_TESLA_T4', 'NVIDIA_L4']));
    const bad = accelerated.map(o => o.acceleratorType!)
      .filter(t => !Object.prototype.hasOwnProperty.call(values, t) || t === 'ACCELERATOR_TYPE_UNSPECIFIED' || valuesOptions[t]?.deprecated === true);
    expect([...new Set(bad)]).toEqual([]);
  });

  test('each accelerator type names one GPU kind', () => {
    const kindOf = new Map<string, GpuKind>();
    for (const offer of accelerated) {
      const seen = kindOf.get(offer.acceleratorType!);
      if (seen) expect(`${offer.acceleratorType} -> ${offer.gpu}`).toBe(`${offer.acceleratorType} -> ${seen}`);
      kindOf.set(offer.acceleratorType!, offer.gpu!);
    }
  });

  test('machine names spell out the vCPUs (e2, n1, g2: the last number) or the GPUs (a2, a3: the Ng suffix)', () => {
    const bad = VERTEX_AI_MACHINE_TYPES.filter(o => {
      const gpus = /-(\d+)g$/.exec(o.name);
      if (gpus) return Number(gpus[1]) !== o.gpuCount;
      return Number(/-(\d+)$/.exec(o.name)?.[1]) !== o.vcpus;
    }).map(o => `${o.name} x${o.gpuCount}: ${o.vcpus} vCPUs`);
    expect(bad).toEqual([]);
  });
});

describe('Vertex AI machine selection', () => {
  test.each([
    [Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }), 'g2-standard-4', 'NVIDIA_L4'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 2 }), 'n1-standard-8', 'NVIDIA_TESLA_T4'],
    [Compute.cpu(), 'e2-standard-2', undefined],
  ])('%p -> %s with %s', (compute, name, acceleratorType) => {
    const offer = selectInstance(VERTEX_AI_MACHINE_TYPES, compute, TARGET);
    expect(offer.name).toBe(name);
    expect(offer.acceleratorType).toBe(acceleratorType);
  });

  test('A10G is refused, listing the GPU kinds Vertex AI offers', () => {
    const err = expectRefusal(() => selectInstance(VERTEX_AI_MACHINE_TYPES, Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }), TARGET), 'compute.gpu',
      { value: '"nvidia-a10g"', target: 'vertexAi' });
    const offered = new Set(VERTEX_AI_MACHINE_TYPES.filter(o => o.gpu).map(o => o.gpu!));
    for (const kind of offered) expect(err.allowed).toContain(kind);
    expect(err.allowed).not.toContain('nvidia-a10g');
  });

  test('a CPU ask larger than any machine is refused, naming the largest', () => {
    expectRefusal(() => selectInstance(VERTEX_AI_MACHINE_TYPES, Compute.cpu({ vcpus: 2, memoryGiB: 1000 }), TARGET), 'compute',
      { allowed: 'n1-standard-96', target: 'vertexAi' });
  });
});
