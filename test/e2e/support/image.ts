/**
 * Builds the e2e model-server image offline and caches it as a docker-archive tarball (`podman save`), ready
 * to copy to a test host and `podman load`.
 *
 * The image holds: this machine's node binary and the shared libraries `ldd` lists for it and for
 * onnxruntime-node's native binding, onnxruntime-node (JS, binding, libonnxruntime.so, Linux/this-arch only)
 * with onnxruntime-common, and test/e2e/fixtures/server/server.js. No registry is contacted: the rootfs is a
 * tar made here, turned into an image by `podman import`, in a throwaway podman storage.
 *
 * One image per server mode (MODEL_SERVER_MODE baked in as ENV; the container's env can still override it):
 * ok, never-ready (/ping never answers 200), crash (exits 3 at start).
 *
 * The archive is cached under test/e2e/.cache/images/<key>/ where key hashes every input (server.js, the
 * onnxruntime lockfile, node binary and libraries by path/size/mtime, the mode, this builder's version).
 */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeFailure, isAlive, requireE2eTools, run, runOk, sleep } from './exec';
import { CACHE_DIR, E2E_DIR, REPO_ROOT } from './models';

export type ModelServerMode = 'ok' | 'never-ready' | 'crash';

export interface ModelServerImage {
  /** e.g. localhost/mdtest-model-server:ok-0123456789ab (the tag inside the archive: `podman load` restores it) */
  readonly imageRef: string;
  /** the docker-archive tarball */
  readonly archivePath: string;
  /** the image ID, 64 hex chars without 'sha256:', as `podman image inspect --format '{{.Id}}'` prints it after load */
  readonly imageId: string;
  /** sha256 of the archive file (hex) */
  readonly archiveSha256: string;
  readonly archiveBytes: number;
  readonly mode: ModelServerMode;
  /** true when the archive came from the cache */
  readonly cached: boolean;
  /** how long building the archive took (when it was built, if cached) */
  readonly buildMs: number;
  /** the port server.js listens on inside the container, and its health and predict paths */
  readonly port: 8080;
  readonly healthPath: '/ping';
  readonly predictPath: '/invocations';
}

export interface ModelServerImageOptions {
  /** default 'ok' */
  readonly mode?: ModelServerMode;
  /** default test/e2e/.cache */
  readonly cacheDir?: string;
  /** default 'localhost/mdtest-model-server' */
  readonly repository?: string;
  /** rebuild even when a cached archive exists */
  readonly rebuild?: boolean;
}

/** bump when the way the image is assembled changes */
const BUILDER_VERSION = '1';
export const SERVER_JS = path.join(E2E_DIR, 'fixtures', 'server', 'server.js');
const ORT_SPEC_DIR = path.join(REPO_ROOT, 'scripts', 'e2e', 'onnxruntime');
const FETCH_ORT = path.join(REPO_ROOT, 'scripts', 'e2e', 'fetch-onnxruntime.sh');

/** Where onnxruntime-node is (installing it with scripts/e2e/fetch-onnxruntime.sh when it is missing). */
export async function ensureOnnxRuntime(cacheDir = CACHE_DIR): Promise<string> {
  const dir = path.join(cacheDir, 'onnxruntime');
  const binding = path.join(dir, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch, 'onnxruntime_binding.node');
  const stamp = path.join(dir, '.lock-sha256');
  const want = sha256Of(Buffer.concat([fs.readFileSync(path.join(ORT_SPEC_DIR, 'package.json')), fs.readFileSync(path.join(ORT_SPEC_DIR, 'package-lock.json'))]));
  const ok = () => fs.existsSync(binding) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === want;
  if (!ok()) {
    await withLock(path.join(cacheDir, 'onnxruntime.lock'), async () => {
      if (ok()) return;
      const r = await run('bash', [FETCH_ORT, dir], { timeoutMs: 300_000 });
      if (r.code !== 0 || !ok()) {
        throw new Error(
          `onnxruntime-node is needed for the e2e model-server image and could not be installed into ${dir} ` +
            `(scripts/e2e/fetch-onnxruntime.sh needs the npm registry once; CI runs it from scripts/e2e/install-deps.sh).\n${describeFailure(r)}`,
        );
      }
    });
  }
  return path.join(dir, 'node_modules');
}

/** Builds (or takes from the cache) the model-server image archive for `mode`. */
export async function modelServerImage(opts: ModelServerImageOptions = {}): Promise<ModelServerImage> {
  const mode = opts.mode ?? 'ok';
  const cacheDir = opts.cacheDir ?? CACHE_DIR;
  const repository = opts.repository ?? 'localhost/mdtest-model-server';
  requireE2eTools(['podman', 'runc', 'tar', 'ldd', 'npm']);
  const ortModules = await ensureOnnxRuntime(cacheDir);
  const inputs = collectInputs(ortModules);
  const key = sha256Of(JSON.stringify({ BUILDER_VERSION, mode, repository, inputs: inputs.fingerprint })).slice(0, 16);
  const imagesDir = path.join(cacheDir, 'images');
  const entry = path.join(imagesDir, `${mode}-${key}`);
  fs.mkdirSync(imagesDir, { recursive: true });

  const readEntry = (cached: boolean): ModelServerImage | undefined => {
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(entry, 'meta.json'), 'utf8'));
      const archivePath = path.join(entry, 'image.tar');
      if (fs.statSync(archivePath).size !== meta.archiveBytes) return undefined;
      return { ...meta, archivePath, cached, port: 8080, healthPath: '/ping', predictPath: '/invocations' };
    } catch {
      return undefined;
    }
  };

  if (!opts.rebuild) {
    const hit = readEntry(true);
    if (hit) return hit;
  }
  return withLock(`${entry}.lock`, async () => {
    if (!opts.rebuild) {
      const hit = readEntry(true);
      if (hit) return hit;
    }
    const started = Date.now();
    const work = fs.mkdtempSync(path.join(imagesDir, `.build-${mode}-`));
    try {
      const imageRef = `${repository}:${mode}-${key.slice(0, 12)}`;
      const built = await buildArchive(work, inputs, mode, imageRef);
      const buildMs = Date.now() - started;
      const meta = { imageRef, imageId: built.imageId, archiveSha256: built.sha256, archiveBytes: built.bytes, mode, buildMs, key };
      fs.writeFileSync(path.join(work, 'out', 'meta.json'), JSON.stringify(meta, null, 2));
      fs.rmSync(entry, { recursive: true, force: true });
      fs.renameSync(path.join(work, 'out'), entry);
      pruneCache(imagesDir, mode, entry);
      return readEntry(false)!;
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
}

interface Inputs {
  nodeBinary: string;
  files: Array<{ src: string; dest: string }>;
  fingerprint: unknown;
}

function collectInputs(ortModules: string): Inputs {
  const nodeBinary = fs.realpathSync(process.execPath);
  const ortNode = path.join(ortModules, 'onnxruntime-node');
  const ortCommon = path.join(ortModules, 'onnxruntime-common');
  const binDir = path.join(ortNode, 'bin', 'napi-v6', process.platform, process.arch);
  const files: Array<{ src: string; dest: string }> = [
    { src: nodeBinary, dest: '/usr/bin/node' },
    { src: SERVER_JS, dest: '/opt/server/server.js' },
  ];
  const addTree = (srcDir: string, destDir: string) => {
    for (const e of fs.readdirSync(srcDir, { withFileTypes: true })) {
      const s = path.join(srcDir, e.name);
      const d = path.posix.join(destDir, e.name);
      if (e.isDirectory()) addTree(s, d);
      else if (e.isFile()) files.push({ src: s, dest: d });
    }
  };
  const modDest = '/opt/server/node_modules';
  files.push({ src: path.join(ortNode, 'package.json'), dest: `${modDest}/onnxruntime-node/package.json` });
  addTree(path.join(ortNode, 'dist'), `${modDest}/onnxruntime-node/dist`);
  addTree(binDir, `${modDest}/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}`);
  files.push({ src: path.join(ortCommon, 'package.json'), dest: `${modDest}/onnxruntime-common/package.json` });
  addTree(path.join(ortCommon, 'dist', 'cjs'), `${modDest}/onnxruntime-common/dist/cjs`);
  for (const lib of sharedLibraries([nodeBinary, ...fs.readdirSync(binDir).map((f) => path.join(binDir, f)).filter((f) => /\.node$|\.so/.test(f))])) {
    if (lib.startsWith(binDir)) continue; // libonnxruntime.so is already copied next to the binding
    files.push({ src: lib, dest: lib });
  }
  const ortLock = sha256Of(fs.readFileSync(path.join(ORT_SPEC_DIR, 'package-lock.json')));
  const fingerprint = [
    ortLock,
    ...files.map((f) => {
      const st = fs.statSync(f.src);
      // server.js by content (it changes often); onnxruntime by its lockfile (npm ci sets fresh mtimes);
      // node and the system libraries by path, size and mtime (hashing 100 MB of node on every run is slow)
      if (f.src === SERVER_JS) return [f.dest, sha256Of(fs.readFileSync(f.src))];
      if (f.src.startsWith(ortModules + path.sep)) return [f.dest, st.size];
      return [f.dest, f.src, st.size, Math.floor(st.mtimeMs)];
    }),
  ];
  return { nodeBinary, files, fingerprint };
}

/** absolute paths of the shared libraries (and the ELF interpreter) `ldd` lists for these binaries */
function sharedLibraries(binaries: string[]): string[] {
  const libs = new Set<string>();
  for (const b of binaries) {
    const r = spawnSync('ldd', [b], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ldd ${b} failed: ${r.stderr}`);
    for (const line of String(r.stdout).split('\n')) {
      const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
      if (m) libs.add(m[1]);
      if (/not found/.test(line)) throw new Error(`ldd ${b}: ${line.trim()}`);
    }
  }
  return [...libs].sort();
}

async function buildArchive(work: string, inputs: Inputs, mode: ModelServerMode, imageRef: string): Promise<{ imageId: string; sha256: string; bytes: number }> {
  const rootfs = path.join(work, 'rootfs');
  for (const f of inputs.files) {
    const dest = path.join(rootfs, f.dest);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(f.src), dest);
    fs.chmodSync(dest, fs.statSync(fs.realpathSync(f.src)).mode & 0o755);
  }
  for (const d of ['tmp', 'opt/ml/model', 'etc', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');

  const rootfsTar = path.join(work, 'rootfs.tar');
  await runOk('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '-C', rootfs, '-cf', rootfsTar, '.'], { timeoutMs: 120_000 });
  fs.rmSync(rootfs, { recursive: true, force: true });

  // a throwaway podman storage and configuration of our own (nothing depends on /etc/containers);
  // under /tmp because podman refuses a runroot longer than 50 characters
  const store = fs.mkdtempSync(path.join(os.tmpdir(), 'mdimg-'));
  for (const d of ['storage', 'run', 'tmp', 'networks']) fs.mkdirSync(path.join(store, d), { recursive: true });
  const env = {
    ...process.env,
    CONTAINERS_CONF: path.join(store, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: path.join(store, 'storage.conf'),
  };
  fs.writeFileSync(
    env.CONTAINERS_CONF,
    `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\ntmp_dir = "${store}/tmp"\n[network]\nnetwork_config_dir = "${store}/networks"\n`,
  );
  fs.writeFileSync(env.CONTAINERS_STORAGE_CONF, `[storage]\ndriver = "overlay"\ngraphroot = "${store}/storage"\nrunroot = "${store}/run"\n`);
  const podman = (args: string[]) =>
    runOk('podman', ['--root', `${store}/storage`, '--runroot', `${store}/run`, '--tmpdir', `${store}/tmp`, ...args], { env, timeoutMs: 300_000 });
  try {
    const changes = [
      'ENV PATH=/usr/bin:/bin',
      'ENV NODE_ENV=production',
      'ENV PORT=8080',
      'ENV MODEL_DIR=/opt/ml/model',
      `ENV MODEL_SERVER_MODE=${mode}`,
      // onnxruntime-node 1.30 otherwise starts telemetry (and writes /tmp/mat-debug-<pid>.log)
      'ENV ORT_DISABLE_TELEMETRY=1',
      'WORKDIR /opt/server',
      'EXPOSE 8080',
      `LABEL org.opencontainers.image.title=mdtest-model-server mdtest.mode=${mode}`,
      'CMD ["/usr/bin/node", "/opt/server/server.js"]',
    ];
    await podman(['import', ...changes.flatMap((c) => ['--change', c]), '--message', `mdtest model server (${mode})`, rootfsTar, imageRef]);
    const out = path.join(work, 'out');
    fs.mkdirSync(out);
    const archive = path.join(out, 'image.tar');
    await podman(['save', '--format', 'docker-archive', '-o', archive, imageRef]);
    const imageId = (await podman(['image', 'inspect', '--format', '{{.Id}}', imageRef])).stdout.trim();
    return { imageId, sha256: await sha256File(archive), bytes: fs.statSync(archive).size };
  } finally {
    await run('podman', ['--root', `${store}/storage`, '--runroot', `${store}/run`, '--tmpdir', `${store}/tmp`, 'rmi', '--all', '--force'], { env, timeoutMs: 60_000 });
    fs.rmSync(store, { recursive: true, force: true });
  }
}

/** keep the newest 3 archives per mode; older ones are from earlier inputs */
function pruneCache(imagesDir: string, mode: string, keep: string): void {
  const entries = fs
    .readdirSync(imagesDir)
    .filter((n) => n.startsWith(`${mode}-`) && !n.endsWith('.lock'))
    .map((n) => path.join(imagesDir, n))
    .filter((p) => p !== keep)
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  for (const old of entries.slice(2)) fs.rmSync(old, { recursive: true, force: true });
}

function sha256Of(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** a cross-process lock (parallel jest workers build the same image once): mkdir, with the owner's pid inside */
async function withLock<T>(lockDir: string, fn: () => Promise<T>, timeoutMs = 600_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = 0;
      try {
        owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        /* being written, or a crash between mkdir and write */
      }
      const age = Date.now() - (fs.statSync(lockDir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if ((owner && !isAlive(owner)) || (!owner && age > 10_000)) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir} (held by pid ${owner})`, { cause: e });
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}
