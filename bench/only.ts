/**
 * BENCH_ONLY: which parts of `npm run bench` run (bench/run.ts: sagemaker, azure, vertex, and require:
 * the require cost of the package root and of every entry point; bench/on-prem.ts: on-prem;
 * bench/probe.ts: probe). A comma-separated list; unset or empty = all.
 */
export const SUITES = ['sagemaker', 'azure', 'vertex', 'require', 'on-prem', 'probe'] as const;
export type Suite = (typeof SUITES)[number];

export function benchOnly(): ReadonlySet<Suite> {
  const value = process.env.BENCH_ONLY?.trim();
  if (!value) return new Set(SUITES);
  const picked = value.split(',').map(s => s.trim()).filter(Boolean);
  for (const s of picked) {
    if (!(SUITES as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown part ${s} (${SUITES.join(', ')})`);
  }
  return new Set(picked as Suite[]);
}
