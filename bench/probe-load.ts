/**
 * One measured run of the probe bench (bench/probe.ts), in a fresh process: the load generator
 * named by argv (`probe` or `autocannon`) against the bench server's URL at a concurrency, first a
 * warmup run (discarded: JIT, connection setup), then the measured run; prints one MARKER line of
 * JSON (a LoadResult) for the parent.
 *
 *   node -r ts-node/register/transpile-only bench/probe-load.ts TOOL URL CONCURRENCY SECONDS WARMUP_SECONDS
 *
 * Both tools get the same request: POST, the same JSON body and content-type, one request at a
 * time per connection (no pipelining), keep-alive connections as many as the concurrency.
 * Percentiles: the probe's own (what it reports to its users); autocannon's are computed here from
 * the exact time of every response (its 'response' event, in fractional ms, the same points its
 * own histogram records), nearest rank as the probe computes them. autocannon's own summary is
 * not used for them: its histogram keeps whole milliseconds, too coarse for a local server.
 */
import * as path from 'path';
import type { ProbeResult } from '../lib/probe/result';

export const MARKER = '@@PROBE-BENCH@@ ';
export const BODY = JSON.stringify({ instances: [[1, 1, 1]] });

export interface LoadResult {
  readonly tool: 'probe' | 'autocannon';
  readonly concurrency: number;
  readonly responses: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly throughputPerSecond: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** The part of lib/probe/engine.ts's runProbe this bench uses. */
interface ProbeRunOptions {
  readonly target: string;
  readonly url: string;
  readonly samples: readonly { readonly name: string; readonly body: Buffer }[];
  readonly concurrency: number;
  readonly durationSeconds: number;
}
type RunProbe = (options: ProbeRunOptions) => Promise<ProbeResult>;

/** What this bench uses of autocannon 9 (it ships no types). */
interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): void;
}
interface AutocannonResult { readonly duration: number; readonly errors: number; readonly timeouts: number }
type Autocannon = (options: Record<string, unknown>, done: (error: Error | null, result: AutocannonResult) => void) => AutocannonInstance;

/** Nearest rank, as lib/probe/stats.ts computes the probe's. */
const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

function loadRunProbe(): RunProbe {
  try {
    return (require(path.join(__dirname, '..', 'lib', 'probe', 'engine')) as { runProbe: RunProbe }).runProbe;
  } catch (e) {
    throw new Error(`bench/probe-load.ts: cannot load runProbe from lib/probe/engine.ts: ${(e as Error).message}`, { cause: e });
  }
}

async function probeRun(url: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const runProbe = loadRunProbe();
  const r = await runProbe({ target: 'bench', url, samples: [{ name: 'bench', body: Buffer.from(BODY) }], concurrency, durationSeconds: seconds });
  if (!r.latencyMs) throw new Error(`probe run got no responses: ${r.stopReason ?? JSON.stringify(r.outcomes)}`);
  const ok = Object.entries(r.outcomes).filter(([k]) => /^2\d\d$/.test(k)).reduce((s, [, n]) => s + n, 0);
  const answered = Object.entries(r.outcomes).filter(([k]) => /^\d+$/.test(k)).reduce((s, [, n]) => s + n, 0);
  return {
    tool: 'probe', concurrency, responses: r.requests, non2xx: answered - ok, errors: r.requests - answered,
    throughputPerSecond: r.throughputPerSecond, p50: r.latencyMs.p50, p90: r.latencyMs.p90, p99: r.latencyMs.p99,
  };
}

async function autocannonRun(url: string, concurrency: number, seconds: number): Promise<LoadResult> {
  const autocannon = require('autocannon') as Autocannon;
  const latencies: number[] = [];
  let non2xx = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon({
      url, method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY,
      connections: concurrency, pipelining: 1, duration: seconds,
    }, (error, r) => error ? reject(error) : resolve(r));
    instance.on('response', (_client, status, _bytes, ms) => {
      latencies.push(ms);
      if (status < 200 || status > 299) non2xx++;
    });
  });
  if (latencies.length === 0) throw new Error('autocannon run got no responses');
  const sorted = Float64Array.from(latencies).sort();
  return {
    tool: 'autocannon', concurrency, responses: latencies.length, non2xx, errors: result.errors + result.timeouts,
    throughputPerSecond: latencies.length / result.duration,
    p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99),
  };
}

async function main(): Promise<void> {
  const [tool, url, c, s, w] = process.argv.slice(2);
  const run = tool === 'probe' ? probeRun : tool === 'autocannon' ? autocannonRun : undefined;
  if (!run) throw new Error(`bench/probe-load.ts: unknown tool ${tool} (probe, autocannon)`);
  const concurrency = Number(c), seconds = Number(s), warmup = Number(w);
  if (warmup > 0) await run(url, concurrency, warmup);
  const result = await run(url, concurrency, seconds);
  process.stdout.write(`${MARKER}${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  main().catch(e => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
