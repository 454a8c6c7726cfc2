/**
 * Unit tests of the host script lib/targets/on-prem/host/modeldeploy.sh.
 *
 * The real script runs under bash with a sandboxed PATH: fake `podman`/`docker` (state in files,
 * argv recorded), a fake `nvidia-smi` that prints recorded fixtures, an optional fake `df`,
 * and the real coreutils, tar, gzip and curl. Nothing here starts a container or a proxy;
 * the real run (podman, nginx, sshd, terraform) is the end-to-end suite's job.
 */
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { checkSamples, verificationFailedMessage } from '../../lib/common/sample-check';
import { VERIFICATION_LIMITS } from '../../lib/spec/verification';

const SCRIPT = path.resolve(__dirname, '../../lib/targets/on-prem/host/modeldeploy.sh');
const SMI_FIXTURES = path.join(__dirname, 'fixtures', 'nvidia-smi');

const HOST = 'gpu01';
const DEP = 'fraud-scorer';
const VERSION = 'v1a2b3c4d5e6f';
const OLD_VERSION = 'v0000aaaa1111';
const SHA = 'ab'.repeat(32);
const IMAGE = 'localhost/onnx-server:1';
const IMAGE_ID = 'cd'.repeat(32);
const PREFIX = `[model-deploy host=${HOST} deployment=${DEP}] `;
/** The id of the host's anchor terraform_data (a UUID) that prepare and teardown get. */
const ANCHOR = '5f0c2d1e-8a7b-4c3d-9e2f-1a0b3c4d5e6f';

const A10G = [0, 1, 2, 3].map((i) => `GPU-5c2f8e41-7b1d-4a3e-9f6c-0d8e2b4a6c1${i}`);
const H100 = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `GPU-a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5${i}`);
const L4 = [0, 1].map((i) => `GPU-0b7e1c52-9d4a-4f31-b6e8-3a5c7d9e1f2${i}`);
const T4 = [0, 1].map((i) => `GPU-d3f6a9c2-1e4b-4c7d-8a0f-5b2e8c1d4a3${i}`);
const GB10 = 'GPU-7e9d2b64-3c1a-4f8e-a5d0-6b4c2e8f1a90';

/** A fake podman/docker: containers and images are files under $FAKE_RT_STATE. */
const FAKE_RUNTIME = String.raw`#!/bin/bash
S=${'$'}{FAKE_RT_STATE:?}
me=${'$'}{0##*/}
{ printf '%s' "$me"; for a in "$@"; do printf ' %q' "$a"; done; printf '\n'; } >>"$S/calls.log"
args=("$@")
i=0
while ((i < ${'$'}{#args[@]})); do
  case ${'$'}{args[i]} in version | info | ps | image | inspect | container | run | rm | stop | logs | load | pull | rmi) break ;; esac
  i=$((i + 1))
done
cmd=${'$'}{args[i]:-}
rest=("${'$'}{args[@]:i+1}")
if [[ $cmd == image || $cmd == container ]]; then cmd="$cmd-${'$'}{rest[0]}"; rest=("${'$'}{rest[@]:1}"); fi
if [[ -f $S/fail-$cmd ]]; then cat "$S/fail-$cmd" >&2; exit 125; fi
safe() { local r=${'$'}{1//\//_}; printf '%s' "${'$'}{r//:/_}"; }
has_line() { local l; while IFS= read -r l; do [[ $l == "$2" ]] && return 0; done <"$1"; return 1; }
field() { local l; while IFS= read -r l; do if [[ $l == "$2 "* ]]; then printf '%s' "${'$'}{l#"$2 "}"; return 0; fi; done <"$S/containers/$1"; return 0; }
opt() { local j; for ((j = 0; j < ${'$'}{#rest[@]}; j++)); do if [[ ${'$'}{rest[j]} == "$1" ]]; then printf '%s' "${'$'}{rest[j+1]}"; return 0; fi; done; return 0; }
last=${'$'}{rest[${'$'}{#rest[@]}-1]:-}
mkdir -p "$S/containers" "$S/images"
case $cmd in
  version) echo "Version: 4.3.1" ;;
  info) cat "$S/runtimes" 2>/dev/null || echo "runc " ;;
  ps)
    filters=()
    for ((j = 0; j < ${'$'}{#rest[@]}; j++)); do if [[ ${'$'}{rest[j]} == --filter ]]; then filters+=("${'$'}{rest[j+1]}"); fi; done
    for f in "$S"/containers/*; do
      [[ -f $f ]] || continue
      ok=1
      for flt in "${'$'}{filters[@]}"; do
        case $flt in
          label=*) has_line "$f" "label ${'$'}{flt#label=}" || ok=0 ;;
          ancestor=*) has_line "$f" "image ${'$'}{flt#ancestor=}" || ok=0 ;;
        esac
      done
      if ((ok)); then echo "${'$'}{f##*/}"; fi
    done
    ;;
  inspect | container-inspect)
    [[ -f $S/containers/$last ]] || { echo "Error: no such container $last" >&2; exit 125; }
    fmt=$(opt --format)
    case $fmt in
      *'.Config.Labels "'*) key=${'$'}{fmt#*Labels \"}; key=${'$'}{key%%\"*}; v=""; while IFS= read -r l; do if [[ $l == "label $key="* ]]; then v=${'$'}{l#"label $key="}; fi; done <"$S/containers/$last"; echo "$v" ;;
      *State.Status*) echo "$(field "$last" status) $(field "$last" restarts)" ;;
      *.Name*) echo "/$last" ;;
      *) echo "{}" ;;
    esac
    ;;
  image-inspect)
    [[ -f $S/images/$(safe "$last") ]] || { echo "Error: $last: image not known" >&2; exit 125; }
    cat "$S/images/$(safe "$last")"
    ;;
  run)
    name=$(opt --name)
    [[ ! -e $S/containers/$name ]] || { echo "Error: the container name $name is already in use" >&2; exit 125; }
    {
      for ((j = 0; j < ${'$'}{#rest[@]}; j++)); do if [[ ${'$'}{rest[j]} == --label ]]; then echo "label ${'$'}{rest[j+1]}"; fi; done
      echo "image $last"
      echo "status $(cat "$S/new-status" 2>/dev/null || echo running)"
      echo "restarts 0"
    } >"$S/containers/$name"
    echo "${'$'}{name}0123456789abcdef"
    ;;
  rm) for a in "${'$'}{rest[@]}"; do [[ $a == -* ]] || rm -f "$S/containers/$a"; done ;;
  stop) : ;;
  logs) echo "fake log: model failed to load" ;;
  load)
    read -r ref id <"$(opt -i)"
    echo "$id" >"$S/images/$(safe "$ref")"
    echo "Loaded image: $ref"
    ;;
  pull)
    [[ -f $S/pullable-$(safe "$last") ]] || { echo "Error: initializing source docker://$last: pinging container registry: no such host" >&2; exit 125; }
    cp "$S/pullable-$(safe "$last")" "$S/images/$(safe "$last")"
    ;;
  rmi) rm -f "$S/images/$(safe "$last")" ;;
  *) echo "fake runtime: unsupported: $*" >&2; exit 125 ;;
esac
`;

const FAKE_NVIDIA_SMI = `#!/bin/bash
echo "nvidia-smi $*" >>"$FAKE_RT_STATE/nvidia-smi.log"
cat "$FAKE_NVIDIA_SMI_FIXTURE"
`;

/** Real tools the script (and the fakes) use; linked into the sandbox PATH. */
const SYSTEM_TOOLS = ['bash', 'cat', 'mkdir', 'rm', 'mv', 'cp', 'chmod', 'chown', 'ls', 'df', 'du', 'cut', 'tr',
  'sha256sum', 'tar', 'gzip', 'mktemp', 'dirname', 'basename', 'uname', 'sleep', 'curl', 'env', 'head', 'tail',
  'stat', 'readlink', 'id', 'awk', 'wc', 'tee'];
const toolPaths: Record<string, string> = {};
for (const t of SYSTEM_TOOLS) {
  const r = spawnSync('bash', ['-c', `command -v ${t}`], { encoding: 'utf8' });
  if (r.status === 0) toolPaths[t] = r.stdout.trim();
}

type Config = Record<string, string>;

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  lines: string[];
}

class Sandbox {
  readonly root: string;
  readonly bin: string;
  readonly sysbin: string;
  readonly state: string;
  readonly mdRoot: string;
  readonly mdDir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(opts: { runtimes?: Array<'podman' | 'docker'>; smi?: string } = {}) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), 'md-host-'));
    this.bin = path.join(this.root, 'bin');
    this.sysbin = path.join(this.root, 'sysbin');
    this.state = path.join(this.root, 'state');
    this.mdRoot = path.join(this.root, 'opt', 'model-deployments');
    this.mdDir = path.join(this.mdRoot, DEP);
    for (const d of [this.bin, this.sysbin, this.state, path.join(this.state, 'containers'),
      path.join(this.state, 'images'), path.join(this.root, 'cdi'), this.mdDir]) {
      fs.mkdirSync(d, { recursive: true });
    }
    for (const [t, p] of Object.entries(toolPaths)) fs.symlinkSync(p, path.join(this.sysbin, t));
    for (const rt of opts.runtimes ?? ['podman', 'docker']) this.tool(rt, FAKE_RUNTIME);
    this.tool('nvidia-smi', FAKE_NVIDIA_SMI);
    this.tool('nginx', '#!/bin/bash\necho "nginx version: fake"\nexit 0\n');
    this.env = {
      PATH: `${this.bin}:${this.sysbin}`,
      FAKE_RT_STATE: this.state,
      FAKE_NVIDIA_SMI_FIXTURE: path.join(SMI_FIXTURES, opts.smi ?? 'g5-12xlarge-4x-a10g.csv'),
      MD_CDI_SPEC_DIRS: path.join(this.root, 'cdi'),
      // Never the machine's /etc/cron.d: deploy installs a boot hook there.
      MD_BOOT_HOOK_DIR: path.join(this.root, 'cron.d'),
      HOME: this.root,
    };
  }

  tool(name: string, body: string): void {
    fs.writeFileSync(path.join(this.bin, name), body, { mode: 0o755 });
  }

  removeTool(name: string): void {
    fs.rmSync(path.join(this.bin, name), { force: true });
  }

  config(overrides: Config = {}): Config {
    return {
      MD_DEPLOYMENT: DEP,
      MD_VERSION: VERSION,
      MD_HOST: HOST,
      MD_DIR: this.mdDir,
      MD_RUNTIME: 'podman',
      MD_RUNTIME_ARGS: '',
      MD_IMAGE: IMAGE,
      MD_ARTIFACT_SHA256: SHA,
      MD_MODEL_MOUNT: '/opt/ml/model',
      MD_CONTAINER_PORT: '8080',
      MD_HEALTH_PATH: '/ping',
      MD_STARTUP_TIMEOUT: '600',
      MD_REPLICAS: '1',
      MD_SLOT_PORT_BASE: '18000',
      MD_PROXY_PORT: '8443',
      MD_PROXY_BIND: '0.0.0.0',
      MD_ALLOWED_CLIENTS: '127.0.0.0/8,::1/128,10.0.0.0/8',
      MD_TLS_CERT: '',
      MD_TLS_KEY: '',
      MD_GPUS_PER_REPLICA: '0',
      MD_GPU_NAMES: 'NVIDIA A10G',
      MD_GPU_MIN_MEMORY_MIB: '22000',
      MD_CPUS: '',
      MD_MEMORY: '',
      MD_MIN_FREE_DISK_MIB: '1',
      MD_CAP_ADD: '',
      MD_READ_ONLY_ROOT: '0',
      ...overrides,
    };
  }

  /** Writes deploy.env and container.env where the construct uploads them; returns the config path. */
  writeConfig(cfg: Config, raw?: string): string {
    const dir = path.join(this.mdDir, 'versions', cfg.MD_VERSION);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'deploy.env');
    const text = raw ?? Object.entries(cfg).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n';
    fs.writeFileSync(file, text);
    fs.writeFileSync(path.join(dir, 'container.env'), 'MODEL_NAME=fraud\nOMP_NUM_THREADS=2\n');
    return file;
  }

  /** The state deploy leaves behind before preflight: artifact, image, keys. */
  readyForPreflight(keys = ['k3y-0123456789abcdef']): void {
    const art = path.join(this.mdDir, 'artifacts');
    fs.mkdirSync(path.join(art, SHA), { recursive: true });
    fs.writeFileSync(path.join(art, `${SHA}.complete`), '');
    this.addImage(IMAGE, IMAGE_ID);
    this.writeKeys(keys);
  }

  writeKeys(keys: string[], file = 'api-keys'): void {
    fs.mkdirSync(path.join(this.mdDir, 'proxy'), { recursive: true });
    fs.writeFileSync(path.join(this.mdDir, 'proxy', file), keys.join('\n') + '\n');
  }

  /** The key file where the construct uploads it (proxy/api-keys.upload), as Terraform would: 0644. */
  uploadKeys(keys: string[]): void {
    this.writeKeys(keys, 'api-keys.upload');
    fs.chmodSync(path.join(this.mdDir, 'proxy', 'api-keys.upload'), 0o644);
  }

  addImage(ref: string, id: string): void {
    fs.writeFileSync(path.join(this.state, 'images', ref.replace(/[/:]/g, '_')), `${id}\n`);
  }

  /** A container as the runtime would list it. */
  addContainer(name: string, labels: Record<string, string>, status = 'running'): void {
    const lines = Object.entries(labels).map(([k, v]) => `label ${k}=${v}`);
    lines.push(`image ${IMAGE}`, `status ${status}`, 'restarts 0');
    fs.writeFileSync(path.join(this.state, 'containers', name), lines.join('\n') + '\n');
  }

  containers(): string[] {
    return fs.readdirSync(path.join(this.state, 'containers')).sort();
  }

  /** A GPU assignment file as deploy writes it. */
  assign(uuid: string, dep: string, version: string, replica = 0): void {
    fs.mkdirSync(path.join(this.mdRoot, '.gpus'), { recursive: true });
    fs.writeFileSync(path.join(this.mdRoot, '.gpus', uuid), `${dep} ${version} ${replica}\n`);
  }

  gpuFiles(): string[] {
    const d = path.join(this.mdRoot, '.gpus');
    return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.startsWith('GPU-')).sort() : [];
  }

  /** Another deployment on the same host with a live replica on UUIDS. */
  otherDeployment(dep: string, version: string, uuids: string[], replica = 0): void {
    const vdir = path.join(this.mdRoot, dep, 'versions', version);
    fs.mkdirSync(vdir, { recursive: true });
    fs.writeFileSync(path.join(vdir, 'deploy.env'), `MD_RUNTIME='podman'\nMD_RUNTIME_ARGS=''\n`);
    for (const u of uuids) this.assign(u, dep, version, replica);
    this.addContainer(`${dep}-${version}-r${replica}`, {
      'md.deployment': dep, 'md.version': version, 'md.replica': String(replica), 'md.gpus': uuids.join(','),
    });
  }

  /** An active version of our own deployment, on COLOR, with a live replica on UUIDS. */
  activeVersion(version: string, color: 0 | 1, uuids: string[]): void {
    const vdir = path.join(this.mdDir, 'versions', version);
    fs.mkdirSync(vdir, { recursive: true });
    fs.writeFileSync(path.join(vdir, 'deploy.env'), `MD_RUNTIME='podman'\nMD_RUNTIME_ARGS=''\n`);
    fs.writeFileSync(path.join(vdir, 'color'), `${color}\n`);
    fs.writeFileSync(path.join(this.mdDir, 'active'), `${version}\n`);
    uuids.forEach((u) => this.assign(u, DEP, version, 0));
    this.addContainer(`${DEP}-${version}-r0`, {
      'md.deployment': DEP, 'md.version': version, 'md.replica': '0', 'md.artifact': SHA,
      ...(uuids.length ? { 'md.gpus': uuids.join(',') } : {}),
    });
  }

  calls(): string[] {
    const f = path.join(this.state, 'calls.log');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').trim().split('\n') : [];
  }

  run(args: string[], extraEnv: NodeJS.ProcessEnv = {}, opts: { input?: string } = {}): RunResult {
    // In the home directory, as over SSH: Terraform's script directory is relative to it.
    const r = spawnSync(toolPaths.bash ?? 'bash', [SCRIPT, ...args], {
      env: { ...this.env, ...extraEnv }, encoding: 'utf8', timeout: 30000, cwd: this.root, input: opts.input,
    });
    const lines = (r.stdout + r.stderr).split('\n').filter((l) => l.length > 0);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines };
  }

  cleanup(): void {
    spawnSync('chmod', ['-R', 'u+w', this.root]);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Splits one shell-quoted command line exactly as bash would. */
function shellSplit(line: string): string[] {
  const r = spawnSync('bash', ['-c', 'eval "set -- $1"; printf "%s\\0" "$@"', '_', line], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

/** The run commands `plan` printed, as argv arrays. */
function planArgv(r: RunResult): string[][] {
  expect(r.stderr).not.toMatch(/^ERROR/m);
  expect(r.status).toBe(0);
  const out = r.stdout.split('\n').filter((l) => l.length > 0);
  for (const l of out) expect(l.startsWith(PREFIX)).toBe(true);
  return out.map((l) => shellSplit(l.slice(PREFIX.length)));
}

/** Values following each occurrence of FLAG. */
function flagValues(argv: string[], flag: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === flag) out.push(argv[i + 1]);
  });
  return out;
}

function errorLine(r: RunResult): string {
  const errs = r.stderr.split('\n').filter((l) => l.startsWith('ERROR '));
  expect(errs).toHaveLength(1);
  // The ERROR line is the last thing printed.
  expect(r.stderr.trimEnd().split('\n').pop()).toBe(errs[0]);
  return errs[0];
}

/** path -> mode/size/mtime of everything under DIR. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d)) {
      const p = path.join(d, e);
      const st = fs.lstatSync(p);
      out[path.relative(dir, p)] = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

let sb: Sandbox;
afterEach(() => sb?.cleanup());

describe('plan: the run command deploy executes', () => {
  test('docker, 2 replicas x 1 A10G: exact argv, UUID pinning with --gpus "device=...", ports, mount, labels', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    const cfg = sb.config({ MD_RUNTIME: 'docker', MD_RUNTIME_ARGS: '-H unix:///run/md-docker.sock', MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv).toHaveLength(2);
    expect(argv[0]).toEqual([
      'docker', '-H', 'unix:///run/md-docker.sock', 'run', '-d',
      '--name', `${DEP}-${VERSION}-r0`,
      '--label', `md.deployment=${DEP}`, '--label', `md.version=${VERSION}`, '--label', 'md.replica=0',
      '--label', `md.artifact=${SHA}`, '--label', `md.gpus=${A10G[0]}`,
      '--restart', 'unless-stopped',
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '-p', '127.0.0.1:18000:8080',
      '-v', `${sb.mdDir}/artifacts/${SHA}:/opt/ml/model:ro`,
      '--env-file', `${sb.mdDir}/versions/${VERSION}/container.env`,
      // docker reads --gpus as CSV: the device list is quoted inside the value.
      '--gpus', `"device=${A10G[0]}"`,
      IMAGE,
    ]);
    expect(flagValues(argv[1], '--gpus')).toEqual([`"device=${A10G[1]}"`]);
    expect(flagValues(argv[1], '-p')).toEqual(['127.0.0.1:18001:8080']);
    expect(flagValues(argv[1], '--name')).toEqual([`${DEP}-${VERSION}-r1`]);
    // plan runs nothing: no container was created, nothing was written.
    expect(sb.containers()).toEqual([]);
    expect(sb.gpuFiles()).toEqual([]);
    expect(sb.calls().filter((c) => / run | rm | load | pull /.test(` ${c} `))).toEqual([]);
  });

  test('docker with 2 GPUs per replica puts both UUIDs in one quoted device list', () => {
    sb = new Sandbox({ smi: 'p5-8x-h100-80gb-hbm3.csv' });
    const cfg = sb.config({ MD_RUNTIME: 'docker', MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '2', MD_GPU_NAMES: 'NVIDIA H100 80GB HBM3', MD_GPU_MIN_MEMORY_MIB: '80000' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(flagValues(argv[0], '--gpus')).toEqual([`"device=${H100[0]},${H100[1]}"`]);
    expect(flagValues(argv[1], '--gpus')).toEqual([`"device=${H100[2]},${H100[3]}"`]);
    expect(flagValues(argv[1], '--label')).toContain(`md.gpus=${H100[2]},${H100[3]}`);
    expect(argv[0]).not.toContain('--device');
  });

  test('podman, 2 replicas x 2 H100: one CDI --device per GPU, md.gpus label, runtime args first', () => {
    sb = new Sandbox({ smi: 'p5-8x-h100-80gb-hbm3.csv' });
    const cfg = sb.config({
      MD_RUNTIME_ARGS: '--root /srv/md/storage --runroot /run/md', MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '2',
      MD_GPU_NAMES: 'NVIDIA H100 80GB HBM3', MD_GPU_MIN_MEMORY_MIB: '80000',
    });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv[0].slice(0, 6)).toEqual(['podman', '--root', '/srv/md/storage', '--runroot', '/run/md', 'run']);
    expect(flagValues(argv[0], '--device')).toEqual([`nvidia.com/gpu=${H100[0]}`, `nvidia.com/gpu=${H100[1]}`]);
    expect(flagValues(argv[1], '--device')).toEqual([`nvidia.com/gpu=${H100[2]}`, `nvidia.com/gpu=${H100[3]}`]);
    expect(flagValues(argv[0], '--label')).toContain(`md.gpus=${H100[0]},${H100[1]}`);
    expect(argv[0]).not.toContain('--gpus');
    expect(argv[0][argv[0].length - 1]).toBe(IMAGE);
  });

  test('kind and memory threshold: only matching names with enough memory, in nvidia-smi order', () => {
    sb = new Sandbox({ smi: 'mixed-2x-l4-2x-t4.csv' });
    // Either kind is acceptable, but T4 (15360 MiB) is below the threshold.
    let cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'Tesla T4|NVIDIA L4', MD_GPU_MIN_MEMORY_MIB: '16000' });
    let argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv.map((a) => flagValues(a, '--device'))).toEqual([[`nvidia.com/gpu=${L4[0]}`], [`nvidia.com/gpu=${L4[1]}`]]);
    // Without the threshold the third replica takes the first T4.
    cfg = sb.config({ MD_REPLICAS: '3', MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'Tesla T4|NVIDIA L4', MD_GPU_MIN_MEMORY_MIB: '0' });
    argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv.map((a) => flagValues(a, '--device')[0])).toEqual([L4[0], L4[1], T4[0]].map((u) => `nvidia.com/gpu=${u}`));
    // Asking for T4 only never picks an L4.
    cfg = sb.config({ MD_REPLICAS: '1', MD_GPUS_PER_REPLICA: '2', MD_GPU_NAMES: 'Tesla T4', MD_GPU_MIN_MEMORY_MIB: '15000' });
    argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(flagValues(argv[0], '--device')).toEqual(T4.map((u) => `nvidia.com/gpu=${u}`));
  });

  test('skips GPUs held by another deployment, reuses stale assignments', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[0]]);
    // GPU 1 is assigned to a deployment whose container is gone: stale, so free.
    sb.otherDeployment('gone-model', 'v8888cccc3333', [A10G[1]]);
    fs.rmSync(path.join(sb.state, 'containers', 'gone-model-v8888cccc3333-r0'));
    const cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv.map((a) => flagValues(a, '--device')[0])).toEqual([`nvidia.com/gpu=${A10G[1]}`, `nvidia.com/gpu=${A10G[2]}`]);
    // The assignment files are not touched by plan.
    expect(fs.readFileSync(path.join(sb.mdRoot, '.gpus', A10G[1]), 'utf8')).toBe('gone-model v8888cccc3333 0\n');
  });

  test('an assignment whose container holds other GPUs does not block this GPU', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[1]]);
    // A leftover file names GPU 0 for the same replica, whose container runs on GPU 1 only.
    sb.assign(A10G[0], 'churn-model', 'v9999bbbb2222', 0);
    const cfg = sb.config({ MD_REPLICAS: '1', MD_GPUS_PER_REPLICA: '1' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(flagValues(argv[0], '--device')).toEqual([`nvidia.com/gpu=${A10G[0]}`]);
  });

  test('blue/green: the new version takes the other color ports and spare GPUs beside the running one', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.activeVersion(OLD_VERSION, 0, [A10G[0], A10G[1]]);
    const cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    // color 1: BASE + 1 * MAX_REPLICAS_PER_HOST (64) + replica
    expect(argv.map((a) => flagValues(a, '-p')[0])).toEqual(['127.0.0.1:18064:8080', '127.0.0.1:18065:8080']);
    expect(argv.map((a) => flagValues(a, '--device')[0])).toEqual([`nvidia.com/gpu=${A10G[2]}`, `nvidia.com/gpu=${A10G[3]}`]);

    // The next switch goes back to color 0.
    fs.writeFileSync(path.join(sb.mdDir, 'versions', OLD_VERSION, 'color'), '1\n');
    const argv2 = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv2.map((a) => flagValues(a, '-p')[0])).toEqual(['127.0.0.1:18000:8080', '127.0.0.1:18001:8080']);
  });

  test('GPUs assigned to this very version by an earlier failed attempt are reused', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[0]]);
    sb.assign(A10G[3], DEP, VERSION, 0);
    sb.addContainer(`${DEP}-${VERSION}-r0`, { 'md.deployment': DEP, 'md.version': VERSION, 'md.replica': '0', 'md.gpus': A10G[3] });
    const cfg = sb.config({ MD_REPLICAS: '3', MD_GPUS_PER_REPLICA: '1' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv.map((a) => flagValues(a, '--device')[0])).toEqual([A10G[1], A10G[2], A10G[3]].map((u) => `nvidia.com/gpu=${u}`));
  });

  test('CPU only with limits: --cpus and --memory, no GPU flags, nvidia-smi never called', () => {
    sb = new Sandbox();
    sb.removeTool('nvidia-smi');
    const cfg = sb.config({ MD_CPUS: '2', MD_MEMORY: '4g', MD_CONTAINER_PORT: '8501', MD_MODEL_MOUNT: '/models/fraud', MD_SLOT_PORT_BASE: '19100' });
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(argv).toHaveLength(1);
    expect(flagValues(argv[0], '--cpus')).toEqual(['2']);
    expect(flagValues(argv[0], '--memory')).toEqual(['4g']);
    expect(flagValues(argv[0], '-p')).toEqual(['127.0.0.1:19100:8501']);
    expect(flagValues(argv[0], '-v')).toEqual([`${sb.mdDir}/artifacts/${SHA}:/models/fraud:ro`]);
    expect(argv[0]).not.toContain('--gpus');
    expect(argv[0]).not.toContain('--device');
    expect(flagValues(argv[0], '--label').some((l) => l.startsWith('md.gpus='))).toBe(false);
    // Options come before the image; nothing follows the image.
    expect(argv[0].indexOf('--memory')).toBeLessThan(argv[0].indexOf(IMAGE));
    expect(argv[0][argv[0].length - 1]).toBe(IMAGE);
  });

  test('containers drop every capability and set no-new-privileges; MD_CAP_ADD adds back named ones; MD_READ_ONLY_ROOT makes the root read-only with a tmpfs /tmp', () => {
    sb = new Sandbox();
    let argv = planArgv(sb.run(['plan', sb.writeConfig(sb.config())]))[0];
    expect(flagValues(argv, '--cap-drop')).toEqual(['ALL']);
    expect(flagValues(argv, '--security-opt')).toEqual(['no-new-privileges']);
    expect(flagValues(argv, '--cap-add')).toEqual([]);
    expect(argv).not.toContain('--read-only');
    expect(flagValues(argv, '--tmpfs')).toEqual([]);
    argv = planArgv(sb.run(['plan', sb.writeConfig(sb.config({ MD_CAP_ADD: 'NET_BIND_SERVICE,CHOWN', MD_READ_ONLY_ROOT: '1' }))]))[0];
    expect(flagValues(argv, '--cap-drop')).toEqual(['ALL']);
    expect(flagValues(argv, '--cap-add')).toEqual(['NET_BIND_SERVICE', 'CHOWN']);
    // Capabilities are added back after the drop, whatever order the runtime applies them in.
    expect(argv.indexOf('--cap-add')).toBeGreaterThan(argv.indexOf('--cap-drop'));
    expect(argv).toContain('--read-only');
    expect(flagValues(argv, '--tmpfs')).toEqual(['/tmp']);
    expect(argv[argv.length - 1]).toBe(IMAGE);
  });

  test('plan fails like preflight when the GPUs are not there', () => {
    sb = new Sandbox({ smi: 'gb10-na-memory.csv' });
    const cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'NVIDIA GB10', MD_GPU_MIN_MEMORY_MIB: '0' });
    const r = sb.run(['plan', sb.writeConfig(cfg)]);
    expect(r.status).toBe(1);
    expect(errorLine(r)).toMatch(/needs 2 x NVIDIA GB10 free .*found: 1 free/);
    expect(r.stdout).toBe('');
  });
});

describe('preflight', () => {
  test('passes on a GPU host, prints the inventory it saw, and changes nothing', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.readyForPreflight();
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[0]]);
    fs.writeFileSync(path.join(sb.root, 'cdi', 'nvidia.yaml'), A10G.map((u) => `  - name: ${u}\n`).join(''));
    const cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1' });
    const file = sb.writeConfig(cfg);
    const before = snapshot(path.join(sb.root, 'opt'));
    const r = sb.run(['preflight', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const l of r.lines) expect(l.startsWith(PREFIX)).toBe(true);
    expect(r.stdout).toContain(`GPU 0 ${A10G[0]} NVIDIA A10G, 23028 MiB, driver 550.54.15: in use by churn-model v9999bbbb2222`);
    expect(r.stdout).toContain(`GPU 1 ${A10G[1]} NVIDIA A10G, 23028 MiB, driver 550.54.15: free`);
    expect(r.stdout).toContain('preflight passed');
    expect(snapshot(path.join(sb.root, 'opt'))).toEqual(before);
    const verbs = sb.calls().map((c) => c.split(' ')[1]);
    expect(new Set(verbs)).toEqual(new Set(['version', 'image', 'ps', 'inspect']));
    expect(fs.readFileSync(path.join(sb.state, 'nvidia-smi.log'), 'utf8')).toContain(
      '--query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader');
  });

  test('not enough GPUs: names host, kind, counts and who holds them', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.readyForPreflight();
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[0], A10G[1]]);
    sb.activeVersion(OLD_VERSION, 0, [A10G[2]]);
    const cfg = sb.config({ MD_REPLICAS: '2', MD_GPUS_PER_REPLICA: '1' });
    const r = sb.run(['preflight', sb.writeConfig(cfg)]);
    expect(r.status).toBe(1);
    expect(errorLine(r)).toBe(
      `ERROR host=${HOST} deployment=${DEP}: needs 2 x NVIDIA A10G (>= 22000 MiB) free beside the running version ${OLD_VERSION} ` +
      `(2 replica(s) x 1 GPU); found: 1 free, 2 in use by churn-model v9999bbbb2222, 1 in use by ${DEP} ${OLD_VERSION}. ` +
      'Free GPUs on this host, lower replicas or GPUs per replica, ask for a kind this host has, or use another host ' +
      "(a blue/green update needs the new version's GPUs free while the old version runs)");
  });

  test('wrong kind: lists the kinds the host has', () => {
    sb = new Sandbox({ smi: 'mixed-2x-l4-2x-t4.csv' });
    sb.readyForPreflight();
    const cfg = sb.config({ MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'NVIDIA H100 80GB HBM3|NVIDIA H100 PCIe', MD_GPU_MIN_MEMORY_MIB: '80000' });
    const r = sb.run(['preflight', sb.writeConfig(cfg)]);
    expect(r.status).toBe(1);
    expect(errorLine(r)).toMatch(new RegExp(
      `^ERROR host=${HOST} deployment=${DEP}: needs 1 x NVIDIA H100 80GB HBM3 or NVIDIA H100 PCIe \\(>= 80000 MiB\\) free ` +
      '\\(1 replica\\(s\\) x 1 GPU\\); found: 0 free, 4 of other kinds \\(NVIDIA L4, Tesla T4\\)\\.'));
  });

  test('too little memory is counted apart from other kinds', () => {
    sb = new Sandbox({ smi: 'mixed-2x-l4-2x-t4.csv' });
    sb.readyForPreflight();
    const cfg = sb.config({ MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'Tesla T4', MD_GPU_MIN_MEMORY_MIB: '16000' });
    const r = sb.run(['preflight', sb.writeConfig(cfg)]);
    expect(errorLine(r)).toContain('found: 0 free, 2 Tesla T4 with less than 16000 MiB, 2 of other kinds (NVIDIA L4)');
  });

  test('tolerates [N/A] memory and driver (GB10): accepted by name with a warning', () => {
    sb = new Sandbox({ smi: 'gb10-na-memory.csv' });
    sb.readyForPreflight();
    fs.writeFileSync(path.join(sb.root, 'cdi', 'nvidia.json'), JSON.stringify({ devices: [{ name: GB10 }] }));
    const cfg = sb.config({ MD_GPUS_PER_REPLICA: '1', MD_GPU_NAMES: 'NVIDIA GB10', MD_GPU_MIN_MEMORY_MIB: '100000' });
    const r = sb.run(['preflight', sb.writeConfig(cfg)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`GPU 0 ${GB10} NVIDIA GB10, [N/A], driver [N/A]: free`);
    expect(r.stderr).toContain(`${PREFIX}WARNING: GPU 0 (NVIDIA GB10) reports memory.total '[N/A]'; could not check it against 100000 MiB, accepted by its name`);
    const argv = planArgv(sb.run(['plan', sb.writeConfig(cfg)]));
    expect(flagValues(argv[0], '--device')).toEqual([`nvidia.com/gpu=${GB10}`]);
  });

  test('podman without a CDI spec naming the GPUs fails with the command that fixes it', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.readyForPreflight();
    const cfg = sb.config({ MD_GPUS_PER_REPLICA: '1' });
    const file = sb.writeConfig(cfg);
    let r = sb.run(['preflight', file]);
    expect(r.status).toBe(1);
    let e = errorLine(r);
    expect(e).toMatch(new RegExp(`^ERROR host=${HOST} deployment=${DEP}: podman needs a CDI spec`));
    expect(e).toContain('nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml');
    // A spec with index names only does not name the UUID the replica is pinned to.
    fs.writeFileSync(path.join(sb.root, 'cdi', 'nvidia.yaml'), 'devices:\n  - name: "0"\n  - name: all\n');
    r = sb.run(['preflight', file]);
    e = errorLine(r);
    expect(e).toContain(`do not name ${A10G[0]}`);
    expect(e).toContain('--device-name-strategy=uuid');
    // nvidia-ctk cdi list naming the UUID is enough.
    fs.rmSync(path.join(sb.root, 'cdi', 'nvidia.yaml'));
    sb.tool('nvidia-ctk', `#!/bin/bash\necho "INFO Found 3 CDI devices" >&2\necho nvidia.com/gpu=0\necho nvidia.com/gpu=${A10G[0]}\necho nvidia.com/gpu=all\n`);
    r = sb.run(['preflight', file]);
    expect(r.status).toBe(0);
  });

  test('docker with GPUs needs the NVIDIA container toolkit', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.readyForPreflight();
    const file = sb.writeConfig(sb.config({ MD_RUNTIME: 'docker', MD_GPUS_PER_REPLICA: '1' }));
    let r = sb.run(['preflight', file]);
    expect(errorLine(r)).toContain('docker cannot give GPUs to containers');
    fs.writeFileSync(path.join(sb.state, 'runtimes'), 'io.containerd.runc.v2 nvidia runc \n');
    r = sb.run(['preflight', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('docker has the nvidia runtime');
  });

  test('missing runtime, runtime not answering, missing nvidia-smi', () => {
    sb = new Sandbox({ runtimes: ['podman'] });
    sb.readyForPreflight();
    let r = sb.run(['preflight', sb.writeConfig(sb.config({ MD_RUNTIME: 'docker' }))]);
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=${DEP}: container runtime docker not found on PATH; install docker on this host or choose the runtime it has in the on-prem target`);
    fs.writeFileSync(path.join(sb.state, 'fail-version'), 'Cannot connect to the Podman socket, is the service running?\n');
    r = sb.run(['preflight', sb.writeConfig(sb.config({ MD_RUNTIME_ARGS: '--url unix:///run/x.sock' }))]);
    expect(errorLine(r)).toContain("container runtime does not answer: 'podman --url unix:///run/x.sock version' failed (exit 125): Cannot connect to the Podman socket");
    fs.rmSync(path.join(sb.state, 'fail-version'));
    sb.removeTool('nvidia-smi');
    r = sb.run(['preflight', sb.writeConfig(sb.config({ MD_GPUS_PER_REPLICA: '1' }))]);
    expect(errorLine(r)).toContain('nvidia-smi not found on PATH');
  });

  test('low disk space (df -Pm) fails with what is free and what is needed', () => {
    sb = new Sandbox();
    sb.readyForPreflight();
    sb.tool('df', '#!/bin/bash\necho "Filesystem 1048576-blocks Used Available Capacity Mounted on"\necho "/dev/vda 258020 257520 500 100% /"\n');
    const r = sb.run(['preflight', sb.writeConfig(sb.config({ MD_MIN_FREE_DISK_MIB: '1024' }))]);
    expect(errorLine(r)).toMatch(new RegExp(`^ERROR host=${HOST} deployment=${DEP}: only 500 MiB free on the file system of ${sb.mdDir}, needs at least 1024 MiB`));
  });

  test('missing artifact and missing image point to the step that installs them', () => {
    sb = new Sandbox();
    sb.writeKeys(['k3y-0123456789abcdef']);
    const file = sb.writeConfig(sb.config());
    expect(errorLine(sb.run(['preflight', file]))).toContain(`model artifact ${SHA} is not installed`);
    fs.mkdirSync(path.join(sb.mdDir, 'artifacts', SHA), { recursive: true });
    fs.writeFileSync(path.join(sb.mdDir, 'artifacts', `${SHA}.complete`), '');
    expect(errorLine(sb.run(['preflight', file]))).toContain(`image ${IMAGE} is not present in podman; run install-image first`);
  });
});

describe('config validation', () => {
  // The limits themselves live in lib/targets/on-prem/host-contract.ts (test/on-prem/host-contract.test.ts
  // checks every one against the script); these check that a refusal names the spec's field.
  const cases: Array<[string, Config, RegExp]> = [
    ['deployment name with capitals', { MD_DEPLOYMENT: 'Fraud_Scorer' }, /deployment=invalid: .*invalid endpointName \(MD_DEPLOYMENT\) 'Fraud_Scorer'\. Allowed: 1 to 40 characters/],
    ['MD_DIR with a space', { MD_DIR: '/opt/model deployments/fraud-scorer' }, /invalid hosts\[\]\.deployRoot \(MD_DIR\) '\/opt\/model deployments\/fraud-scorer'\. Allowed: an absolute path/],
    ['relative MD_DIR', { MD_DIR: 'opt/fraud-scorer' }, /invalid hosts\[\]\.deployRoot \(MD_DIR\) 'opt\/fraud-scorer'/],
    ['MD_DIR with ..', { MD_DIR: '/opt/../etc/fraud-scorer' }, /no "\." or "\.\." components/],
    ['MD_DIR not named after the deployment', { MD_DIR: '/opt/model-deployments/other' }, /invalid hosts\[\]\.deployRoot \(MD_DIR\) '\/opt\/model-deployments\/other'\. Allowed: MD_DIR is the deploy root followed by \/<deployment name>/],
    ['non-numeric port', { MD_CONTAINER_PORT: '80a' }, /invalid serving\.port \(MD_CONTAINER_PORT\) '80a'/],
    ['port out of range', { MD_PROXY_PORT: '70000' }, /invalid proxyPort \(MD_PROXY_PORT\) '70000'/],
    ['bad version', { MD_VERSION: 'v1.2.3' }, /invalid version \(MD_VERSION\) 'v1\.2\.3'/],
    ['unknown runtime', { MD_RUNTIME: 'nerdctl' }, /invalid runtime \(MD_RUNTIME\) 'nerdctl'\. Allowed: docker or podman/],
    ['runtime args with a glob', { MD_RUNTIME_ARGS: '--root /srv/*' }, /invalid hosts\[\]\.runtimeArgs \(MD_RUNTIME_ARGS\) '--root \/srv\/\*'/],
    ['only one TLS file', { MD_TLS_CERT: '/etc/md/tls.crt' }, /invalid tls \(MD_TLS_CERT\).*Allowed: both certificatePath and keyPath/],
    ['proxy port among the slot ports', { MD_PROXY_PORT: '18100' }, /invalid proxyPort \(MD_PROXY_PORT\) 18100, inside 18000-18127/],
    ['bad memory limit', { MD_MEMORY: '4 gigs' }, /invalid compute\.memoryGiB \(MD_MEMORY\) '4 gigs'/],
    ['a health path with a command substitution', { MD_HEALTH_PATH: '/$(id)' }, /invalid serving\.healthPath \(MD_HEALTH_PATH\) '\/\$\(id\)'/],
    ['a capability with the CAP_ prefix', { MD_CAP_ADD: 'CAP_NET_ADMIN' }, /invalid containerCapabilities \(MD_CAP_ADD\) 'CAP_NET_ADMIN'/],
    ['a capability list with a shell character', { MD_CAP_ADD: 'CHOWN;id' }, /invalid containerCapabilities \(MD_CAP_ADD\) 'CHOWN;id'/],
    ['ALL capabilities', { MD_CAP_ADD: 'ALL' }, /invalid containerCapabilities \(MD_CAP_ADD\) 'ALL'/],
    ['an unknown capability', { MD_CAP_ADD: 'NET_BIND_SERVICE,FLY' }, /invalid containerCapabilities \(MD_CAP_ADD\) 'NET_BIND_SERVICE,FLY'/],
    ['a read-only flag that is not 0 or 1', { MD_READ_ONLY_ROOT: 'yes' }, /invalid readOnlyRootFilesystem \(MD_READ_ONLY_ROOT\) 'yes'\. Allowed: 0 or 1/],
    ['slot ports past 65535', { MD_SLOT_PORT_BASE: '65409' }, /invalid slotPortBase \(MD_SLOT_PORT_BASE\) '65409'/],
    ['more replicas than a host may run', { MD_REPLICAS: '65' }, /invalid scaling\.minReplicas \(MD_REPLICAS\) '65'/],
    ['proxy port on the last slot port', { MD_PROXY_PORT: '18127' }, /invalid proxyPort \(MD_PROXY_PORT\) 18127, inside 18000-18127/],
    ['client networks that are not CIDRs', { MD_ALLOWED_CLIENTS: 'intranet' }, /invalid allowedClientCidrs \(MD_ALLOWED_CLIENTS\) 'intranet'\. Allowed: IPv4 or IPv6 CIDRs/],
    ['an nginx directive after a client network', { MD_ALLOWED_CLIENTS: '10.0.0.0/8; allow all' }, /invalid allowedClientCidrs \(MD_ALLOWED_CLIENTS\) '10\.0\.0\.0\/8; allow all'/],
    ['no client network at all', { MD_ALLOWED_CLIENTS: '' }, /invalid allowedClientCidrs \(MD_ALLOWED_CLIENTS\) ''/],
  ];
  test.each(cases)('refuses %s', (_name, overrides, message) => {
    sb = new Sandbox();
    const cfg = sb.config(overrides);
    const r = sb.run(['plan', sb.writeConfig({ ...cfg, MD_VERSION: /^v[0-9a-f]{12}$/.test(cfg.MD_VERSION) ? cfg.MD_VERSION : VERSION }, Object.entries(cfg).map(([k, v]) => `${k}='${v}'`).join('\n'))]);
    expect(r.status).toBe(1);
    expect(errorLine(r)).toMatch(message);
    expect(r.stdout).toBe('');
  });

  test('refuses a line that is not NAME=\'value\' without running it', () => {
    sb = new Sandbox();
    const marker = path.join(sb.root, 'pwned');
    const cfg = sb.config();
    const raw = Object.entries(cfg).map(([k, v]) => `${k}='${v}'`).join('\n') + `\nMD_CPUS=$(touch ${marker})\n`;
    const r = sb.run(['plan', sb.writeConfig(cfg, raw)]);
    expect(errorLine(r)).toMatch(new RegExp(`line ${Object.keys(cfg).length + 1} is not of the form MD_NAME='value'`));
    expect(fs.existsSync(marker)).toBe(false);
  });

  test('refuses a missing key and an unknown key', () => {
    sb = new Sandbox();
    const cfg = sb.config();
    const { MD_PROXY_BIND: _drop, ...rest } = cfg;
    let r = sb.run(['plan', sb.writeConfig(cfg, Object.entries(rest).map(([k, v]) => `${k}='${v}'`).join('\n'))]);
    expect(errorLine(r)).toMatch(/does not set MD_PROXY_BIND/);
    r = sb.run(['plan', sb.writeConfig(cfg, Object.entries({ ...cfg, MD_GPU_COUNT: '2' }).map(([k, v]) => `${k}='${v}'`).join('\n'))]);
    expect(errorLine(r)).toMatch(/sets unknown key MD_GPU_COUNT/);
  });
});

describe('nginx configuration: the client networks the proxy answers', () => {
  /** The configuration deploy would write (the hidden _nginx-conf subcommand). */
  function nginxConf(overrides: Config = {}, raw?: string): string {
    const r = sb.run(['_nginx-conf', sb.writeConfig(sb.config(overrides), raw)]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  }
  /** The server block that listens on LISTEN (servers hold no nested braces but their location's). */
  function server(conf: string, listen: string): string {
    const start = conf.indexOf(`    listen ${listen}`);
    expect(start).toBeGreaterThan(0);
    const end = conf.indexOf('\n  }\n', start);
    return conf.slice(conf.lastIndexOf('  server {', start), end);
  }

  test('the proxy on MD_PROXY_BIND:MD_PROXY_PORT answers only MD_ALLOWED_CLIENTS: 403 for the others before the key check, and deny all in every location', () => {
    sb = new Sandbox();
    const conf = nginxConf({ MD_ALLOWED_CLIENTS: '10.20.0.0/16,fd00:1::/64,192.168.7.9/32' });
    expect(conf).toContain('  geo $md_client_allowed {\n    default 0;\n    10.20.0.0/16 1;\n    fd00:1::/64 1;\n    192.168.7.9/32 1;\n  }\n');
    const proxy = server(conf, '0.0.0.0:8443;');
    // The server's rewrite phase runs before its location's: the 403 comes before the 401.
    expect(proxy.indexOf('if ($md_client_allowed = 0) { return 403; }')).toBeLessThan(proxy.indexOf('location /'));
    expect(proxy.indexOf('if ($md_client_allowed = 0) { return 403; }')).toBeLessThan(proxy.indexOf('return 401;'));
    expect(proxy).toContain('    allow 10.20.0.0/16;\n    allow fd00:1::/64;\n    allow 192.168.7.9/32;\n    deny all;\n');
    // One location, which every path (the health path included) falls into.
    expect(proxy.match(/location /g)).toEqual(['location ']);
    expect(proxy).toMatch(/location \/ \{/);
  });

  test('the host\'s own probe listens on a Unix socket in the private proxy directory, with the same routes and key check but no client networks', () => {
    sb = new Sandbox();
    const conf = nginxConf({ MD_TLS_CERT: '/etc/tls/cert.pem', MD_TLS_KEY: '/etc/tls/key.pem', MD_PROXY_BIND: '::', MD_PROXY_PORT: '9443' });
    const proxy = server(conf, '[::]:9443 ssl;');
    const probe = server(conf, `unix:${sb.mdDir}/proxy/probe.sock;`);
    expect(probe).not.toMatch(/allow|deny|md_client_allowed|ssl/);
    const routes = (block: string) => block.slice(block.indexOf('client_max_body_size'));
    expect(routes(probe)).toBe(routes(proxy));
    expect(routes(probe)).toContain('if ($md_authorized = 0) { return 401; }');
    expect(proxy).toContain('ssl_certificate /etc/tls/cert.pem;');
  });

  test('a version deployed before MD_ALLOWED_CLIENTS existed still loads (resume): its proxy answered every address', () => {
    sb = new Sandbox();
    const { MD_ALLOWED_CLIENTS: _drop, ...old } = sb.config();
    const conf = nginxConf({}, Object.entries(old).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n');
    expect(conf).toContain('    allow 0.0.0.0/0;\n    allow ::/0;\n    deny all;\n');
  });
});

describe('API keys', () => {
  const GOOD = ['Zm9vYmFyLWtleS0wMDAx+/=', 'second.key_with-chars~0123'];

  test('update-keys MD_DIR installs the uploaded keys privately, writes exact-match nginx maps (mode 0600), never prints a key', () => {
    sb = new Sandbox();
    sb.uploadKeys([GOOD[0], '', '# a comment line', GOOD[1], GOOD[0]]);
    const r = sb.run(['update-keys', sb.mdDir], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    const proxy = path.join(sb.mdDir, 'proxy');
    // Anchored, case-sensitive regular expressions: exact matches whatever the key's length
    // (string entries go through nginx's map hash, whose bucket size a 40-character key overflows,
    // and are compared case-insensitively). Regex metacharacters are escaped.
    expect(fs.readFileSync(path.join(proxy, 'api-keys.map'), 'utf8')).toBe(
      '"~^Zm9vYmFyLWtleS0wMDAx\\+/=$" 1;\n"~^second\\.key_with-chars~0123$" 1;\n');
    // RFC 7235: the scheme is case-insensitive, the key is not.
    expect(fs.readFileSync(path.join(proxy, 'bearer.map'), 'utf8')).toBe(
      '"~^(?i:bearer) +Zm9vYmFyLWtleS0wMDAx\\+/=$" 1;\n"~^(?i:bearer) +second\\.key_with-chars~0123$" 1;\n');
    expect(fs.existsSync(path.join(proxy, 'api-keys.upload'))).toBe(false);
    expect(fs.readFileSync(path.join(proxy, 'api-keys'), 'utf8')).toContain(GOOD[1]);
    for (const f of ['api-keys', 'api-keys.map', 'bearer.map']) {
      expect(fs.statSync(path.join(proxy, f)).mode & 0o777).toBe(0o600);
    }
    expect(fs.statSync(proxy).mode & 0o777).toBe(0o700);
    expect(r.stdout).toContain('key maps written for 2 API key(s)');
    for (const k of GOOD) expect(r.stdout + r.stderr).not.toContain(k);
  });

  test('every regular expression metacharacter a key may hold is escaped', () => {
    sb = new Sandbox();
    const key = 'a.b+c*d?e|f(g)h[i]j^k/l=m~n!o%p&q,r:s<t>u@v_w-0123';
    sb.uploadKeys([key]);
    expect(sb.run(['update-keys', sb.mdDir]).status).toBe(0);
    const line = fs.readFileSync(path.join(sb.mdDir, 'proxy', 'api-keys.map'), 'utf8');
    const regex = /^"~(.*)" 1;\n$/.exec(line)![1];
    // The same expression, read by a PCRE-compatible engine, matches the key and nothing else close.
    const re = new RegExp(regex);
    expect(re.test(key)).toBe(true);
    for (const near of [key.toUpperCase(), key.replace('.', 'X'), key.replace('b+', 'bb'), key.replace('d?', ''), `${key}x`, `x${key}`]) {
      expect([near, re.test(near)]).toEqual([near, false]);
    }
  });

  test('update-keys works before any deployment exists (the keys come first): no config, no proxy yet', () => {
    sb = new Sandbox();
    fs.rmSync(sb.mdDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(sb.mdDir, 'proxy'), { recursive: true, mode: 0o700 });
    sb.uploadKeys([GOOD[0]]);
    const r = sb.run(['update-keys', sb.mdDir], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${PREFIX}proxy not running; the next deploy uses the new keys`);
    expect(fs.readdirSync(path.join(sb.mdDir, 'proxy')).sort()).toEqual(['api-keys', 'api-keys.map', 'bearer.map']);
    // Run again without a new upload: the installed keys are kept and the maps rewritten.
    expect(sb.run(['update-keys', sb.mdDir], { MD_HOST: HOST }).status).toBe(0);
    expect(fs.readFileSync(path.join(sb.mdDir, 'proxy', 'api-keys'), 'utf8')).toBe(`${GOOD[0]}\n`);
  });

  const BAD: Array<[string, string, RegExp]> = [
    ['a double quote', 'abc"def0123456789xyz', /Allowed: only letters, digits and printable ASCII other than quotes, backslash/],
    ['a single quote', "abc'def0123456789xyz", /other than quotes, backslash/],
    ['a backslash', 'abc\\def0123456789xyz', /other than quotes, backslash/],
    ['a semicolon', 'abc;def0123456789xyz', /other than quotes, backslash, ;/],
    ['a space', 'abc def0123456789xyz', /\(no spaces, no other characters\)/],
    ['a tab', 'abc\tdef0123456789xyz', /\(no spaces, no other characters\)/],
    ['a leading ~ (nginx regex)', '~abcdef0123456789xyz', /a first character other than ~/],
    ['too short', 'default', /Allowed: 16 to 1024 characters \(this one has 7\)/],
  ];
  test.each(BAD)('refuses a key with %s, names its line, does not print it, keeps the installed keys and maps', (_n, bad, message) => {
    sb = new Sandbox();
    const proxy = path.join(sb.mdDir, 'proxy');
    sb.uploadKeys([GOOD[0]]);
    expect(sb.run(['update-keys', sb.mdDir]).status).toBe(0);
    const before = fs.readFileSync(path.join(proxy, 'api-keys.map'), 'utf8');
    sb.uploadKeys([GOOD[0], bad]);
    const r = sb.run(['update-keys', sb.mdDir]);
    expect(r.status).toBe(1);
    const e = errorLine(r);
    expect(e).toMatch(message);
    expect(e).toContain('line 2 of');
    expect(r.stdout + r.stderr).not.toContain(bad);
    expect(r.stdout + r.stderr).not.toContain(GOOD[0]);
    expect(fs.readFileSync(path.join(proxy, 'api-keys.map'), 'utf8')).toBe(before);
    expect(fs.readFileSync(path.join(proxy, 'api-keys'), 'utf8')).toBe(`${GOOD[0]}\n`);
    expect(fs.statSync(path.join(proxy, 'api-keys.upload')).mode & 0o777).toBe(0o600);
  });

  test('preflight refuses a bad key too, and an empty key file', () => {
    sb = new Sandbox();
    sb.readyForPreflight(['ok-key-0123456789abcdef', 'bad;key;0123456789abcdef']);
    const file = sb.writeConfig(sb.config());
    let r = sb.run(['preflight', file]);
    expect(errorLine(r)).toMatch(/API key on line 2 of .*is refused \(the key is not shown\)\. Allowed: only letters, digits and printable ASCII other than quotes, backslash, ;/);
    expect(r.stdout + r.stderr).not.toContain('bad;key');
    expect(r.stdout + r.stderr).not.toContain('ok-key-0123456789abcdef');
    sb.writeKeys(['# no keys yet']);
    r = sb.run(['preflight', file]);
    expect(errorLine(r)).toMatch(/holds no key/);
  });
});

describe('install-artifact', () => {
  function upload(sb: Sandbox, files: Record<string, string>): string {
    const src = path.join(sb.root, 'model-src');
    fs.mkdirSync(src, { recursive: true });
    for (const [n, c] of Object.entries(files)) fs.writeFileSync(path.join(src, n), c);
    const tgz = path.join(sb.root, 'model.tar.gz');
    const t = spawnSync('tar', ['-czf', tgz, '-C', src, '.']);
    expect(t.status).toBe(0);
    const sha = crypto.createHash('sha256').update(fs.readFileSync(tgz)).digest('hex');
    fs.mkdirSync(path.join(sb.mdDir, 'artifacts'), { recursive: true });
    fs.copyFileSync(tgz, path.join(sb.mdDir, 'artifacts', `${sha}.tar.upload`));
    return sha;
  }

  test('refuses an upload whose checksum differs and installs nothing', () => {
    sb = new Sandbox();
    const sha = upload(sb, { 'model.onnx': 'weights' });
    const wrong = 'f'.repeat(64);
    fs.renameSync(path.join(sb.mdDir, 'artifacts', `${sha}.tar.upload`), path.join(sb.mdDir, 'artifacts', `${wrong}.tar.upload`));
    const r = sb.run(['install-artifact', sb.mdDir, wrong], { MD_HOST: HOST });
    expect(r.status).toBe(1);
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=${DEP}: artifact upload ${sb.mdDir}/artifacts/${wrong}.tar.upload has sha256 ${sha}, expected ${wrong} ` +
      '(corrupted or changed in transfer); removed it, run apply again to upload it again');
    expect(fs.readdirSync(path.join(sb.mdDir, 'artifacts'))).toEqual([]);
  });

  test('installs a read-only directory atomically, removes the upload, is idempotent', () => {
    sb = new Sandbox();
    const sha = upload(sb, { 'model.onnx': 'weights', 'config.json': '{"a":1}' });
    const r = sb.run(['install-artifact', sb.mdDir, sha], { MD_HOST: HOST });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const art = path.join(sb.mdDir, 'artifacts');
    expect(fs.readdirSync(art).sort()).toEqual([sha, `${sha}.complete`]);
    expect(fs.readFileSync(path.join(art, sha, 'model.onnx'), 'utf8')).toBe('weights');
    for (const p of [path.join(art, sha), path.join(art, sha, 'model.onnx'), path.join(art, sha, 'config.json')]) {
      const mode = fs.statSync(p).mode;
      expect(mode & 0o222).toBe(0); // no write bit for anyone
      expect(mode & 0o444).toBe(0o444); // readable by the container's user
    }
    expect(r.stdout).toContain(`${PREFIX}artifact ${sha} installed read-only`);
    const again = sb.run(['install-artifact', sb.mdDir, sha], { MD_HOST: HOST });
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(`${PREFIX}artifact ${sha} already present\n`);
  });

  test('remove-artifact keeps an artifact a container still uses', () => {
    sb = new Sandbox();
    const sha = upload(sb, { 'model.onnx': 'weights' });
    expect(sb.run(['install-artifact', sb.mdDir, sha]).status).toBe(0);
    sb.addContainer('user', { 'md.deployment': DEP, 'md.artifact': sha });
    let r = sb.run(['remove-artifact', sb.mdDir, sha, 'podman', ''], { MD_HOST: HOST });
    expect(r.stdout).toContain(`artifact ${sha} kept: container(s) user still use it`);
    expect(fs.existsSync(path.join(sb.mdDir, 'artifacts', sha))).toBe(true);
    fs.rmSync(path.join(sb.state, 'containers', 'user'));
    r = sb.run(['remove-artifact', sb.mdDir, sha, 'podman', ''], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(sb.mdDir, 'artifacts'))).toEqual([]);
  });
});

describe('install-image', () => {
  function archive(sb: Sandbox, ref: string, id: string): string {
    const content = `${ref} ${id}\n`;
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    fs.mkdirSync(path.join(sb.mdDir, 'images'), { recursive: true });
    fs.writeFileSync(path.join(sb.mdDir, 'images', `${sha}.tar.upload`), content);
    return sha;
  }

  test('loads an archive and checks the image id with or without sha256:', () => {
    sb = new Sandbox();
    const sha = archive(sb, IMAGE, `sha256:${IMAGE_ID}`);
    const r = sb.run(['install-image', sb.mdDir, 'docker', '', IMAGE, sha, IMAGE_ID], { MD_HOST: HOST });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`image ${IMAGE} loaded (id ${IMAGE_ID.slice(0, 12)})`);
    expect(fs.existsSync(path.join(sb.mdDir, 'images', `${sha}.tar.upload`))).toBe(false);
  });

  test('refuses an archive that loads another image id', () => {
    sb = new Sandbox();
    const other = 'ee'.repeat(32);
    const sha = archive(sb, IMAGE, other);
    const r = sb.run(['install-image', sb.mdDir, 'podman', '', IMAGE, sha, `sha256:${IMAGE_ID}`], { MD_HOST: HOST });
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=${DEP}: image ${IMAGE} loaded from the archive has id sha256:${other}, expected sha256:${IMAGE_ID}; ` +
      'the archive holds another build, or another image of that name was loaded');
  });

  test('docker failing to load an archive says which archives docker loads (OCI archives are for podman)', () => {
    sb = new Sandbox();
    const sha = archive(sb, IMAGE, `sha256:${IMAGE_ID}`);
    fs.writeFileSync(path.join(sb.state, 'fail-load'), 'open /var/lib/docker/tmp/docker-import-1/repositories: no such file or directory\n');
    const r = sb.run(['install-image', sb.mdDir, 'docker', '', IMAGE, sha, IMAGE_ID], { MD_HOST: HOST });
    expect(errorLine(r)).toMatch(/load -i .* failed \(exit 125\): .*no such file or directory; docker loads docker-archives \(docker save, or podman save --format docker-archive\); OCI archives load with podman$/);
  });

  test('without an archive: present image is kept, missing one is pulled, pull failure explains', () => {
    sb = new Sandbox();
    sb.addImage(IMAGE, IMAGE_ID);
    let r = sb.run(['install-image', sb.mdDir, 'podman', '', IMAGE, '', '']);
    expect(r.stdout).toContain(`image ${IMAGE} already present`);
    expect(sb.calls().some((c) => c.includes(' pull '))).toBe(false);
    r = sb.run(['install-image', sb.mdDir, 'podman', '', 'registry.example/x:2', '', ''], { MD_HOST: HOST });
    expect(errorLine(r)).toContain('could not pull registry.example/x:2 (exit 125)');
    expect(errorLine(r)).toContain('ship the image as an archive');
  });
});

describe('deploy rollback and retire (fake runtime)', () => {
  test('a replica that exits while starting is removed, its GPU released, the active version untouched', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.readyForPreflight();
    fs.writeFileSync(path.join(sb.root, 'cdi', 'nvidia.yaml'), A10G.map((u) => `  - name: ${u}\n`).join(''));
    sb.activeVersion(OLD_VERSION, 0, [A10G[0]]);
    fs.writeFileSync(path.join(sb.state, 'new-status'), 'exited');
    const cfg = sb.config({ MD_GPUS_PER_REPLICA: '1', MD_SLOT_PORT_BASE: '38170' });
    const r = sb.run(['deploy', sb.writeConfig(cfg)]);
    expect(r.status).toBe(1);
    const e = errorLine(r);
    expect(e).toMatch(new RegExp(`^ERROR host=${HOST} deployment=${DEP}: replica 0 \\(${DEP}-${VERSION}-r0\\) stopped while starting \\(state exited`));
    expect(e).toContain('rolled back');
    expect(r.stdout).toContain('fake log: model failed to load');
    expect(r.stdout).toContain(`removed container ${DEP}-${VERSION}-r0`);
    expect(r.stdout).toContain(`released GPU ${A10G[1]}`);
    expect(sb.containers()).toEqual([`${DEP}-${OLD_VERSION}-r0`]);
    expect(sb.gpuFiles()).toEqual([A10G[0]]);
    expect(fs.readFileSync(path.join(sb.mdDir, 'active'), 'utf8')).toBe(`${OLD_VERSION}\n`);
    expect(fs.existsSync(path.join(sb.mdDir, 'proxy', 'upstreams.conf'))).toBe(false);
    expect(fs.existsSync(path.join(sb.mdRoot, '.gpus', '.lock'))).toBe(false);
    // The container was started with the argv plan prints.
    const planned = planArgv(sb.run(['plan', sb.writeConfig(cfg)]))[0];
    const ran = sb.calls().find((c) => c.startsWith('podman run '));
    expect(ran && shellSplit(ran)).toEqual(planned);
  });

  test('retire of a replaced version removes only its containers, GPUs and files; retire of the active one tears down', () => {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    sb.activeVersion(VERSION, 1, [A10G[1]]);
    const oldDir = path.join(sb.mdDir, 'versions', OLD_VERSION);
    fs.mkdirSync(oldDir, { recursive: true });
    sb.assign(A10G[0], DEP, OLD_VERSION, 0);
    sb.addContainer(`${DEP}-${OLD_VERSION}-r0`, { 'md.deployment': DEP, 'md.version': OLD_VERSION, 'md.replica': '0', 'md.gpus': A10G[0] });
    sb.otherDeployment('churn-model', OLD_VERSION, [A10G[2]]);
    fs.mkdirSync(path.join(sb.mdDir, 'artifacts', SHA), { recursive: true });
    fs.chmodSync(path.join(sb.mdDir, 'artifacts', SHA), 0o555);

    let r = sb.run(['retire', sb.mdDir, OLD_VERSION, 'podman', ''], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`retiring version ${OLD_VERSION} (replaced by ${VERSION})`);
    expect(r.stdout).toContain(`removed container ${DEP}-${OLD_VERSION}-r0`);
    expect(sb.containers()).toEqual([`churn-model-${OLD_VERSION}-r0`, `${DEP}-${VERSION}-r0`]);
    expect(sb.gpuFiles()).toEqual([A10G[1], A10G[2]]);
    expect(fs.existsSync(oldDir)).toBe(false);
    // Idempotent.
    r = sb.run(['retire', sb.mdDir, OLD_VERSION, 'podman', ''], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`no container of ${OLD_VERSION} left`);

    r = sb.run(['retire', sb.mdDir, VERSION, 'podman', ''], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`tearing down deployment ${DEP}`);
    expect(sb.containers()).toEqual([`churn-model-${OLD_VERSION}-r0`]);
    expect(sb.gpuFiles()).toEqual([A10G[2]]);
    expect(fs.existsSync(sb.mdDir)).toBe(false);
    expect(fs.existsSync(path.join(sb.mdRoot, 'churn-model'))).toBe(true);
    r = sb.run(['retire', sb.mdDir, VERSION, 'podman', ''], { MD_HOST: HOST });
    expect(r.status).toBe(0);
  });

  test('usage errors name the subcommand form', () => {
    sb = new Sandbox();
    const r = sb.run(['retire', sb.mdDir], { MD_HOST: HOST });
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=?: usage: bash modeldeploy.sh retire MD_DIR VERSION RUNTIME 'RUNTIME_ARGS'`);
  });
});

describe('slot ports: changing the replica count never collides with the running version', () => {
  const MAX = 64;

  test('every transition (old count 1..64, new count 1..64, active colour 0 or 1): the new version\'s ports never intersect the running one\'s', () => {
    sb = new Sandbox();
    // The script's own slot_port for every colour and count, in one run.
    const queries: Array<[number, number]> = [];
    for (const colour of [0, 1]) for (let n = 1; n <= MAX; n++) queries.push([colour, n]);
    const r = sb.run(['_slot-ports', '18000'], { MD_HOST: HOST }, { input: queries.map(([c, n]) => `${c} ${n}\n`).join('') });
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(queries.length);
    const ports = new Map(queries.map(([c, n], i) => [`${c} ${n}`, lines[i].split(' ').map(Number)]));
    let cases = 0;
    for (const active of [0, 1]) {
      for (let oldCount = 1; oldCount <= MAX; oldCount++) {
        for (let newCount = 1; newCount <= MAX; newCount++) {
          const running = new Set(ports.get(`${active} ${oldCount}`)!);
          const next = ports.get(`${1 - active} ${newCount}`)!;
          expect(next).toHaveLength(newCount);
          if (next.some((p) => running.has(p))) throw new Error(`collision: colour ${active} x ${oldCount} -> ${newCount}`);
          cases++;
        }
      }
    }
    expect(cases).toBe(2 * MAX * MAX);
    // The whole reservation is the fixed range [base, base + 127].
    const all = [...ports.values()].flat();
    expect(Math.min(...all)).toBe(18000);
    expect(Math.max(...all)).toBe(18000 + 2 * MAX - 1);
  });

  test('plan picks the other colour with those ports: 2 -> 1 from colour 0 and 1 -> 2 from colour 1 (the issue\'s collisions)', () => {
    sb = new Sandbox();
    sb.activeVersion(OLD_VERSION, 0, []);
    sb.addContainer(`${DEP}-${OLD_VERSION}-r1`, { 'md.deployment': DEP, 'md.version': OLD_VERSION, 'md.replica': '1' });
    let argv = planArgv(sb.run(['plan', sb.writeConfig(sb.config({ MD_REPLICAS: '1' }))]));
    // Before: 18000 + 1 * 1 + 0 = 18001, the port of the running replica 1.
    expect(argv.map((a) => flagValues(a, '-p')[0])).toEqual(['127.0.0.1:18064:8080']);
    fs.writeFileSync(path.join(sb.mdDir, 'versions', OLD_VERSION, 'color'), '1\n');
    argv = planArgv(sb.run(['plan', sb.writeConfig(sb.config({ MD_REPLICAS: '2' }))]));
    // Before: 18000 + 0 * 2 + {0,1} = 18000, 18001, and the running replica of colour 1 held 18000 + 1 * 1 + 0.
    expect(argv.map((a) => flagValues(a, '-p')[0])).toEqual(['127.0.0.1:18000:8080', '127.0.0.1:18001:8080']);
  });
});

describe('prepare: private directories, owner marker, safe deployRoot', () => {
  const OWNER = 'onprem/Fraud';
  const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

  test('creates the deployment\'s directories 0700 (a missing deployRoot too: nginx\'s workers need no path through it) and the owner marker; idempotent', () => {
    sb = new Sandbox();
    fs.rmSync(sb.mdRoot, { recursive: true });
    let r = sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST });
    expect(r.stderr).toBe('');
    expect(modeOf(sb.mdRoot)).toBe(0o700);
    for (const d of ['', 'tool', 'proxy', 'versions', 'artifacts', 'images']) expect(modeOf(path.join(sb.mdDir, d))).toBe(0o700);
    expect(fs.readFileSync(path.join(sb.mdDir, 'owner'), 'utf8')).toBe(`${OWNER}\n`);
    r = sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST });
    expect(r.status).toBe(0);
  });

  test('refuses a directory another deployment owns, naming both, and changes nothing there', () => {
    sb = new Sandbox();
    expect(sb.run(['prepare', sb.mdDir, 'stack-a/Vision', ANCHOR], { MD_HOST: HOST }).status).toBe(0);
    const before = snapshot(sb.mdDir);
    const r = sb.run(['prepare', sb.mdDir, 'stack-a/vision', ANCHOR], { MD_HOST: HOST });
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=${DEP}: ${sb.mdDir} belongs to the deployment stack-a/Vision, not to stack-a/vision; ` +
      'two deployments cannot share a directory: give one another endpointName or deployRoot');
    expect(snapshot(sb.mdDir)).toEqual(before);
  });

  test('refuses a deployRoot, or a directory above it, that is group/world-writable or owned by another user; accepts a sticky ancestor like /tmp', () => {
    sb = new Sandbox();
    const opt = path.dirname(sb.mdRoot);
    fs.chmodSync(sb.mdRoot, 0o775);
    let r = sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST });
    expect(errorLine(r)).toBe(`ERROR host=${HOST} deployment=${DEP}: deployRoot ${sb.mdRoot} is not safe: ${sb.mdRoot} is writable by group or others (mode 775), ` +
      'and root\'s boot hook runs a script from under it; use a directory that only root or this user can write, e.g. /opt/model-deployments');
    fs.chmodSync(sb.mdRoot, 0o1777);
    expect(errorLine(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST }))).toContain(`${sb.mdRoot} is writable by group or others (mode 1777)`);
    fs.chmodSync(sb.mdRoot, 0o755);
    fs.chmodSync(opt, 0o757);
    expect(errorLine(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST }))).toContain(`: ${opt} is writable by group or others (mode 757)`);
    // Sticky like /tmp: nobody can rename or replace an entry they do not own.
    fs.chmodSync(opt, 0o1777);
    expect(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST }).status).toBe(0);
    fs.chmodSync(opt, 0o755);
    fs.chownSync(opt, 65534, 65534);
    r = sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST });
    expect(errorLine(r)).toContain(`deployRoot ${sb.mdRoot} is not safe: ${opt} is owned by uid 65534, neither root nor this user (uid 0)`);
    // A symlinked deployRoot is checked where it leads, too.
    fs.chownSync(opt, 0, 0);
    const elsewhere = path.join(sb.root, 'elsewhere');
    fs.mkdirSync(elsewhere, { mode: 0o777 });
    fs.chmodSync(elsewhere, 0o777);
    const link = path.join(sb.root, 'linked-root');
    fs.symlinkSync(elsewhere, link);
    r = sb.run(['prepare', path.join(link, DEP), OWNER, ANCHOR], { MD_HOST: HOST });
    expect(errorLine(r)).toContain(`deployRoot ${link} is not safe: `);
    // Deploy checks it too (the boot hook is installed then), before changing anything.
    fs.chmodSync(sb.mdRoot, 0o777);
    sb.readyForPreflight();
    expect(errorLine(sb.run(['preflight', sb.writeConfig(sb.config())]))).toContain(`deployRoot ${sb.mdRoot} is not safe`);
  });

  test('makes Terraform\'s script directory 0700, and refuses (removing it) a home other users can enter', () => {
    sb = new Sandbox();
    const scripts = path.join(sb.root, '.model-deploy-fraud-scorer-0123abcd');
    fs.mkdirSync(scripts, { mode: 0o755 });
    fs.chmodSync(scripts, 0o755);
    expect(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR, '.model-deploy-fraud-scorer-0123abcd'], { MD_HOST: HOST }).status).toBe(0);
    expect(modeOf(scripts)).toBe(0o700);
    fs.chmodSync(sb.root, 0o755);
    const r = sb.run(['prepare', sb.mdDir, OWNER, ANCHOR, '.model-deploy-fraud-scorer-0123abcd'], { MD_HOST: HOST });
    expect(errorLine(r)).toContain(`the SSH user's home ${sb.root} can be entered by other users (mode 755)`);
    // A failed prepare removes the directory (Terraform runs no destroy step for what failed to create).
    expect(fs.existsSync(scripts)).toBe(false);
    expect(errorLine(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR, '../etc'], { MD_HOST: HOST }))).toContain('is not .model-deploy-<name>');
  });
});

describe('teardown: removes everything the deployment ever put on the host', () => {
  const OWNER = 'onprem/Fraud';
  const SCRIPTS = '.model-deploy-fraud-scorer-0123abcd';

  /** A host after a failed update: active version, a leftover of another version, a loaded image, a boot hook, GPUs, scripts. */
  function messyHost(): void {
    sb = new Sandbox({ smi: 'g5-12xlarge-4x-a10g.csv' });
    expect(sb.run(['prepare', sb.mdDir, OWNER, ANCHOR], { MD_HOST: HOST }).status).toBe(0);
    sb.activeVersion(OLD_VERSION, 0, [A10G[0]]);
    sb.assign(A10G[1], DEP, VERSION, 0);
    sb.addContainer(`${DEP}-${VERSION}-r0`, { 'md.deployment': DEP, 'md.version': VERSION, 'md.replica': '0' }, 'exited');
    sb.otherDeployment('churn-model', 'v9999bbbb2222', [A10G[2]]);
    const churn = path.join(sb.state, 'containers', 'churn-model-v9999bbbb2222-r0');
    fs.writeFileSync(churn, fs.readFileSync(churn, 'utf8').replace(`image ${IMAGE}`, 'image localhost/other:1'));
    sb.addImage(IMAGE, IMAGE_ID);
    sb.addImage('localhost/other:1', 'ef'.repeat(32));
    fs.writeFileSync(path.join(sb.mdDir, 'images', 'loaded'), `${IMAGE}\n`);
    fs.mkdirSync(path.join(sb.root, 'cron.d'), { recursive: true });
    fs.writeFileSync(path.join(sb.root, 'cron.d', `model-deploy-${DEP}-${HOST}`), `@reboot root MD_HOST=${HOST} /bin/bash ${sb.mdDir}/tool/modeldeploy.sh resume ${sb.mdDir} >>x 2>&1\n`);
    fs.writeFileSync(path.join(sb.root, 'cron.d', `model-deploy-${DEP}-renamed`), `@reboot root /bin/bash ${sb.mdDir}/tool/modeldeploy.sh resume ${sb.mdDir} >>x 2>&1\n`);
    fs.writeFileSync(path.join(sb.root, 'cron.d', 'model-deploy-churn-model-gpu01'), '@reboot root /bin/bash /x/tool/modeldeploy.sh resume /x >>x 2>&1\n');
    fs.mkdirSync(path.join(sb.root, SCRIPTS), { mode: 0o700 });
    for (const f of ['terraform_1.sh', 'terraform_2.sh', 'modeldeploy.sh']) fs.writeFileSync(path.join(sb.root, SCRIPTS, f), '');
  }

  function expectTornDown(): void {
    expect(sb.containers()).toEqual(['churn-model-v9999bbbb2222-r0']);
    expect(sb.gpuFiles()).toEqual([A10G[2]]);
    expect(fs.existsSync(sb.mdDir)).toBe(false);
    expect(fs.existsSync(path.join(sb.mdRoot, 'churn-model'))).toBe(true);
    expect(fs.readdirSync(path.join(sb.root, 'cron.d'))).toEqual(['model-deploy-churn-model-gpu01']);
    expect(fs.readdirSync(path.join(sb.state, 'images'))).toEqual(['localhost_other_1']);
  }

  test('every version\'s containers, GPU files, boot hooks, loaded images and the directory; idempotent', () => {
    messyHost();
    let r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`removed image ${IMAGE}`);
    expectTornDown();
    expect(fs.existsSync(path.join(sb.root, SCRIPTS))).toBe(false);
    r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`deployment ${DEP} removed from this host`);
  });

  test('tolerates partial states: a half-created directory, no runtime, a missing script directory', () => {
    sb = new Sandbox();
    fs.mkdirSync(path.join(sb.mdDir, 'versions', VERSION), { recursive: true });
    sb.removeTool('podman');
    const r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(fs.existsSync(sb.mdDir)).toBe(false);
  });

  test('an image another container still uses is kept', () => {
    messyHost();
    sb.addContainer('someone-else', {});
    const r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`image ${IMAGE} kept: container(s) someone-else still use it`);
    expect(fs.existsSync(sb.mdDir)).toBe(false);
  });

  test('a runtime that cannot list containers fails the teardown (so destroy can be retried) before removing the directory', () => {
    messyHost();
    fs.writeFileSync(path.join(sb.state, 'fail-ps'), 'Error: database is locked\n');
    let r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(errorLine(r)).toContain(`could not list the containers of ${DEP}`);
    expect(fs.existsSync(sb.mdDir)).toBe(true);
    fs.rmSync(path.join(sb.state, 'fail-ps'));
    r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expectTornDown();
  });

  test('a replaced anchor (a renamed host) leaves the directory, and the script directory, that its successor holds', () => {
    messyHost();
    const successor = '0e1d2c3b-4a59-4687-9a0b-1c2d3e4f5a6b';
    expect(sb.run(['prepare', sb.mdDir, OWNER, successor], { MD_HOST: 'gpu01-renamed' }).status).toBe(0);
    const r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`${sb.mdDir} is held by a newer Terraform resource of this deployment (${successor}, not ${ANCHOR}`);
    expect(fs.existsSync(sb.mdDir)).toBe(true);
    expect(sb.containers()).toHaveLength(3);
    expect(fs.existsSync(path.join(sb.root, SCRIPTS))).toBe(true);
    // The successor's own teardown removes it all.
    expect(sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, successor, SCRIPTS], { MD_HOST: HOST }).status).toBe(0);
    expectTornDown();
  });

  test('leaves alone a directory another deployment owns', () => {
    messyHost();
    const r = sb.run(['teardown', sb.mdDir, 'podman', '', 'other-stack/Fraud', ANCHOR, SCRIPTS], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`${sb.mdDir} belongs to the deployment ${OWNER}, not to other-stack/Fraud; left as it is`);
    expect(fs.existsSync(sb.mdDir)).toBe(true);
    expect(sb.containers()).toHaveLength(3);
  });

  test('Terraform\'s running script is left until Terraform has emptied it, then the directory goes', async () => {
    messyHost();
    const running = path.join(sb.root, SCRIPTS, 'terraform_3.sh');
    fs.writeFileSync(running, '#!/bin/sh\necho teardown\n');
    const r = sb.run(['teardown', sb.mdDir, 'podman', '', OWNER, ANCHOR, SCRIPTS, `${SCRIPTS}/terraform_3.sh`], { MD_HOST: HOST });
    expect(r.status).toBe(0);
    expect(fs.readdirSync(path.join(sb.root, SCRIPTS))).toEqual(['terraform_3.sh']);
    fs.writeFileSync(running, ''); // what Terraform does once the script ended
    const deadline = Date.now() + 5000;
    while (fs.existsSync(path.join(sb.root, SCRIPTS)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    expect(fs.existsSync(path.join(sb.root, SCRIPTS))).toBe(false);
  });

  test('install-image remembers what it loaded or pulled, so teardown finds it when no version names it', () => {
    sb = new Sandbox();
    const content = `${IMAGE} sha256:${IMAGE_ID}\n`;
    const sha = crypto.createHash('sha256').update(content).digest('hex');
    fs.mkdirSync(path.join(sb.mdDir, 'images'), { recursive: true });
    fs.writeFileSync(path.join(sb.mdDir, 'images', `${sha}.tar.upload`), content);
    expect(sb.run(['install-image', sb.mdDir, 'podman', '', IMAGE, sha, IMAGE_ID], { MD_HOST: HOST }).status).toBe(0);
    fs.writeFileSync(path.join(sb.state, 'pullable-registry.internal_m_2'), `${'12'.repeat(32)}\n`);
    expect(sb.run(['install-image', sb.mdDir, 'podman', '', 'registry.internal/m:2', '', ''], { MD_HOST: HOST }).status).toBe(0);
    expect(sb.run(['install-image', sb.mdDir, 'podman', '', 'registry.internal/m:2', '', ''], { MD_HOST: HOST }).status).toBe(0);
    expect(fs.readFileSync(path.join(sb.mdDir, 'images', 'loaded'), 'utf8')).toBe(`${IMAGE}\nregistry.internal/m:2\n`);
    expect(sb.run(['teardown', sb.mdDir, 'podman', ''], { MD_HOST: HOST }).status).toBe(0);
    expect(fs.readdirSync(path.join(sb.state, 'images'))).toEqual([]);
  });
});

describe('verification: the samples go to each new replica on its slot port before the proxy switch (fake runtime, a real HTTP server)', () => {
  /** How the model server answers a prediction, by the request's "x". */
  type Reply = { status: number; body: string; delayMs?: number; hangUp?: boolean };
  let server: http.Server;
  let replies: Record<string, Reply> = {};
  let received: string[] = [];
  let base = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.method === 'GET' && req.url === '/ping') return void res.end('ok');
        received.push(`${req.method} ${req.url} ${req.headers['content-type']}${req.headers.expect ? ` expect=${req.headers.expect}` : ''} ${body}`);
        const reply = replies[JSON.parse(body).x] ?? { status: 404, body: 'no such sample' };
        if (reply.hangUp) return void req.socket.destroy();
        setTimeout(() => { res.writeHead(reply.status, { 'content-type': 'application/json' }); res.end(reply.body); }, reply.delayMs ?? 0);
      });
    });
    // The new version takes colour 1 beside the active one on colour 0: replica 0 on base + 64.
    for (let tries = 0; ; tries++) {
      base = 20000 + Math.floor(Math.random() * 30000);
      const ok = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(base + 64, '127.0.0.1', () => resolve(true));
      });
      if (ok) break;
      if (tries > 20) throw new Error('no free port');
    }
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => { replies = {}; received = []; });

  const SAMPLES = [
    { name: 'ok', x: 'a', expected: { predictions: [[9.5, 11.5]] } },
    { name: 'wrong', x: 'b', expected: { predictions: [[9.5, 11.5]] } },
    { name: 'error.500', x: 'c', expected: { predictions: [] } },
    { name: 'not-json', x: 'd', expected: 1 },
  ];

  /** Deploys with SAMPLES (the deploy runs asynchronously, so that this process's server answers). */
  async function deployWith(samples: typeof SAMPLES, budget: number, cfg: Config = {}, stopAt?: RegExp): Promise<RunResult> {
    sb = new Sandbox({ runtimes: ['podman'] });
    sb.readyForPreflight();
    sb.activeVersion(OLD_VERSION, 0, []);
    const tsv = samples.map((s) => [s.name, '0', '0', JSON.stringify({ x: s.x }), JSON.stringify(s.expected)].join('\t') + '\n').join('');
    const config = sb.writeConfig(sb.config({
      MD_SLOT_PORT_BASE: String(base), MD_VERIFY_SAMPLES: String(samples.length), MD_VERIFY_BUDGET_MS: String(budget), MD_VERIFY_PATH: '/invocations',
      MD_VERIFY_SHA256: crypto.createHash('sha256').update(tsv).digest('hex'), ...cfg,
    }));
    fs.writeFileSync(path.join(path.dirname(config), 'samples.tsv'), tsv);
    const child = spawn('bash', [SCRIPT, 'deploy', config], { env: sb.env, cwd: sb.root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
      if (stopAt?.test(stdout)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (c) => { stderr += c; });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    return { status, stdout, stderr, lines: (stdout + stderr).split('\n').filter((l) => l) };
  }

  /** checkSamples' lines for the same samples against the same server. */
  function typescriptLines(samples: typeof SAMPLES, budget: number): Promise<string[]> {
    return checkSamples(samples.map((s) => ({ name: s.name, requestJson: JSON.stringify({ x: s.x }), expectedResponse: s.expected, absoluteTolerance: 0, relativeTolerance: 0 })), budget,
      async (s) => {
        const res = await fetch(`http://127.0.0.1:${base + 64}/invocations`, { method: 'POST', body: s.requestJson, headers: { 'content-type': 'application/json' } });
        return { status: res.status, body: await res.text() };
      });
  }

  /** The refused version left nothing; the active one is untouched. */
  function expectRefusedCleanly(): void {
    expect(sb.containers()).toEqual([`${DEP}-${OLD_VERSION}-r0`]);
    expect(fs.readFileSync(path.join(sb.mdDir, 'active'), 'utf8')).toBe(`${OLD_VERSION}\n`);
    expect(fs.existsSync(path.join(sb.mdDir, 'versions', VERSION))).toBe(false);
    // The proxy was never touched.
    expect(fs.existsSync(path.join(sb.mdDir, 'proxy', 'upstreams.conf'))).toBe(false);
    expect(sb.calls().filter((c) => / run /.test(c))).toHaveLength(Number(1));
  }

  test('a wrong answer, a non-2xx status and a body that is not JSON refuse the version, with checkSamples\' lines and verificationFailedMessage\'s wording; nothing of it is left', async () => {
    replies = {
      a: { status: 200, body: '{"predictions": [[9.5, 11.5]], "modelVersion": "v1"}' },
      b: { status: 200, body: '{"predictions":[[19,25]],"modelVersion":"v2"}' },
      c: { status: 500, body: '{"error":\n  "model crashed"}' },
      d: { status: 200, body: '<html>oops</html>' },
    };
    const r = await deployWith(SAMPLES, 5000);
    expect(r.status).toBe(1);
    // Each sample went to the replica's slot port, as application/json, exactly as written.
    expect(received).toEqual(SAMPLES.map((s) => `POST /invocations application/json {"x":"${s.x}"}`));
    const lines = await typescriptLines(SAMPLES, 5000);
    expect(lines).toHaveLength(3);
    const message = verificationFailedMessage(`version ${VERSION} on host ${HOST} (replica 0, 127.0.0.1:${base + 64})`, lines,
      `the new containers were removed and version ${OLD_VERSION} keeps serving`);
    expect(r.stderr.slice(r.stderr.indexOf('ERROR '))).toBe(`ERROR host=${HOST} deployment=${DEP}: ${message}\n`);
    expect(message).toContain('sample "wrong": wrong answer at $.predictions[0][0]: expected 9.5, got 19; expected {"predictions":[[9.5,11.5]]}, got {"predictions":[[19,25]],"modelVersion":"v2"}');
    expect(r.stdout).toContain(`removed container ${DEP}-${VERSION}-r0`);
    expectRefusedCleanly();
  });

  test('an answer slower than the budget refuses the version; one within it passes the samples and the deploy goes on to the proxy', async () => {
    replies = { a: { status: 200, body: '{"predictions":[[9.5,11.5]]}', delayMs: 400 } };
    const slow = await deployWith([SAMPLES[0]], 150);
    expect(slow.status).toBe(1);
    expect(slow.stderr).toMatch(new RegExp(`: verification of version ${VERSION} on host ${HOST} \\(replica 0, 127\\.0\\.0\\.1:${base + 64}\\) failed \\(1 sample\\); [^\\n]*:\\n  sample "ok": answered in (4\\d\\d|[5-9]\\d\\d) ms, over the latency budget of 150 ms\\n$`));
    expectRefusedCleanly();
    sb.cleanup();
    // Stopped once the switch starts: this sandbox's nginx is a stub the proxy check would wait out.
    const fast = await deployWith([SAMPLES[0]], 5000, {}, /proxy started/);
    expect(fast.stdout).toMatch(/replica 0 \(127\.0\.0\.1:\d+\) answered 1 sample\(s\) correctly, the slowest in (4\d\d|[5-9]\d\d) ms \(budget 5000 ms\)/);
    expect(fast.stdout).toMatch(new RegExp(`proxy started on 0\\.0\\.0\\.0:8443: upstreams 127\\.0\\.0\\.1:${base + 64}`));
  });

  test('a replica that drops the connection fails its samples with curl\'s error', async () => {
    replies = { a: { status: 200, body: '', hangUp: true } };
    const r = await deployWith([SAMPLES[0]], 5000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed \(1 sample\); [^\n]*:\n {2}sample "ok": the request failed: curl: \(52\) Empty reply from server\n$/);
    expectRefusedCleanly();
  });

  test('a samples file that is not the one deploy.env names, or too big, is refused before any request', async () => {
    const r = await deployWith([SAMPLES[0]], 5000, { MD_VERIFY_SHA256: 'ab'.repeat(32) });
    expect(r.stderr).toMatch(/verification samples file \S+samples\.tsv does not match MD_VERIFY_SHA256/);
    expect(received).toEqual([]);
    sb.cleanup();
    // A request over 1 KiB goes without "Expect: 100-continue", which older curls send (a server that ignores it would add a second).
    replies = { ['y'.repeat(2000)]: { status: 200, body: '1' } };
    const large = await deployWith([{ name: 'large', x: 'y'.repeat(2000), expected: 1 }], 5000, {}, /proxy started/);
    expect(large.stdout).toMatch(/answered 1 sample\(s\) correctly/);
    expect(received).toEqual([`POST /invocations application/json {"x":"${'y'.repeat(2000)}"}`]);
    received = [];
    sb.cleanup();
    const big = [{ name: 'big', x: 'x'.repeat(VERIFICATION_LIMITS.maxSampleJsonBytes), expected: 1 }];
    const r2 = await deployWith(big, 5000);
    expect(r2.stderr).toMatch(new RegExp(`\\(sample big\\): ${VERIFICATION_LIMITS.maxSampleJsonBytes + 8} bytes of JSON, more than ${VERIFICATION_LIMITS.maxSampleJsonBytes}`));
    expect(received).toEqual([]);
    expectRefusedCleanly();
  });
});
