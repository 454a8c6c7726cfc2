import { ProbeResult } from '../../lib/probe/result';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A ProbeResult as the engine would fill it, from a histogram and a timeline given by the test;
 * everything else is derived (or overridden by `extra`).
 */
export function syntheticResult(
  histogram: ProbeResult['histogram'],
  timeline: ProbeResult['timeline'],
  extra: Partial<Mutable<ProbeResult>> = {},
): ProbeResult {
  const latencies = timeline.map(p => p.latencyMs).sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  const failed = timeline.filter(p => !p.ok).length;
  const durationMs = timeline.length ? Math.max(...timeline.map(p => p.atMs + p.latencyMs)) : 0;
  return {
    target: 'onPrem',
    endpoint: 'https://model.example.internal/predict',
    startedAt: '2026-12-01T10:00:00.000Z',
    durationMs,
    concurrency: 8,
    requested: { count: timeline.length },
    completed: true,
    requests: timeline.length,
    throughputPerSecond: durationMs ? timeline.length / (durationMs / 1000) : 0,
    latencyMs: latencies.length ? {
      min: latencies[0], mean: latencies.reduce((s, v) => s + v, 0) / latencies.length,
      p50: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies[latencies.length - 1],
    } : undefined,
    outcomes: { ...(timeline.length - failed ? { 200: timeline.length - failed } : {}), ...(failed ? { 503: failed } : {}) },
    errorRate: timeline.length ? failed / timeline.length : 0,
    histogram,
    timeline,
    ...extra,
  };
}

/** Buckets of 1 ms from `fromMs`, with these counts. */
export const msBuckets = (fromMs: number, counts: readonly number[]) =>
  counts.map((count, i) => ({ fromMs: fromMs + i, toMs: fromMs + i + 1, count }));

/** A timeline whose latencies follow the buckets: each bucket's count of points, spread over `seconds`. */
export function timelineFor(buckets: ProbeResult['histogram'], seconds: number, failedEvery = 0): ProbeResult['timeline'] {
  const latencies = buckets.flatMap(b => Array.from({ length: b.count }, (_, i) => b.fromMs + (b.toMs - b.fromMs) * (i + 0.5) / b.count));
  // Interleave deterministically so that latency does not simply rise with time.
  const order = latencies.map((l, i) => ({ l, k: (i * 7919) % latencies.length })).sort((a, b) => a.k - b.k).map(e => e.l);
  return order.map((latencyMs, i) => ({
    atMs: (i * seconds * 1000) / Math.max(1, order.length),
    latencyMs,
    ok: failedEvery === 0 || i % failedEvery !== 0,
  }));
}
