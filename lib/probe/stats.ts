import { ProbeResult } from './result';

/** Latencies (ms), their send times (ms since the first request) and whether each was 2xx, in completion order. */
export class LatencyLog {
  public length = 0;
  private latency = new Float64Array(4096);
  private sentAt = new Float64Array(4096);
  private ok = new Uint8Array(4096);

  public add(latencyMs: number, sentAtMs: number, ok: boolean): void {
    if (this.length === this.latency.length) this.grow();
    this.latency[this.length] = latencyMs;
    this.sentAt[this.length] = sentAtMs;
    this.ok[this.length] = ok ? 1 : 0;
    this.length++;
  }

  /** Exact percentiles (nearest rank) over a sorted copy; undefined when empty. */
  public summary(): ProbeResult['latencyMs'] {
    if (this.length === 0) return undefined;
    const sorted = this.sorted();
    let sum = 0;
    for (let i = 0; i < sorted.length; i++) sum += sorted[i];
    return {
      min: round(sorted[0]), mean: round(sum / sorted.length),
      p50: round(percentile(sorted, 0.5)), p90: round(percentile(sorted, 0.9)), p99: round(percentile(sorted, 0.99)),
      max: round(sorted[sorted.length - 1]),
    };
  }

  /** Contiguous equal-width buckets from the fastest to the slowest response (at most `buckets`). */
  public histogram(buckets = 40): ProbeResult['histogram'] {
    if (this.length === 0) return [];
    const sorted = this.sorted();
    const min = sorted[0];
    const max = sorted[sorted.length - 1];
    const width = (max - min) / buckets;
    if (width <= 0) return [{ fromMs: round(min), toMs: round(max), count: sorted.length }];
    const counts = new Array<number>(buckets).fill(0);
    for (let i = 0; i < sorted.length; i++) counts[Math.min(buckets - 1, Math.floor((sorted[i] - min) / width))]++;
    return counts.map((count, i) => ({ fromMs: round(min + i * width), toMs: round(i === buckets - 1 ? max : min + (i + 1) * width), count }));
  }

  /** At most `points` entries, evenly thinned, in completion order. */
  public timeline(points = 2000): ProbeResult['timeline'] {
    const step = Math.max(1, Math.ceil(this.length / points));
    const out: { atMs: number; latencyMs: number; ok: boolean }[] = [];
    for (let i = 0; i < this.length; i += step) out.push({ atMs: round(this.sentAt[i]), latencyMs: round(this.latency[i]), ok: this.ok[i] === 1 });
    return out;
  }

  private sortedCache?: Float64Array;
  private sorted(): Float64Array {
    if (this.sortedCache?.length !== this.length) this.sortedCache = this.latency.slice(0, this.length).sort();
    return this.sortedCache;
  }

  private grow(): void {
    const size = this.latency.length * 2;
    const latency = new Float64Array(size); latency.set(this.latency); this.latency = latency;
    const sentAt = new Float64Array(size); sentAt.set(this.sentAt); this.sentAt = sentAt;
    const ok = new Uint8Array(size); ok.set(this.ok); this.ok = ok;
  }
}

/** Nearest-rank percentile of a sorted, non-empty array: the smallest value with at least p of the values at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
