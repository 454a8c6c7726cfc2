import { formatSummary, summaryRows } from '../bench/summary';

/** bench-results.json as bench/run.ts, bench/on-prem.ts and bench/probe.ts write it (the parts the summary reads). */
const RESULTS = {
  machine: { date: '2026-12-01T00:00:00.000Z', cpus: 2, cpuModel: 'cpu' },
  comparison: [
    { mode: 'js', cfnValidation: true, deployments: 1, synthMs: { ours: 1343, alpha: 1446, ratio: 0.93 } },
    { mode: 'js', cfnValidation: false, deployments: 25, synthMs: { ours: 381, alpha: 292, ratio: 1.3 } },
    { mode: 'ts-node', cfnValidation: true, deployments: 1, synthMs: { ours: 9999, alpha: 1, ratio: 9999 } },
    { mode: 'js', cfnValidation: true, marginalPerDeployment: { synthMs: { ours: 45, alpha: 13 } } },
  ],
  azureComparison: [
    { mode: 'js', case: 'x1', synthMs: { ours: 60, raw: 50, ratio: 1.2 } },
    { mode: 'js', case: 'each extra deployment (x25 - x1) / 24', synthMs: { ours: 8, raw: 7 } },
  ],
  vertexComparison: [{ mode: 'js', case: 'x25', synthMs: { ours: 200, raw: 400, ratio: 0.5 } }],
  require: [
    { mode: 'js', case: 'req-baseline', label: 'baseline (nothing)', inProcessRequireMs: { median: 0 }, netRssEndBytes: undefined },
    { mode: 'js', case: 'req-root', label: "require('./lib')", inProcessRequireMs: { median: 62 }, netRssEndBytes: 8.9 * 1024 * 1024, inProcessHeapUsedDeltaBytes: { median: 1.4 * 1024 * 1024 }, awsCdkLibModules: 0, cdktfModules: 0 },
    { mode: 'js', case: 'req-on-prem', label: "require('./lib/targets/on-prem')", inProcessRequireMs: { median: 392 }, netRssEndBytes: 23.9 * 1024 * 1024, awsCdkLibModules: 0, cdktfModules: 373 },
    { mode: 'js', case: 'req-alpha', label: "require('@aws-cdk/aws-sagemaker-alpha')", inProcessRequireMs: { median: 1 }, netRssEndBytes: 0 },
    { mode: 'ts-node', case: 'req-root', label: "require('./lib')", inProcessRequireMs: { median: 999 }, netRssEndBytes: 0 },
  ],
  onPrem: { ms: { 'apply, nothing changed': { median: 111 } } },
  vertexBridge: { create: { label: 'create: upload + deploy + traffic (v1)', processWallMs: { median: 420 } } },
  probe: { rows: [{ path: '/fast', concurrency: 8, probe: { throughputPerSecond: 9000, p99: 1.2 }, autocannon: { throughputPerSecond: 10000, p99: 1 }, failures: ['p99 +20%'] }] },
};

test('the bench summary has one row per headline figure, compiled-JS medians only, each against its anchor', () => {
  expect(summaryRows(RESULTS).map(r => [r.part, r.figure, r.ours, r.anchor, r.ratio])).toEqual([
    ['sagemaker', 'synth x1, CFN validation on (vs alpha)', '1,343 ms', '1,446 ms', '0.93x'],
    ['sagemaker', 'synth x25, CFN validation off (vs alpha)', '381 ms', '292 ms', '1.30x'],
    ['azure', 'synth x1 (vs raw cdktf)', '60.0 ms', '50.0 ms', '1.20x'],
    ['vertex', 'synth x25 (vs raw cdktf)', '200.0 ms', '400.0 ms', '0.50x'],
    ['require', 'require root', '62 ms, +8.9 MiB RSS, heap +1.4 MiB; 0 aws-cdk-lib / 0 cdktf modules', '-', '-'],
    ['require', 'require /on-prem', '392 ms, +23.9 MiB RSS; 0 aws-cdk-lib / 373 cdktf modules', '-', '-'],
    ['on-prem', 'apply, nothing changed', '111 ms', '-', '-'],
    ['bridge', 'create: upload + deploy + traffic (v1)', '420 ms', '-', '-'],
    ['probe', 'req/s /fast, concurrency 8 (vs autocannon)', '9,000', '10,000', '0.90x'],
    ['probe', 'p99 ms /fast, concurrency 8 (vs autocannon) FAIL', '1.200', '1.000', '1.20x'],
  ]);
});

test('parts that did not run have no rows, and the table aligns its columns', () => {
  expect(summaryRows({ machine: {} })).toEqual([]);
  const table = formatSummary(summaryRows({ onPrem: RESULTS.onPrem, vertexBridge: RESULTS.vertexBridge })).split('\n');
  expect(table[0]).toMatch(/^part\s+figure\s+ours\s+anchor\s+ratio$/);
  expect(table[2]).toMatch(/^on-prem\s+apply, nothing changed\s+111 ms\s+-\s+-$/);
  expect(table[3].indexOf('420 ms')).toBe(table[2].indexOf('111 ms'));
});
