/**
 * The last step of `npm run bench`: every headline figure of the run in ONE table, read from
 * bench-results.json (which bench/run.ts writes afresh, and bench/on-prem.ts and bench/probe.ts add
 * to). A part that did not run (BENCH_ONLY) has no rows.
 *
 *   part      sagemaker | azure | vertex | require | on-prem | bridge | probe
 *   figure    what was measured
 *   ours      this library's figure (medians)
 *   anchor    what it is compared with: @aws-cdk/aws-sagemaker-alpha (SageMaker), a hand-written
 *             raw cdktf stack of the same resources (Azure ML, Vertex AI), autocannon (probe)
 *   ratio     ours / anchor (>1: ours costs more; for throughput, >1: ours is faster)
 */
import * as fs from 'fs';
import * as path from 'path';

export interface SummaryRow {
  readonly part: string;
  readonly figure: string;
  readonly ours: string;
  readonly anchor: string;
  readonly ratio: string;
}

type Json = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any
const MiB = 1024 * 1024;
const n = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number, b: number) => (b > 0 && a >= 0 ? `${n(a / b, 2)}x` : '-');
const signed = (x: number, digits = 0) => `${x >= 0 ? '+' : ''}${n(x, digits)}`;

export function summaryRows(results: Json): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const add = (part: string, figure: string, ours: string, anchor = '-', r = '-') => rows.push({ part, figure, ours, anchor, ratio: r });

  // Synthesis vs the anchors: compiled JavaScript (mode js), as package users run it.
  for (const c of (results.comparison ?? []) as Json[]) {
    if (c.mode !== 'js' || c.deployments === undefined) continue;
    add('sagemaker', `synth x${c.deployments}, CFN validation ${c.cfnValidation ? 'on' : 'off'} (vs alpha)`,
      `${n(c.synthMs.ours)} ms`, `${n(c.synthMs.alpha)} ms`, ratio(c.synthMs.ours, c.synthMs.alpha));
  }
  for (const [part, key] of [['azure', 'azureComparison'], ['vertex', 'vertexComparison']] as const) {
    for (const c of (results[key] ?? []) as Json[]) {
      if (c.mode !== 'js' || !/^x\d+/.test(c.case)) continue;
      add(part, `synth ${c.case} (vs raw cdktf)`, `${n(c.synthMs.ours, 1)} ms`, `${n(c.synthMs.raw, 1)} ms`, ratio(c.synthMs.ours, c.synthMs.raw));
    }
  }
  // Require cost of the package root and each entry point (fresh process each; net of a bare node).
  for (const c of (results.require ?? []) as Json[]) {
    if (c.mode !== 'js' || c.case === 'req-baseline' || !/^require\('\.\/lib/.test(c.label)) continue;
    const heap = c.inProcessHeapUsedDeltaBytes ? `, heap +${n(c.inProcessHeapUsedDeltaBytes.median / MiB, 1)} MiB` : '';
    add('require', c.label.replace(/^require\('\.\/lib(\/targets)?\/?([^']*)'\)$/, (_m: string, _t: string, entry: string) => `require ${entry ? `/${entry}` : 'root'}`),
      `${n(c.inProcessRequireMs.median)} ms, ${signed(c.netRssEndBytes / MiB, 1)} MiB RSS${heap}; ${c.awsCdkLibModules} aws-cdk-lib / ${c.cdktfModules} cdktf modules`);
  }
  for (const [label, s] of Object.entries<Json>(results.onPrem?.ms ?? {})) add('on-prem', label, `${n(s.median)} ms`);
  for (const phase of Object.values<Json>(results.vertexBridge ?? {})) add('bridge', phase.label, `${n(phase.processWallMs.median)} ms`);
  for (const r of (results.probe?.rows ?? []) as Json[]) {
    const where = `${r.path}, concurrency ${r.concurrency}`;
    add('probe', `req/s ${where} (vs autocannon)`, n(r.probe.throughputPerSecond), n(r.autocannon.throughputPerSecond), ratio(r.probe.throughputPerSecond, r.autocannon.throughputPerSecond));
    add('probe', `p99 ms ${where} (vs autocannon)${r.failures.length ? ' FAIL' : ''}`, n(r.probe.p99, 3), n(r.autocannon.p99, 3), ratio(r.probe.p99, r.autocannon.p99));
  }
  return rows;
}

export function formatSummary(rows: readonly SummaryRow[]): string {
  const header: SummaryRow = { part: 'part', figure: 'figure', ours: 'ours', anchor: 'anchor', ratio: 'ratio' };
  const keys = Object.keys(header) as Array<keyof SummaryRow>;
  const widths = keys.map(k => Math.max(...[header, ...rows].map(r => r[k].length)));
  const line = (r: SummaryRow) => keys.map((k, i) => (i >= 3 ? r[k].padStart(widths[i]) : r[k].padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

if (require.main === module) {
  const file = path.join(__dirname, '..', 'bench-results.json');
  const results = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) as Json : {};
  const rows = summaryRows(results);
  console.log(`\nSummary (${path.basename(file)}${results.machine ? `, ${results.machine.date}, ${results.machine.cpus} x ${results.machine.cpuModel}` : ''}; medians):\n`);
  console.log(rows.length ? formatSummary(rows) : '(nothing measured: see BENCH_ONLY)');
}
