/**
 * The consistency checks every target's instance table gets, whatever the cloud: each target's
 * test file calls `describeInstanceTable` with its table, then adds the checks against that cloud's
 * own list where one exists offline.
 */
import { Compute, GpuKind } from '../../lib/spec/compute';
import { InstanceOffer, selectInstance } from '../../lib/spec/instance-catalog';

/** `offer` has exactly the GPUs `compute` asks for (none, for CPU compute) and at least its vCPUs and memory. */
export function expectFits(offer: InstanceOffer, compute: Compute): void {
  expect(offer.gpuCount).toBe(compute.gpuCount);
  expect(offer.vcpus).toBeGreaterThanOrEqual(compute.vcpus);
  expect(offer.memoryGiB).toBeGreaterThanOrEqual(compute.memoryGiB);
  if (compute.gpu) expect(offer.gpu).toBe(compute.gpu);
}

export function describeInstanceTable(target: string, offers: readonly InstanceOffer[], namePattern: RegExp): void {
  describe(`${target} instance table: consistency`, () => {
    test('has offers, and every offer has a name and positive sizes', () => {
      expect(offers.length).toBeGreaterThan(0);
      for (const offer of offers) {
        expect(offer.name).toMatch(/\S/);
        expect(offer.vcpus).toBeGreaterThan(0);
        expect(Number.isInteger(offer.vcpus)).toBe(true);
        expect(offer.memoryGiB).toBeGreaterThan(0);
        expect(Number.isInteger(offer.gpuCount)).toBe(true);
      }
    });

    test('every GPU offer has gpu set (a known kind) and gpuCount >= 1; every CPU offer has gpuCount 0 and no GPU', () => {
      const bad: string[] = [];
      for (const offer of offers) {
        if (offer.gpu !== undefined || offer.gpuCount > 0) {
          if (offer.gpu === undefined || !Object.values(GpuKind).includes(offer.gpu)) bad.push(`${offer.name}: gpu ${offer.gpu}`);
          if (offer.gpuCount < 1) bad.push(`${offer.name}: gpuCount ${offer.gpuCount}`);
        } else if (offer.gpuCount !== 0) {
          bad.push(`${offer.name}: CPU offer with gpuCount ${offer.gpuCount}`);
        }
      }
      expect(bad).toEqual([]);
    });

    test(`names follow ${namePattern}`, () => {
      expect(offers.filter(o => !namePattern.test(o.name)).map(o => o.name)).toEqual([]);
    });

    test('no duplicate (name, gpuCount), and a name never carries two GPU kinds', () => {
      const dups: string[] = [];
      const seen = new Set<string>();
      const kinds = new Map<string, GpuKind>();
      for (const offer of offers) {
        const key = `${offer.name}/${offer.gpuCount}`;
        if (seen.has(key)) dups.push(key);
        seen.add(key);
        // A name may be offered bare and with GPUs (Vertex AI attaches accelerators to N1
        // machines), but never with two different GPU kinds.
        if (offer.gpu === undefined) continue;
        if (kinds.has(offer.name) && kinds.get(offer.name) !== offer.gpu) dups.push(`${offer.name}: ${kinds.get(offer.name)} and ${offer.gpu}`);
        kinds.set(offer.name, offer.gpu);
      }
      expect(dups).toEqual([]);
    });

    test('every offer can be selected by asking for exactly its size', () => {
      for (const offer of offers) {
        const compute = offer.gpu ? Compute.gpu({ gpu: offer.gpu, count: offer.gpuCount, vcpus: offer.vcpus, memoryGiB: offer.memoryGiB })
          : Compute.cpu({ vcpus: offer.vcpus, memoryGiB: offer.memoryGiB });
        const picked = selectInstance(offers, compute, target);
        expect(picked.vcpus).toBe(offer.vcpus);
        expect(picked.memoryGiB).toBe(offer.memoryGiB);
        expect(picked.gpuCount).toBe(offer.gpuCount);
      }
    });

    test('picks the smallest fitting offer: no other fitting offer is smaller', () => {
      const asks = [Compute.cpu(), Compute.cpu({ vcpus: 8, memoryGiB: 20 }), ...[...new Set(offers.map(o => o.gpu))]
        .filter((g): g is GpuKind => g !== undefined).map(gpu => Compute.gpu({ gpu }))];
      for (const compute of asks) {
        let offer: InstanceOffer;
        try {
          offer = selectInstance(offers, compute, target);
        } catch {
          continue;
        }
        const fitting = offers.filter(o => o.gpuCount === compute.gpuCount && (compute.gpu ? o.gpu === compute.gpu : o.gpuCount === 0)
          && o.vcpus >= compute.vcpus && o.memoryGiB >= compute.memoryGiB);
        for (const other of fitting) {
          expect(other.vcpus > offer.vcpus || (other.vcpus === offer.vcpus && other.memoryGiB >= offer.memoryGiB)).toBe(true);
        }
      }
    });
  });
}
