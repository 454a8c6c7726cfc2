import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { hashModelSource, ModelArchiveError, packModelArchive } from '../../lib/common/model-archive';
import { ModelDeploymentValidationError } from '../../lib/spec/errors';

let work: string;
let counter = 0;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'model-archive-test-'));
});

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

/** A fresh empty directory under the test's work dir. */
function freshDir(label: string): string {
  const dir = path.join(work, `${label}-${counter++}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

interface FileSpec {
  readonly content: string | Buffer;
  readonly mode?: number;
}

/** Writes `files` (relative posix paths) under `root` in the given order. */
function writeTree(root: string, files: Record<string, FileSpec>, order: string[] = Object.keys(files)): void {
  for (const rel of order) {
    const spec = files[rel];
    const abs = path.join(root, ...rel.split('/'));
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, spec.content);
    fs.chmodSync(abs, spec.mode ?? 0o644);
  }
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function tar(args: string[]): string {
  return execFileSync('tar', args, { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function tarNames(archive: string): string[] {
  return tar(['-tzf', archive]).split('\n').filter((l) => l !== '');
}

/** Typeflags of all headers in an uncompressed tar stream (walks headers by their size field). */
function typeflags(raw: Buffer): string[] {
  const flags: string[] = [];
  let off = 0;
  while (off + 512 <= raw.length && raw[off] !== 0) {
    const size = parseInt(raw.subarray(off + 124, off + 135).toString('latin1'), 8);
    flags.push(String.fromCharCode(raw[off + 156]));
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return flags;
}

function extract(archive: string): string {
  const dest = freshDir('extract');
  tar(['-xzf', archive, '-C', dest]);
  return dest;
}

/** Every regular file under `root`, as relative posix path -> content. */
function readTree(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const abs = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = fs.statSync(abs);
      if (st.isDirectory()) walk(abs, r);
      else out.set(r, fs.readFileSync(abs));
    }
  };
  walk(root, '');
  return out;
}

const MODEL: Record<string, FileSpec> = {
  'config.json': { content: '{"arch":"mlp"}\n' },
  'code/inference.py': { content: 'def model_fn(d):\n    return None\n' },
  'code/serve.sh': { content: '#!/bin/sh\nexec python inference.py\n', mode: 0o755 },
  'weights/layer-0.bin': { content: Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) & 0xff)) },
  'weights/layer-1.bin': { content: Buffer.from('abc'.repeat(1000)) },
  'a-b': { content: 'sorts between a and a/' },
  'B': { content: 'upper case sorts first' },
};

describe('packModelArchive determinism', () => {
  test('same content in different dirs, creation orders, mtimes and non-exec modes gives identical bytes', () => {
    const a = freshDir('src-a');
    const b = freshDir('src-b');
    writeTree(a, MODEL);
    const reversed = Object.keys(MODEL).reverse();
    writeTree(b, Object.fromEntries(Object.entries(MODEL).map(([k, v]) => [k, {
      content: v.content,
      // other permission bits differ; only the owner-execute bit is kept
      mode: (v.mode ?? 0o644) & 0o100 ? 0o700 : 0o600,
    }])), reversed);
    fs.chmodSync(path.join(b, 'code'), 0o700);
    fs.chmodSync(path.join(b, 'weights'), 0o750);
    let t = 1_000_000;
    for (const rel of reversed) {
      fs.utimesSync(path.join(b, ...rel.split('/')), t, t);
      t += 86_400;
    }
    fs.utimesSync(path.join(b, 'code'), 5, 5);

    const pa = packModelArchive(a, { outDir: freshDir('out-a') });
    const pb = packModelArchive(b, { outDir: freshDir('out-b') });
    expect(pa.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pb.sha256).toBe(pa.sha256);
    expect(fs.readFileSync(pb.archivePath).equals(fs.readFileSync(pa.archivePath))).toBe(true);
    expect(pa.sizeBytes).toBe(fs.statSync(pa.archivePath).size);
    expect(pa.fileCount).toBe(Object.keys(MODEL).length);
    expect(pa.sha256).toBe(sha256(fs.readFileSync(pa.archivePath)));
    expect(hashModelSource(b)).toBe(hashModelSource(a));
  });

  test('changing one byte changes both hashes', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const before = packModelArchive(a, { outDir: freshDir('out') });
    const contentBefore = hashModelSource(a);
    const f = path.join(a, 'weights', 'layer-0.bin');
    const bytes = fs.readFileSync(f);
    bytes[1234] ^= 0x01;
    fs.writeFileSync(f, bytes);
    const after = packModelArchive(a, { outDir: freshDir('out') });
    expect(hashModelSource(a)).not.toBe(contentBefore);
    expect(after.sha256).not.toBe(before.sha256);
  });

  test('the exec bit is part of the content and is preserved', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const archive = packModelArchive(a, { outDir: freshDir('out') });
    const listing = tar(['-tvzf', archive.archivePath]);
    expect(listing).toMatch(/^-rwxr-xr-x .* code\/serve\.sh$/m);
    expect(listing).toMatch(/^-rw-r--r-- .* code\/inference\.py$/m);
    const dest = extract(archive.archivePath);
    expect(fs.statSync(path.join(dest, 'code', 'serve.sh')).mode & 0o100).toBe(0o100);
    expect(fs.statSync(path.join(dest, 'code', 'inference.py')).mode & 0o100).toBe(0);

    const hashWithExec = hashModelSource(a);
    fs.chmodSync(path.join(a, 'code', 'serve.sh'), 0o644);
    expect(hashModelSource(a)).not.toBe(hashWithExec);
  });
});

describe('archive format', () => {
  test('extracts with system tar: same files, sorted entries, mtime 1970, uid/gid 0, dirs 0755', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const archive = packModelArchive(a, { outDir: freshDir('out') });

    const expectedNames = ['B', 'a-b', 'code/', 'code/inference.py', 'code/serve.sh', 'config.json',
      'weights/', 'weights/layer-0.bin', 'weights/layer-1.bin'];
    expect(tarNames(archive.archivePath)).toEqual(expectedNames);

    const verbose = tar(['-tvzf', archive.archivePath, '--numeric-owner']).split('\n').filter((l) => l !== '');
    expect(verbose).toHaveLength(expectedNames.length);
    for (const line of verbose) {
      expect(line).toMatch(/^[-d]rw.* 0\/0 +\d+ 1970-01-01 00:00 /);
    }
    expect(verbose.filter((l) => l.startsWith('d'))).toEqual([
      expect.stringMatching(/^drwxr-xr-x .* code\/$/),
      expect.stringMatching(/^drwxr-xr-x .* weights\/$/),
    ]);

    const extracted = readTree(extract(archive.archivePath));
    const original = readTree(a);
    expect([...extracted.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [rel, content] of original) {
      expect(extracted.get(rel)!.equals(content)).toBe(true);
    }
  });

  test('gzip wrapper: valid CRC/ISIZE, mtime 0, fixed OS byte, tar ends with two zero blocks', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const gz = fs.readFileSync(packModelArchive(a, { outDir: freshDir('out') }).archivePath);
    expect([...gz.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    const raw = zlib.gunzipSync(gz); // throws on a bad CRC-32 or length
    expect(raw.length % 512).toBe(0);
    expect(raw.subarray(raw.length - 1024).every((x) => x === 0)).toBe(true);
    expect(raw.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    expect(sha256(raw)).toBe(hashModelSource(a));
  });

  test('a single file packs to an archive holding just that file', () => {
    const dir = freshDir('single');
    const file = path.join(dir, 'model.joblib');
    fs.writeFileSync(file, crypto.randomBytes(4096));
    const archive = packModelArchive(file, { outDir: freshDir('out') });
    expect(archive.fileCount).toBe(1);
    expect(tarNames(archive.archivePath)).toEqual(['model.joblib']);
    const dest = extract(archive.archivePath);
    expect(fs.readFileSync(path.join(dest, 'model.joblib')).equals(fs.readFileSync(file))).toBe(true);
  });

  test('long paths (ustar prefix and PAX path) round-trip through system tar', () => {
    const a = freshDir('src');
    const seg = (c: string, n: number): string => c.repeat(n);
    const prefixed = `${seg('p', 60)}/${seg('q', 60)}/model.bin`; // 132 bytes: fits name+prefix
    const paxDeep = `${seg('d', 90)}/${seg('e', 90)}/${seg('f', 90)}/weights.bin`; // > 255 bytes
    const paxLongBase = `sub/${seg('n', 150)}.bin`; // base name alone > 100 bytes
    const files: Record<string, FileSpec> = {
      [prefixed]: { content: 'prefix' },
      [paxDeep]: { content: 'pax deep', mode: 0o755 },
      [paxLongBase]: { content: 'pax long base name' },
    };
    expect(Buffer.byteLength(prefixed)).toBeGreaterThan(100);
    expect(Buffer.byteLength(paxDeep)).toBeGreaterThan(255);
    writeTree(a, files);

    const archive = packModelArchive(a, { outDir: freshDir('out') });
    const names = tarNames(archive.archivePath);
    expect(names).toEqual(expect.arrayContaining([prefixed, paxDeep, paxLongBase, `${seg('d', 90)}/${seg('e', 90)}/${seg('f', 90)}/`]));
    expect(names.some((n) => n.includes('PaxHeaders'))).toBe(false);
    // only the entries that cannot be split into ustar prefix (<= 155) + name (<= 100) get a PAX header
    expect(typeflags(zlib.gunzipSync(fs.readFileSync(archive.archivePath))).filter((f) => f === 'x')).toHaveLength(3);

    const extracted = readTree(extract(archive.archivePath));
    expect([...extracted.keys()].sort()).toEqual(Object.keys(files).sort());
    for (const [rel, spec] of Object.entries(files)) {
      expect(extracted.get(rel)!.toString()).toBe(spec.content);
    }
  });

  test('multi-chunk content (streamed in fixed-size deflate chunks) round-trips exactly', () => {
    const a = freshDir('src');
    const big = Buffer.concat([
      crypto.randomBytes(3 * 1024 * 1024 + 17),
      Buffer.alloc(4 * 1024 * 1024, 'tensor '),
      crypto.randomBytes(2 * 1024 * 1024 + 5),
    ]);
    fs.writeFileSync(path.join(a, 'weights.bin'), big);
    fs.writeFileSync(path.join(a, 'tail.txt'), 'after the big file');
    const out = freshDir('out');
    const archive = packModelArchive(a, { outDir: out });
    const dest = extract(archive.archivePath);
    expect(fs.readFileSync(path.join(dest, 'weights.bin')).equals(big)).toBe(true);
    expect(fs.readFileSync(path.join(dest, 'tail.txt'), 'utf8')).toBe('after the big file');
    expect(zlib.gunzipSync(fs.readFileSync(archive.archivePath)).length).toBeGreaterThan(big.length);
    // packing again from scratch gives the same bytes
    fs.rmSync(out, { recursive: true });
    expect(packModelArchive(a, { outDir: out }).sha256).toBe(archive.sha256);
  });

  test('symlinks inside the tree are followed and stored as regular files', () => {
    const a = freshDir('src');
    writeTree(a, { 'real/weights.bin': { content: 'real bytes', mode: 0o755 } });
    fs.symlinkSync(path.join('real', 'weights.bin'), path.join(a, 'alias.bin'));
    fs.symlinkSync('real', path.join(a, 'linkdir'));
    const archive = packModelArchive(a, { outDir: freshDir('out') });
    expect(archive.fileCount).toBe(3);
    const listing = tar(['-tvzf', archive.archivePath]);
    expect(listing).toMatch(/^-rwxr-xr-x .* alias\.bin$/m);
    expect(listing).toMatch(/^drwxr-xr-x .* linkdir\/$/m);
    expect(listing).not.toMatch(/^l/m);
    const extracted = readTree(extract(archive.archivePath));
    expect(extracted.get('alias.bin')!.toString()).toBe('real bytes');
    expect(extracted.get('linkdir/weights.bin')!.toString()).toBe('real bytes');
  });
});

describe('pass-through and cache', () => {
  test('an existing .tar.gz is returned unchanged', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const packed = packModelArchive(a, { outDir: freshDir('out') });
    const copy = path.join(freshDir('prebuilt'), 'My-Model.TAR.GZ');
    fs.copyFileSync(packed.archivePath, copy);
    const outDir = freshDir('unused-out');
    const result = packModelArchive(copy, { outDir });
    expect(result.archivePath).toBe(copy);
    expect(result.sha256).toBe(packed.sha256);
    expect(result.sizeBytes).toBe(packed.sizeBytes);
    expect(fs.readdirSync(outDir)).toEqual([]);
    expect(hashModelSource(copy)).toBe(packed.sha256);
  });

  test('a second call reuses the cached archive; a corrupted cache is rebuilt', () => {
    const a = freshDir('src');
    writeTree(a, MODEL);
    const out = freshDir('out');
    const first = packModelArchive(a, { outDir: out });
    const past = new Date('2001-01-01T00:00:00Z');
    fs.utimesSync(first.archivePath, past, past);
    const mtime = fs.statSync(first.archivePath).mtimeMs;

    const second = packModelArchive(a, { outDir: out });
    expect(second).toEqual(first);
    expect(fs.statSync(second.archivePath).mtimeMs).toBe(mtime);

    fs.writeFileSync(first.archivePath, 'garbage');
    const third = packModelArchive(a, { outDir: out });
    expect(third.sha256).toBe(first.sha256);
    expect(fs.statSync(third.archivePath).mtimeMs).not.toBe(mtime);
    expect(fs.readdirSync(out).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  test('default output dir is keyed by the content hash under the OS temp dir', () => {
    const a = freshDir('src');
    writeTree(a, { 'only.txt': { content: `unique ${crypto.randomUUID()}` } });
    const contentHash = hashModelSource(a);
    const archive = packModelArchive(a);
    try {
      expect(archive.archivePath).toBe(path.join(os.tmpdir(), 'cdk-model-deployment-archives', contentHash, 'model.tar.gz'));
      expect(packModelArchive(a).sha256).toBe(archive.sha256);
    } finally {
      fs.rmSync(path.dirname(archive.archivePath), { recursive: true, force: true });
    }
  });
});

describe('errors', () => {
  test('a missing path is named in the error', () => {
    const missing = path.join(work, 'does', 'not', 'exist-model');
    expect(() => packModelArchive(missing)).toThrow(ModelArchiveError);
    expect(() => packModelArchive(missing)).toThrow(missing);
    expect(() => hashModelSource(missing)).toThrow(missing);
  });

  test('an empty directory (or one with only empty directories) is rejected', () => {
    const empty = freshDir('empty');
    expect(() => packModelArchive(empty)).toThrow(/empty/);
    fs.mkdirSync(path.join(empty, 'sub', 'deeper'), { recursive: true });
    expect(() => packModelArchive(empty)).toThrow(ModelArchiveError);
  });

  test('symlinks leaving the source dir, dangling symlinks and cycles are rejected', () => {
    const outside = path.join(freshDir('outside'), 'secret.txt');
    fs.writeFileSync(outside, 'not part of the model');

    const a = freshDir('src');
    writeTree(a, { 'ok.txt': { content: 'ok' } });
    fs.symlinkSync(outside, path.join(a, 'escape.txt'));
    expect(() => packModelArchive(a, { outDir: freshDir('out') })).toThrow(/points outside/);

    const b = freshDir('src');
    writeTree(b, { 'ok.txt': { content: 'ok' } });
    fs.symlinkSync('nowhere.txt', path.join(b, 'dangling.txt'));
    expect(() => hashModelSource(b)).toThrow(/dangling/);

    const c = freshDir('src');
    writeTree(c, { 'sub/ok.txt': { content: 'ok' } });
    fs.symlinkSync('..', path.join(c, 'sub', 'up'));
    expect(() => hashModelSource(c)).toThrow(/cycle/);
  });

  const fifoTest = process.platform === 'win32' ? test.skip : test;
  fifoTest('special files (FIFOs) are rejected', () => {
    const a = freshDir('src');
    writeTree(a, { 'ok.txt': { content: 'ok' } });
    execFileSync('mkfifo', [path.join(a, 'pipe')]);
    expect(() => hashModelSource(a)).toThrow(ModelArchiveError);
    expect(() => hashModelSource(a)).toThrow(/pipe/);
  });
});

describe('uncompressed archives (compression: none)', () => {
  test('model.tar: its sha256 is the content hash, and system tar reads it', () => {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), 'plain-src-'));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'plain-out-'));
    try {
      fs.writeFileSync(path.join(src, 'model.onnx'), Buffer.from([1, 2, 3, 4]));
      fs.mkdirSync(path.join(src, 'sub'));
      fs.writeFileSync(path.join(src, 'sub', 'config.json'), '{"a":1}');
      const plain = packModelArchive(src, { outDir: out, compression: 'none' });
      expect(path.basename(plain.archivePath)).toBe('model.tar');
      expect(plain.sha256).toBe(plain.contentHash);
      expect(plain.contentHash).toBe(hashModelSource(src));
      expect(crypto.createHash('sha256').update(fs.readFileSync(plain.archivePath)).digest('hex')).toBe(plain.sha256);
      // Same content hash as the gzip archive of the same source.
      expect(packModelArchive(src, { outDir: fs.mkdtempSync(path.join(os.tmpdir(), 'gz-out-')) }).contentHash).toBe(plain.contentHash);
      const listing = execFileSync('tar', ['-tf', plain.archivePath], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(listing).toEqual(['model.onnx', 'sub/', 'sub/config.json']);
    } finally {
      fs.rmSync(src, { recursive: true, force: true });
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('issue 7, item 8: one error type, thrown where the problem is found', () => {
  test('a missing model is a ModelDeploymentValidationError naming model.path and the path, without a wrapper', () => {
    const missing = path.join(work, 'no', 'such-model');
    let error: unknown;
    try { packModelArchive(missing); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ModelArchiveError);
    expect(error).toBeInstanceOf(ModelDeploymentValidationError);
    const e = error as ModelDeploymentValidationError;
    expect(e.field).toBe('model.path');
    expect(e.value).toBe(JSON.stringify(missing));
    expect(e.allowed).toMatch(/does not exist/);
    // Thrown by the packer itself, not re-thrown by a wrapper that caught it.
    expect(e.stack).toMatch(/statSource/);
  });

  test('an empty directory names that directory', () => {
    const empty = freshDir('empty-typed');
    let error: unknown;
    try { packModelArchive(empty); } catch (e) { error = e; }
    expect((error as ModelDeploymentValidationError).field).toBe('model.path');
    expect((error as ModelDeploymentValidationError).allowed).toMatch(/empty/);
  });
});
