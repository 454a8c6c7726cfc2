import { ProbeProgress } from './engine';
import { ProbeResult } from './result';

/** The result as a table for the terminal. */
export function renderTable(r: ProbeResult, authDescription?: string): string {
  const rows: [string, string][] = [
    ['target', r.target],
    ['endpoint', r.endpoint],
    ...(authDescription ? [['auth', authDescription] as [string, string]] : []),
    ['run', `${r.requested.count !== undefined ? `${r.requested.count} requests` : `${r.requested.durationSeconds} s`} at concurrency ${r.concurrency}`],
    ['status', r.completed ? 'completed' : `INCOMPLETE: ${r.stopReason ?? 'stopped early'}`],
    ['requests', `${r.requests} in ${(r.durationMs / 1000).toFixed(2)} s`],
    ['throughput', `${r.throughputPerSecond.toFixed(1)} requests/s`],
  ];
  if (r.latencyMs) {
    const l = r.latencyMs;
    rows.push(['latency (ms)', `p50 ${ms(l.p50)}  p90 ${ms(l.p90)}  p99 ${ms(l.p99)}  max ${ms(l.max)}  (min ${ms(l.min)}, mean ${ms(l.mean)})`]);
  } else {
    rows.push(['latency (ms)', 'no HTTP answer']);
  }
  rows.push(['outcomes', Object.entries(r.outcomes).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none']);
  rows.push(['error rate', percent(r.errorRate)]);
  if (r.accuracy) {
    rows.push(['accuracy', `${percent(r.accuracy.rate)} (${r.accuracy.correct} of ${r.accuracy.checked} checked answers)`]);
    for (const m of r.accuracy.mismatches) rows.push(['', m]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(rate === 0 || rate === 1 ? 0 : 2)}%`;
}

/**
 * A one-line progress bar, redrawn in place on a TTY; nothing at all on anything else (a log file
 * or a pipe gets no spam). By count, or by time for a run of a given duration.
 */
export class ProgressBar {
  private drawn = false;
  constructor(private readonly stream: NodeJS.WriteStream, private readonly total: { count?: number; durationSeconds?: number }) {}

  public get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  public update(p: ProbeProgress): void {
    if (!this.enabled) return;
    const fraction = this.total.count !== undefined ? p.done / this.total.count : p.elapsedMs / 1000 / (this.total.durationSeconds ?? 1);
    const f = Math.max(0, Math.min(1, fraction));
    const width = 30;
    const filled = Math.round(f * width);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}%`;
    const counts = this.total.count !== undefined ? `${p.done}/${this.total.count}` : `${p.done} requests`;
    this.stream.write(`\r${bar} ${counts}, ${p.errors} errors, ${(p.elapsedMs / 1000).toFixed(1)} s\u001b[K`);
    this.drawn = true;
  }

  /** Clears the line (before the table is printed). */
  public clear(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
    this.drawn = false;
  }
}
