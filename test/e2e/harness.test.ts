/**
 * Smoke test of the e2e harness itself, without the library's constructs: two test hosts (network
 * namespaces with their own sshd and podman storage), the offline model-server image copied and loaded
 * over real SSH, a real ONNX model answering real requests, Terraform's SSH provisioner with a pinned host
 * key, and a final check that nothing is left behind.
 *
 * Needs root and the tools scripts/e2e/install-deps.sh installs; fails (never skips) without them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { run, sleep } from './support/exec';
import { canConnect, leftovers, startTestHosts, stopTestHosts, TestHost, unreachableHost } from './support/hosts';
import { modelServerImage, ModelServerImage } from './support/image';
import { MODEL_V1, predict } from './support/models';
import { terraformConnection, TerraformRunner } from './support/terraform';

const PORT = 18001;
const CONTAINER = 'mdtest-smoke';

let hosts: TestHost[] = [];
let image: ModelServerImage;

beforeAll(async () => {
  // the first run builds the image (about 4 s) and may fetch onnxruntime-node once; later runs use the cache
  const [img, started] = await Promise.allSettled([modelServerImage(), startTestHosts(2)]);
  if (started.status === 'fulfilled') hosts = started.value; // so afterAll stops them whatever else failed
  if (img.status === 'rejected') throw img.reason;
  if (started.status === 'rejected') throw started.reason;
  image = img.value;
}, 300_000);

afterAll(async () => {
  await stopTestHosts(hosts);
});

async function waitForPing(h: TestHost, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await h.http(PORT, '/ping', { timeoutMs: 1000 });
    if (r.status === 200) return;
    last = `${r.status} ${r.body}${r.error ?? ''}`;
    await sleep(100);
  }
  const logs = await h.podman(['logs', CONTAINER]);
  throw new Error(`${h.name}: /ping did not answer 200 within ${timeoutMs} ms (last: ${last})\n${logs.stdout}${logs.stderr}`);
}

test('hosts are separate: own namespace, address, sshd, podman storage', async () => {
  expect(hosts).toHaveLength(2);
  const [a, b] = hosts;
  for (const h of hosts) {
    expect(h.address).toMatch(/^169\.254\.\d+\.\d+$/);
    expect(h.hostPublicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    expect(h.runtimeArgs).toContain(`--root ${h.rootDir}/storage`);
    expect(fs.existsSync(h.netnsPath)).toBe(true);
  }
  expect(a.address).not.toBe(b.address);
  expect(a.netns).not.toBe(b.netns);
  expect(a.hostPublicKey).not.toBe(b.hostPublicKey);
  // a session gets the host's podman configuration from sshd's SetEnv, not from the test's environment
  const r = await a.ssh('echo "$CONTAINERS_CONF|$CONTAINERS_STORAGE_CONF"; podman info --format "{{.Store.GraphRoot}}|{{.Host.OCIRuntime.Name}}"');
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n')).toEqual([
    `${a.podmanEnv.CONTAINERS_CONF}|${a.podmanEnv.CONTAINERS_STORAGE_CONF}`,
    `${a.rootDir}/storage|runc`,
  ]);
});

test('over real SSH: copy and load the image, run the model, predict inside the namespace only', async () => {
  await Promise.all(
    hosts.map(async (h) => {
      const remoteDir = `${h.rootDir}/data`;
      const cp = await h.scp(image.archivePath, `${remoteDir}/image.tar`);
      expect(cp.stderr).toBe('');
      expect(cp.code).toBe(0);
      expect((await h.scp(MODEL_V1.dir, `${remoteDir}/model`)).code).toBe(0);

      const load = await h.ssh(`podman load -i ${remoteDir}/image.tar`);
      expect(load.code).toBe(0);
      expect(load.stdout).toContain(image.imageRef);
      const id = await h.ssh(`podman image inspect --format '{{.Id}}' ${image.imageRef}`);
      expect(id.stdout.trim()).toBe(image.imageId);

      const start = await h.ssh(
        `podman run -d --name ${CONTAINER} --label mdtest=smoke -p 127.0.0.1:${PORT}:8080 -v ${remoteDir}/model:/opt/ml/model:ro ${image.imageRef}`,
      );
      expect(start.stderr).toBe('');
      expect(start.code).toBe(0);
      await waitForPing(h, 20_000);

      const res = await h.http(PORT, '/invocations', { body: { instances: [[1, 1, 1], [1, 0, 0], [0.5, -2, 3]] } });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual({ predictions: [[9.5, 11.5], [1.5, 1.5], [10, 10.5]], modelVersion: MODEL_V1.version });
      expect(res.json().predictions[0]).toEqual(predict(MODEL_V1, [1, 1, 1]));
      expect((await h.http(PORT, '/invocations', { body: { instances: [[1, 2]] } })).status).toBe(400);

      // published on the namespace's loopback only: not from the root namespace, not on the host's address
      expect(await canConnect(h.address, PORT, 1000)).toBe(false);
      expect((await h.http(PORT, '/ping', { address: h.address, timeoutMs: 1000 })).status).toBe(0);
      expect(await h.containers()).toEqual([CONTAINER]);
    }),
  );
}, 120_000);

test('a wrong host key makes ssh fail', async () => {
  const [a, b] = hosts;
  const wrongKnownHosts = path.join(a.rootDir, 'data', 'wrong_known_hosts');
  fs.writeFileSync(wrongKnownHosts, `${a.address} ${b.hostPublicKey}\n`);
  const opts = a.sshOptions().map((o) => (o.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${wrongKnownHosts}` : o));
  const r = await run('ssh', [...opts, `root@${a.address}`, 'true'], { timeoutMs: 20_000 });
  expect(r.code).toBe(255);
  expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  expect((await a.ssh('true')).code).toBe(0);
});

test('killSessions drops open SSH connections; setLinkDown cuts the host off and back on', async () => {
  const h = hosts[0];
  const started = Date.now();
  const long = h.ssh('sleep 60', { timeoutMs: 30_000 });
  await sleep(800);
  expect(h.killSessions()).toBeGreaterThan(0);
  const r = await long;
  expect(r.code).toBe(255);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect((await h.ssh('echo still-listening')).stdout.trim()).toBe('still-listening');

  await h.setLinkDown(true);
  expect(await canConnect(h.address, h.sshPort, 1000)).toBe(false);
  await h.setLinkDown(false);
  expect((await h.ssh('echo back')).stdout.trim()).toBe('back');
}, 60_000);

test('unreachableHost: an address with nothing behind it', async () => {
  const u = await unreachableHost();
  try {
    expect(u.address).toMatch(/^169\.254\./);
    expect(await canConnect(u.address, u.sshPort, 2000)).toBe(false);
  } finally {
    await u.stop();
  }
});

describe('terraform over SSH', () => {
  function writeStack(h: TestHost, hostKey: string): string {
    const dir = fs.mkdtempSync(path.join(h.rootDir, 'data', 'stack-'));
    const config = {
      resource: {
        terraform_data: {
          smoke: {
            input: h.name,
            // Terraform retries a failed handshake (even a host key mismatch) until this timeout
            connection: terraformConnection(h, { hostKey, timeout: '3s' }),
            provisioner: [
              { 'remote-exec': { inline: ['echo ok > "$MDTEST_HOST_ROOT/data/tf-smoke"', 'echo ok'] } },
              { 'remote-exec': { when: 'destroy', inline: ['rm -f "$MDTEST_HOST_ROOT/data/tf-smoke"'] } },
            ],
          },
        },
      },
    };
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    return dir;
  }

  test('remote-exec with a pinned host key: apply, plan (no changes), destroy', async () => {
    const h = hosts[1];
    const tf = new TerraformRunner(writeStack(h, h.hostPublicKey), { timeoutMs: 60_000 });
    try {
      expect((await tf.init()).code).toBe(0);
      const apply = await tf.apply();
      expect(apply.stderr).toBe('');
      expect(apply.code).toBe(0);
      expect(apply.stdout).toContain('(remote-exec): ok');
      expect(fs.readFileSync(path.join(h.rootDir, 'data', 'tf-smoke'), 'utf8')).toBe('ok\n');
      expect(tf.resourcesInState()).toEqual(['terraform_data.smoke']);
      expect((await tf.plan()).changes).toBe(false);
      const destroy = await tf.destroy();
      expect(destroy.code).toBe(0);
      expect(fs.existsSync(path.join(h.rootDir, 'data', 'tf-smoke'))).toBe(false);
      expect(tf.resourcesInState()).toEqual([]);
    } finally {
      tf.dispose();
    }
  }, 120_000);

  test('a wrong host key fails the apply with a message naming the host', async () => {
    const [a, b] = hosts;
    const tf = new TerraformRunner(writeStack(a, b.hostPublicKey), { timeoutMs: 60_000 });
    try {
      expect((await tf.init()).code).toBe(0);
      const apply = await tf.apply();
      expect(apply.code).toBe(1);
      expect(apply.stderr).toContain(`${a.address}:${a.sshPort}`);
      expect(apply.stderr).toMatch(/knownhosts: key mismatch/);
      expect(fs.existsSync(path.join(a.rootDir, 'data', 'tf-smoke'))).toBe(false);
    } finally {
      tf.dispose();
    }
  }, 120_000);
});

test('stopping the hosts leaves nothing behind', async () => {
  const conmons = (await Promise.all(hosts.map((h) => h.podman(['ps', '--format', '{{.Names}}'])))).map((r) => r.stdout.trim());
  expect(conmons).toEqual([CONTAINER, CONTAINER]);
  await stopTestHosts(hosts);
  expect(leftovers(hosts)).toEqual([]);
  const netns = await run('ip', ['netns', 'list']);
  for (const h of hosts) expect(netns.stdout).not.toMatch(new RegExp(`^${h.netns}\\b`, 'm'));
  // and no container process of theirs survives (conmon names the storage path, which leftovers() checks)
  const ps = await run('ps', ['-eo', 'pid,args']);
  for (const h of hosts) expect(ps.stdout).not.toContain(h.rootDir);
}, 60_000);
