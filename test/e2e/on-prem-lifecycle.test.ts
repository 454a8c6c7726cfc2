/**
 * The on-prem target's lifecycle end to end (real SSH hosts, podman, nginx, terraform): a deployRoot
 * other users could change is refused; replica counts change in both colour halves without a failed
 * request; Terraform's scripts live in a private directory and never pile up; and destroy removes
 * everything the deployment put on a host after a failed update, after an unreachable host, and
 * when a destroy is retried after failing half-way. The scenarios run in order and share the hosts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { remoteScriptDir } from '../../lib/targets/on-prem/host-config';
import { TestHost, canConnect, unreachableHost } from './support/hosts';
import { MODEL_V1, MODEL_V2 } from './support/models';
import { Deploy, OnPremE2e, PROXY_PORT, expectOk, outputOf } from './support/on-prem-app';

jest.setTimeout(600_000);

let e: OnPremE2e;
const REPLICAS_PER_HOST = 2;

beforeAll(async () => {
  e = await OnPremE2e.start({ model: MODEL_V1, replicas: 2 * REPLICAS_PER_HOST }, { images: ['never-ready'], stack: 'onprem-lifecycle' });
});

afterAll(async () => {
  await e?.dispose();
});

const dirOf = (host: TestHost) => `${e.deployRoot(host)}/linear`;
/** Terraform's script directory, as the host's anchor has it: in root's home (the test hosts share this machine's filesystem). */
function scriptDirOf(host: TestHost): string {
  const resources = JSON.parse(fs.readFileSync(path.join(e.tf.stackDir, 'cdk.tf.json'), 'utf8')).resource.terraform_data;
  const anchor = Object.entries(resources).find(([k]) => k.includes(`_${host.name}-host_`))![1] as { input: { scriptDir: string; owner: string } };
  expect(anchor.input.scriptDir).toBe(remoteScriptDir('linear', dirOf(host), anchor.input.owner));
  return path.join(os.homedir(), anchor.input.scriptDir);
}
const scriptsOn = (host: TestHost) => fs.existsSync(scriptDirOf(host)) ? fs.readdirSync(scriptDirOf(host)).filter(f => /^terraform_.*\.sh$/.test(f)) : [];
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** Polls until CHECK returns true (the script watchers finish a moment after Terraform ends). */
async function eventually(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(250);
  }
  return check();
}

function activeColour(host: TestHost): string {
  const version = fs.readFileSync(`${dirOf(host)}/active`, 'utf8').trim();
  return fs.readFileSync(`${dirOf(host)}/versions/${version}/color`, 'utf8').trim();
}

async function imagesOn(host: TestHost): Promise<string[]> {
  const r = await host.podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  return r.stdout.split('\n').filter(l => l.includes('mdtest-model-server'));
}

/** Nothing of the deployment is left on any host, nor in the state. */
async function expectNothingLeft(hosts: TestHost[] = e.hosts): Promise<void> {
  for (const host of hosts) {
    expect(await e.containersOn(host)).toEqual([]);
    expect(fs.existsSync(dirOf(host))).toBe(false);
    expect(await canConnect(host.address, PROXY_PORT, 1500)).toBe(false);
    expect(await imagesOn(host)).toEqual([]);
    expect(fs.readdirSync(e.cronDir).filter(f => f.endsWith(host.name))).toEqual([]);
    expect(await eventually(() => !fs.existsSync(scriptDirOf(host)))).toBe(true);
  }
}

const deploy = (d: Partial<Deploy> = {}): Deploy => ({ model: MODEL_V1, replicas: 2 * REPLICAS_PER_HOST, ...d });

describe('on-prem lifecycle over real SSH, podman, nginx and terraform', () => {
  test('a deployRoot other users can write is refused on the host, naming deployRoot; nothing is put in it', async () => {
    const open = path.join(e.hosts[0].rootDir, 'data', 'open');
    fs.mkdirSync(open, { recursive: true });
    fs.chmodSync(open, 0o777);
    e.synthesize(deploy({ hostOverride: { index: 0, with: { deployRoot: open } } }));
    const apply = await e.tf.apply();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(new RegExp(`ERROR host=${e.hosts[0].name} deployment=linear: deployRoot ${open} is not safe: ${open} is writable by group or others \\(mode 777\\)`));
    expect(fs.readdirSync(open)).toEqual([]);
  });

  test('deploy: Terraform\'s scripts go to a private directory in the SSH user\'s home, and none is left afterwards', async () => {
    e.synthesize(deploy());
    expectOk(await e.tf.apply());
    await e.expectServing(MODEL_V1);
    for (const host of e.hosts) {
      expect(await e.containersOn(host)).toHaveLength(REPLICAS_PER_HOST);
      expect(fs.statSync(scriptDirOf(host)).mode & 0o777).toBe(0o700);
      // Private: nobody else may list or write it (nginx's workers may only pass through to their temp directory).
      expect(fs.statSync(dirOf(host)).mode & 0o066).toBe(0);
      expect(await eventually(() => scriptsOn(host).length === 0)).toBe(true);
    }
    const config = fs.readFileSync(path.join(e.tf.stackDir, 'cdk.tf.json'), 'utf8');
    expect(config).not.toContain('/tmp/terraform_');
  });

  test('a request body bigger than nginx\'s memory buffer is streamed to the model: its workers need no path into the private directories', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => [i % 7, 1, 0.5]);
    expect(JSON.stringify({ instances: rows }).length).toBeGreaterThan(16 * 1024);
    for (const host of e.hosts) {
      const reply = await e.post(host, { instances: rows });
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body).predictions).toHaveLength(rows.length);
    }
  });

  // Ports are slotPortBase + 64 * colour + replica: the new version never collides with the running one.
  const steps: Array<[string, number, string]> = [
    ['scale-down from colour 0 (2 -> 1 replicas per host)', 1, '0'],
    ['scale-up from colour 1 (1 -> 2 replicas per host)', 2, '1'],
    ['scale-up from colour 0 (2 -> 3 replicas per host)', 3, '0'],
    ['scale-down from colour 1 (3 -> 1 replicas per host)', 1, '1'],
  ];
  test.each(steps)('%s: serves correctly afterwards with zero failed requests', async (_name, perHost, fromColour) => {
    for (const host of e.hosts) expect(activeColour(host)).toBe(fromColour);
    e.synthesize(deploy({ replicas: perHost * e.hosts.length }));
    const { result: apply, sent, failures } = await e.underLoad(() => e.tf.apply());
    expectOk(apply);
    expect(sent).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    await e.expectServing(MODEL_V1);
    for (const host of e.hosts) {
      expect(await e.containersOn(host)).toHaveLength(perHost);
      expect(activeColour(host)).toBe(fromColour === '0' ? '1' : '0');
    }
  });

  test('Terraform\'s scripts do not pile up after several applies', async () => {
    for (const host of e.hosts) expect(await eventually(() => scriptsOn(host).length === 0)).toBe(true);
  });

  test('destroy after a failed update (the version still serving is only a deposed object) removes everything', async () => {
    e.synthesize(deploy({ image: e.images['never-ready'], startupTimeoutSeconds: 30 }));
    const failed = await e.tf.apply();
    expect(failed.code).not.toBe(0);
    expect(outputOf(failed)).toMatch(new RegExp(`ERROR host=${e.hosts[0].name}[^\\n]*health`));
    await e.expectServing(MODEL_V1);
    e.synthesize(deploy());
    expectOk(await e.tf.destroy());
    expect(e.tf.resourcesInState()).toEqual([]);
    await expectNothingLeft();
  });

  test('destroy after a host was unreachable during an update removes everything', async () => {
    e.synthesize(deploy());
    expectOk(await e.tf.apply());
    await e.expectServing(MODEL_V1);
    const gone = await unreachableHost({ mode: 'refused' });
    try {
      e.synthesize(deploy({ model: MODEL_V2, hostOverride: { index: 1, with: { address: gone.address, hostKey: gone.hostPublicKey } } }));
      const apply = await e.tf.apply();
      expect(apply.code).not.toBe(0);
      expect(outputOf(apply)).toContain(gone.address);
    } finally {
      await gone.stop();
    }
    e.synthesize(deploy({ model: MODEL_V2 }));
    expectOk(await e.tf.destroy());
    expect(e.tf.resourcesInState()).toEqual([]);
    await expectNothingLeft();
  });

  test('a destroy that fails half-way (a host unreachable) converges when retried', async () => {
    e.synthesize(deploy());
    expectOk(await e.tf.apply());
    await e.expectServing(MODEL_V1);
    const gone = await unreachableHost({ mode: 'refused' });
    try {
      e.synthesize(deploy({ hostOverride: { index: 1, with: { address: gone.address, hostKey: gone.hostPublicKey } } }));
      const destroy = await e.tf.destroy();
      expect(destroy.code).not.toBe(0);
      expect(outputOf(destroy)).toContain(gone.address);
    } finally {
      await gone.stop();
    }
    await expectNothingLeft([e.hosts[0]]);
    expect(await e.containersOn(e.hosts[1])).toHaveLength(REPLICAS_PER_HOST);
    e.synthesize(deploy());
    expectOk(await e.tf.destroy());
    expect(e.tf.resourcesInState()).toEqual([]);
    await expectNothingLeft();
  });
});
