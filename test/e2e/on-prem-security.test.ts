/**
 * The on-prem target's security findings, end to end (issue 6, items 3, 4, 5, 7, 11, 12; issue 7,
 * item 7): API keys of every accepted length matched exactly, key rotation by replacing the key
 * file (a proxy reload, no container restart), files private on the hosts from their first byte,
 * hardened containers, a missing key file named in the library's words, and access.network: the
 * client networks a proxy answers, and PUBLIC over TLS. Two SSH test hosts, rootful podman, nginx,
 * the real terraform. The scenarios run in order and share the hosts and the state.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { NetworkAccess } from '../../lib';
import { leftovers, stopTestHosts, TestHost } from './support/hosts';
import { OnPremE2e, PROXY_PORT, Reply, X, expectOk, outputOf, post } from './support/on-prem-app';
import { MODEL_V1, MODEL_V2, predict } from './support/models';

jest.setTimeout(600_000);

const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=';
function randomKey(length: number): string {
  return Array.from({ length }, () => CHARS[Math.floor(Math.random() * CHARS.length)]).join('').replace(/^~/, 'k');
}
const swapCase = (s: string) => [...s].map(c => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
/** The same key with its last character changed. */
const wrong = (key: string) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');

// Every accepted length; nginx failed from 40 characters on (map_hash_bucket_size 64).
const BY_LENGTH = [16, 64, 256, 1024].map(randomKey);
// Two keys that differ only in case (nginx string maps are case-insensitive: `nginx -t` refused them).
const CASED = 'MixedCase-Key-0123456789abcdef';
const CASED_TWIN = swapCase(CASED);
// Regular expression metacharacters must match literally.
const META = 'x.y+z*(a|b)[c]?^0123456789';
const FIRST_KEYS = [...BY_LENGTH, CASED, CASED_TWIN, META];
const NEW_KEY = randomKey(64);

let e: OnPremE2e;
const deploymentDir = (host: TestHost) => `${e.deployRoot(host)}/linear`;

beforeAll(async () => {
  e = await OnPremE2e.start({ model: MODEL_V1 }, { images: ['never-ready'], apiKeys: FIRST_KEYS.join('\n') + '\n', stack: 'onprem-security' });
});

afterAll(async () => {
  await e?.dispose();
});

/** Everything under the host's deployment root with a group or other permission bit, as "mode path". */
function readableByOthers(host: TestHost): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    let st: fs.Stats;
    try { st = fs.lstatSync(p); } catch { return; } // removed while we looked
    if ((st.mode & 0o077) !== 0 && !isArtifactException(host, p, st) && !isProbeSocket(host, p, st)) out.push(`${(st.mode & 0o7777).toString(8)} ${p}`);
    if (st.isDirectory()) {
      let entries: string[];
      try { entries = fs.readdirSync(p); } catch { return; }
      for (const name of entries) walk(path.join(p, name));
    }
  };
  walk(e.deployRoot(host));
  return out;
}

/**
 * The one justified exception: an installed model artifact (artifacts/<sha256>/..., and while it is
 * installed its staging directory artifacts/.<sha256>.tmp.XXXXXX/...) is a=rX, so that a server
 * running as any user inside its container can read its bind mount. Host users cannot reach it:
 * artifacts/ is 0700. Never writable by group or others.
 */
function isArtifactException(host: TestHost, p: string, st: fs.Stats): boolean {
  const artifacts = `${deploymentDir(host)}/artifacts/`;
  return p.startsWith(artifacts) && /^\.?[0-9a-f]{64}(\.tmp\.[A-Za-z0-9]+)?(\/|$)/.test(p.slice(artifacts.length)) && (st.mode & 0o022) === 0;
}

/**
 * nginx makes the proxy's probe socket 0666 itself when it binds it (it has no option for the mode);
 * the host script makes it 0600 right after, and until then the 0700 proxy directory keeps other
 * users out (a socket holds no data). The tests below check that it ends up 0600.
 */
function isProbeSocket(host: TestHost, p: string, st: fs.Stats): boolean {
  return p === probeSocket(host) && st.isSocket();
}
const probeSocket = (host: TestHost) => `${deploymentDir(host)}/proxy/probe.sock`;

/** Samples readableByOthers on every host until stopped; returns every path seen readable. */
function sampleWhileRunning(): { stop: () => Promise<string[]> } {
  const seen = new Set<string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const host of e.hosts) for (const p of readableByOthers(host)) seen.add(p);
      await new Promise(r => setTimeout(r, 5));
    }
  })();
  return { stop: async () => { running = false; await loop; return [...seen].sort(); } };
}

async function statusWith(host: TestHost, headers: Record<string, string>): Promise<number> {
  return (await e.post(host, { instances: X }, headers)).status;
}

/** Container id -> start time on every host: a restarted or replaced container changes it. */
async function containerStarts(): Promise<string[]> {
  const out: string[] = [];
  for (const host of e.hosts) {
    const ids = (await host.podman(['ps', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean);
    for (const id of ids) {
      const r = await host.podman(['inspect', '--format', '{{.Id}} {{.State.StartedAt}}', id]);
      out.push(`${host.name} ${r.stdout.trim()}`);
    }
  }
  return out.sort();
}

/** Requests with KEY on every host until stopped; returns the failures. */
function requestLoop(key: string): { stop: () => Promise<{ sent: number; failures: string[] }> } {
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      for (const host of e.hosts) {
        const reply: Reply = await e.post(host, { instances: [[1, 1, 1]] }, { 'x-api-key': key });
        sent++;
        if (reply.status !== 200) failures.push(`${host.name}: ${reply.status} ${reply.error ?? reply.body.slice(0, 100)}`);
      }
      await new Promise(r => setTimeout(r, 10));
    }
  })();
  return { stop: async () => { running = false; await loop; return { sent, failures }; } };
}

/** The running containers of a host, with their PID on this machine (the hosts share its kernel). */
async function containerPids(host: TestHost): Promise<number[]> {
  const ids = (await host.podman(['ps', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  expect(ids.length).toBeGreaterThan(0);
  return Promise.all(ids.map(async id => Number((await host.podman(['inspect', '--format', '{{.State.Pid}}', id])).stdout.trim())));
}

function procStatus(pid: number, field: string): string {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find(l => l.startsWith(`${field}:`));
  return line!.split(/\s+/)[1];
}

/** Mount options of the mount at TARGET inside the process's mount namespace, and its fs type. */
function mountOf(pid: number, target: string): { options: string[]; fsType: string } | undefined {
  const line = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(l => l.split(' ')[4] === target).pop();
  if (!line) return undefined;
  const [before, after] = line.split(' - ');
  return { options: before.split(' ')[5].split(','), fsType: after.split(' ')[0] };
}

describe('on-prem security: API keys, key rotation, private files, hardened containers', () => {
  test('files on the hosts are private from their first byte: a first deploy that fails in its health wait leaves nothing readable by other users', async () => {
    e.synthesize({ model: MODEL_V1, image: e.images['never-ready'], startupTimeoutSeconds: 30 });
    const sampler = sampleWhileRunning();
    const apply = await e.tf.apply();
    const seenDuringApply = await sampler.stop();
    expect(apply.code).not.toBe(0);
    expect(outputOf(apply)).toMatch(new RegExp(`ERROR host=${e.hosts[0].name}[^\\n]*did not answer`));
    // The keys were uploaded before the deploy waited: the failure left them on the host, private.
    expect(fs.statSync(`${deploymentDir(e.hosts[0])}/proxy/api-keys`).mode & 0o777).toBe(0o600);
    expect(seenDuringApply).toEqual([]);
    for (const host of e.hosts) expect(readableByOthers(host)).toEqual([]);
  });

  test('the deploy succeeds with hardened containers: every request needs a key; nothing of the deployment is readable by other users', async () => {
    e.synthesize({ model: MODEL_V1 });
    const sampler = sampleWhileRunning();
    expectOk(await e.tf.apply());
    expect(await sampler.stop()).toEqual([]);
    await e.expectServing(MODEL_V1, BY_LENGTH[0]);
    for (const host of e.hosts) {
      expect(await statusWith(host, {})).toBe(401);
      expect(readableByOthers(host)).toEqual([]);
      // Only the model artifact is readable inside its 0700 directory (the container mounts it).
      expect(fs.statSync(`${deploymentDir(host)}/artifacts`).mode & 0o777).toBe(0o700);
      expect(fs.statSync(probeSocket(host)).mode & 0o777).toBe(0o600);
    }
  });

  test('API keys of 16, 64, 256 and 1024 characters each work, in both header forms; a wrong one is refused', async () => {
    for (const host of e.hosts) {
      for (const key of BY_LENGTH) {
        expect([key.length, await statusWith(host, { 'x-api-key': key })]).toEqual([key.length, 200]);
        expect([key.length, await statusWith(host, { authorization: `Bearer ${key}` })]).toEqual([key.length, 200]);
        expect([key.length, await statusWith(host, { 'x-api-key': wrong(key) })]).toEqual([key.length, 401]);
        expect([key.length, await statusWith(host, { authorization: `Bearer ${wrong(key)}` })]).toEqual([key.length, 401]);
      }
    }
  });

  test('API keys match exactly: a case-changed key gets 401, two keys differing only in case both work; the Bearer scheme is case-insensitive', async () => {
    for (const host of e.hosts) {
      expect(await statusWith(host, { 'x-api-key': CASED })).toBe(200);
      expect(await statusWith(host, { 'x-api-key': CASED_TWIN })).toBe(200);
      expect(await statusWith(host, { 'x-api-key': CASED.toUpperCase() })).toBe(401);
      expect(await statusWith(host, { 'x-api-key': BY_LENGTH[1].toUpperCase() })).toBe(401);
      expect(await statusWith(host, { authorization: `Bearer ${CASED.toLowerCase()}` })).toBe(401);
      for (const scheme of ['bearer', 'BEARER', 'Bearer  ']) {
        expect([scheme, await statusWith(host, { authorization: `${scheme} ${CASED_TWIN}` })]).toEqual([scheme, 200]);
      }
      expect(await statusWith(host, { authorization: `Basic ${CASED}` })).toBe(401);
      expect(await statusWith(host, { authorization: CASED })).toBe(401);
    }
  });

  test('regular expression characters in a key match literally', async () => {
    for (const host of e.hosts) {
      expect(await statusWith(host, { 'x-api-key': META })).toBe(200);
      for (const near of ['xAy+z*(a|b)[c]?^0123456789', 'x.yyz*(a|b)[c]?^0123456789', 'x.y+z*a[c]?^0123456789', `${META}0`, `0${META}`]) {
        expect([near, await statusWith(host, { 'x-api-key': near })]).toEqual([near, 401]);
      }
    }
  });

  test('large requests and responses pass through the proxy although its workers can reach no temp directory', async () => {
    const rows = Array.from({ length: 30_000 }, (_, i) => [i % 7, 1.5, -2.25]);
    for (const host of e.hosts) {
      const reply = await e.post(host, { instances: rows }, { 'x-api-key': BY_LENGTH[0] });
      expect(reply.status).toBe(200);
      expect(reply.body.length).toBeGreaterThan(256 * 1024);
      expect(JSON.parse(reply.body).predictions).toHaveLength(rows.length);
    }
  });

  test('containers run with no capabilities and no_new_privs by default, and still serve', async () => {
    for (const host of e.hosts) {
      for (const pid of await containerPids(host)) {
        expect(procStatus(pid, 'CapEff')).toBe('0000000000000000');
        expect(procStatus(pid, 'CapPrm')).toBe('0000000000000000');
        expect(procStatus(pid, 'CapBnd')).toBe('0000000000000000');
        expect(procStatus(pid, 'NoNewPrivs')).toBe('1');
        // Writable root file system unless asked otherwise.
        expect(mountOf(pid, '/')!.options).toContain('rw');
      }
    }
  });

  test('key rotation, step 1: adding a key is a proxy reload on every host; no container restarts, callers with the old key see no failure', async () => {
    const before = await containerStarts();
    fs.writeFileSync(e.apiKeyFile, [...FIRST_KEYS, NEW_KEY].join('\n') + '\n');
    e.synthesize({ model: MODEL_V1 });
    const plan = await e.tf.plan();
    expect(plan.changes).toBe(true);
    const planned = outputOf(plan).split('\n').filter(l => /# terraform_data\.\S+ must be replaced/.test(l));
    expect(planned).toHaveLength(e.hosts.length);
    for (const l of planned) expect(l).toMatch(/-keys_/);
    const loop = requestLoop(BY_LENGTH[1]);
    const apply = await e.tf.apply();
    const { sent, failures } = await loop.stop();
    expectOk(apply);
    expect(outputOf(apply)).toContain('reloaded with the new keys');
    expect(sent).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    for (const host of e.hosts) {
      expect(await statusWith(host, { 'x-api-key': NEW_KEY })).toBe(200);
      expect(await statusWith(host, { 'x-api-key': BY_LENGTH[1] })).toBe(200);
    }
    expect(await containerStarts()).toEqual(before);
  });

  test('key rotation, step 2: removing the old keys refuses them on every host at once; callers with the new key see no failure; no container restarts', async () => {
    const before = await containerStarts();
    fs.writeFileSync(e.apiKeyFile, `${NEW_KEY}\n`);
    e.synthesize({ model: MODEL_V1 });
    const loop = requestLoop(NEW_KEY);
    const apply = await e.tf.apply();
    const { sent, failures } = await loop.stop();
    expectOk(apply);
    expect(sent).toBeGreaterThan(10);
    expect(failures).toEqual([]);
    for (const host of e.hosts) {
      for (const old of FIRST_KEYS) expect(await statusWith(host, { 'x-api-key': old })).toBe(401);
      expect(await statusWith(host, { authorization: `Bearer ${BY_LENGTH[2]}` })).toBe(401);
      expect(await statusWith(host, { 'x-api-key': NEW_KEY })).toBe(200);
      expect(readableByOthers(host)).toEqual([]);
    }
    await e.expectServing(MODEL_V1, NEW_KEY);
    expect(await containerStarts()).toEqual(before);
    // Neither the keys nor anything that holds them is in cdktf.out or the state.
    const synthesized = fs.readFileSync(path.join(e.outDir, 'stacks', e.stack, 'cdk.tf.json'), 'utf8');
    for (const key of [NEW_KEY, ...FIRST_KEYS]) {
      expect(synthesized).not.toContain(key);
      expect(e.tf.stateText()).not.toContain(key);
    }
    expect((await e.tf.plan()).changes).toBe(false);
  });

  test('allowedClientCidrs [10.0.0.0/8]: every other source gets 403 with a valid key, on every path, from the test machine and from the host\'s own loopback; the deploy checks itself through the probe socket', async () => {
    e.synthesize({ model: MODEL_V1, targetOverride: { allowedClientCidrs: ['10.0.0.0/8'] } });
    const apply = await e.tf.apply();
    expectOk(apply);
    expect(outputOf(apply)).toContain("refuses this host's own address, which allowedClientCidrs leaves out (HTTP 403)");
    for (const host of e.hosts) {
      // The test machine reaches a host from its veth peer, a link-local address (private, not in 10.0.0.0/8).
      expect(await statusWith(host, { 'x-api-key': NEW_KEY })).toBe(403);
      expect(await statusWith(host, {})).toBe(403);
      expect(await statusWith(host, { authorization: `Bearer ${NEW_KEY}` })).toBe(403);
      for (const urlPath of ['/ping', '/invocations', '/']) {
        const reply = await host.http(PROXY_PORT, urlPath, { headers: { 'x-api-key': NEW_KEY } });
        expect([urlPath, reply.status]).toEqual([urlPath, 403]);
      }
      expect(fs.statSync(probeSocket(host)).mode & 0o777).toBe(0o600);
    }
  });

  test('back to the default (the private ranges): 200 with the key and 401 without, from both places; like every proxy setting, a new version', async () => {
    const before = (await e.post(e.hosts[0], { instances: X }, { 'x-api-key': NEW_KEY })).headers?.['x-model-deploy-version'];
    e.synthesize({ model: MODEL_V1 });
    expectOk(await e.tf.apply());
    await e.expectServing(MODEL_V1, NEW_KEY);
    for (const host of e.hosts) {
      expect(await statusWith(host, {})).toBe(401);
      const loopback = await host.http(PROXY_PORT, '/invocations', { body: { instances: X }, headers: { 'x-api-key': NEW_KEY } });
      expect(loopback.status).toBe(200);
      expect((await host.http(PROXY_PORT, '/ping')).status).toBe(401);
    }
    const after = (await e.post(e.hosts[0], { instances: X }, { 'x-api-key': NEW_KEY })).headers?.['x-model-deploy-version'];
    expect(after).toMatch(/^v[0-9a-f]{12}$/);
    expect(after).not.toBe(before);
  });

  test('readOnlyRootFilesystem and containerCapabilities: a read-only root with a writable /tmp, only the capability added back', async () => {
    e.synthesize({ model: MODEL_V2, targetOverride: { readOnlyRootFilesystem: true, containerCapabilities: ['NET_BIND_SERVICE'] } });
    expectOk(await e.tf.apply());
    await e.expectServing(MODEL_V2, NEW_KEY);
    for (const host of e.hosts) {
      for (const pid of await containerPids(host)) {
        expect(mountOf(pid, '/')!.options).toContain('ro');
        expect(mountOf(pid, '/tmp')).toMatchObject({ fsType: 'tmpfs' });
        expect(mountOf(pid, '/tmp')!.options).toContain('rw');
        expect(procStatus(pid, 'CapEff')).toBe((1n << 10n).toString(16).padStart(16, '0')); // CAP_NET_BIND_SERVICE
        expect(procStatus(pid, 'NoNewPrivs')).toBe('1');
      }
      expect(readableByOthers(host)).toEqual([]);
    }
  });

  test('a missing apiKeyFile: terraform plan names the option and the path, not a line of cdk.tf.json', async () => {
    e.synthesize({ model: MODEL_V2, targetOverride: { readOnlyRootFilesystem: true, containerCapabilities: ['NET_BIND_SERVICE'] } });
    const moved = `${e.apiKeyFile}.moved`;
    fs.renameSync(e.apiKeyFile, moved);
    try {
      const plan = await e.tf.plan();
      const out = outputOf(plan);
      expect(plan.code).not.toBe(0);
      expect(out).toContain('apiKeyFile');
      expect(out).toContain(e.apiKeyFile);
      expect(out).not.toContain('Invalid value for "path" parameter');
      const apply = await e.tf.apply();
      expect(apply.code).not.toBe(0);
      expect(outputOf(apply)).toContain('apiKeyFile');
      expect(outputOf(apply)).not.toContain('Invalid value for "path" parameter');
    } finally {
      fs.renameSync(moved, e.apiKeyFile);
    }
    await e.expectServing(MODEL_V2, NEW_KEY);
  });

  test('access.network PUBLIC with tls: predictions over HTTPS with the certificate pinned; plain HTTP to the port is refused', async () => {
    // A self-signed certificate for both hosts' addresses, in a private directory on the "hosts" (this machine).
    const tls = path.join(e.work, 'tls');
    fs.mkdirSync(tls, { mode: 0o700 });
    const [certificatePath, keyPath] = [path.join(tls, 'cert.pem'), path.join(tls, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=model-deploy-e2e', '-addext', `subjectAltName=${e.hosts.map(h => `IP:${h.address}`).join(',')}`,
      '-keyout', keyPath, '-out', certificatePath], { stdio: 'pipe' });
    expect(fs.statSync(keyPath).mode & 0o077).toBe(0);
    const ca = fs.readFileSync(certificatePath);
    e.synthesize({
      model: MODEL_V2, access: { network: NetworkAccess.PUBLIC },
      targetOverride: { readOnlyRootFilesystem: true, containerCapabilities: ['NET_BIND_SERVICE'], tls: { certificatePath, keyPath } },
    });
    expectOk(await e.tf.apply());
    for (const host of e.hosts) {
      const https = { ca };
      const reply = await post(host, { instances: X }, { 'x-api-key': NEW_KEY }, { agent: false, https });
      expect(reply).toMatchObject({ status: 200 });
      const json = JSON.parse(reply.body);
      expect(json.modelVersion).toBe(MODEL_V2.name);
      json.predictions.forEach((row: number[], i: number) => predict(MODEL_V2, X[i]).forEach((y, j) => expect(row[j]).toBeCloseTo(y, 5)));
      expect((await post(host, { instances: X }, {}, { agent: false, https })).status).toBe(401);
      // Not trusted without the pinned certificate.
      expect((await post(host, { instances: X }, { 'x-api-key': NEW_KEY }, { agent: false, https: {} })).error).toMatch(/self[- ]signed/i);
      const plain = await post(host, { instances: X }, { 'x-api-key': NEW_KEY }, { agent: false });
      expect(plain.status).toBe(400);
      expect(plain.body).toContain('plain HTTP request was sent to HTTPS port');
    }
  });

  test('destroy leaves nothing behind', async () => {
    expectOk(await e.tf.destroy());
    for (const host of e.hosts) {
      expect(await e.containersOn(host)).toEqual([]);
      expect(fs.existsSync(deploymentDir(host))).toBe(false);
    }
    await stopTestHosts(e.hosts);
    expect(leftovers(e.hosts)).toEqual([]);
  });
});
