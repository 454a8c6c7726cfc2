/**
 * CPU profile of one synth case, to see where the time goes.
 *
 *   npx ts-node --transpile-only bench/profile.ts [ours|alpha] [deployments=25] [validation=off|on]
 *
 * Runs the plain-JS child (bench/.build, rebuilt first) once under `node --cpu-prof` and prints the
 * top self-time functions overall, the self time summed per package, and the top functions in
 * this library's own code (bench/.build/lib). The .cpuprofile is kept (path printed) for Chrome
 * DevTools or speedscope.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUILD_DIR, ROOT, buildJs } from './build-js';
import type { CaseSpec } from './child';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: ProfileNode[];
  readonly samples: number[];
  readonly timeDeltas: number[];
}

const impl = (process.argv[2] ?? 'ours') as 'ours' | 'alpha';
const count = Number(process.argv[3] ?? 25);
const validation = (process.argv[4] ?? 'off') === 'on';
const TOP = 20;

function shortUrl(url: string): string {
  const u = url.replace(/^file:\/\//, '');
  if (u.startsWith(path.join(BUILD_DIR, 'lib'))) return `lib/${path.relative(path.join(BUILD_DIR, 'lib'), u)}`;
  const nm = u.lastIndexOf('/node_modules/');
  return nm >= 0 ? u.slice(nm + '/node_modules/'.length) : u;
}

function packageOf(url: string, fn: string): string {
  if (url === '') return fn.startsWith('(') ? fn : '(native)';
  if (url.startsWith('wasm://')) return 'wasm (@aws/cloudformation-validate)';
  if (url.startsWith('node:')) return 'node internals';
  const short = shortUrl(url);
  if (short.startsWith('lib/')) return 'this library (lib/)';
  const parts = short.split('/');
  if (parts[0] === 'aws-cdk-lib') return parts[1] === 'node_modules' ? parts.slice(2, parts[2]?.startsWith('@') ? 4 : 3).join('/') : `aws-cdk-lib/${parts[1]}`;
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

function top(map: Map<string, number>, n: number, total: number): string {
  return [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

function main(): void {
  buildJs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdkmd-prof-'));
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdkmd-bench-'));
  const spec: CaseSpec = { kind: 'synth', impl, count, model: 'uri', validation, root: ROOT, outdir };
  const env = { ...process.env };
  delete env.CDK_VALIDATION;
  const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-interval=200', `--cpu-prof-dir=${dir}`, path.join(BUILD_DIR, 'bench', 'child.js'), JSON.stringify(spec)], { cwd: ROOT, env, encoding: 'utf8' });
  fs.rmSync(outdir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(r.stderr);
  console.log(r.stdout.trim());
  const file = path.join(dir, fs.readdirSync(dir).find(f => f.endsWith('.cpuprofile'))!);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;

  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  const ours = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || '(anonymous)'}${url ? `  ${shortUrl(url)}:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    if (pkg === 'this library (lib/)') ours.set(name, (ours.get(name) ?? 0) + us);
  }
  console.log(`\n${impl} x${count}, validation ${validation ? 'on' : 'off'}: ${(total / 1000).toFixed(0)} ms sampled (whole process); profile: ${file}`);
  console.log(`\nTop ${TOP} functions by self time:\n${top(byFunction, TOP, total)}`);
  console.log(`\nSelf time by package:\n${top(byPackage, 15, total)}`);
  if (ours.size > 0) console.log(`\nTop functions in this library (lib/):\n${top(ours, 10, total)}`);
}

main();
