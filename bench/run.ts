/**
 * Benchmark: this library vs @aws-cdk/aws-sagemaker-alpha.
 *
 *   npm run bench                       (BENCH_RUNS=5 repetitions per case by default)
 *   BENCH_RUNS=3 BENCH_MODES=js npm run bench
 *
 * Every measurement runs in a fresh child process (bench/child.ts), so module caches, JIT state
 * and memory never leak from one case into the next. Two ways of running the children:
 *
 *   js       plain `node` on JavaScript transpiled up front into bench/.build (what a consumer of the
 *            published package loads: lib/index.js). The fair comparison with the alpha module,
 *            which ships JavaScript.
 *   ts-node  `node -r ts-node/register/transpile-only bench/child.ts`: our sources are transpiled on
 *            every require, in every process. Costs are reported raw and net of a baseline process
 *            that loads ts-node only.
 *
 * Results: a table on stdout and bench-results.json at the repository root.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUILD_DIR, ROOT, buildJs } from './build-js';
import type { CaseSpec, ChildResult } from './child';

type Mode = 'js' | 'ts-node';

interface Case {
  readonly id: string;
  readonly group: 'require' | 'synth';
  readonly label: string;
  readonly spec: Omit<CaseSpec, 'root' | 'outdir'>;
  /** Runs in the parent right before each repetition of the case. */
  readonly prepare?: () => void;
}

interface Sample extends ChildResult {
  /** Wall-clock ms of the whole child process, measured by the parent (spawn to exit). */
  readonly wallMs: number;
}

interface Stat { readonly median: number; readonly min: number; readonly max: number }

const RUNS = parsePositiveInt(process.env.BENCH_RUNS, 5, 'BENCH_RUNS');
const MODES = (process.env.BENCH_MODES ?? 'js,ts-node').split(',').map(m => m.trim()).filter(Boolean) as Mode[];
for (const m of MODES) if (m !== 'js' && m !== 'ts-node') throw new Error(`BENCH_MODES: unknown mode ${m} (js, ts-node)`);
const ARCHIVE_CACHE = path.join(os.tmpdir(), 'cdk-model-deployment-archives');
const MARKER = '@@BENCH@@ ';
const MiB = 1024 * 1024;

const clearArchiveCache = () => fs.rmSync(ARCHIVE_CACHE, { recursive: true, force: true });

const CASES: Case[] = [
  { id: 'req-baseline', group: 'require', label: 'baseline (nothing)', spec: { kind: 'require', module: '' } },
  { id: 'req-root', group: 'require', label: "require('./lib')", spec: { kind: 'require', module: './lib' } },
  { id: 'req-sagemaker', group: 'require', label: "require('./lib/targets/sagemaker')", spec: { kind: 'require', module: './lib/targets/sagemaker' } },
  { id: 'req-alpha', group: 'require', label: "require('@aws-cdk/aws-sagemaker-alpha')", spec: { kind: 'require', module: '@aws-cdk/aws-sagemaker-alpha' } },
  { id: 'ours-1', group: 'synth', label: 'ours x1', spec: { kind: 'synth', impl: 'ours', count: 1, model: 'uri' } },
  { id: 'alpha-1', group: 'synth', label: 'alpha x1', spec: { kind: 'synth', impl: 'alpha', count: 1 } },
  { id: 'ours-25', group: 'synth', label: 'ours x25', spec: { kind: 'synth', impl: 'ours', count: 25, model: 'uri' } },
  { id: 'alpha-25', group: 'synth', label: 'alpha x25', spec: { kind: 'synth', impl: 'alpha', count: 25 } },
  // Cold: the archive cache is emptied first, so the model directory is packed. Warm: runs right
  // after cold, finds the archive in the cache (hashes the source and the archive, packs nothing).
  { id: 'asset-cold', group: 'synth', label: 'ours x1 local asset, cold cache', spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset' }, prepare: clearArchiveCache },
  { id: 'asset-warm', group: 'synth', label: 'ours x1 local asset, warm cache', spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset' } },
];

function parsePositiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${value}`);
  return n;
}

function childCommand(mode: Mode, spec: CaseSpec): string[] {
  const json = JSON.stringify(spec);
  return mode === 'js'
    ? [path.join(BUILD_DIR, 'bench', 'child.js'), json]
    : ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'bench', 'child.ts'), json];
}

function runChild(mode: Mode, c: Case): Sample {
  const outdir = c.spec.kind === 'synth' ? fs.mkdtempSync(path.join(os.tmpdir(), 'cdkmd-bench-')) : undefined;
  try {
    c.prepare?.();
    const args = childCommand(mode, { ...c.spec, root: ROOT, outdir });
    const env = { ...process.env };
    delete env.NODE_OPTIONS; // e.g. a debugger or --require from the caller would skew every child
    const start = performance.now();
    const child = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * MiB });
    const wallMs = performance.now() - start;
    const line = child.stdout?.split('\n').find(l => l.startsWith(MARKER));
    if (child.status !== 0 || !line) {
      throw new Error(`child ${mode} ${c.id} failed (status ${child.status}, signal ${child.signal}):\n${child.stderr}\n${child.stdout}`);
    }
    return { ...(JSON.parse(line.slice(MARKER.length)) as ChildResult), wallMs };
  } finally {
    if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function stat(values: number[]): Stat {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

function statOf(samples: Sample[], pick: (s: Sample) => number | undefined): Stat | undefined {
  const values = samples.map(pick).filter((v): v is number => v !== undefined);
  return values.length === samples.length && values.length > 0 ? stat(values) : undefined;
}

// --- formatting ---------------------------------------------------------------------------------------

const num = (x: number, digits = 0) => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const signed = (x: number, digits = 0) => (x >= 0 ? '+' : '') + num(x, digits);
const range = (s: Stat | undefined, scale = 1, digits = 0) => s === undefined ? '-'
  : RUNS === 1 ? num(s.median / scale, digits) : `${num(s.median / scale, digits)} (${num(s.min / scale, digits)}-${num(s.max / scale, digits)})`;

function table(headers: string[], rows: string[][], rightAlignFrom = 1): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < rightAlignFrom ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(headers), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function packageVersion(name: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}

function gitCommit(): string | undefined {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return r.stdout.trim() + (dirty ? ' (lib/ has uncommitted changes)' : '');
}

// --- main -------------------------------------------------------------------------------------------------

function main(): void {
  const benchStart = performance.now();
  const cpus = os.cpus();
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    totalMemoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverage: os.loadavg(),
    packages: {
      'aws-cdk-lib': packageVersion('aws-cdk-lib'),
      '@aws-cdk/aws-sagemaker-alpha': packageVersion('@aws-cdk/aws-sagemaker-alpha'),
      constructs: packageVersion('constructs'),
      'ts-node': packageVersion('ts-node'),
      typescript: packageVersion('typescript'),
    },
    commit: gitCommit(),
  };
  console.log(`cdk-model-deployment bench: ${RUNS} run(s) per case, modes ${MODES.join(', ')}`);
  console.log(`${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, aws-cdk-lib ${machine.packages['aws-cdk-lib']}, alpha ${machine.packages['@aws-cdk/aws-sagemaker-alpha']}, ${machine.date}`);

  const build = MODES.includes('js') ? buildJs() : undefined;
  if (build) console.log(`transpiled ${build.files} files to ${path.relative(ROOT, BUILD_DIR)} in ${num(build.ms)} ms (not measured)`);

  // Warm the OS file cache and the disk (first reads of node_modules), unrecorded.
  for (const mode of MODES) for (const id of ['ours-1', 'alpha-1']) runChild(mode, CASES.find(c => c.id === id)!);

  // Interleave cases within each repetition, so that drift (thermal, other load) hits all alike.
  const samples = new Map<string, Sample[]>();
  const key = (mode: Mode, id: string) => `${mode}/${id}`;
  for (let r = 0; r < RUNS; r++) {
    for (const mode of MODES) {
      for (const c of CASES) {
        const s = runChild(mode, c);
        const list = samples.get(key(mode, c.id)) ?? [];
        list.push(s);
        samples.set(key(mode, c.id), list);
      }
    }
    process.stdout.write(`  repetition ${r + 1}/${RUNS} done (${num((performance.now() - benchStart) / 1000, 1)} s)\n`);
  }
  clearArchiveCache();
  const get = (mode: Mode, id: string) => samples.get(key(mode, id))!;

  // --- (b) require cost -------------------------------------------------------------------------------
  const requireRows: string[][] = [];
  const requireJson: object[] = [];
  for (const mode of MODES) {
    const base = get(mode, 'req-baseline');
    const baseWall = stat(base.map(s => s.wallMs)).median;
    const baseRss = stat(base.map(s => s.rssEnd)).median;
    for (const c of CASES.filter(x => x.group === 'require')) {
      const ss = get(mode, c.id);
      const wall = stat(ss.map(s => s.wallMs));
      const rssEnd = stat(ss.map(s => s.rssEnd));
      const load = stat(ss.map(s => s.loadMs));
      const rssDelta = stat(ss.map(s => s.rssEnd - s.rssBefore));
      const maxRss = stat(ss.map(s => s.maxRss));
      const isBase = c.id === 'req-baseline';
      const last = ss[ss.length - 1];
      requireRows.push([
        mode, c.label,
        range(wall), isBase ? '-' : signed(wall.median - baseWall),
        range(load, 1, 1),
        range(rssEnd, MiB, 1), isBase ? '-' : signed((rssEnd.median - baseRss) / MiB, 1), range(rssDelta, MiB, 1), range(maxRss, MiB, 1),
        `${last.modulesLoaded} / ${last.cdkModules} / ${last.cdktfModules}`,
      ]);
      requireJson.push({
        mode, case: c.id, label: c.label, runs: ss.length,
        processWallMs: wall, netProcessWallMs: isBase ? undefined : wall.median - baseWall,
        inProcessRequireMs: load,
        rssEndBytes: rssEnd, netRssEndBytes: isBase ? undefined : rssEnd.median - baseRss,
        inProcessRssDeltaBytes: rssDelta, maxRssBytes: maxRss,
        startupMs: stat(ss.map(s => s.startupMs)),
        modulesLoaded: last.modulesLoaded, awsCdkLibModules: last.cdkModules, cdktfModules: last.cdktfModules,
        samples: ss,
      });
    }
  }

  // --- (a) synth cost ---------------------------------------------------------------------------------
  const synthRows: string[][] = [];
  const synthJson: object[] = [];
  for (const mode of MODES) {
    for (const c of CASES.filter(x => x.group === 'synth')) {
      const ss = get(mode, c.id);
      const synth = stat(ss.map(s => s.synthMs!));
      const resources = ss[0].resources!;
      const count = c.spec.count ?? 1;
      synthRows.push([
        mode, c.label, String(resources),
        range(synth), range(statOf(ss, s => s.constructMs)), range(statOf(ss, s => s.synthOnlyMs)),
        range(statOf(ss, s => s.loadMs)), range(statOf(ss, s => s.packMs), 1, 1), range(statOf(ss, s => s.wallMs)),
        range(statOf(ss, s => s.maxRss), MiB), range(statOf(ss, s => s.rssEnd), MiB),
        num(synth.median / count, 1), num(synth.median / resources, 2),
      ]);
      synthJson.push({
        mode, case: c.id, label: c.label, runs: ss.length, deployments: count,
        resources, resourceTypes: ss[0].resourceTypes, templateBytes: ss[0].templateBytes,
        constructPlusSynthMs: synth,
        constructMs: statOf(ss, s => s.constructMs), synthOnlyMs: statOf(ss, s => s.synthOnlyMs),
        loadMs: statOf(ss, s => s.loadMs), packModelArchiveMs: statOf(ss, s => s.packMs),
        processWallMs: statOf(ss, s => s.wallMs), startupMs: statOf(ss, s => s.startupMs),
        maxRssBytes: statOf(ss, s => s.maxRss), rssEndBytes: statOf(ss, s => s.rssEnd), heapUsedEndBytes: statOf(ss, s => s.heapUsedEnd),
        msPerDeployment: synth.median / count, msPerResource: synth.median / resources,
        samples: ss,
      });
    }
  }

  // --- ours vs alpha ------------------------------------------------------------------------------------
  const compareRows: string[][] = [];
  const compareJson: object[] = [];
  for (const mode of MODES) {
    const med = (id: string, pick: (s: Sample) => number) => stat(get(mode, id).map(pick)).median;
    for (const n of [1, 25]) {
      const ours = `ours-${n}`;
      const alpha = `alpha-${n}`;
      const t = med(ours, s => s.synthMs!) / med(alpha, s => s.synthMs!);
      const w = med(ours, s => s.wallMs) / med(alpha, s => s.wallMs);
      const m = med(ours, s => s.maxRss) / med(alpha, s => s.maxRss);
      const perRes = (med(ours, s => s.synthMs!) / get(mode, ours)[0].resources!) / (med(alpha, s => s.synthMs!) / get(mode, alpha)[0].resources!);
      compareRows.push([mode, `x${n}`, `${num(t, 2)}x`, `${num(w, 2)}x`, `${num(m, 2)}x`, `${get(mode, ours)[0].resources} vs ${get(mode, alpha)[0].resources}`, `${num(perRes, 2)}x`]);
      compareJson.push({ mode, deployments: n, synthTimeRatio: t, processWallRatio: w, maxRssRatio: m, resourcesOurs: get(mode, ours)[0].resources, resourcesAlpha: get(mode, alpha)[0].resources, timePerResourceRatio: perRes });
    }
    const marginal = (impl: string) => (med(`${impl}-25`, s => s.synthMs!) - med(`${impl}-1`, s => s.synthMs!)) / 24;
    const marginalRss = (impl: string) => (med(`${impl}-25`, s => s.maxRss) - med(`${impl}-1`, s => s.maxRss)) / 24;
    compareRows.push([mode, 'each extra deployment', `${num(marginal('ours'), 1)} vs ${num(marginal('alpha'), 1)} ms`, '', `${num(marginalRss('ours') / MiB, 1)} vs ${num(marginalRss('alpha') / MiB, 1)} MiB`, '', '']);
    compareJson.push({ mode, marginalMsPerDeployment: { ours: marginal('ours'), alpha: marginal('alpha') }, marginalMaxRssBytesPerDeployment: { ours: marginalRss('ours'), alpha: marginalRss('alpha') } });
  }

  const totalMs = performance.now() - benchStart;
  const r = RUNS === 1 ? '' : ' median (min-max)';

  console.log(`\n(b) Cost of requiring the package: fresh process per run, ${RUNS} runs${r}`);
  console.log('    process = wall time of the whole child (spawn to exit); net = minus the baseline process of the same mode');
  console.log('    (js: bare node; ts-node: node + ts-node register). require = time inside the child around require().\n');
  console.log(table(
    ['mode', 'case', 'process ms', 'net ms', 'require ms', 'RSS end MiB', 'net MiB', 'RSS +require MiB', 'maxRSS MiB', 'modules / aws-cdk-lib / cdktf'],
    requireRows, 2));

  console.log(`\n(a) Synthesis: N deployments in ONE stack, fresh process per run, ${RUNS} runs${r}`);
  console.log('    synth = construct + app.synth() (ours: includes the lazy load of the SageMaker target on the first deployment);');
  console.log('    load = top-level requires before constructing; process = whole child wall time; pack = packModelArchive.\n');
  console.log(table(
    ['mode', 'case', 'resources', 'synth ms', 'construct ms', 'app.synth ms', 'load ms', 'pack ms', 'process ms', 'maxRSS MiB', 'RSS end MiB', 'ms/deploy', 'ms/resource'],
    synthRows, 2));

  console.log('\nOurs vs alpha (ratios of medians; >1 means ours costs more)\n');
  console.log(table(['mode', 'deployments', 'synth time', 'process time', 'maxRSS', 'resources', 'synth time per resource'], compareRows, 2));

  const firstOf = (id: string) => get(MODES[0], id)[0].resourceTypes!;
  console.log('\nResources per deployment:');
  console.log(`  ours : ${Object.entries(firstOf('ours-1')).map(([t, n]) => `${t.replace(/^AWS::/, '')}${n > 1 ? ` x${n}` : ''}`).join(', ')}`);
  console.log(`  alpha: ${Object.entries(firstOf('alpha-1')).map(([t, n]) => `${t.replace(/^AWS::/, '')}${n > 1 ? ` x${n}` : ''}`).join(', ')}`);

  const results = {
    machine,
    config: { runs: RUNS, modes: MODES, archiveCache: ARCHIVE_CACHE, transpile: build },
    require: requireJson,
    synth: synthJson,
    comparison: compareJson,
    totalMs,
  };
  const outFile = path.join(ROOT, 'bench-results.json');
  fs.writeFileSync(outFile, JSON.stringify(results, undefined, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), outFile) || outFile}; total ${num(totalMs / 1000, 1)} s`);
}

main();
