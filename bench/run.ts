/**
 * Benchmark: this library vs @aws-cdk/aws-sagemaker-alpha (SageMaker), and vs a hand-written raw
 * cdktf stack of the same resources (Azure ML, bench/raw-azure.ts; Vertex AI, bench/raw-vertex.ts).
 *
 *   npm run bench
 *   BENCH_ONLY=azure npm run bench                  only some parts: sagemaker, azure, vertex, require (the require cost
 *                                                   of the package root and every entry point), on-prem (bench/on-prem.ts),
 *                                                   probe (bench/probe.ts), comma-separated (default: all)
 *   BENCH_RUNS=3 npm run bench                      repetitions per case (default 5 for SageMaker, 3 for Azure)
 *   BENCH_AZURE_RUNS=5 npm run bench                repetitions of the Azure cases alone (default BENCH_RUNS, else 3)
 *   BENCH_VERTEX_RUNS=5 npm run bench               repetitions of the Vertex cases and bridge runs (default BENCH_RUNS, else 3)
 *   BENCH_SYNTH_MODES=js,ts-node npm run bench      also run the synth cases through ts-node
 *   BENCH_REQUIRE_MODES=js npm run bench            require cases as plain JS only
 *   BENCH_ASSET_MIB=0 npm run bench                 size of the generated large local model (default 32; 0 = skip)
 *
 * Every measurement runs in a fresh child process (bench/child.ts), so module caches, JIT state
 * and memory never leak from one case into the next. Two ways of running the children:
 *
 *   js       plain `node` on JavaScript transpiled up front into bench/.build (what a consumer of the
 *            published package loads: lib/index.js). The fair comparison with the alpha module,
 *            which ships JavaScript. Default for everything.
 *   ts-node  `node -r ts-node/register/transpile-only bench/child.ts`: our sources are transpiled on
 *            every require, in every process. Costs are reported raw and net of a baseline process
 *            that loads ts-node only. Default for the require cases.
 *
 * SageMaker synth cases run with aws-cdk-lib's built-in CloudFormation validation on (the default
 * users get from `cdk synth`) and off (`--no-validation`), because the validator's fixed cost (WASM
 * engine, about a second and ~300 MiB) otherwise hides the cost of the constructs themselves.
 *
 * Azure cases: the require cost of `cdk-model-deployment/azure-ml` (lib/targets/azure-ml), of cdktf
 * alone, and of the raw stack's module (cdktf and the same azurerm deep imports); synthesis of 1 and
 * 25 endpoints in one cdktf TerraformStack (App with a temporary outdir, app.synth()), ours through
 * ModelDeployment + DeploymentTarget.azureMl vs bench/raw-azure.ts, with an azureml:// model (no
 * upload on either side), and 1 endpoint with the local fixture model (blobs and a cdktf asset).
 *
 * Vertex cases: the same for `cdk-model-deployment/vertex-ai` (lib/targets/vertex-ai) and
 * bench/raw-vertex.ts (cdktf and the same google deep imports), 1 and 25 endpoints with a gs:// model;
 * and the upload/deploy bridge's time per deploy against the tests' fake Vertex (bench/vertex-bridge.ts:
 * first deploy, and a new version's blue/green switch), in the parent after the synth cases.
 *
 * Results: a table on stdout and bench-results.json at the repository root (only the parts run).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUILD_DIR, ROOT, buildJs } from './build-js';
import type { CaseSpec, ChildResult } from './child';
import { Suite, benchOnly } from './only';
import { BridgePhase, benchVertexBridge } from './vertex-bridge';

type Mode = 'js' | 'ts-node';

interface Case {
  readonly id: string;
  /** Which parts of the bench (BENCH_ONLY) the case belongs to; it runs when any of them does. */
  readonly suites: readonly Suite[];
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
const AZURE_RUNS = parsePositiveInt(process.env.BENCH_AZURE_RUNS, process.env.BENCH_RUNS ? RUNS : 3, 'BENCH_AZURE_RUNS');
const VERTEX_RUNS = parsePositiveInt(process.env.BENCH_VERTEX_RUNS, process.env.BENCH_RUNS ? RUNS : 3, 'BENCH_VERTEX_RUNS');
const ONLY = benchOnly();
const REQUIRE_MODES = parseModes('BENCH_REQUIRE_MODES', 'js,ts-node');
const SYNTH_MODES = parseModes('BENCH_SYNTH_MODES', 'js');
const MODES = (['js', 'ts-node'] as Mode[]).filter(m => REQUIRE_MODES.includes(m) || SYNTH_MODES.includes(m));
// The children get a temp directory of their own (TMPDIR), so the cold-cache cases clear a model-archive
// cache nobody else uses: clearing the shared one under a test run on the same machine made its synth fail.
const BENCH_TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'cdkmd-bench-tmp-'));
const ARCHIVE_CACHE = path.join(BENCH_TMP, 'cdk-model-deployment-archives');
const ASSET_MIB = process.env.BENCH_ASSET_MIB === '0' ? 0 : parsePositiveInt(process.env.BENCH_ASSET_MIB, 32, 'BENCH_ASSET_MIB');
const BIG_MODEL_DIR = path.join(os.tmpdir(), `cdkmd-bench-model-${ASSET_MIB}mib`);
const MARKER = '@@BENCH@@ ';
const MiB = 1024 * 1024;

const clearArchiveCache = () => fs.rmSync(ARCHIVE_CACHE, { recursive: true, force: true });

const synthCase = (impl: 'ours' | 'alpha', count: number, validation: boolean): Case => ({
  id: `${impl}-${count}${validation ? '' : '-noval'}`,
  suites: ['sagemaker'],
  group: 'synth',
  label: `${impl} x${count}`,
  spec: { kind: 'synth', impl, count, model: 'uri', validation },
});

/** cdktf clouds: their suite and the prefix of their case ids. */
const CDKTF = { azure: { suite: 'azure', prefix: 'az' }, gcp: { suite: 'vertex', prefix: 'gcp' } } as const;
type CdktfCloud = keyof typeof CDKTF;

/** N endpoints in one cdktf stack, ours (the Azure ML or Vertex AI target) or the hand-written raw stack. */
const cdktfCase = (cloud: CdktfCloud, impl: 'ours' | 'raw', count: number, model: 'uri' | 'asset' = 'uri'): Case => ({
  id: `${CDKTF[cloud].prefix}-${impl}-${count}${model === 'asset' ? '-local' : ''}`,
  suites: [CDKTF[cloud].suite],
  group: 'synth',
  label: `${impl} x${count}${model === 'asset' ? ' local model' : ''}`,
  spec: { kind: 'synth', cloud, impl, count, model },
});
const azureCase = (impl: 'ours' | 'raw', count: number, model: 'uri' | 'asset' = 'uri') => cdktfCase('azure', impl, count, model);
const vertexCase = (impl: 'ours' | 'raw', count: number) => cdktfCase('gcp', impl, count);

const ALL_CASES: Case[] = [
  // The package root and every entry point (suite `require`, and the suite of their target): what a user of
  // one target pays to load it, and that it loads no other target's engine (modules / aws-cdk-lib / cdktf).
  { id: 'req-baseline', suites: ['require', 'sagemaker', 'azure', 'vertex'], group: 'require', label: 'baseline (nothing)', spec: { kind: 'require', module: '' } },
  { id: 'req-root', suites: ['require', 'sagemaker'], group: 'require', label: "require('./lib')", spec: { kind: 'require', module: './lib' } },
  { id: 'req-sagemaker', suites: ['require', 'sagemaker'], group: 'require', label: "require('./lib/targets/sagemaker')", spec: { kind: 'require', module: './lib/targets/sagemaker' } },
  { id: 'req-alpha', suites: ['sagemaker'], group: 'require', label: "require('@aws-cdk/aws-sagemaker-alpha')", spec: { kind: 'require', module: '@aws-cdk/aws-sagemaker-alpha' } },
  // cdk-model-deployment/azure-ml; cdktf alone (what any cdktf stack pays); the raw stack's module:
  // cdktf and the 16 azurerm deep imports it declares resources with (the target's 17 less
  // RoleDefinition, which only grantInvoke uses).
  { id: 'req-azure-ml', suites: ['require', 'azure'], group: 'require', label: "require('./lib/targets/azure-ml')", spec: { kind: 'require', module: './lib/targets/azure-ml' } },
  { id: 'req-cdktf', suites: ['azure', 'vertex'], group: 'require', label: "require('cdktf')", spec: { kind: 'require', module: 'cdktf' } },
  { id: 'req-raw-azure', suites: ['azure'], group: 'require', label: "require('./bench/raw-azure') (cdktf + azurerm)", spec: { kind: 'require', module: './bench/raw-azure' } },
  // cdk-model-deployment/vertex-ai; the raw stack's module: cdktf and the 6 google deep imports it
  // declares resources with (the target's other 10 serve options the bench does not set).
  { id: 'req-vertex-ai', suites: ['require', 'vertex'], group: 'require', label: "require('./lib/targets/vertex-ai')", spec: { kind: 'require', module: './lib/targets/vertex-ai' } },
  { id: 'req-raw-vertex', suites: ['vertex'], group: 'require', label: "require('./bench/raw-vertex') (cdktf + google)", spec: { kind: 'require', module: './bench/raw-vertex' } },
  { id: 'req-on-prem', suites: ['require'], group: 'require', label: "require('./lib/targets/on-prem')", spec: { kind: 'require', module: './lib/targets/on-prem' } },
  ...[true, false].flatMap(v => [synthCase('ours', 1, v), synthCase('alpha', 1, v), synthCase('ours', 25, v), synthCase('alpha', 25, v)]),
  azureCase('ours', 1), azureCase('raw', 1), azureCase('ours', 25), azureCase('raw', 25), azureCase('ours', 1, 'asset'), azureCase('raw', 1, 'asset'),
  vertexCase('ours', 1), vertexCase('raw', 1), vertexCase('ours', 25), vertexCase('raw', 25),
  // Cold: the archive cache is emptied first, so the model directory is packed. Warm: runs right
  // after cold, finds the archive in the cache (hashes the source and the archive, packs nothing).
  // Validation off: packing does not depend on it, and the validator's noise would hide it.
  { id: 'asset-cold', suites: ['sagemaker'], group: 'synth', label: 'ours x1 local asset, cold cache', spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset', validation: false }, prepare: clearArchiveCache },
  { id: 'asset-warm', suites: ['sagemaker'], group: 'synth', label: 'ours x1 local asset, warm cache', spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset', validation: false } },
  ...(ASSET_MIB === 0 ? [] : [
    // A generated model of ASSET_MIB MiB of float32 weights (see generateModel): what packing costs
    // for a model of realistic size, cold (packed) and warm (cache hit: source and archive re-hashed).
    { id: 'asset-big-cold', suites: ['sagemaker'], group: 'synth', label: `ours x1 local ${ASSET_MIB} MiB model, cold cache`, spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset', assetPath: BIG_MODEL_DIR, validation: false }, prepare: clearArchiveCache } as Case,
    { id: 'asset-big-warm', suites: ['sagemaker'], group: 'synth', label: `ours x1 local ${ASSET_MIB} MiB model, warm cache`, spec: { kind: 'synth', impl: 'ours', count: 1, model: 'asset', assetPath: BIG_MODEL_DIR, validation: false } } as Case,
  ]),
];
const SAGEMAKER = ONLY.has('sagemaker');
const AZURE = ONLY.has('azure');
const VERTEX = ONLY.has('vertex');
const REQUIRE = ONLY.has('require');
const SUITE_RUNS: Partial<Record<Suite, number>> = { sagemaker: RUNS, azure: AZURE_RUNS, vertex: VERTEX_RUNS, require: RUNS };
const CASES = ALL_CASES.filter(c => c.suites.some(s => ONLY.has(s)));
/** Repetitions of a case: a shared one (the baseline, cdktf) runs as often as the longest of its suites needs it. */
const runsOf = (c: Case) => Math.max(...c.suites.map(s => ONLY.has(s) ? SUITE_RUNS[s] ?? 0 : 0));

/**
 * Writes `weights.bin` (mib MiB of float32 values, roughly normal, from a fixed-seed PRNG: they
 * compress about as badly as real trained weights) and a small `config.json` into dir.
 */
function generateModel(dir: string, mib: number): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let seed = 0x9e3779b9;
  const next = () => { // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const fd = fs.openSync(path.join(dir, 'weights.bin'), 'w');
  const floats = new Float32Array(MiB / 4);
  for (let m = 0; m < mib; m++) {
    for (let i = 0; i < floats.length; i++) floats[i] = (next() + next() + next() - 1.5) * 0.05;
    fs.writeSync(fd, Buffer.from(floats.buffer));
  }
  fs.closeSync(fd);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ format: 'float32', sizeMiB: mib }) + '\n');
}

function modesFor(c: Case): Mode[] {
  return c.group === 'require' ? REQUIRE_MODES : SYNTH_MODES;
}

function parseModes(name: string, fallback: string): Mode[] {
  const modes = (process.env[name] ?? fallback).split(',').map(m => m.trim()).filter(Boolean);
  for (const m of modes) if (m !== 'js' && m !== 'ts-node') throw new Error(`${name}: unknown mode ${m} (js, ts-node)`);
  return modes as Mode[];
}

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
    delete env.CDK_VALIDATION; // the case decides, through the App's builtinCloudFormationValidation
    env.TMPDIR = BENCH_TMP;
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
// A ratio only where it means something: a marginal cost can come out at zero or below under noise.
const vs = (a: number, b: number, digits: number, unit = '') => `${num(a, digits)} vs ${num(b, digits)}${unit}${b > 0 && a >= 0 ? ` = ${num(a / b, 2)}x` : ''}`;
const range = (s: Stat | undefined, scale = 1, digits = 0) => s === undefined ? '-'
  : s.min === s.max ? num(s.median / scale, digits) : `${num(s.median / scale, digits)} (${num(s.min / scale, digits)}-${num(s.max / scale, digits)})`;

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

async function main(): Promise<void> {
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
    loadAverageAtStart: os.loadavg(),
    packages: {
      'aws-cdk-lib': packageVersion('aws-cdk-lib'),
      '@aws-cdk/aws-sagemaker-alpha': packageVersion('@aws-cdk/aws-sagemaker-alpha'),
      constructs: packageVersion('constructs'),
      cdktf: packageVersion('cdktf'),
      '@cdktf/provider-azurerm': packageVersion('@cdktf/provider-azurerm'),
      '@cdktf/provider-google': packageVersion('@cdktf/provider-google'),
      '@google-cloud/aiplatform': packageVersion('@google-cloud/aiplatform'),
      'ts-node': packageVersion('ts-node'),
      typescript: packageVersion('typescript'),
    },
    commit: gitCommit(),
  };
  const outFile = path.join(ROOT, 'bench-results.json');
  if (!SAGEMAKER && !AZURE && !VERTEX && !REQUIRE) {
    // A fresh file all the same: bench/on-prem.ts and bench/probe.ts add to it, and figures from an
    // earlier run must not pass for this one's in the summary.
    fs.writeFileSync(outFile, JSON.stringify({ machine, config: { only: [...ONLY] } }, undefined, 2) + '\n');
    console.log('bench/run.ts skipped (BENCH_ONLY names none of sagemaker, azure, vertex, require)');
    return;
  }
  const runsLine = [SAGEMAKER ? `SageMaker ${RUNS}` : '', AZURE ? `Azure ${AZURE_RUNS}` : '', VERTEX ? `Vertex ${VERTEX_RUNS}` : ''].filter(Boolean).join(', ');
  console.log(`cdk-model-deployment bench (${[...ONLY].join(', ')}): run(s) per case ${runsLine}; require cases: ${REQUIRE_MODES.join(', ')}; synth cases: ${SYNTH_MODES.join(', ')}`);
  console.log(`${machine.cpus} x ${machine.cpuModel}, ${machine.totalMemoryGiB} GiB, Node ${machine.node}, aws-cdk-lib ${machine.packages['aws-cdk-lib']}, alpha ${machine.packages['@aws-cdk/aws-sagemaker-alpha']}, ` +
    `cdktf ${machine.packages.cdktf}, azurerm bindings ${machine.packages['@cdktf/provider-azurerm']}, google bindings ${machine.packages['@cdktf/provider-google']}, ${machine.date}`);
  console.log(`load average (1 min) at the start ${num(machine.loadAverageAtStart[0], 2)} on ${machine.cpus} CPUs`);

  const build = MODES.includes('js') ? buildJs() : undefined;
  if (build) console.log(`transpiled ${build.files} files to ${path.relative(ROOT, BUILD_DIR)} in ${num(build.ms)} ms (not measured)`);

  if (SAGEMAKER && ASSET_MIB > 0) generateModel(BIG_MODEL_DIR, ASSET_MIB);

  // Warm the OS file cache (first reads of node_modules and the validator's WASM), unrecorded.
  const warm = (modes: Mode[], ids: string[]) => {
    for (const mode of modes) for (const id of ids) if (CASES.some(c => c.id === id)) runChild(mode, CASES.find(c => c.id === id)!);
  };
  warm(SYNTH_MODES, ['ours-1', 'alpha-1', 'az-ours-1', 'az-raw-1', 'gcp-ours-1', 'gcp-raw-1']);
  warm(REQUIRE_MODES, ['req-sagemaker', 'req-alpha', 'req-azure-ml', 'req-raw-azure']);

  // Interleave cases within each repetition, so that drift (thermal, other load) hits all alike.
  const samples = new Map<string, Sample[]>();
  const key = (mode: Mode, id: string) => `${mode}/${id}`;
  const repetitions = Math.max(...CASES.map(runsOf));
  for (let r = 0; r < repetitions; r++) {
    for (const mode of MODES) {
      for (const c of CASES.filter(x => modesFor(x).includes(mode) && r < runsOf(x))) {
        const s = runChild(mode, c);
        const list = samples.get(key(mode, c.id)) ?? [];
        list.push(s);
        samples.set(key(mode, c.id), list);
      }
    }
    process.stdout.write(`  repetition ${r + 1}/${repetitions} done (${num((performance.now() - benchStart) / 1000, 1)} s)\n`);
  }
  fs.rmSync(BENCH_TMP, { recursive: true, force: true });
  if (SAGEMAKER && ASSET_MIB > 0) fs.rmSync(BIG_MODEL_DIR, { recursive: true, force: true });
  const get = (mode: Mode, id: string) => samples.get(key(mode, id))!;
  const med = (mode: Mode, id: string, pick: (s: Sample) => number) => stat(get(mode, id).map(pick)).median;

  // --- (b) require cost -------------------------------------------------------------------------------
  const requireRows: string[][] = [];
  const requireJson: object[] = [];
  for (const mode of REQUIRE_MODES) {
    const baseWall = med(mode, 'req-baseline', s => s.wallMs);
    const baseRss = med(mode, 'req-baseline', s => s.rssEnd);
    for (const c of CASES.filter(x => x.group === 'require')) {
      const ss = get(mode, c.id);
      const wall = stat(ss.map(s => s.wallMs));
      const rssEnd = stat(ss.map(s => s.rssEnd));
      const load = stat(ss.map(s => s.loadMs));
      const rssDelta = stat(ss.map(s => s.rssEnd - s.rssBefore));
      const heapDelta = statOf(ss, s => s.heapUsedBefore === undefined ? undefined : s.heapUsedEnd - s.heapUsedBefore);
      const maxRss = stat(ss.map(s => s.maxRss));
      const isBase = c.id === 'req-baseline';
      const last = ss[ss.length - 1];
      requireRows.push([
        mode, c.label,
        range(wall), isBase ? '-' : signed(wall.median - baseWall),
        range(load, 1, 1),
        range(rssEnd, MiB, 1), isBase ? '-' : signed((rssEnd.median - baseRss) / MiB, 1), range(rssDelta, MiB, 1), range(heapDelta, MiB, 1), range(maxRss, MiB, 1),
        `${last.modulesLoaded} / ${last.cdkModules} / ${last.cdktfModules}`,
      ]);
      requireJson.push({
        mode, case: c.id, label: c.label, module: c.spec.module, runs: ss.length,
        processWallMs: wall, netProcessWallMs: isBase ? undefined : wall.median - baseWall,
        inProcessRequireMs: load,
        rssEndBytes: rssEnd, netRssEndBytes: isBase ? undefined : rssEnd.median - baseRss,
        inProcessRssDeltaBytes: rssDelta, inProcessHeapUsedDeltaBytes: heapDelta, maxRssBytes: maxRss,
        startupMs: stat(ss.map(s => s.startupMs)),
        modulesLoaded: last.modulesLoaded, awsCdkLibModules: last.cdkModules, cdktfModules: last.cdktfModules,
        samples: ss,
      });
    }
  }

  // --- (a) synth cost ---------------------------------------------------------------------------------
  const synthRows: string[][] = [];
  const synthJson: object[] = [];
  for (const mode of SYNTH_MODES) {
    for (const c of CASES.filter(x => x.group === 'synth' && x.suites.includes('sagemaker'))) {
      const ss = get(mode, c.id);
      const synth = stat(ss.map(s => s.synthMs!));
      const resources = ss[0].resources!;
      const count = c.spec.count ?? 1;
      const validation = c.spec.validation !== false;
      synthRows.push([
        mode, c.label, validation ? 'on' : 'off', String(resources),
        range(synth), range(statOf(ss, s => s.constructMs)), range(statOf(ss, s => s.synthOnlyMs)),
        range(statOf(ss, s => s.loadMs)), range(statOf(ss, s => s.packMs), 1, 1), range(statOf(ss, s => s.wallMs)), range(statOf(ss, s => s.cpuMs)),
        range(statOf(ss, s => s.maxRss), MiB),
        num(synth.median / count, 1), num(synth.median / resources, 2),
      ]);
      synthJson.push({
        mode, case: c.id, label: c.label, runs: ss.length, deployments: count, model: c.spec.model, cfnValidation: validation,
        resources, resourceTypes: ss[0].resourceTypes, templateBytes: ss[0].templateBytes,
        constructPlusSynthMs: synth,
        constructMs: statOf(ss, s => s.constructMs), synthOnlyMs: statOf(ss, s => s.synthOnlyMs),
        loadMs: statOf(ss, s => s.loadMs), packModelArchiveMs: statOf(ss, s => s.packMs),
        processWallMs: statOf(ss, s => s.wallMs), processCpuMs: statOf(ss, s => s.cpuMs), startupMs: statOf(ss, s => s.startupMs),
        maxRssBytes: statOf(ss, s => s.maxRss), rssEndBytes: statOf(ss, s => s.rssEnd), heapUsedEndBytes: statOf(ss, s => s.heapUsedEnd),
        msPerDeployment: synth.median / count, msPerResource: synth.median / resources,
        samples: ss,
      });
    }
  }

  // --- ours vs alpha ------------------------------------------------------------------------------------
  const compareRows: string[][] = [];
  const compareJson: object[] = [];
  for (const mode of SAGEMAKER ? SYNTH_MODES : []) {
    for (const validation of [true, false]) {
      const suffix = validation ? '' : '-noval';
      const v = validation ? 'on' : 'off';
      const synthMed = (id: string) => med(mode, id, s => s.synthMs!);
      const resourcesOf = (id: string) => get(mode, id)[0].resources!;
      const cpuMed = (id: string) => med(mode, id, s => s.cpuMs);
      const rssMed = (id: string) => med(mode, id, s => s.maxRss);
      const kb = (id: string) => get(mode, id)[0].templateBytes! / 1024;
      for (const n of [1, 25]) {
        const ours = `ours-${n}${suffix}`;
        const alpha = `alpha-${n}${suffix}`;
        const perRes = (synthMed(ours) / resourcesOf(ours)) / (synthMed(alpha) / resourcesOf(alpha));
        compareRows.push([mode, v, `x${n}`,
          vs(synthMed(ours), synthMed(alpha), 0), vs(cpuMed(ours), cpuMed(alpha), 0), vs(rssMed(ours) / MiB, rssMed(alpha) / MiB, 0),
          `${resourcesOf(ours)} vs ${resourcesOf(alpha)}`, `${num(kb(ours))} vs ${num(kb(alpha))}`, `${num(perRes, 2)}x`]);
        compareJson.push({
          mode, cfnValidation: validation, deployments: n,
          synthMs: { ours: synthMed(ours), alpha: synthMed(alpha), ratio: synthMed(ours) / synthMed(alpha) },
          processCpuMs: { ours: cpuMed(ours), alpha: cpuMed(alpha), ratio: cpuMed(ours) / cpuMed(alpha) },
          processWallMs: { ours: med(mode, ours, s => s.wallMs), alpha: med(mode, alpha, s => s.wallMs) },
          maxRssBytes: { ours: rssMed(ours), alpha: rssMed(alpha), ratio: rssMed(ours) / rssMed(alpha) },
          resources: { ours: resourcesOf(ours), alpha: resourcesOf(alpha) },
          templateBytes: { ours: get(mode, ours)[0].templateBytes, alpha: get(mode, alpha)[0].templateBytes },
          synthTimePerResourceRatio: perRes,
        });
      }
      const marginal = (impl: string, pick: (id: string) => number) => (pick(`${impl}-25${suffix}`) - pick(`${impl}-1${suffix}`)) / 24;
      compareRows.push([mode, v, 'each extra deployment (x25 - x1) / 24',
        vs(marginal('ours', synthMed), marginal('alpha', synthMed), 1), vs(marginal('ours', cpuMed), marginal('alpha', cpuMed), 1),
        vs(marginal('ours', rssMed) / MiB, marginal('alpha', rssMed) / MiB, 2),
        `${num(marginal('ours', resourcesOf))} vs ${num(marginal('alpha', resourcesOf))}`, `${num(marginal('ours', kb), 1)} vs ${num(marginal('alpha', kb), 1)}`, '']);
      compareJson.push({
        mode, cfnValidation: validation,
        marginalPerDeployment: {
          synthMs: { ours: marginal('ours', synthMed), alpha: marginal('alpha', synthMed) },
          processCpuMs: { ours: marginal('ours', cpuMed), alpha: marginal('alpha', cpuMed) },
          maxRssBytes: { ours: marginal('ours', rssMed), alpha: marginal('alpha', rssMed) },
        },
      });
    }
  }

  // --- (d) Azure and (e) Vertex: synth cost, ours vs the raw stack ---------------------------------------
  const cdktfSection = (cloud: CdktfCloud) => {
    const { suite, prefix } = CDKTF[cloud];
    const rows: string[][] = [];
    const json: object[] = [];
    const compareRows: string[][] = [];
    const compareJson: object[] = [];
    for (const mode of ONLY.has(suite) ? SYNTH_MODES : []) {
      for (const c of CASES.filter(x => x.suites.includes(suite) && x.group === 'synth')) {
        const ss = get(mode, c.id);
        const synth = stat(ss.map(s => s.synthMs!));
        const resources = ss[0].resources!;
        const count = c.spec.count ?? 1;
        rows.push([
          mode, c.label, String(resources),
          range(synth), range(statOf(ss, s => s.constructMs)), range(statOf(ss, s => s.synthOnlyMs)), range(statOf(ss, s => s.loadMs)),
          range(statOf(ss, s => s.wallMs)), range(statOf(ss, s => s.cpuMs)), range(statOf(ss, s => s.maxRss), MiB),
          num(synth.median / count, 1), num(synth.median / resources, 2),
        ]);
        json.push({
          mode, case: c.id, label: c.label, runs: ss.length, impl: c.spec.impl, deployments: count, model: c.spec.model,
          resources, resourceTypes: ss[0].resourceTypes, dataSourceTypes: ss[0].dataSourceTypes, templateBytes: ss[0].templateBytes,
          constructPlusSynthMs: synth,
          constructMs: statOf(ss, s => s.constructMs), synthOnlyMs: statOf(ss, s => s.synthOnlyMs), loadMs: statOf(ss, s => s.loadMs),
          processWallMs: statOf(ss, s => s.wallMs), processCpuMs: statOf(ss, s => s.cpuMs), startupMs: statOf(ss, s => s.startupMs),
          maxRssBytes: statOf(ss, s => s.maxRss), rssEndBytes: statOf(ss, s => s.rssEnd), heapUsedEndBytes: statOf(ss, s => s.heapUsedEnd),
          msPerDeployment: synth.median / count, msPerResource: synth.median / resources,
          samples: ss,
        });
      }
      const pickers = {
        synthMs: (id: string) => med(mode, id, s => s.synthMs!),
        processCpuMs: (id: string) => med(mode, id, s => s.cpuMs),
        processWallMs: (id: string) => med(mode, id, s => s.wallMs),
        maxRssBytes: (id: string) => med(mode, id, s => s.maxRss),
        resources: (id: string) => get(mode, id)[0].resources!,
        templateBytes: (id: string) => get(mode, id)[0].templateBytes!,
      };
      const compare = (label: string, pick: (p: (id: string) => number) => [number, number]) => {
        const [synthMs, cpuMs, wallMs, rss, res, bytes] = [pickers.synthMs, pickers.processCpuMs, pickers.processWallMs, pickers.maxRssBytes, pickers.resources, pickers.templateBytes].map(pick);
        compareRows.push([mode, label, vs(synthMs[0], synthMs[1], 1), vs(cpuMs[0], cpuMs[1], 0), vs(wallMs[0], wallMs[1], 0),
          vs(rss[0] / MiB, rss[1] / MiB, 1), `${num(res[0], 1)} vs ${num(res[1], 1)}`, `${num(bytes[0] / 1024, 1)} vs ${num(bytes[1] / 1024, 1)}`]);
        const pair = ([ours, raw]: [number, number]) => ({ ours, raw, ratio: ours / raw });
        compareJson.push({
          mode, case: label, synthMs: pair(synthMs), processCpuMs: pair(cpuMs), processWallMs: pair(wallMs), maxRssBytes: pair(rss),
          resources: { ours: res[0], raw: res[1] }, templateBytes: { ours: bytes[0], raw: bytes[1] },
        });
      };
      const id = (impl: string, n: number, local = '') => `${prefix}-${impl}-${n}${local}`;
      for (const n of [1, 25]) compare(`x${n}`, p => [p(id('ours', n)), p(id('raw', n))]);
      compare('each extra deployment (x25 - x1) / 24', p => [(p(id('ours', 25)) - p(id('ours', 1))) / 24, (p(id('raw', 25)) - p(id('raw', 1))) / 24]);
      if (CASES.some(c => c.id === id('ours', 1, '-local'))) compare('x1 local model', p => [p(id('ours', 1, '-local')), p(id('raw', 1, '-local'))]);
    }
    return { rows, json, compareRows, compareJson };
  };
  const azure = cdktfSection('azure');
  const vertex = cdktfSection('gcp');

  // --- (f) Vertex: the bridge's time per deploy, against the fake ------------------------------------------
  const bridgeSamples = VERTEX ? await benchVertexBridge(VERTEX_RUNS) : undefined;
  const bridgeLabels: Record<BridgePhase, string> = {
    create: 'create: upload + deploy + traffic (v1)',
    blueGreen: 'blue/green: upload + deploy v2, traffic, undeploy + delete v1',
  };
  const bridgeRows = bridgeSamples ? (Object.keys(bridgeLabels) as BridgePhase[]).map(p =>
    [bridgeLabels[p], range(stat(bridgeSamples[p].map(x => x.ms))), String(bridgeSamples[p][0].calls)]) : [];
  const bridgeJson = bridgeSamples ? Object.fromEntries(Object.entries(bridgeSamples).map(([p, ss]) =>
    [p, { label: bridgeLabels[p as BridgePhase], runs: ss.length, processWallMs: stat(ss.map(x => x.ms)), grpcCalls: ss.map(x => x.calls), samples: ss }])) : undefined;

  const totalMs = performance.now() - benchStart;
  const loadAverageAtEnd = os.loadavg();
  const r = (runs: number) => `${runs} run${runs === 1 ? '' : 's'}${runs === 1 ? '' : ' median (min-max)'}`;
  const requireRuns = [...new Set(CASES.filter(c => c.group === 'require').map(runsOf))].map(r).join(' or ');

  console.log(`\n(b) Cost of requiring the package: fresh process per run, ${requireRuns}`);
  console.log('    process = wall time of the whole child (spawn to exit); net = minus the baseline process of the same mode');
  console.log('    (js: bare node; ts-node: node + ts-node register); require = time inside the child around require();');
  console.log('    RSS (heap) +require = rss (heapUsed) after minus before, inside the child.\n');
  console.log(table(
    ['mode', 'case', 'process ms', 'net ms', 'require ms', 'RSS end MiB', 'net MiB', 'RSS +require MiB', 'heap +require MiB', 'maxRSS MiB', 'modules / aws-cdk-lib / cdktf'],
    requireRows, 2));

  if (SAGEMAKER) {
    console.log(`\n(a) Synthesis: N deployments in ONE stack, fresh process per run, ${r(RUNS)}`);
    console.log('    cfn-val = aws-cdk-lib built-in CloudFormation validation during app.synth() (on = default; off = --no-validation)');
    console.log('    synth = construct + app.synth() (ours: includes the lazy load of the SageMaker target on the first deployment);');
    console.log('    load = top-level requires before constructing; process = whole child wall time; process CPU = user+system');
    console.log('    CPU time of the child, all threads (less sensitive to other load on the machine); pack = packModelArchive.\n');
    console.log(table(
      ['mode', 'case', 'cfn-val', 'resources', 'synth ms', 'construct ms', 'app.synth ms', 'load ms', 'pack ms', 'process ms', 'process CPU ms', 'maxRSS MiB', 'ms/deploy', 'ms/resource'],
      synthRows, 3));

    console.log('\nOurs vs alpha (medians; ratio >1 means ours costs more)\n');
    console.log(table(['mode', 'cfn-val', 'deployments', 'synth ms ours vs alpha', 'process CPU ms ours vs alpha', 'maxRSS MiB ours vs alpha', 'resources', 'template KiB', 'synth ms per resource'], compareRows, 3));

    if (SYNTH_MODES.length > 0) {
      const typesOf = (id: string) => Object.entries(get(SYNTH_MODES[0], id)[0].resourceTypes!).map(([t, n]) => `${t.replace(/^AWS::/, '')}${n > 1 ? ` x${n}` : ''}`).join(', ');
      console.log('\nResources per deployment:');
      console.log(`  ours : ${typesOf('ours-1')}`);
      console.log(`  alpha: ${typesOf('alpha-1')}`);
    }
  }

  const printCdktf = (cloud: CdktfCloud, title: string, legend: string[], section: ReturnType<typeof cdktfSection>, typesNote: string) => {
    const { suite, prefix } = CDKTF[cloud];
    if (!ONLY.has(suite) || SYNTH_MODES.length === 0) return;
    console.log(`\n${title}: N endpoints in ONE cdktf TerraformStack, fresh process per run, ${r(SUITE_RUNS[suite]!)}`);
    for (const line of legend) console.log(`    ${line}`);
    console.log('    synth = construct + app.synth() (writes cdk.tf.json), no module loading in it on either side.\n');
    console.log(table(
      ['mode', 'case', 'resources', 'synth ms', 'construct ms', 'app.synth ms', 'load ms', 'process ms', 'process CPU ms', 'maxRSS MiB', 'ms/deploy', 'ms/resource'],
      section.rows, 2));
    console.log('\nOurs vs raw (medians; ratio >1 means ours costs more)\n');
    console.log(table(['mode', 'deployments', 'synth ms ours vs raw', 'process CPU ms ours vs raw', 'process ms ours vs raw', 'maxRSS MiB ours vs raw', 'resources', 'template KiB'],
      section.compareRows, 2));
    const typesOf = (id: string) => {
      const first = get(SYNTH_MODES[0], id)[0];
      const types = { ...first.resourceTypes, ...Object.fromEntries(Object.entries(first.dataSourceTypes ?? {}).map(([t, n]) => [`data.${t}`, n])) };
      return Object.entries(types).map(([t, n]) => `${t}${n > 1 ? ` x${n}` : ''}`).join(', ');
    };
    console.log(`\nResources per ${typesNote}:`);
    console.log(`  ours: ${typesOf(`${prefix}-ours-1`)}`);
    console.log(`  raw : ${typesOf(`${prefix}-raw-1`)}`);
  };
  printCdktf('azure', '(d) Azure ML synthesis', [
    'ours = ModelDeployment + DeploymentTarget.azureMl(); raw = bench/raw-azure.ts, the same resources written by hand',
    '(azurerm deep imports, plain TerraformResource + addOverride for azapi). Model: azureml:// URI, or the local',
    'fixture uploaded as blobs. load = cdktf + the package root and the Azure ML target (ours) or the raw module;',
  ], azure, 'Azure deployment (azureml:// model; the local model adds a container, two roles and the blobs)');
  printCdktf('gcp', '(e) Vertex AI synthesis', [
    'ours = ModelDeployment + DeploymentTarget.vertexAi(); raw = bench/raw-vertex.ts, the same resources written by hand',
    '(google deep imports, cdktf\'s DataResource for terraform_data). Model: gs:// URI (no upload on either side).',
    'load = cdktf + the package root and the Vertex AI target (ours) or the raw module. The raw stack\'s DataResource',
    'runs `terraform version` in a child process once per instance inside app.synth(); ours writes the same JSON',
    'without that check (lib/common/terraform-data.ts). Process CPU ms leaves the child out; synth ms and process ms include it;',
  ], vertex, 'Vertex deployment (gs:// model; the provider and the aiplatform project service once per stack)');

  if (bridgeSamples) {
    console.log(`\n(f) Vertex AI bridge per deploy: \`node bridge/main.js create\` as Terraform's local-exec runs it, the real`);
    console.log(`    @google-cloud/aiplatform client against the tests' fake Vertex on 127.0.0.1 (answers at once), ${r(VERTEX_RUNS)};`);
    console.log('    process = wall time of the bridge process, spawn to exit; calls = gRPC calls it made (operation polls included).\n');
    console.log(table(['run', 'process ms', 'calls'], bridgeRows));
  }

  // The bench itself keeps about one to one and a half CPUs busy (a child and its helper threads).
  const busy = machine.loadAverageAtStart[0] > 0.5 * machine.cpus || loadAverageAtEnd[0] > machine.cpus;
  console.log(`\nload average (1 min) before the bench ${num(machine.loadAverageAtStart[0], 2)}, at the end ${num(loadAverageAtEnd[0], 2)}, on ${machine.cpus} CPUs` +
    (busy ? ': other processes were probably competing for the CPUs; wall times are inflated and noisy (compare process CPU ms)' : ''));

  const results = {
    machine: { ...machine, loadAverageAtEnd },
    config: { only: [...ONLY], runs: RUNS, azureRuns: AZURE_RUNS, vertexRuns: VERTEX_RUNS, requireModes: REQUIRE_MODES, synthModes: SYNTH_MODES, archiveCache: ARCHIVE_CACHE, generatedModelMiB: ASSET_MIB, transpile: build },
    require: requireJson,
    synth: synthJson,
    comparison: compareJson,
    azureSynth: azure.json,
    azureComparison: azure.compareJson,
    vertexSynth: vertex.json,
    vertexComparison: vertex.compareJson,
    vertexBridge: bridgeJson,
    totalMs,
  };
  fs.writeFileSync(outFile, JSON.stringify(results, undefined, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), outFile) || outFile}; total ${num(totalMs / 1000, 1)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
