/**
 * Test hosts for the on-prem e2e tests: each host is a network namespace with its own 169.254.x.y address,
 * its own OpenSSH sshd (root login with a generated key, a generated ed25519 host key to pin), and its own
 * podman configuration and storage, so hosts share no containers or images.
 *
 * Everything a host starts is cleaned up by PID / by its own paths: `host.stop()`, `stopTestHosts()`, a
 * process 'exit'/signal handler for an aborted test run, and a reaper that cleans what a killed run left
 * (records under /run/mdtest-e2e/, checked at the next start).
 *
 * Addresses: host slot s (0..3199) owns 169.254.(100 + s/64).(4*(s%64))/30; the root-namespace end of the
 * veth pair is .1 of that /30 and the host's end is .2. Slots are claimed atomically with `ip netns add mdt<s>`
 * (fails if another test file or run owns it) and an address check, so parallel jest workers never collide.
 * Inside each namespace podman's bridge uses 169.254.250.0/24 (pool 169.254.224.0/20), so no 10.x address
 * is ever configured.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';
import { spawn } from 'child_process';
import {
  CommandResult,
  describeFailure,
  descendants,
  isAlive,
  killPidsSync,
  listProcesses,
  processStartTime,
  requireE2eTools,
  run,
  runOk,
  RunOptions,
  runSync,
  safeKill,
  sleep,
  sleepSync,
} from './exec';

/** tools the host harness itself needs */
export const HOST_TOOLS = ['ip', 'nsenter', 'sshd', 'ssh', 'scp', 'ssh-keygen', 'podman', 'runc', 'conmon', 'iptables', 'curl'] as const;

const REGISTRY_DIR = '/run/mdtest-e2e';
const SLOT_COUNT = 3200;
/** podman's bridge network inside every test host namespace (never 10.x) */
export const CONTAINER_SUBNET = '169.254.250.0/24';
const CONTAINER_SUBNET_POOL = '169.254.224.0/20';

export interface HttpResult {
  /** HTTP status; 0 when no response came (the error is in `error`) */
  readonly status: number;
  readonly body: string;
  readonly error?: string;
  json<T = any>(): T;
}

export interface HttpRequestOptions {
  readonly method?: string;
  /** a string is sent as is; anything else as JSON */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** default 5000 */
  readonly timeoutMs?: number;
  /** default 127.0.0.1 (the host's own loopback, inside its namespace) */
  readonly address?: string;
}

export interface TestHost {
  readonly name: string;
  /** the host's address (inside its own network namespace), e.g. 169.254.100.2 */
  readonly address: string;
  /** the root-namespace end of the host's veth pair (where the test's connections come from) */
  readonly peerAddress: string;
  /** the /30 the host owns, e.g. 169.254.100.0/30 */
  readonly cidr: string;
  readonly sshPort: number;
  readonly user: 'root';
  /** the client private key (ed25519, no passphrase) authorized for root on this host */
  readonly privateKeyPath: string;
  /** its public key line */
  readonly publicKey: string;
  /** the host's ed25519 host key, 'ssh-ed25519 AAAA...' (no comment): what Terraform's `connection.host_key` pins */
  readonly hostPublicKey: string;
  /** a known_hosts file holding exactly this host's key for `address` */
  readonly knownHostsPath: string;
  /** network namespace name (`ip netns`), and its path for `nsenter --net=` */
  readonly netns: string;
  readonly netnsPath: string;
  /** veth ends: in the root namespace, and inside the host's namespace */
  readonly vethRoot: string;
  readonly vethHost: string;
  /** per-host directory (under a temp base); free space for the test under `rootDir/data` */
  readonly rootDir: string;
  /** per-host podman flags: '--root <rootDir>/storage --runroot <rootDir>/run --tmpdir <rootDir>/tmp' */
  readonly runtimeArgs: string;
  readonly runtimeArgv: readonly string[];
  /**
   * the environment that selects this host's podman configuration; sshd sets it for every SSH session
   * (`SetEnv`), so a plain `podman` run over SSH already uses this host's own storage and settings.
   */
  readonly podmanEnv: Readonly<{ CONTAINERS_CONF: string; CONTAINERS_STORAGE_CONF: string }>;
  readonly sshdPid: number;
  readonly sshdConfigPath: string;
  readonly sshdLogPath: string;

  /** ssh options (before the destination) that authenticate with the client key and pin this host's key */
  sshOptions(): string[];
  /** `ssh root@address -- command` with the pinned key; never rejects on a non-zero status */
  ssh(command: string, opts?: RunOptions): Promise<CommandResult>;
  /** `scp` one local file or directory (recursively) to `remotePath` on the host */
  scp(localPath: string, remotePath: string, opts?: RunOptions): Promise<CommandResult>;
  /** runs argv locally inside the host's network namespace, with the host's podman environment */
  exec(argv: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** `podman <runtimeArgs> ...args` inside the host's namespace */
  podman(args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
  /** names of all containers (running or not) in this host's storage */
  containers(): Promise<string[]>;
  /** an HTTP request made from inside the host's namespace (by curl), e.g. to a port published on its 127.0.0.1 */
  http(port: number, urlPath: string, opts?: HttpRequestOptions): Promise<HttpResult>;
  /** kills the sshd session processes (not the listener): every open SSH connection to the host drops */
  killSessions(opts?: KillSessionsOptions): number;
  /** takes the host's network link down (connections hang, new ones fail) or back up */
  setLinkDown(down: boolean): Promise<void>;
  /** stops and removes everything this host started or created; idempotent */
  stop(): Promise<void>;
  readonly stopped: boolean;
}

export interface StartTestHostsOptions {
  /** host names (default host0, host1, ...) */
  readonly names?: readonly string[];
  /** sshd port inside each namespace (default 22) */
  readonly sshPort?: number;
  /** extra environment for every SSH session on the hosts (sshd `SetEnv`), besides the podman variables */
  readonly sessionEnv?: Readonly<Record<string, string>>;
  /** extra sshd_config lines */
  readonly extraSshdConfig?: readonly string[];
  /** parent of the temp base (default os.tmpdir()) */
  readonly tmpDir?: string;
  /** how long to wait for each sshd to accept TCP (default 15 000 ms) */
  readonly startTimeoutMs?: number;
}

export interface KillSessionsOptions {
  /** also kill the commands the sessions were running (default false: they only lose their connection) */
  readonly includeCommands?: boolean;
}

export interface UnreachableHost {
  /** an address in 169.254.0.0/16 with no server behind it */
  readonly address: string;
  readonly sshPort: number;
  /** a freshly generated host key no server has (so a configuration can still be written) */
  readonly hostPublicKey: string;
  readonly mode: UnreachableMode;
  readonly netns: string;
  stop(): Promise<void>;
}

/**
 * refused: connections are refused at once (RST); no-route: "No route to host" after the ARP timeout
 * (about 3 s); drop: packets are silently dropped, so a connection attempt hangs until the client's own
 * timeout (needs `nft`).
 */
export type UnreachableMode = 'refused' | 'no-route' | 'drop';

// ---- registry of everything started, for cleanup ------------------------------------------------

/** What cleanup needs, written to /run/mdtest-e2e/<netns>.json as soon as a slot is claimed. */
interface Record_ {
  kind: 'host' | 'unreachable';
  netns: string;
  vethRoot: string;
  cidr: string;
  tempBase?: string;
  rootDir?: string;
  runtimeArgv?: string[];
  podmanEnv?: { CONTAINERS_CONF: string; CONTAINERS_STORAGE_CONF: string };
  sshdPid?: number;
  sshdStart?: string;
  ownerPid: number;
  ownerStart?: string;
}

/**
 * Kept on the real process object: jest loads this module afresh for every test file in a worker, and one
 * set of exit/signal handlers must see every host the worker started.
 */
interface SharedState {
  live: Map<string, Record_>;
  handlersInstalled: boolean;
}
const STATE_KEY = Symbol.for('cdk-model-deployment.e2e.hosts');
const shared: SharedState = ((realProcess() as unknown as Record<symbol, SharedState>)[STATE_KEY] ??= {
  live: new Map(),
  handlersInstalled: false,
});
const live = shared.live;

function recordPath(netns: string): string {
  return path.join(REGISTRY_DIR, `${netns}.json`);
}

function saveRecord(r: Record_): void {
  live.set(r.netns, r);
  fs.mkdirSync(REGISTRY_DIR, { recursive: true });
  const tmp = `${recordPath(r.netns)}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(r, null, 2));
  fs.renameSync(tmp, recordPath(r.netns));
}

function dropRecord(netns: string): void {
  live.delete(netns);
  fs.rmSync(recordPath(netns), { force: true });
}

/**
 * The real `process`: inside a jest test file `process` is a copy whose listeners never fire (jest gives each
 * test file its own copy of the process object); vm.runInThisContext evaluates in Node's main context.
 */
function realProcess(): NodeJS.Process {
  try {
    return (vm.runInThisContext('process') as NodeJS.Process | undefined) ?? process;
  } catch {
    return process;
  }
}

function installExitHandlers(): void {
  if (shared.handlersInstalled) return;
  shared.handlersInstalled = true;
  const proc = realProcess();
  proc.on('exit', cleanupAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = () => {
      cleanupAllSync();
      proc.removeListener(sig, handler);
      // we were the only listener: let the signal do what it does by default
      if (proc.listenerCount(sig) === 0) proc.kill(proc.pid, sig);
    };
    proc.on(sig, handler);
  }
}

function cleanupAllSync(): void {
  for (const r of [...live.values()]) cleanupRecordSync(r);
}

/**
 * Cleans what earlier runs left behind when they were killed (SIGKILL skips every handler): records whose
 * owner process is gone. Called by startTestHosts/unreachableHost; safe to call any time.
 */
export function reapStaleTestHosts(): string[] {
  const reaped: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(REGISTRY_DIR).filter((n) => n.endsWith('.json'));
  } catch {
    return reaped;
  }
  for (const n of names) {
    let r: Record_;
    try {
      r = JSON.parse(fs.readFileSync(path.join(REGISTRY_DIR, n), 'utf8'));
    } catch {
      continue;
    }
    if (live.has(r.netns)) continue;
    const ownerAlive = isAlive(r.ownerPid) && (!r.ownerStart || processStartTime(r.ownerPid) === r.ownerStart);
    if (ownerAlive) continue;
    cleanupRecordSync(r);
    reaped.push(r.netns);
  }
  return reaped;
}

function netnsInode(netns: string): string | undefined {
  try {
    return `net:[${fs.statSync(`/run/netns/${netns}`).ino}]`;
  } catch {
    return undefined;
  }
}

/** Synchronous, best-effort, idempotent cleanup of one host or unreachable address. */
function cleanupRecordSync(r: Record_): void {
  const nsPath = `/run/netns/${r.netns}`;
  const hasNs = fs.existsSync(nsPath);
  const nsId = netnsInode(r.netns);
  // 1. the sshd listener first, so nothing new can start
  if (r.sshdPid && isAlive(r.sshdPid) && (!r.sshdStart || processStartTime(r.sshdPid) === r.sshdStart)) {
    killPidsSync([r.sshdPid], 1000);
  }
  if (r.rootDir) {
    // 2. nginx (or any daemon) whose pid file lies under the host's directory
    killPidFilesUnder(r.rootDir);
    // 3. every container in this host's storage (inside its namespace, so netavark can tear down its bridge)
    if (r.podmanEnv && r.runtimeArgv && fs.existsSync(path.join(r.rootDir, 'storage'))) {
      const env = { ...process.env, ...r.podmanEnv };
      const podman = (args: string[]) =>
        hasNs ? runSync('nsenter', [`--net=${nsPath}`, 'podman', ...r.runtimeArgv!, ...args], { env, timeoutMs: 60_000 })
          : runSync('podman', [...r.runtimeArgv!, ...args], { env, timeoutMs: 60_000 });
      // the containers' own network namespaces (/run/netns/netns-<uuid>), in case podman cannot remove them
      const sandboxes = podman(['ps', '--all', '--format', '{{.ID}}']).stdout.split('\n').filter(Boolean)
        .map((id) => podman(['inspect', '--format', '{{.NetworkSettings.SandboxKey}}', id]).stdout.trim())
        .filter((k) => k.startsWith('/run/netns/'));
      podman(['rm', '--all', '--force', '--time', '0']);
      podman(['rmi', '--all', '--force']);
      for (const k of sandboxes) if (fs.existsSync(k)) runSync('ip', ['netns', 'del', path.basename(k)]);
    }
  }
  // 4. whatever still runs in the namespace (sessions, conmon, nginx workers, ...) and its descendants
  const procs = listProcesses();
  const inNs = nsId ? procs.filter((p) => p.netns === nsId && p.pid !== process.pid).map((p) => p.pid) : [];
  const byPath = r.rootDir ? processesMentioning(procs, r.rootDir) : [];
  const roots = [...new Set([...inNs, ...byPath])];
  if (roots.length) killPidsSync([...roots, ...descendants(procs, roots)], 1000);
  // 5. mounts under the host's directory (overlay layers of a container podman could not remove)
  if (r.rootDir) unmountUnder(r.rootDir);
  // 6. the network: veth pair (deleting one end deletes both), the guard route, the namespace
  runSync('ip', ['link', 'del', r.vethRoot]);
  runSync('ip', ['route', 'del', 'unreachable', r.cidr, 'metric', '65000']);
  if (hasNs) runSync('ip', ['netns', 'del', r.netns]);
  // 7. files
  if (r.rootDir) fs.rmSync(r.rootDir, { recursive: true, force: true });
  dropRecord(r.netns);
  if (r.tempBase) removeTempBaseIfUnused(r.tempBase);
}

function removeTempBaseIfUnused(base: string): void {
  const hostsDir = path.join(base, 'hosts');
  try {
    if (fs.existsSync(hostsDir) && fs.readdirSync(hostsDir).length > 0) return;
    for (const r of live.values()) if (r.tempBase === base) return;
    fs.rmSync(base, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

function killPidFilesUnder(dir: string): void {
  const pids: number[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'storage') walk(p, depth + 1); // podman's layer trees hold no pid files of ours
      } else if (e.isFile() && e.name.endsWith('.pid')) {
        const pid = Number(fs.readFileSync(p, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) pids.push(pid);
      }
    }
  };
  walk(dir, 0);
  // only daemons that are not podman's (conmon pid files name processes podman stops itself)
  const procs = listProcesses();
  const targets = pids.filter((pid) => {
    const exe = procs.find((p) => p.pid === pid)?.exe ?? '';
    return exe !== '' && !/\/(conmon|podman)$/.test(exe);
  });
  if (targets.length) killPidsSync([...targets, ...descendants(procs, targets)], 2000);
}

function processesMentioning(procs: ReturnType<typeof listProcesses>, dir: string): number[] {
  const out: number[] = [];
  for (const p of procs) {
    if (p.pid === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
      if (cmd.includes(`${dir}/`) || cmd.split('\0').includes(dir)) out.push(p.pid);
    } catch {
      /* gone */
    }
  }
  return out;
}

function mountsUnder(dir: string): string[] {
  try {
    return fs
      .readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m) => m && (m === dir || m.startsWith(dir + '/')))
      .map((m) => m.replace(/\\040/g, ' '));
  } catch {
    return [];
  }
}

function unmountUnder(dir: string): void {
  for (const m of mountsUnder(dir).reverse()) runSync('umount', ['-l', m]);
}

// ---- slots and addresses ---------------------------------------------------------------------

interface Slot {
  slot: number;
  netns: string;
  vethRoot: string;
  vethHost: string;
  peerAddress: string;
  address: string;
  cidr: string;
}

function slotInfo(slot: number): Slot {
  const third = 100 + Math.floor(slot / 64);
  const base = (slot % 64) * 4;
  return {
    slot,
    netns: `mdt${slot}`,
    vethRoot: `mdt${slot}r`,
    vethHost: `mdt${slot}h`,
    peerAddress: `169.254.${third}.${base + 1}`,
    address: `169.254.${third}.${base + 2}`,
    cidr: `169.254.${third}.${base}/30`,
  };
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/** is any address or route of the root namespace inside `cidr` (a /30)? */
function cidrInUse(cidr: string): boolean {
  const [net30] = cidr.split('/');
  const lo = ipv4ToInt(net30);
  const inRange = (a: string) => {
    const n = ipv4ToInt(a);
    return n >= lo && n < lo + 4;
  };
  const addrs = runSync('ip', ['-o', '-4', 'addr', 'show']).stdout;
  for (const m of addrs.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)) if (inRange(m[1])) return true;
  const routes = runSync('ip', ['-4', 'route', 'show', 'table', 'all']).stdout;
  for (const m of routes.matchAll(/(?:^|\s)(169\.254\.\d+\.\d+)(?:\/(\d+))?\s/gm)) {
    const n = ipv4ToInt(m[1]);
    const bits = Number(m[2] ?? 32);
    const size = 2 ** (32 - bits);
    const start = n - (n % size);
    if (start < lo + 4 && lo < start + size) return true;
  }
  return false;
}

/** claims a free slot: `ip netns add` is the atomic lock, the address check guards against other users */
function claimSlot(): Slot {
  const start = Math.floor(Math.random() * SLOT_COUNT);
  for (let i = 0; i < SLOT_COUNT; i++) {
    const s = slotInfo((start + i) % SLOT_COUNT);
    if (fs.existsSync(`/run/netns/${s.netns}`)) continue;
    if (cidrInUse(s.cidr)) continue;
    const r = runSync('ip', ['netns', 'add', s.netns]);
    if (r.code !== 0) {
      if (/File exists/.test(r.stderr)) continue;
      throw new Error(`cannot create a network namespace: ${describeFailure(r)}`);
    }
    return s;
  }
  throw new Error('no free 169.254.x.y/30 slot for a test host');
}

async function setUpNetwork(s: Slot, bringHostEndUp = true): Promise<void> {
  const ip = (...args: string[]) => runOk('ip', args, { timeoutMs: 10_000 });
  await ip('link', 'add', s.vethRoot, 'type', 'veth', 'peer', 'name', s.vethHost);
  await ip('link', 'set', s.vethHost, 'netns', s.netns);
  await ip('addr', 'add', `${s.peerAddress}/30`, 'dev', s.vethRoot);
  await ip('link', 'set', s.vethRoot, 'up');
  // if the veth goes away or down, traffic for this /30 must fail here, never leave by the default route
  await ip('route', 'add', 'unreachable', s.cidr, 'metric', '65000');
  await ip('-n', s.netns, 'link', 'set', 'lo', 'up');
  await ip('-n', s.netns, 'addr', 'add', `${s.address}/30`, 'dev', s.vethHost);
  if (bringHostEndUp) await ip('-n', s.netns, 'link', 'set', s.vethHost, 'up');
}

// ---- hosts -----------------------------------------------------------------------------------

/** Starts `n` test hosts in parallel. Throws (with every host already cleaned up) if any fails to start. */
export async function startTestHosts(n: number, opts: StartTestHostsOptions = {}): Promise<TestHost[]> {
  requireE2eTools(HOST_TOOLS);
  installExitHandlers();
  reapStaleTestHosts();
  const names = opts.names ?? Array.from({ length: n }, (_, i) => `host${i}`);
  if (names.length !== n) throw new Error(`startTestHosts: ${n} hosts but ${names.length} names`);
  if (new Set(names).size !== n || names.some((x) => !/^[A-Za-z0-9_-]+$/.test(x))) {
    throw new Error(`startTestHosts: names must be unique and [A-Za-z0-9_-]: ${names.join(', ')}`);
  }
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const tempBase = fs.mkdtempSync(path.join(opts.tmpDir ?? os.tmpdir(), 'mdtest-'));
  fs.mkdirSync(path.join(tempBase, 'hosts'));
  fs.mkdirSync(path.join(tempBase, 'client'), { mode: 0o700 });
  const clientKey = path.join(tempBase, 'client', 'id_ed25519');
  await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'mdtest-client', '-f', clientKey]);
  const publicKey = fs.readFileSync(`${clientKey}.pub`, 'utf8').trim();

  const results = await Promise.allSettled(names.map((name) => startOne(name, tempBase, clientKey, publicKey, opts)));
  const hosts = results.filter((r): r is PromiseFulfilledResult<TestHost> => r.status === 'fulfilled').map((r) => r.value);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await stopTestHosts(hosts);
    fs.rmSync(tempBase, { recursive: true, force: true });
    throw failed[0].reason;
  }
  return hosts;
}

export async function stopTestHosts(hosts: readonly TestHost[]): Promise<void> {
  for (const h of hosts) await h.stop();
}

async function startOne(name: string, tempBase: string, clientKey: string, publicKey: string, opts: StartTestHostsOptions): Promise<TestHost> {
  const slot = claimSlot();
  const rootDir = path.join(tempBase, 'hosts', name);
  const dirs = {
    ssh: path.join(rootDir, 'ssh'),
    conf: path.join(rootDir, 'containers'),
    storage: path.join(rootDir, 'storage'),
    run: path.join(rootDir, 'run'),
    tmp: path.join(rootDir, 'tmp'),
    networks: path.join(rootDir, 'networks'),
    data: path.join(rootDir, 'data'),
  };
  if (dirs.run.length > 50) {
    // podman: "Error: the specified runroot is longer than 50 characters"
    throw new Error(`podman's runroot ${dirs.run} is longer than 50 characters: use a shorter tmpDir or host name`);
  }
  const runtimeArgv = ['--root', dirs.storage, '--runroot', dirs.run, '--tmpdir', dirs.tmp];
  const podmanEnv = {
    CONTAINERS_CONF: path.join(dirs.conf, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(dirs.conf, 'storage.conf'),
  };
  const record: Record_ = {
    kind: 'host',
    netns: slot.netns,
    vethRoot: slot.vethRoot,
    cidr: slot.cidr,
    tempBase,
    rootDir,
    runtimeArgv,
    podmanEnv,
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid),
  };
  saveRecord(record);
  try {
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    await setUpNetwork(slot);
    fs.writeFileSync(podmanEnv.CONTAINERS_CONF, containersConf(dirs));
    fs.writeFileSync(podmanEnv.CONTAINERS_STORAGE_CONF, storageConf(dirs));

    const hostKey = path.join(dirs.ssh, 'ssh_host_ed25519_key');
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', hostKey]);
    const [keyType, keyB64] = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
    const hostPublicKey = `${keyType} ${keyB64}`;
    const sshPort = opts.sshPort ?? 22;
    const knownHostsPath = path.join(dirs.ssh, 'known_hosts');
    fs.writeFileSync(knownHostsPath, `${sshPort === 22 ? slot.address : `[${slot.address}]:${sshPort}`} ${hostPublicKey}\n`);
    const authorizedKeys = path.join(dirs.ssh, 'authorized_keys');
    fs.writeFileSync(authorizedKeys, `${publicKey}\n`, { mode: 0o600 });

    const sessionEnv = { ...podmanEnv, MDTEST_HOST_NAME: name, MDTEST_HOST_ROOT: rootDir, ...(opts.sessionEnv ?? {}) };
    for (const [k, v] of Object.entries(sessionEnv)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\s"'\\]/.test(v)) throw new Error(`sessionEnv ${k}: no spaces or quotes, please`);
    }
    const sshdConfigPath = path.join(dirs.ssh, 'sshd_config');
    fs.writeFileSync(
      sshdConfigPath,
      [
        `# test host ${name} (${slot.netns}); written by test/e2e/support/hosts.ts`,
        `Port ${sshPort}`,
        `ListenAddress ${slot.address}`,
        `HostKey ${hostKey}`,
        `PidFile ${path.join(dirs.ssh, 'sshd.pid.txt')}`, // not *.pid: cleanup kills sshd itself, by the pid it spawned
        `AuthorizedKeysFile ${authorizedKeys}`,
        'PermitRootLogin prohibit-password',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'UseDNS no',
        'PrintMotd no',
        'PrintLastLog no',
        'PermitUserEnvironment no',
        'MaxStartups 100:30:200',
        'MaxSessions 100',
        'LoginGraceTime 30',
        'Subsystem sftp internal-sftp',
        // sessions do not inherit the test's environment: this is how they find the host's podman config
        `SetEnv ${Object.entries(sessionEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`,
        ...(opts.extraSshdConfig ?? []),
        '',
      ].join('\n'),
    );
    const sshdLogPath = path.join(rootDir, 'sshd.log');
    await runOk('/usr/sbin/sshd', ['-t', '-f', sshdConfigPath]); // config check, with a readable error

    const logFd = fs.openSync(sshdLogPath, 'a');
    const child = spawn('nsenter', [`--net=/run/netns/${slot.netns}`, '/usr/sbin/sshd', '-D', '-e', '-f', sshdConfigPath], {
      detached: true, // not in jest's process group: a terminal ^C must not kill it before cleanup runs
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd);
    child.unref();
    const sshdPid = child.pid!;
    record.sshdPid = sshdPid; // nsenter execs sshd: same pid
    record.sshdStart = processStartTime(sshdPid);
    saveRecord(record);
    let exited: string | undefined;
    child.once('exit', (code, sig) => (exited = `sshd exited (${code ?? sig})`));
    await waitForTcp(slot.address, sshPort, opts.startTimeoutMs ?? 15_000, () => exited);

    return makeHost({
      name, slot, rootDir, runtimeArgv, podmanEnv, sshPort, clientKey, publicKey, hostPublicKey, knownHostsPath,
      sshdPid, sshdConfigPath, sshdLogPath, record,
    });
  } catch (e) {
    const log = path.join(rootDir, 'sshd.log');
    const detail = fs.existsSync(log) ? `\n--- sshd log\n${fs.readFileSync(log, 'utf8')}` : '';
    cleanupRecordSync(record);
    throw new Error(`test host ${name} did not start: ${(e as Error).message}${detail}`, { cause: e });
  }
}

function containersConf(d: { tmp: string; networks: string }): string {
  // Everything podman needs on this machine, so nothing depends on /etc/containers/containers.conf:
  // runc (crun fails here), ulimits the sandbox allows, no systemd, and a 169.254.x bridge.
  return [
    '# per-test-host podman configuration (test/e2e/support/hosts.ts)',
    '[containers]',
    'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
    '',
    '[engine]',
    'runtime = "runc"',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `tmp_dir = "${d.tmp}"`,
    '',
    '[network]',
    'network_backend = "netavark"',
    `network_config_dir = "${d.networks}"`,
    `default_subnet = "${CONTAINER_SUBNET}"`,
    `default_subnet_pools = [{ "base" = "${CONTAINER_SUBNET_POOL}", "size" = 24 }]`,
    '',
  ].join('\n');
}

function storageConf(d: { storage: string; run: string }): string {
  return ['[storage]', 'driver = "overlay"', `graphroot = "${d.storage}"`, `runroot = "${d.run}"`, ''].join('\n');
}

async function waitForTcp(address: string, port: number, timeoutMs: number, abort: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = abort();
    if (why) throw new Error(why);
    if (await canConnect(address, port, 1000)) return;
    if (Date.now() > deadline) throw new Error(`nothing accepted TCP on ${address}:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** true when a TCP connection to address:port succeeds from the test's (root) network namespace */
export function canConnect(address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: address, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

interface HostParts {
  name: string;
  slot: Slot;
  rootDir: string;
  runtimeArgv: string[];
  podmanEnv: { CONTAINERS_CONF: string; CONTAINERS_STORAGE_CONF: string };
  sshPort: number;
  clientKey: string;
  publicKey: string;
  hostPublicKey: string;
  knownHostsPath: string;
  sshdPid: number;
  sshdConfigPath: string;
  sshdLogPath: string;
  record: Record_;
}

function makeHost(p: HostParts): TestHost {
  const netnsPath = `/run/netns/${p.slot.netns}`;
  const commonSshOptions = [
    '-F', '/dev/null',
    '-i', p.clientKey,
    '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${p.knownHostsPath}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
  ];
  let stopped = false;
  const host: TestHost = {
    name: p.name,
    address: p.slot.address,
    peerAddress: p.slot.peerAddress,
    cidr: p.slot.cidr,
    sshPort: p.sshPort,
    user: 'root',
    privateKeyPath: p.clientKey,
    publicKey: p.publicKey,
    hostPublicKey: p.hostPublicKey,
    knownHostsPath: p.knownHostsPath,
    netns: p.slot.netns,
    netnsPath,
    vethRoot: p.slot.vethRoot,
    vethHost: p.slot.vethHost,
    rootDir: p.rootDir,
    runtimeArgs: p.runtimeArgv.join(' '),
    runtimeArgv: p.runtimeArgv,
    podmanEnv: p.podmanEnv,
    sshdPid: p.sshdPid,
    sshdConfigPath: p.sshdConfigPath,
    sshdLogPath: p.sshdLogPath,
    get stopped() {
      return stopped;
    },
    sshOptions: () => [...commonSshOptions, '-p', String(p.sshPort)],
    ssh: (command, opts) => run('ssh', [...commonSshOptions, '-p', String(p.sshPort), `root@${p.slot.address}`, '--', command], { timeoutMs: 120_000, ...opts }),
    scp: (localPath, remotePath, opts) =>
      run('scp', ['-q', '-r', ...commonSshOptions, '-P', String(p.sshPort), localPath, `root@${p.slot.address}:${remotePath}`], { timeoutMs: 300_000, ...opts }),
    exec: (argv, opts) => run('nsenter', [`--net=${netnsPath}`, ...argv], { ...opts, env: { ...process.env, ...p.podmanEnv, ...(opts?.env ?? {}) } }),
    podman: (args, opts) => host.exec(['podman', ...p.runtimeArgv, ...args], { timeoutMs: 300_000, ...opts }),
    containers: async () => {
      const r = await host.podman(['ps', '--all', '--format', '{{.Names}}']);
      if (r.code !== 0) throw new Error(describeFailure(r));
      return r.stdout.split('\n').filter(Boolean);
    },
    http: (port, urlPath, opts) => httpInNetns(netnsPath, port, urlPath, opts),
    killSessions: (opts) => killSessions(host, opts),
    setLinkDown: (down) => setLinkDown(host, down),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      cleanupRecordSync(p.record);
    },
  };
  return host;
}

async function httpInNetns(netnsPath: string, port: number, urlPath: string, opts: HttpRequestOptions = {}): Promise<HttpResult> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const args = ['curl', '-sS', '-m', String(timeoutMs / 1000), '-o', '-', '-w', '\n%{http_code}', '-X', opts.method ?? (opts.body === undefined ? 'GET' : 'POST')];
  let input: string | undefined;
  if (opts.body !== undefined) {
    input = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    args.push('--data-binary', '@-');
    if (typeof opts.body !== 'string') args.push('-H', 'content-type: application/json');
  }
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}: ${v}`);
  const host = opts.address ?? '127.0.0.1';
  args.push(`http://${host.includes(':') ? `[${host}]` : host}:${port}${urlPath}`);
  const r = await run('nsenter', [`--net=${netnsPath}`, ...args], { input, timeoutMs: timeoutMs + 5000 });
  const nl = r.stdout.lastIndexOf('\n');
  const status = Number(r.stdout.slice(nl + 1)) || 0;
  const body = nl >= 0 ? r.stdout.slice(0, nl) : r.stdout;
  return {
    status,
    body,
    error: status === 0 ? r.stderr.trim() || describeFailure(r) : undefined,
    json: () => JSON.parse(body),
  };
}

/**
 * Drops every open SSH connection to the host: SIGKILL to the sshd processes serving sessions (the
 * listener's children and their sshd descendants), not the listener, so new connections still work.
 * Returns how many processes were killed.
 */
export function killSessions(host: TestHost, opts: KillSessionsOptions = {}): number {
  const procs = listProcesses();
  const sessionRoots = procs.filter((p) => p.ppid === host.sshdPid).map((p) => p.pid);
  const all = [...sessionRoots, ...descendants(procs, sessionRoots)];
  const targets = opts.includeCommands ? all : all.filter((pid) => procs.find((p) => p.pid === pid)?.exe === '/usr/sbin/sshd');
  for (const pid of targets) safeKill(pid, 'SIGKILL');
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && targets.some(isAlive)) sleepSync(20);
  return targets.length;
}

/**
 * Link down: the host's end of its veth goes down, as if its cable were pulled. Open connections hang
 * (packets are dropped), new ones fail with "No route to host" after the ARP timeout. Up: back to normal;
 * sshd never stopped, so it answers again.
 */
export async function setLinkDown(host: TestHost, down: boolean): Promise<void> {
  await runOk('ip', ['-n', host.netns, 'link', 'set', host.vethHost, down ? 'down' : 'up']);
  if (!down) {
    // wait for the link to carry traffic again
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(await canConnect(host.address, host.sshPort, 500))) await sleep(50);
  }
}

/** `killSessions` or `setLinkDown(true)`: cut the host's connections in the middle of a deploy. */
export async function cutConnections(host: TestHost, how: 'kill-sessions' | 'link-down' = 'kill-sessions'): Promise<void> {
  if (how === 'kill-sessions') killSessions(host);
  else await setLinkDown(host, true);
}

/** An address in 169.254.0.0/16 with nothing behind it, in its own namespace (see UnreachableMode). */
export async function unreachableHost(opts: { mode?: UnreachableMode } = {}): Promise<UnreachableHost> {
  const mode = opts.mode ?? 'refused';
  requireE2eTools(mode === 'drop' ? ['ip', 'nsenter', 'ssh-keygen', 'nft'] : ['ip', 'nsenter', 'ssh-keygen']);
  installExitHandlers();
  reapStaleTestHosts();
  const slot = claimSlot();
  const record: Record_ = {
    kind: 'unreachable',
    netns: slot.netns,
    vethRoot: slot.vethRoot,
    cidr: slot.cidr,
    ownerPid: process.pid,
    ownerStart: processStartTime(process.pid),
  };
  saveRecord(record);
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdtest-key-'));
  try {
    await setUpNetwork(slot, mode !== 'no-route');
    if (mode === 'drop') {
      await runOk('nsenter', [`--net=/run/netns/${slot.netns}`, 'nft', 'add table inet mdtest_drop']);
      await runOk('nsenter', [`--net=/run/netns/${slot.netns}`, 'nft', 'add chain inet mdtest_drop input { type filter hook input priority 0; policy drop; }']);
    }
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', path.join(keyDir, 'k')]);
    const hostPublicKey = fs.readFileSync(path.join(keyDir, 'k.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
    let stopped = false;
    return {
      address: slot.address,
      sshPort: 22,
      hostPublicKey,
      mode,
      netns: slot.netns,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        cleanupRecordSync(record);
      },
    };
  } catch (e) {
    cleanupRecordSync(record);
    throw e;
  } finally {
    fs.rmSync(keyDir, { recursive: true, force: true });
  }
}

/**
 * What is left of stopped hosts (for a test's final assertion): live sshd pids, namespaces, veths,
 * directories, mounts, processes mentioning the host's directory, registry records. Empty when clean.
 */
export function leftovers(hosts: readonly TestHost[]): string[] {
  const out: string[] = [];
  const procs = listProcesses();
  const links = runSync('ip', ['-o', 'link', 'show']).stdout;
  for (const h of hosts) {
    if (isAlive(h.sshdPid)) out.push(`${h.name}: sshd pid ${h.sshdPid} alive`);
    if (fs.existsSync(h.netnsPath)) out.push(`${h.name}: netns ${h.netns} exists`);
    if (new RegExp(`\\b${h.vethRoot}\\b`).test(links)) out.push(`${h.name}: veth ${h.vethRoot} exists`);
    if (fs.existsSync(h.rootDir)) out.push(`${h.name}: ${h.rootDir} exists`);
    if (fs.existsSync(path.dirname(path.dirname(h.rootDir)))) out.push(`${h.name}: temp base ${path.dirname(path.dirname(h.rootDir))} exists`);
    if (fs.existsSync(recordPath(h.netns))) out.push(`${h.name}: registry record ${recordPath(h.netns)} exists`);
    for (const m of mountsUnder(h.rootDir)) out.push(`${h.name}: mount ${m}`);
    for (const pid of processesMentioning(procs, h.rootDir)) out.push(`${h.name}: process ${pid} mentions ${h.rootDir}`);
    if (runSync('ip', ['-4', 'route', 'show', h.cidr]).stdout.trim()) out.push(`${h.name}: route to ${h.cidr} exists`);
  }
  return out;
}
