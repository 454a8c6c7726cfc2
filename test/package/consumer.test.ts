/**
 * The packed package, installed into projects made the way `cdk init` and `cdktf init` make them:
 * every documented import compiles under each tsconfig those CLIs write (and under node16 and bundler
 * resolution), with skipLibCheck on and off, when only the peers that user needs are installed; and
 * a subpath whose peer is missing says which package to install.
 *
 * Slow (a build, `npm pack`, three `npm install --prefer-offline` and a dozen `tsc` runs), so the
 * tarball and the installed projects are made once and shared by every case.
 */
import { execFile, execFileSync } from 'child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'lib', 'tsc.js');
const MINUTE = 60_000;

/** The versions the repository is tested with, so npm finds them in its cache. */
function pinned(name: string): string {
  const version = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  return `${name}@${version}`;
}

/** What each kind of user installs next to the package (and the @types their init template lists). */
const PROJECTS = {
  terraform: ['cdktf', 'constructs', '@types/node'],
  cdk: ['aws-cdk-lib', 'constructs', '@types/node', '@types/jest'],
  all: ['aws-cdk-lib', 'cdktf', 'constructs', '@cdktf/provider-azurerm', '@cdktf/provider-google', '@types/node', '@types/jest'],
} as const;
type Project = keyof typeof PROJECTS;

let work: string;
const dirs = {} as Record<Project, string>;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cmd-consumer-'));
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  execFileSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe' });
  const tarball = path.join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  await Promise.all((Object.keys(PROJECTS) as Project[]).map(async (name) => {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '0.0.0', private: true }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...PROJECTS[name].map(pinned)], { cwd: dir });
    dirs[name] = dir;
  }));
}, 5 * MINUTE);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

type Shape = 'cdktf-init' | 'cdk-init' | 'node16' | 'bundler';

/** The tsconfig a user's project has: one of the init templates, or cdktf init's with another resolution. */
function tsconfig(shape: Shape, skipLibCheck: boolean, file: string): object {
  const config = JSON.parse(readFileSync(path.join(FIXTURES, `tsconfig.${shape === 'cdk-init' ? 'cdk-init' : 'cdktf-init'}.json`), 'utf8'));
  const resolution: Record<Shape, object> = {
    'cdktf-init': {},
    'cdk-init': {},
    'node16': { module: 'Node16', moduleResolution: 'Node16' },
    'bundler': { module: 'ESNext', moduleResolution: 'Bundler' },
  };
  // `incremental` would write a .tsbuildinfo; only the type check matters here.
  config.compilerOptions = { ...config.compilerOptions, ...resolution[shape], skipLibCheck, noEmit: true, incremental: false };
  delete config.include;
  delete config['//'];
  config.files = [file];
  return config;
}

/** tsc's diagnostics for `source` in `project`, or '' when it compiles. */
async function typecheck(project: Project, shape: Shape, skipLibCheck: boolean, source: string): Promise<string> {
  const dir = dirs[project];
  copyFileSync(path.join(FIXTURES, source), path.join(dir, source));
  const config = `tsconfig.${shape}.${skipLibCheck}.${source}.json`;
  writeFileSync(path.join(dir, config), JSON.stringify(tsconfig(shape, skipLibCheck, source), null, 2));
  try {
    await run(process.execPath, [TSC, '-p', config], { cwd: dir });
    return '';
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`.trim() || String(e);
  }
}

// skipLibCheck false reports everything skipLibCheck true does and more (the .d.ts files too), so the
// slow aws-cdk-lib projects run it once per resolution and the cheap Terraform project runs both.
const CASES: Array<[Project, Shape, boolean, string]> = [
  // The two slow ones first, one per lane.
  // A CDK user's project, made by `cdk init` (NodeNext).
  ['cdk', 'cdk-init', false, 'sagemaker-app.ts'],
  // Every entry point at once under node10 resolution, which ignores `exports`.
  ['all', 'cdktf-init', false, 'all-entry-points.ts'],
  // A Terraform user's project, made by `cdktf init` (module CommonJS, no moduleResolution: node10).
  ['terraform', 'cdktf-init', true, 'on-prem-app.ts'],
  ['terraform', 'cdktf-init', false, 'on-prem-app.ts'],
  ['terraform', 'node16', false, 'on-prem-app.ts'],
  ['terraform', 'bundler', false, 'on-prem-app.ts'],
  ['cdk', 'cdk-init', true, 'sagemaker-app.ts'],
  // A CDK project made by an older `cdk init` (module commonjs, no moduleResolution).
  ['cdk', 'cdktf-init', true, 'sagemaker-app.ts'],
  ['all', 'node16', true, 'all-entry-points.ts'],
  ['all', 'bundler', true, 'all-entry-points.ts'],
];
const results = new Map<string, Promise<string>>();

describe('every documented import compiles in a consumer project', () => {
  beforeAll(() => {
    // Two tsc at a time, in two lanes (they are CPU-bound); each test awaits its own result.
    const lanes: Array<Promise<unknown>> = [Promise.resolve(), Promise.resolve()];
    CASES.forEach(([project, shape, skipLibCheck, source], i) => {
      const result = lanes[i % 2].then(() => typecheck(project, shape, skipLibCheck, source));
      lanes[i % 2] = result;
      results.set(CASES[i].join(), result);
    });
  });

  for (const c of CASES) {
    const [project, shape, skipLibCheck, source] = c;
    test(`${source} in a ${project} project, ${shape} tsconfig, skipLibCheck ${skipLibCheck}`, async () => {
      expect(await results.get(c.join())).toBe('');
    }, 3 * MINUTE);
  }
});

describe('the tsconfig fixtures are what the init templates write', () => {
  test('cdk init app --language typescript writes the compilerOptions of the fixture', () => {
    const dir = path.join(work, 'cdk-init');
    mkdirSync(dir, { recursive: true });
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'cdk'), ['init', 'app', '--language', 'typescript', '--generate-only'], { cwd: dir, stdio: 'pipe' });
    const written = JSON.parse(readFileSync(path.join(dir, 'tsconfig.json'), 'utf8')).compilerOptions;
    const fixture = JSON.parse(readFileSync(path.join(FIXTURES, 'tsconfig.cdk-init.json'), 'utf8')).compilerOptions;
    expect(fixture).toEqual(written);
  }, MINUTE);
});

describe('a subpath without its optional peer says which package to install', () => {
  function requireIn(project: Project, specifier: string): string {
    try {
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(specifier)})`], { cwd: dirs[project], stdio: 'pipe', env: { PATH: process.env.PATH } });
      return '';
    } catch (e) {
      return String((e as { stderr?: Buffer }).stderr);
    }
  }

  test('cdk-model-deployment/sagemaker without aws-cdk-lib names aws-cdk-lib', () => {
    expect(requireIn('terraform', 'cdk-model-deployment/sagemaker'))
      .toContain('cdk-model-deployment/sagemaker needs the peer dependency aws-cdk-lib: npm install aws-cdk-lib constructs');
  });

  test('cdk-model-deployment/on-prem without cdktf names cdktf', () => {
    expect(requireIn('cdk', 'cdk-model-deployment/on-prem'))
      .toContain('cdk-model-deployment/on-prem needs the peer dependency cdktf: npm install cdktf constructs');
  });

  test('cdk-model-deployment/azure-ml without @cdktf/provider-azurerm names it', () => {
    expect(requireIn('terraform', 'cdk-model-deployment/azure-ml'))
      .toContain('cdk-model-deployment/azure-ml needs the peer dependency @cdktf/provider-azurerm: npm install cdktf constructs @cdktf/provider-azurerm');
  });

  test('cdk-model-deployment/vertex-ai without @cdktf/provider-google names it', () => {
    expect(requireIn('terraform', 'cdk-model-deployment/vertex-ai'))
      .toContain('cdk-model-deployment/vertex-ai needs the peer dependency @cdktf/provider-google: npm install cdktf constructs @cdktf/provider-google');
  });

  test('the root loads without either engine, and each subpath loads with its peer', () => {
    expect(requireIn('terraform', 'cdk-model-deployment')).toBe('');
    expect(requireIn('cdk', 'cdk-model-deployment')).toBe('');
    expect(requireIn('terraform', 'cdk-model-deployment/on-prem')).toBe('');
    expect(requireIn('cdk', 'cdk-model-deployment/sagemaker')).toBe('');
    expect(requireIn('all', 'cdk-model-deployment/azure-ml')).toBe('');
    expect(requireIn('all', 'cdk-model-deployment/vertex-ai')).toBe('');
  });
});

describe('the package\'s command, model-deployment, from the installed tarball', () => {
  function npx(project: Project, args: string[]): { code: number; stdout: string; stderr: string } {
    try {
      const stdout = execFileSync('npx', ['--no-install', 'model-deployment', ...args], { cwd: dirs[project], stdio: 'pipe', env: { PATH: process.env.PATH, HOME: process.env.HOME } });
      return { code: 0, stdout: String(stdout), stderr: '' };
    } catch (e) {
      const err = e as { status: number; stdout?: Buffer; stderr?: Buffer };
      return { code: err.status, stdout: String(err.stdout ?? ''), stderr: String(err.stderr ?? '') };
    }
  }

  test('npx model-deployment probe --help prints the probe\'s usage', () => {
    const r = npx('terraform', ['probe', '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('Usage: model-deployment probe --requests FILE');
  }, MINUTE);

  test('probing SageMaker without the optional signing packages names the package to install (exit 2, no stack trace)', () => {
    const requests = path.join(dirs.terraform, 'requests.jsonl');
    writeFileSync(requests, '{"request":{"x":1}}\n');
    const r = npx('terraform', ['probe', '--target', 'sagemaker', '--url', 'http://127.0.0.1:9/endpoints/e/invocations', '--region', 'eu-west-1', '--requests', requests]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^probe: Probing SageMaker \(SigV4 signing\) needs the package @[a-z-]+\/[a-z-0-9]+: install it next to cdk-model-deployment \(npm install @[a-z-]+\/[a-z-0-9]+\)\n$/);
  }, MINUTE);
});
