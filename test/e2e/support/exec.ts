/**
 * Process helpers shared by the e2e support modules: run a command with a timeout (killing its whole
 * process group), check that the tools the e2e tests need are installed, and small /proc utilities.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface CommandResult {
  /** exit status; null when the process was ended by a signal */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** true when the command ran past its timeout and its process group was killed */
  readonly timedOut: boolean;
  /** the command line, for messages */
  readonly command: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** the complete environment of the child (default: process.env) */
  readonly env?: NodeJS.ProcessEnv;
  /** written to the child's stdin, which is then closed (default: stdin is /dev/null) */
  readonly input?: string | Buffer;
  /** default 60 000 ms; on timeout the process group gets SIGTERM, then SIGKILL after `killGraceMs` */
  readonly timeoutMs?: number;
  /** default 3 000 ms */
  readonly killGraceMs?: number;
  /** called with every chunk of output as it arrives */
  readonly onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
}

/** Runs `file args` in its own process group and resolves when it exits (never rejects on a non-zero status). */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const killGraceMs = opts.killGraceMs ?? 3_000;
  const command = [file, ...args].map(shellQuote).join(' ');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(file, args as string[], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true, // own process group, so a timeout can kill everything it started
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      opts.onOutput?.(c, 'stdout');
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      opts.onOutput?.(c, 'stderr');
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => undefined);
      child.stdin!.end(opts.input);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), killGraceMs);
    }, timeoutMs);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      // whatever the command left in its group (e.g. ssh ControlMaster, a backgrounded child) goes too
      killGroup(child.pid, 'SIGKILL');
      resolve({
        code: error ? 127 : code,
        signal,
        stdout,
        stderr: error ? `${stderr}${error.message}\n` : stderr,
        durationMs: Date.now() - started,
        timedOut,
        command,
      });
    };
    child.on('error', (e) => finish(null, null, e));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/** Like `run`, but rejects with the command's output when it does not exit 0. */
export async function runOk(file: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) throw new Error(describeFailure(r));
  return r;
}

/** Synchronous variant for cleanup paths (process 'exit' handlers cannot wait for promises). */
export function runSync(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CommandResult {
  const started = Date.now();
  const r = spawnSync(file, args as string[], {
    env: opts.env ?? process.env,
    timeout: opts.timeoutMs ?? 30_000,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return {
    code: r.status ?? (r.error && !timedOut ? 127 : null),
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: `${r.stderr ?? ''}${r.error ? r.error.message : ''}`,
    durationMs: Date.now() - started,
    timedOut,
    command: [file, ...args].map(shellQuote).join(' '),
  };
}

export function describeFailure(r: CommandResult): string {
  const how = r.timedOut ? `timed out after ${r.durationMs} ms` : r.signal ? `was killed by ${r.signal}` : `exited ${r.code}`;
  return `\`${r.command}\` ${how}\n--- stdout\n${tail(r.stdout)}\n--- stderr\n${tail(r.stderr)}`;
}

function tail(s: string, max = 4000): string {
  return s.length > max ? `...${s.slice(-max)}` : s;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---- tools -----------------------------------------------------------------------------------

/** Where each tool the e2e tests use comes from (Debian package names), for the error message. */
export const E2E_TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  nsenter: 'util-linux',
  sshd: 'openssh-server',
  ssh: 'openssh-client',
  scp: 'openssh-client',
  'ssh-keygen': 'openssh-client',
  podman: 'podman',
  runc: 'runc',
  conmon: 'conmon',
  iptables: 'iptables',
  nft: 'nftables',
  curl: 'curl',
  tar: 'tar',
  nginx: 'nginx-light',
  terraform: 'terraform (HashiCorp release binary, see scripts/e2e/install-deps.sh)',
  npm: 'nodejs/npm',
  ldd: 'libc-bin',
  shellcheck: 'shellcheck',
};

/** Absolute path of `tool` on PATH (plus /usr/sbin and /sbin, which a non-login PATH may lack), or undefined. */
export function which(tool: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, tool);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/**
 * Throws (never skips) when the e2e tests cannot run here: not root, or a tool is missing. In CI (CI=true)
 * that is a failure of the CI machine's setup; outside CI the message says how to fix it.
 */
export function requireE2eTools(tools: readonly string[]): Record<string, string> {
  const problems: string[] = [];
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push('they must run as root (network namespaces, sshd on port 22, rootful podman)');
  }
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const t of tools) {
    const p = which(t);
    if (p) found[t] = p;
    else missing.push(`${t} (${E2E_TOOL_PACKAGES[t] ?? 'unknown package'})`);
  }
  if (missing.length) problems.push(`missing tools: ${missing.join(', ')}`);
  if (problems.length) {
    const where = process.env.CI === 'true' ? 'CI machine is not set up' : 'this machine is not set up';
    throw new Error(
      `The on-prem e2e tests cannot run: ${where}: ${problems.join('; ')}.\n` +
        'Fix: run `sudo scripts/e2e/install-deps.sh` (Debian/Ubuntu), then re-run the tests as root.',
    );
  }
  return found;
}

// ---- /proc -----------------------------------------------------------------------------------

export function isAlive(pid: number): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a zombie is not alive for our purposes
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** the process's start time in clock ticks since boot (field 22 of /proc/PID/stat), to tell a reused pid apart */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly netns?: string;
  readonly exe?: string;
}

export function listProcesses(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      let netns: string | undefined;
      let exe: string | undefined;
      try {
        netns = fs.readlinkSync(`/proc/${pid}/ns/net`);
      } catch {
        /* kernel thread or gone */
      }
      try {
        exe = fs.readlinkSync(`/proc/${pid}/exe`);
      } catch {
        /* kernel thread or gone */
      }
      out.push({ pid, ppid, netns, exe });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** every descendant of the given pids (not the pids themselves) */
export function descendants(procs: readonly ProcInfo[], roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (!seen.has(c)) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  return [...seen];
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL; synchronous (usable from 'exit' handlers). */
export function killPidsSync(pids: readonly number[], graceMs = 2000): void {
  const live = pids.filter((p) => p !== process.pid && isAlive(p));
  for (const p of live) safeKill(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(isAlive)) sleepSync(25);
  for (const p of live) if (isAlive(p)) safeKill(p, 'SIGKILL');
  const hard = Date.now() + 2000;
  while (Date.now() < hard && live.some(isAlive)) sleepSync(25);
}

export function safeKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

const sleepBuf = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleepBuf, 0, 0, ms);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
