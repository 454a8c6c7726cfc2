/**
 * On-prem apply and destroy timings: one SSH test host (sshd in its own network namespace), one
 * container, the real `terraform` binary applying what the construct synthesized. Uses the e2e
 * harness; needs root and the tools `scripts/e2e/install-deps.sh` installs.
 *
 * Per run: a fresh Terraform state; `apply` (first deploy: script, artifact and 144 MiB image archive
 * uploaded, image loaded, container started and health-checked, proxy started), a no-change
 * `apply`, an update `apply` to a new model version (blue/green switch), and `destroy`.
 * Results are added to bench-results.json under "onPrem". Skipped when BENCH_ONLY (bench/only.ts)
 * leaves out `on-prem`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { Compute, DeploymentTarget, ModelArtifact, ModelDeployment, ServingContainer } from '../lib';
import { ContainerRuntime } from '../lib/targets/on-prem';
import { benchOnly } from './only';
import { requireE2eTools } from '../test/e2e/support/exec';
import { HOST_TOOLS, TestHost, startTestHosts, stopTestHosts } from '../test/e2e/support/hosts';
import { ModelServerImage, modelServerImage } from '../test/e2e/support/image';
import { LinearModelFixture, MODEL_V1, MODEL_V2 } from '../test/e2e/support/models';
import { TerraformRunner } from '../test/e2e/support/terraform';

const RUNS = Number(process.env.BENCH_ONPREM_RUNS ?? 3);
const ROOT = path.join(__dirname, '..');
const STACK = 'onprem-bench';

function synthesize(outDir: string, state: string, host: TestHost, image: ModelServerImage, model: LinearModelFixture, apiKeyFile: string): void {
  const app = new App({ outdir: outDir });
  const stack = new TerraformStack(app, STACK);
  new LocalBackend(stack, { path: state });
  new ModelDeployment(stack, 'Bench', {
    model: ModelArtifact.fromLocalPath(model.dir),
    serving: ServingContainer.custom({ image: image.imageRef, port: image.port, healthPath: image.healthPath, predictPath: image.predictPath, environment: { MODEL_VERSION: model.name } }),
    compute: Compute.cpu({ vcpus: 1, memoryGiB: 1 }),
    endpointName: 'bench',
    target: DeploymentTarget.onPrem({
      hosts: [{
        name: host.name, address: host.address, user: 'root', privateKeyPath: host.privateKeyPath, hostKey: host.hostPublicKey,
        deployRoot: `${host.rootDir}/data/deployments`, runtimeArgs: [...host.runtimeArgv],
      }],
      runtime: ContainerRuntime.PODMAN, apiKeyFile, imageArchive: image.archivePath,
    }),
  });
  app.synth();
}

async function timed(label: string, run: () => Promise<{ code: number | null; stdout: string; stderr: string }>): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.code !== 0) throw new Error(`${label} failed:\n${(result.stdout + result.stderr).slice(-3000)}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  if (!benchOnly().has('on-prem')) {
    console.log('on-prem bench skipped (BENCH_ONLY)');
    return;
  }
  requireE2eTools([...HOST_TOOLS, 'terraform', 'nginx']);
  const image = await modelServerImage({ mode: 'ok' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-bench-'));
  fs.mkdirSync(path.join(work, 'cron.d'));
  const [host] = await startTestHosts(1, { sessionEnv: { MD_BOOT_HOOK_DIR: path.join(work, 'cron.d') } });
  const apiKeyFile = path.join(work, 'api-keys');
  fs.writeFileSync(apiKeyFile, 'bench-api-key-0123456789\n', { mode: 0o600 });
  const rows: Record<string, number[]> = { 'first apply (upload + load image, start, health, proxy)': [], 'apply, nothing changed': [], 'apply, new model version (blue/green)': [], 'destroy': [] };
  const keys = Object.keys(rows);
  try {
    for (let i = 0; i < RUNS; i++) {
      fs.mkdirSync(path.join(work, `run${i}`), { recursive: true });
      const outDir = path.join(work, `run${i}`, 'cdktf.out');
      const state = path.join(work, `run${i}`, 'terraform.tfstate');
      synthesize(outDir, state, host, image, MODEL_V1, apiKeyFile);
      const tf = TerraformRunner.forCdktfStack(outDir, STACK);
      await timed('init', () => tf.init());
      rows[keys[0]].push(await timed('apply', () => tf.apply()));
      rows[keys[1]].push(await timed('apply again', () => tf.apply()));
      synthesize(outDir, state, host, image, MODEL_V2, apiKeyFile);
      rows[keys[2]].push(await timed('update', () => tf.apply()));
      rows[keys[3]].push(await timed('destroy', () => tf.destroy()));
      tf.dispose();
      process.stderr.write(`  on-prem run ${i + 1}/${RUNS} done\n`);
    }
  } finally {
    await stopTestHosts([host]);
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`\n(c) On-prem over SSH: one host, one container, real terraform ${RUNS} runs, median (min-max) ms`);
  console.log(`    image archive ${(image.archiveBytes / 1024 / 1024).toFixed(0)} MiB; host in its own network namespace on this machine\n`);
  for (const [label, xs] of Object.entries(rows)) {
    console.log(`${label.padEnd(58)} ${Math.round(median(xs)).toLocaleString('en-US').padStart(7)} (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`);
  }
  const file = path.join(ROOT, 'bench-results.json');
  const results = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  results.onPrem = { runs: RUNS, imageArchiveBytes: image.archiveBytes, ms: Object.fromEntries(Object.entries(rows).map(([k, xs]) => [k, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), all: xs }])) };
  fs.writeFileSync(file, JSON.stringify(results, undefined, 2) + '\n');
}

main().catch(e => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
