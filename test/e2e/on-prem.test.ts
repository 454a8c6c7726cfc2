/**
 * The on-prem target, end to end with real parts: two SSH test hosts (sshd in their own network
 * namespaces), rootful podman on each, nginx as the proxy, the real `terraform` binary applying
 * what the construct synthesized, and an ONNX model served by onnxruntime in a container built
 * offline. The scenarios run in order and share the hosts and the Terraform state.
 */
import * as fs from 'fs';
import * as path from 'path';
import { canConnect, leftovers, stopTestHosts, unreachableHost } from './support/hosts';
import { Deploy, OnPremE2e, PROXY_PORT, SLOT_PORT_BASE, X, expectOk, outputOf } from './support/on-prem-app';
import { run as runCommand } from './support/exec';
import { MODEL_V1, MODEL_V2, REPO_ROOT, predict } from './support/models';
import { TerraformRunner } from './support/terraform';

jest.setTimeout(600_000);

let e: OnPremE2e;
const synthesize = (d: Deploy) => e.synthesize(d);
const post = (...args: Parameters<OnPremE2e['post']>) => e.post(...args);
const expectServing = (...args: Parameters<OnPremE2e['expectServing']>) => e.expectServing(...args);
const containersOn = (...args: Parameters<OnPremE2e['containersOn']>) => e.containersOn(...args);

beforeAll(async () => {
  e = await OnPremE2e.start({ model: MODEL_V1 }, { images: ['never-ready'] });
});

afterAll(async () => {
  await e?.dispose();
});

describe('on-prem target over real SSH, podman, nginx and terraform', () => {
  test('deploy: both hosts serve the model through the proxy, with progress lines in the apply output', async () => {
    const apply = await e.tf.apply();
    expectOk(apply);
    const out = outputOf(apply);
    for (const host of e.hosts) expect(out).toContain(`[model-deploy host=${host.name} deployment=linear]`);
    await expectServing(MODEL_V1);
    for (const host of e.hosts) expect(await containersOn(host)).toHaveLength(1);
  });

  test('every request needs the API key, and the model port is reachable only through the proxy', async () => {
    const host = e.hosts[0];
    expect((await post(host, { instances: X }, {})).status).toBe(401);
    expect((await post(host, { instances: X }, { 'x-api-key': 'wrong' })).status).toBe(401);
    expect((await post(host, { instances: X }, { authorization: `Bearer ${e.apiKey}` })).status).toBe(200);
    // The container listens on the host's loopback: reachable inside the host, not from outside.
    const inside = await host.http(SLOT_PORT_BASE, '/ping');
    expect(inside.status).toBe(200);
    for (const port of [SLOT_PORT_BASE, SLOT_PORT_BASE + 1]) expect(await canConnect(host.address, port, 1500)).toBe(false);
  });

  test('probe (the package\'s CLI): terraform\'s outputs and the API key file reach the model; every v1 sample answered right', async () => {
    const outputs = await e.tf.run(['output', '-json']);
    expectOk(outputs);
    const outputsFile = path.join(e.work, 'outputs.json');
    fs.writeFileSync(outputsFile, outputs.stdout);
    const requestsFile = path.join(e.work, 'probe-requests.jsonl');
    fs.writeFileSync(requestsFile, X.map((x, i) => JSON.stringify({
      name: `x${i}`, request: { instances: [x] }, expectedResponse: { predictions: [predict(MODEL_V1, x)], modelVersion: MODEL_V1.name }, absoluteTolerance: 1e-5,
    })).join('\n'));
    const probe = await runCommand(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(REPO_ROOT, 'lib', 'cli', 'main.ts'), 'probe',
      '--outputs', outputsFile, '--host', e.hosts[1].name, '--api-key-file', e.apiKeyFile, '--requests', requestsFile, '--count', '60', '--concurrency', '3', '--json'],
    { cwd: REPO_ROOT, timeoutMs: 60_000 });
    expect(probe.stderr).toBe('');
    expect(probe.code).toBe(0);
    const result = JSON.parse(probe.stdout);
    expect(result).toMatchObject({
      target: 'onPrem', endpoint: `Linear_Endpoint on ${e.hosts[1].name}`, completed: true, requests: 60, outcomes: { 200: 60 }, errorRate: 0,
      accuracy: { checked: 60, correct: 60, rate: 1, mismatches: [] },
    });
    expect(result.latencyMs.p50).toBeGreaterThan(0);
    expect(result.latencyMs.max).toBeGreaterThanOrEqual(result.latencyMs.p99);
    expect(probe.stdout).not.toContain(e.apiKey);
  });

  test('no secret in cdktf.out or in the Terraform state', () => {
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
      .flatMap(e => e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.tar') || e.name.endsWith('.gz') ? [] : [path.join(dir, e.name)]);
    const texts = [...files(e.outDir).map(f => fs.readFileSync(f, 'utf8')), e.tf.stateText()];
    const privateKey = fs.readFileSync(e.hosts[0].privateKeyPath, 'utf8').split('\n')[1];
    for (const text of texts) {
      expect(text).not.toContain(e.apiKey);
      expect(text).not.toContain(privateKey);
    }
    expect(e.tf.stateText()).toContain('terraform_data');
  });

  test('re-apply with nothing changed: no changes and nothing uploaded', async () => {
    synthesize({ model: MODEL_V1 });
    const plan = await e.tf.plan();
    expect(plan.changes).toBe(false);
    const apply = await e.tf.apply();
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
        for (const host of e.hosts) {
          const reply = await post(host, { instances: [[1, 1, 1]] });
          sent++;
          if (reply.status !== 200) failures.push(`${host.name}: ${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`);
        }
        await new Promise(r => setTimeout(r, 20));
      }
    })();
    const apply = await e.tf.apply();
    stop = true;
    await loop;
    expectOk(apply);
    expect(sent).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    await expectServing(MODEL_V2);
    // The old slot is gone once the new one serves.
    for (const host of e.hosts) expect(await containersOn(host)).toHaveLength(1);
    const out = outputOf(apply);
    expect(out).toContain('uploading model artifact');
    // One host after another: the second host's new version starts only once the first one's is up.
    const firstDone = out.search(new RegExp(`${e.hosts[0].name}-deployment_[0-9A-F]+: Creation complete`));
    const secondStarts = out.search(new RegExp(`${e.hosts[1].name}-deployment_[0-9A-F]+: Creating\\.\\.\\.`));
    expect(firstDone).toBeGreaterThan(-1);
    expect(secondStarts).toBeGreaterThan(firstDone);
  });

  test('replacing a host\'s deployment with the version it already runs changes nothing and drops nothing', async () => {
    const host = e.hosts[0];
    const address = e.tf.resourcesInState().find(a => a.includes(`${host.name}-deployment_`))!;
    expect(address).toBeDefined();
    const before = await host.podman(['ps', '-q', '--no-trunc']);
    const apply = await e.tf.apply({ args: [`-replace=${address}`] });
    expectOk(apply);
    expect(outputOf(apply)).toContain('is already active and healthy on this host; nothing to change');
    expect((await host.podman(['ps', '-q', '--no-trunc'])).stdout).toBe(before.stdout);
    await expectServing(MODEL_V2);
  });

  test('fault: an image whose health check never passes fails the apply naming the host; the old version keeps serving; the next apply converges', async () => {
    const before = await Promise.all(e.hosts.map(containersOn));
    synthesize({ model: MODEL_V1, image: e.images['never-ready'], startupTimeoutSeconds: 30 });
    const apply = await e.tf.apply();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(new RegExp(`ERROR host=${e.hosts[0].name}[^\\n]*health`));
    await expectServing(MODEL_V2);
    // Nothing orphaned: the failed version's container was removed, the old one is untouched.
    expect(await Promise.all(e.hosts.map(containersOn))).toEqual(before);
    synthesize({ model: MODEL_V1 });
    expectOk(await e.tf.apply());
    await expectServing(MODEL_V1);
    expect((await e.tf.plan()).changes).toBe(false);
  });

  test('fault: a wrong host key refuses the connection, naming the host; nothing changes; the next apply converges', async () => {
    synthesize({ model: MODEL_V2, hostOverride: { index: 0, with: { hostKey: e.hosts[1].hostPublicKey } } });
    const apply = await e.tf.apply();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(/key mismatch/);
    expect(outputOf(apply)).toContain(e.hosts[0].address);
    await expectServing(MODEL_V1);
    synthesize({ model: MODEL_V2 });
    expectOk(await e.tf.apply());
    await expectServing(MODEL_V2);
  });

  test('fault: an unreachable host fails the apply naming its address; the others keep serving; the next apply converges', async () => {
    const gone = await unreachableHost({ mode: 'refused' });
    try {
      synthesize({ model: MODEL_V1, hostOverride: { index: 1, with: { address: gone.address, hostKey: gone.hostPublicKey } } });
      const apply = await e.tf.apply();
      expect(apply.code).not.toBe(0);
      expect(outputOf(apply)).toContain(gone.address);
    } finally {
      await gone.stop();
    }
    synthesize({ model: MODEL_V1 });
    expectOk(await e.tf.apply());
    await expectServing(MODEL_V1);
    expect((await e.tf.plan()).changes).toBe(false);
  });

  test('fault: the connection is cut mid-deploy; the old version keeps serving, nothing is orphaned, the next apply converges', async () => {
    synthesize({ model: MODEL_V2 });
    const host = e.hosts[0];
    let cut = false;
    const runner = TerraformRunner.forCdktfStack(e.outDir, e.stack, {
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
    expectOk(await e.tf.apply());
    await expectServing(MODEL_V2);
    for (const h of e.hosts) expect(await containersOn(h)).toHaveLength(1);
    expect((await e.tf.plan()).changes).toBe(false);
  });

  test('after a reboot (proxy and containers stopped), the boot hook\'s command brings the host back', async () => {
    const host = e.hosts[0];
    const dir = `${host.rootDir}/data/deployments/linear`;
    const hook = fs.readFileSync(path.join(e.cronDir, `model-deploy-linear-${host.name}`), 'utf8');
    const line = hook.split('\n').find(l => l.startsWith('@reboot '))!;
    expect(line).toContain(`modeldeploy.sh resume ${dir}`);
    const command = line.split(/\s+/).slice(2).join(' '); // after "@reboot USER"
    // What a reboot leaves: no proxy (killed, so its probe socket file stays behind, and would make a
    // new nginx's bind fail), the containers stopped (podman does not restart them).
    const stopProxy = await host.ssh(`pid=$(cat ${dir}/proxy/nginx.pid); kill -KILL $pid $(cat /proc/$pid/task/*/children); for i in $(seq 100); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1`);
    expect(stopProxy.code).toBe(0);
    expect(fs.statSync(`${dir}/proxy/probe.sock`).isSocket()).toBe(true);
    expect((await host.podman(['stop', '-t', '0', ...(await containersOn(host))])).code).toBe(0);
    expect((await post(host, { instances: X })).status).toBe(0);
    const resume = await host.ssh(command);
    expect(resume.code).toBe(0);
    expect(fs.readFileSync(`${dir}/proxy/logs/resume.log`, 'utf8')).toMatch(/version v[0-9a-f]{12} resumed/);
    await expectServing(MODEL_V2);
  });

  test('destroy removes containers, proxy and files, and leaves nothing behind', async () => {
    expectOk(await e.tf.destroy());
    for (const host of e.hosts) {
      expect(await containersOn(host)).toEqual([]);
      expect(fs.existsSync(`${host.rootDir}/data/deployments/linear`)).toBe(false);
      expect(await canConnect(host.address, PROXY_PORT, 1500)).toBe(false);
    }
    expect(e.tf.resourcesInState()).toEqual([]);
    expect(fs.readdirSync(e.cronDir)).toEqual([]);
    await stopTestHosts(e.hosts);
    expect(leftovers(e.hosts)).toEqual([]);
  });
});
