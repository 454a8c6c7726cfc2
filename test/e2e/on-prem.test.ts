/**
 * The on-prem target, end to end with real parts: two SSH test hosts (sshd in their own network
 * namespaces), rootful podman on each, nginx as the proxy, the real `terraform` binary applying
 * what the construct synthesized, and an ONNX model served by onnxruntime in a container built
 * offline. The scenarios run in order and share the hosts and the Terraform state.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { App, LocalBackend, TerraformStack } from 'cdktf';
import { Compute, DeploymentTarget, ModelArtifact, ModelDeployment, ServingContainer } from '../../lib';
import { ContainerRuntime, OnPremHost } from '../../lib/targets/on-prem';
import { requireE2eTools } from './support/exec';
import { HOST_TOOLS, TestHost, canConnect, leftovers, startTestHosts, stopTestHosts, unreachableHost } from './support/hosts';
import { ModelServerImage, modelServerImage } from './support/image';
import { LinearModelFixture, MODEL_V1, MODEL_V2, predict } from './support/models';
import { TerraformRunner } from './support/terraform';

jest.setTimeout(600_000);

const STACK = 'onprem-e2e';
const API_KEY = 'e2e-key-' + Math.random().toString(36).slice(2);
const PROXY_PORT = 8443;
const SLOT_PORT_BASE = 18000;
const X = [[1, 1, 1], [0, 0, 1], [2, -1, 0.5]];

let hosts: TestHost[];
let good: ModelServerImage;
let neverReady: ModelServerImage;
let work: string;
let outDir: string;
let apiKeyFile: string;
let tf: TerraformRunner;
let cronDir: string;

interface Deploy {
  readonly model: LinearModelFixture;
  readonly image?: ModelServerImage;
  readonly startupTimeoutSeconds?: number;
  /** Replace fields of one host (e.g. a wrong host key or an unreachable address). */
  readonly hostOverride?: { index: number; with: Partial<OnPremHost> };
}

function onPremHosts(d: Deploy): OnPremHost[] {
  return hosts.map((h, i) => ({
    name: h.name,
    address: h.address,
    user: 'root',
    privateKeyPath: h.privateKeyPath,
    hostKey: h.hostPublicKey,
    deployRoot: `${h.rootDir}/data/deployments`,
    runtimeArgs: [...h.runtimeArgv],
    scriptPath: `${h.rootDir}/data/terraform_%RAND%.sh`,
    ...(d.hostOverride?.index === i ? d.hostOverride.with : {}),
  }));
}

/** Synthesizes the deployment the way a user's `cdktf synth` would, into the stack dir Terraform works in. */
function synthesize(d: Deploy): void {
  const app = new App({ outdir: outDir });
  const stack = new TerraformStack(app, STACK);
  new LocalBackend(stack, { path: path.join(work, 'terraform.tfstate') });
  const image = d.image ?? good;
  new ModelDeployment(stack, 'Linear', {
    model: ModelArtifact.fromLocalPath(d.model.dir),
    serving: ServingContainer.custom({
      image: image.imageRef, port: image.port, healthPath: image.healthPath, predictPath: image.predictPath,
      startupTimeoutSeconds: d.startupTimeoutSeconds ?? 60,
      environment: { MODEL_VERSION: d.model.name },
    }),
    compute: Compute.cpu({ vcpus: 1, memoryGiB: 1 }),
    scaling: { minReplicas: 2 },
    endpointName: 'linear',
    target: DeploymentTarget.onPrem({
      hosts: onPremHosts(d),
      runtime: ContainerRuntime.PODMAN,
      apiKeyFile,
      imageArchive: image.archivePath,
      proxyPort: PROXY_PORT,
      slotPortBase: SLOT_PORT_BASE,
      connectTimeoutSeconds: 5,
    }),
  });
  app.synth();
}

interface Reply { status: number; body: string; error?: string }

function post(host: TestHost, body: unknown, headers: Record<string, string> = { 'x-api-key': API_KEY }): Promise<Reply> {
  const data = JSON.stringify(body);
  return new Promise(resolve => {
    const req = http.request({ host: host.address, port: PROXY_PORT, path: '/invocations', method: 'POST', timeout: 10_000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, res => {
      let text = '';
      res.on('data', c => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', e => resolve({ status: 0, body: '', error: e.message }));
    req.end(data);
  });
}

/** Every host answers with the model's exact predictions and names the model version. */
async function expectServing(model: LinearModelFixture): Promise<void> {
  for (const host of hosts) {
    const reply = await post(host, { instances: X });
    expect(reply).toMatchObject({ status: 200 });
    const json = JSON.parse(reply.body);
    expect(json.modelVersion).toBe(model.name);
    json.predictions.forEach((row: number[], i: number) => {
      predict(model, X[i]).forEach((y, j) => expect(row[j]).toBeCloseTo(y, 5));
    });
  }
}

async function containersOn(host: TestHost): Promise<string[]> {
  return (await host.containers()).sort();
}

function outputOf(r: { stdout: string; stderr: string }): string {
  return `${r.stdout}\n${r.stderr}`;
}

/** A failed terraform command fails the test with the end of its output, so the cause is in the report. */
function expectOk(r: { code: number | null; stdout: string; stderr: string; args: readonly string[] }): void {
  if (r.code !== 0) throw new Error(`terraform ${r.args.join(' ')} exited ${r.code}:\n${outputOf(r).slice(-6000)}`);
}

beforeAll(async () => {
  requireE2eTools([...HOST_TOOLS, 'terraform', 'nginx']);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-e2e-'));
  outDir = path.join(work, 'cdktf.out');
  apiKeyFile = path.join(work, 'api-keys');
  fs.writeFileSync(apiKeyFile, `${API_KEY}\n`, { mode: 0o600 });
  // The hosts share this machine's filesystem: their boot hooks go here, never to /etc/cron.d.
  cronDir = path.join(work, 'cron.d');
  fs.mkdirSync(cronDir);
  [hosts, good, neverReady] = await Promise.all([
    startTestHosts(2, { sessionEnv: { MD_BOOT_HOOK_DIR: cronDir } }),
    modelServerImage({ mode: 'ok' }),
    modelServerImage({ mode: 'never-ready' }),
  ]);
  synthesize({ model: MODEL_V1 });
  tf = TerraformRunner.forCdktfStack(outDir, STACK, { timeoutMs: 300_000 });
  const init = await tf.init();
  expectOk(init);
});

afterAll(async () => {
  tf?.dispose();
  if (hosts) await stopTestHosts(hosts);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('on-prem target over real SSH, podman, nginx and terraform', () => {
  test('deploy: both hosts serve the model through the proxy, with progress lines in the apply output', async () => {
    const apply = await tf.apply();
    expectOk(apply);
    const out = outputOf(apply);
    for (const host of hosts) expect(out).toContain(`[model-deploy host=${host.name} deployment=linear]`);
    await expectServing(MODEL_V1);
    for (const host of hosts) expect(await containersOn(host)).toHaveLength(1);
  });

  test('every request needs the API key, and the model port is reachable only through the proxy', async () => {
    const host = hosts[0];
    expect((await post(host, { instances: X }, {})).status).toBe(401);
    expect((await post(host, { instances: X }, { 'x-api-key': 'wrong' })).status).toBe(401);
    expect((await post(host, { instances: X }, { authorization: `Bearer ${API_KEY}` })).status).toBe(200);
    // The container listens on the host's loopback: reachable inside the host, not from outside.
    const inside = await host.http(SLOT_PORT_BASE, '/ping');
    expect(inside.status).toBe(200);
    for (const port of [SLOT_PORT_BASE, SLOT_PORT_BASE + 1]) expect(await canConnect(host.address, port, 1500)).toBe(false);
  });

  test('no secret in cdktf.out or in the Terraform state', () => {
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
      .flatMap(e => e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.tar') || e.name.endsWith('.gz') ? [] : [path.join(dir, e.name)]);
    const texts = [...files(outDir).map(f => fs.readFileSync(f, 'utf8')), tf.stateText()];
    const privateKey = fs.readFileSync(hosts[0].privateKeyPath, 'utf8').split('\n')[1];
    for (const text of texts) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(privateKey);
    }
    expect(tf.stateText()).toContain('terraform_data');
  });

  test('re-apply with nothing changed: no changes and nothing uploaded', async () => {
    synthesize({ model: MODEL_V1 });
    const plan = await tf.plan();
    expect(plan.changes).toBe(false);
    const apply = await tf.apply();
    expectOk(apply);
    expect(outputOf(apply)).toContain('0 added, 0 changed, 0 destroyed');
    expect(outputOf(apply)).not.toContain('uploading');
  });

  test('rolling update to a new model under load: zero failed requests, and the new version answers', async () => {
    synthesize({ model: MODEL_V2 });
    let stop = false;
    const failures: string[] = [];
    let sent = 0;
    const loop = (async () => {
      while (!stop) {
        for (const host of hosts) {
          const reply = await post(host, { instances: [[1, 1, 1]] });
          sent++;
          if (reply.status !== 200) failures.push(`${host.name}: ${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`);
        }
        await new Promise(r => setTimeout(r, 20));
      }
    })();
    const apply = await tf.apply();
    stop = true;
    await loop;
    expectOk(apply);
    expect(sent).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    await expectServing(MODEL_V2);
    // The old slot is gone once the new one serves.
    for (const host of hosts) expect(await containersOn(host)).toHaveLength(1);
    const out = outputOf(apply);
    expect(out).toContain('uploading model artifact');
    // One host after another: the second host's new version starts only once the first one's is up.
    const firstDone = out.search(new RegExp(`${hosts[0].name}-deployment_[0-9A-F]+: Creation complete`));
    const secondStarts = out.search(new RegExp(`${hosts[1].name}-deployment_[0-9A-F]+: Creating\\.\\.\\.`));
    expect(firstDone).toBeGreaterThan(-1);
    expect(secondStarts).toBeGreaterThan(firstDone);
  });

  test('replacing a host\'s deployment with the version it already runs changes nothing and drops nothing', async () => {
    const host = hosts[0];
    const address = tf.resourcesInState().find(a => a.includes(`${host.name}-deployment_`))!;
    expect(address).toBeDefined();
    const before = await host.podman(['ps', '-q', '--no-trunc']);
    const apply = await tf.apply({ args: [`-replace=${address}`] });
    expectOk(apply);
    expect(outputOf(apply)).toContain('is already active and healthy on this host; nothing to change');
    expect((await host.podman(['ps', '-q', '--no-trunc'])).stdout).toBe(before.stdout);
    await expectServing(MODEL_V2);
  });

  test('fault: an image whose health check never passes fails the apply naming the host; the old version keeps serving; the next apply converges', async () => {
    const before = await Promise.all(hosts.map(containersOn));
    synthesize({ model: MODEL_V1, image: neverReady, startupTimeoutSeconds: 30 });
    const apply = await tf.apply();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(new RegExp(`ERROR host=${hosts[0].name}[^\\n]*health`));
    await expectServing(MODEL_V2);
    // Nothing orphaned: the failed version's container was removed, the old one is untouched.
    expect(await Promise.all(hosts.map(containersOn))).toEqual(before);
    synthesize({ model: MODEL_V1 });
    expectOk(await tf.apply());
    await expectServing(MODEL_V1);
    expect((await tf.plan()).changes).toBe(false);
  });

  test('fault: a wrong host key refuses the connection, naming the host; nothing changes; the next apply converges', async () => {
    synthesize({ model: MODEL_V2, hostOverride: { index: 0, with: { hostKey: hosts[1].hostPublicKey } } });
    const apply = await tf.apply();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(/key mismatch/);
    expect(outputOf(apply)).toContain(hosts[0].address);
    await expectServing(MODEL_V1);
    synthesize({ model: MODEL_V2 });
    expectOk(await tf.apply());
    await expectServing(MODEL_V2);
  });

  test('fault: an unreachable host fails the apply naming its address; the others keep serving; the next apply converges', async () => {
    const gone = await unreachableHost({ mode: 'refused' });
    try {
      synthesize({ model: MODEL_V1, hostOverride: { index: 1, with: { address: gone.address, hostKey: gone.hostPublicKey } } });
      const apply = await tf.apply();
      expect(apply.code).not.toBe(0);
      expect(outputOf(apply)).toContain(gone.address);
    } finally {
      await gone.stop();
    }
    synthesize({ model: MODEL_V1 });
    expectOk(await tf.apply());
    await expectServing(MODEL_V1);
    expect((await tf.plan()).changes).toBe(false);
  });

  test('fault: the connection is cut mid-deploy; the old version keeps serving, nothing is orphaned, the next apply converges', async () => {
    synthesize({ model: MODEL_V2 });
    const host = hosts[0];
    let cut = false;
    const runner = TerraformRunner.forCdktfStack(outDir, STACK, {
      timeoutMs: 300_000,
      onOutput: chunk => {
        // Cut while the new version's container is starting on the first host.
        if (!cut && chunk.includes(`[model-deploy host=${host.name}`) && /starting|waiting/.test(chunk)) {
          cut = true;
          host.killSessions();
        }
      },
    });
    const apply = await runner.apply();
    runner.dispose();
    expect(cut).toBe(true);
    expect(apply.code).not.toBe(0);
    await expectServing(MODEL_V1);
    synthesize({ model: MODEL_V2 });
    expectOk(await tf.apply());
    await expectServing(MODEL_V2);
    for (const h of hosts) expect(await containersOn(h)).toHaveLength(1);
    expect((await tf.plan()).changes).toBe(false);
  });

  test('after a reboot (proxy and containers stopped), the boot hook\'s command brings the host back', async () => {
    const host = hosts[0];
    const dir = `${host.rootDir}/data/deployments/linear`;
    const hook = fs.readFileSync(path.join(cronDir, `model-deploy-linear-${host.name}`), 'utf8');
    const line = hook.split('\n').find(l => l.startsWith('@reboot '))!;
    expect(line).toContain(`modeldeploy.sh resume ${dir}`);
    const command = line.split(/\s+/).slice(2).join(' '); // after "@reboot USER"
    // What a reboot leaves: no proxy, the containers stopped (podman does not restart them).
    const stopProxy = await host.ssh(`pid=$(cat ${dir}/proxy/nginx.pid); kill -QUIT $pid; for i in $(seq 100); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
    expect(stopProxy.code).toBe(0);
    expect((await host.podman(['stop', '-t', '0', ...(await containersOn(host))])).code).toBe(0);
    expect((await post(host, { instances: X })).status).toBe(0);
    const resume = await host.ssh(command);
    expect(resume.code).toBe(0);
    expect(fs.readFileSync(`${dir}/proxy/logs/resume.log`, 'utf8')).toMatch(/version v[0-9a-f]{12} resumed/);
    await expectServing(MODEL_V2);
  });

  test('destroy removes containers, proxy and files, and leaves nothing behind', async () => {
    expectOk(await tf.destroy());
    for (const host of hosts) {
      expect(await containersOn(host)).toEqual([]);
      expect(fs.existsSync(`${host.rootDir}/data/deployments/linear`)).toBe(false);
      expect(await canConnect(host.address, PROXY_PORT, 1500)).toBe(false);
    }
    expect(tf.resourcesInState()).toEqual([]);
    expect(fs.readdirSync(cronDir)).toEqual([]);
    await stopTestHosts(hosts);
    expect(leftovers(hosts)).toEqual([]);
  });
});
