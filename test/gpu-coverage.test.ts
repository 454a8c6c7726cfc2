/**
 * Across the managed targets' instance tables (each in lib/targets/<target>/): every GPU kind the
 * spec accepts can be deployed on at least one managed cloud.
 */
import { Compute, GpuKind } from '../lib/spec/compute';
import { InstanceOffer, selectInstance } from '../lib/spec/instance-catalog';
import { AZURE_ML_INSTANCE_TYPES } from '../lib/targets/azure-ml/instance-types';
import { TARGET as AZURE_ML } from '../lib/targets/azure-ml/name';
import { SAGEMAKER_INSTANCE_TYPES } from '../lib/targets/sagemaker/instance-types';
import { TARGET as SAGEMAKER } from '../lib/targets/sagemaker/name';
import { VERTEX_AI_MACHINE_TYPES } from '../lib/targets/vertex-ai/machine-types';
import { TARGET as VERTEX_AI } from '../lib/targets/vertex-ai/name';

const TABLES: ReadonlyArray<readonly [string, readonly InstanceOffer[]]> = [
  [SAGEMAKER, SAGEMAKER_INSTANCE_TYPES], [AZURE_ML, AZURE_ML_INSTANCE_TYPES], [VERTEX_AI, VERTEX_AI_MACHINE_TYPES],
];

test('every GpuKind is offered by at least one managed target, and selectable there', () => {
  for (const kind of Object.values(GpuKind)) {
    const offers = TABLES.flatMap(([target, table]) => table.filter(o => o.gpu === kind).map(offer => ({ target, table, offer })));
    expect({ kind, offered: offers.length > 0 }).toEqual({ kind, offered: true });
    const { target, table, offer } = offers[0];
    expect(selectInstance(table, Compute.gpu({ gpu: kind, count: offer.gpuCount }), target).gpu).toBe(kind);
  }
});
