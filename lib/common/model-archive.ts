/**
 * Deterministic model-archive packer (Node built-ins only).
 *
 * Turns a local model directory or file into a `model.tar.gz` whose bytes depend only on
 * the content: relative file names, file bytes and the owner-execute bit. Modification
 * times, ownership, umask / other permission bits, directory listing order and the host
 * never reach the archive, so an unchanged model produces an identical file and therefore
 * an identical CDK asset hash.
 *
 * Tar layout (POSIX ustar, written by hand):
 * - 512-byte headers, entries sorted byte-wise by their full relative UTF-8 path
 *   ('/' separators, compared without the trailing '/' of directories);
 * - directories are entries of their own (typeflag '5', mode 0755, name ending in '/');
 * - regular files are typeflag '0', mode 0755 when the owner-execute bit is set, else 0644;
 * - mtime 0, uid/gid 0, uname/gname empty, devmajor/devminor 0, linkname empty;
 * - paths longer than 100 bytes use the ustar `prefix` field when they can be split at a '/'
 *   (up to 255 bytes); anything else gets a PAX extended header ('x') with a `path` record;
 * - files of 8 GiB or more get a PAX `size` record (the ustar size field is then 0, as GNU tar does);
 * - the archive ends with two zero blocks.
 *
 * Symbolic links: a link that resolves inside the source directory is *followed*: a link to a
 * file is stored as a regular file holding the target's bytes (mode from the target's
 * execute bit), a link to a directory is stored as a directory with the target's contents.
 * Model servers (SageMaker, Azure ML, Vertex AI) extract archives with varying tar
 * implementations and some reject or mishandle links, so a self-contained archive of plain
 * files is the portable choice; the cost is that the linked content is stored twice. A link
 * that resolves outside the source directory, a dangling link, and a directory link that
 * would loop back into one of its own ancestors are errors.
 *
 * Compression (synchronous, bounded memory): CDK constructors are synchronous, and Node has no
 * public synchronous *streaming* zlib API. The canonical tar stream is therefore cut into fixed
 * 4 MiB chunks and each chunk is compressed with `zlib.deflateRawSync` using
 * `finishFlush: Z_SYNC_FLUSH` (so it ends on a byte boundary without a final block) and the
 * previous chunk's last 32 KiB as preset dictionary (the technique pigz uses); the last chunk is
 * compressed with `Z_FINISH`. The concatenation is one valid raw-deflate stream, wrapped in a
 * gzip header/trailer written here (mtime 0, XFL 0, OS 3 = Unix, CRC-32 and ISIZE computed
 * incrementally). Chunk boundaries depend only on the stream offset, so the output is as
 * deterministic as `deflateRawSync` itself, and memory stays at a few tens of MiB regardless of
 * model size. Compression is level 6, windowBits 15, memLevel 8, default strategy.
 *
 * Determinism caveat: the compressed bytes are exactly reproducible for a given zlib build
 * (`process.versions.zlib`); a different Node release or a Node linked against another zlib may
 * emit different (equally valid) deflate data. The *uncompressed* canonical stream, whose
 * sha256 is {@link hashModelSource}, does not depend on zlib at all and is the right value for a
 * custom CDK asset hash when byte-stability across Node versions matters.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { ModelDeploymentValidationError } from '../spec/errors';

/** A packed (or passed-through) model archive on local disk. */
export interface ModelArchive {
  /**
   * sha256 of the uncompressed tar stream (for a passed-through .tar.gz: of the file). Unlike
   * `sha256`, it does not depend on the zlib build, so it is the stable asset hash.
   */
  readonly contentHash: string;
  /** Absolute path of the `.tar.gz` file. */
  readonly archivePath: string;
  /** Lower-case hex sha256 of the archive file bytes. */
  readonly sha256: string;
  /** Size of the archive file in bytes. */
  readonly sizeBytes: number;
  /**
   * Number of regular files in the archive (directories not counted).
   * -1 when an existing `.tar.gz` was passed through unchanged (it is not inspected).
   */
  readonly fileCount: number;
}

/**
 * Raised for every problem with the model source (missing path, unsupported entries, ...): the
 * library's one error type, naming `model.path` and the path at fault. It is a problem with the
 * spec's model, whichever target packs it, so it names no target (as the spec's own refusals).
 */
export class ModelArchiveError extends ModelDeploymentValidationError {
  /** @param at the path at fault (the source, or a file or link inside it); @param problem what is wrong there */
  constructor(at: string, problem: string) {
    super('model.path', at, `a readable model file, or a directory of files that can be packed (here: ${problem})`);
    this.name = 'ModelArchiveError';
    Object.setPrototypeOf(this, ModelArchiveError.prototype);
  }
}

/** Bump when the canonical stream or the compression scheme changes (invalidates the cache). */
const FORMAT_VERSION = 1;
const ARCHIVE_FILE_NAME = 'model.tar.gz';
const PLAIN_ARCHIVE_FILE_NAME = 'model.tar';
const MANIFEST_SUFFIX = '.manifest.json';
const CACHE_DIR_NAME = 'cdk-model-deployment-archives';

const BLOCK = 512;
/** Uncompressed bytes per deflate call; fixed so chunk boundaries depend only on stream offsets. */
const DEFLATE_CHUNK = 4 * 1024 * 1024;
/** Deflate window: the preset dictionary for each chunk is this tail of the previous chunk. */
const DICTIONARY_SIZE = 32 * 1024;
const READ_CHUNK = 1024 * 1024;
/** Largest size the 11-digit octal ustar field can hold: 8 GiB - 1. */
const MAX_USTAR_SIZE = 0o77777777777;
const DEFLATE_OPTIONS: zlib.ZlibOptions = {
  level: 6,
  windowBits: 15,
  memLevel: 8,
  strategy: zlib.constants.Z_DEFAULT_STRATEGY,
};
/** gzip member header: magic, CM=deflate, FLG=0, MTIME=0, XFL=0, OS=3 (Unix). */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03]);

interface TarEntry {
  /** Relative path with '/' separators, no trailing slash. */
  readonly name: string;
  readonly nameBytes: Buffer;
  readonly type: 'file' | 'dir';
  /** Physical path to read the bytes from (symlinks already resolved); files only. */
  readonly readPath?: string;
  readonly size: number;
  readonly mode: number;
}

interface SourceListing {
  readonly entries: TarEntry[];
  readonly fileCount: number;
}

interface ArchiveManifest {
  readonly formatVersion: number;
  readonly zlib: string;
  readonly contentHash: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly fileCount: number;
}

/**
 * Packs `sourcePath` (a directory: its contents at the archive root, recursively; or a single
 * file: that file at the archive root). If sourcePath is already a file ending in .tar.gz,
 * returns it unchanged (sha256 computed). Output goes to `outDir` (default:
 * path.join(os.tmpdir(), 'cdk-model-deployment-archives', <content hash>)) as model.tar.gz; if
 * that file already exists with the right hash, reuse it (cache).
 *
 * The cache is validated through a sidecar `model.tar.gz.manifest.json` that records the content
 * hash it was built from and the archive's sha256; the archive is re-hashed before reuse.
 */
export function packModelArchive(sourcePath: string, options: PackOptions = {}): ModelArchive {
  const absSource = path.resolve(sourcePath);
  const stat = statSource(sourcePath, absSource);

  if (stat.isFile() && isTarGz(absSource)) {
    const sha256 = hashFile(absSource);
    return {
      archivePath: absSource,
      sha256,
      contentHash: sha256,
      sizeBytes: stat.size,
      fileCount: -1,
    };
  }

  const listing = listSource(absSource, stat);
  const contentHash = hashEntries(listing.entries);
  const gzip = (options.compression ?? 'gzip') === 'gzip';
  const outDir = options.outDir !== undefined
    ? path.resolve(options.outDir)
    : path.join(os.tmpdir(), CACHE_DIR_NAME, contentHash);
  const archivePath = path.join(outDir, gzip ? ARCHIVE_FILE_NAME : PLAIN_ARCHIVE_FILE_NAME);
  const manifestPath = archivePath + MANIFEST_SUFFIX;

  const cached = readValidCache(archivePath, manifestPath, contentHash);
  if (cached) {
    return cached;
  }

  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    // The build machine's problem (disk, permissions of the temp directory), not the spec's.
    throw new Error(`Cannot create archive output directory ${outDir}: ${(e as Error).message}`, { cause: e });
  }
  const tmpPath = `${archivePath}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  let fd: number | undefined;
  let result: ModelArchive;
  try {
    fd = fs.openSync(tmpPath, 'w');
    const sink = gzip ? new GzipFileSink(fd) : new PlainFileSink(fd);
    writeTarStream(listing.entries, sink);
    const { uncompressedSha256, sha256, sizeBytes } = sink.finish();
    fs.closeSync(fd);
    fd = undefined;
    if (uncompressedSha256 !== contentHash) {
      throw new ModelArchiveError(absSource, 'it changed while it was being packed; retry');
    }
    fs.renameSync(tmpPath, archivePath);
    result = { archivePath, sha256, contentHash, sizeBytes, fileCount: listing.fileCount };
  } catch (e) {
    if (fd !== undefined) {
      try { fs.closeSync(fd); } catch { /* already failing */ }
    }
    try { fs.rmSync(tmpPath, { force: true }); } catch { /* best effort */ }
    throw e;
  }

  const manifest: ArchiveManifest = {
    formatVersion: FORMAT_VERSION,
    zlib: process.versions.zlib ?? 'unknown',
    contentHash,
    sha256: result.sha256,
    sizeBytes: result.sizeBytes,
    fileCount: result.fileCount,
  };
  const tmpManifest = `${manifestPath}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmpManifest, JSON.stringify(manifest, undefined, 2) + '\n');
  fs.renameSync(tmpManifest, manifestPath);
  return result;
}

/**
 * sha256 over the same canonical content stream, without writing anything: the uncompressed
 * tar stream that {@link packModelArchive} would compress. It depends only on names, bytes and
 * execute bits, not on zlib. For a source that is itself a `.tar.gz` file (passed through by
 * packModelArchive) it is the sha256 of that file's bytes.
 */
export function hashModelSource(sourcePath: string): string {
  const absSource = path.resolve(sourcePath);
  const stat = statSource(sourcePath, absSource);
  if (stat.isFile() && isTarGz(absSource)) {
    return hashFile(absSource);
  }
  return hashEntries(listSource(absSource, stat).entries);
}

/** One regular file of a model source. */
export interface ModelFile {
  /** Its path relative to the source, with '/' separators (the file's own name for a single-file source). */
  readonly name: string;
  /** Where to read its bytes (symbolic links inside the source resolved). */
  readonly path: string;
  readonly sizeBytes: number;
}

/**
 * The regular files of a model source, in the canonical stream's order, with the same checks as
 * {@link packModelArchive} (links that leave the source, cycles, special files are refused): for
 * targets that upload the files one by one instead of an archive.
 */
export function listModelFiles(sourcePath: string): ModelFile[] {
  const absSource = path.resolve(sourcePath);
  const stat = statSource(sourcePath, absSource);
  return listSource(absSource, stat).entries
    .filter(e => e.type === 'file')
    .map(e => ({ name: e.name, path: e.readPath!, sizeBytes: e.size }));
}

// ---------------------------------------------------------------------------------------------
// Source traversal
// ---------------------------------------------------------------------------------------------

function statSource(sourcePath: string, absSource: string): fs.Stats {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absSource);
  } catch (e) {
    const shown = sourcePath === absSource ? absSource : `${sourcePath} (${absSource})`;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new ModelArchiveError(shown, 'the model source path does not exist');
    }
    throw new ModelArchiveError(shown, `the model source path cannot be accessed: ${(e as Error).message}`);
  }
  if (!stat.isFile() && !stat.isDirectory()) {
    throw new ModelArchiveError(absSource, 'the model source is neither a regular file nor a directory');
  }
  return stat;
}

function isTarGz(p: string): boolean {
  return p.toLowerCase().endsWith('.tar.gz');
}

function fileMode(stat: fs.Stats): number {
  return (stat.mode & 0o100) !== 0 ? 0o755 : 0o644;
}

function listSource(absSource: string, stat: fs.Stats): SourceListing {
  if (stat.isFile()) {
    const name = path.basename(absSource);
    return {
      entries: [fileEntry(name, absSource, stat)],
      fileCount: 1,
    };
  }

  const rootReal = fs.realpathSync(absSource);
  const entries: TarEntry[] = [];
  let fileCount = 0;

  const isInside = (real: string): boolean =>
    real === rootReal || real.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep);

  /** `dirReal` is a symlink-free path; `ancestors` are the real paths of the directories being walked. */
  const walk = (dirReal: string, relPrefix: string, ancestors: Set<string>): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dirReal);
    } catch (e) {
      throw new ModelArchiveError(dirReal, `the directory cannot be read: ${(e as Error).message}`);
    }
    for (const child of names) {
      const rel = relPrefix === '' ? child : `${relPrefix}/${child}`;
      const childPath = path.join(dirReal, child);
      let lst: fs.Stats;
      try {
        lst = fs.lstatSync(childPath);
      } catch (e) {
        throw new ModelArchiveError(childPath, `it cannot be examined (stat): ${(e as Error).message}`);
      }

      let real = childPath;
      let st = lst;
      if (lst.isSymbolicLink()) {
        try {
          real = fs.realpathSync(childPath);
          st = fs.statSync(real);
        } catch {
          throw new ModelArchiveError(childPath, 'this symbolic link is dangling (its target does not exist)');
        }
        if (!isInside(real)) {
          throw new ModelArchiveError(childPath,
            `this symbolic link points outside the model source directory ${rootReal} (to ${real}); ` +
            'copy the target into the directory instead');
        }
      }

      if (st.isDirectory()) {
        if (ancestors.has(real)) {
          throw new ModelArchiveError(childPath, `this symbolic link creates a directory cycle (points to ${real})`);
        }
        entries.push(dirEntry(rel));
        ancestors.add(real);
        walk(real, rel, ancestors);
        ancestors.delete(real);
      } else if (st.isFile()) {
        entries.push(fileEntry(rel, real, st));
        fileCount++;
      } else {
        throw new ModelArchiveError(childPath,
          'unsupported file type: only regular files, directories and symbolic links are allowed ' +
          '(sockets, FIFOs and device files cannot be archived)');
      }
    }
  };
  walk(rootReal, '', new Set([rootReal]));

  if (fileCount === 0) {
    throw new ModelArchiveError(absSource, 'the model source directory is empty (it contains no files)');
  }
  entries.sort((a, b) => Buffer.compare(a.nameBytes, b.nameBytes));
  return { entries, fileCount };
}

function fileEntry(name: string, readPath: string, stat: fs.Stats): TarEntry {
  return { name, nameBytes: Buffer.from(name, 'utf8'), type: 'file', readPath, size: stat.size, mode: fileMode(stat) };
}

function dirEntry(name: string): TarEntry {
  return { name, nameBytes: Buffer.from(name, 'utf8'), type: 'dir', size: 0, mode: 0o755 };
}

// ---------------------------------------------------------------------------------------------
// Tar stream
// ---------------------------------------------------------------------------------------------

interface ByteSink {
  write(data: Buffer): void;
}

const ZERO_BLOCKS = Buffer.alloc(2 * BLOCK);

function writeTarStream(entries: readonly TarEntry[], sink: ByteSink): void {
  const readBuf = Buffer.allocUnsafe(READ_CHUNK);
  for (const entry of entries) {
    sink.write(entryHeaders(entry));
    if (entry.type === 'file') {
      copyFileInto(entry, sink, readBuf);
      const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
      if (pad > 0) {
        sink.write(ZERO_BLOCKS.subarray(0, pad));
      }
    }
  }
  sink.write(ZERO_BLOCKS);
}

function openForReading(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    throw new ModelArchiveError(file, `the file cannot be opened: ${(e as Error).message}`);
  }
}

function copyFileInto(entry: TarEntry, sink: ByteSink, buf: Buffer): void {
  const file = entry.readPath!;
  const fd = openForReading(file);
  try {
    let remaining = entry.size;
    let position = 0;
    while (remaining > 0) {
      const want = Math.min(buf.length, remaining);
      const n = fs.readSync(fd, buf, 0, want, position);
      if (n === 0) {
        throw new ModelArchiveError(file, 'the file shrank while it was being packed; retry');
      }
      sink.write(buf.subarray(0, n));
      remaining -= n;
      position += n;
    }
    if (fs.readSync(fd, buf, 0, 1, position) !== 0) {
      throw new ModelArchiveError(file, 'the file grew while it was being packed; retry');
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The header block(s) of one entry: an optional PAX extended header plus the ustar header. */
function entryHeaders(entry: TarEntry): Buffer {
  const tarName = entry.type === 'dir' ? Buffer.from(`${entry.name}/`, 'utf8') : entry.nameBytes;
  const records: Array<[string, Buffer]> = [];

  let split = splitUstarName(tarName);
  if (!split) {
    records.push(['path', tarName]);
    split = { name: fallbackName(entry.name, entry.type === 'dir'), prefix: Buffer.alloc(0) };
  }
  let sizeField = entry.size;
  if (entry.size > MAX_USTAR_SIZE) {
    records.push(['size', Buffer.from(String(entry.size), 'ascii')]);
    sizeField = 0;
  }

  const header = ustarHeader(split.name, split.prefix, entry.mode, sizeField, entry.type === 'dir' ? '5' : '0');
  if (records.length === 0) {
    return header;
  }
  const paxData = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  const paxName = Buffer.from(`PaxHeaders/${asciiSafe(path.posix.basename(entry.name)).slice(0, 80)}`, 'ascii');
  const paxHeader = ustarHeader(paxName, Buffer.alloc(0), 0o644, paxData.length, 'x');
  const paxPad = Buffer.alloc((BLOCK - (paxData.length % BLOCK)) % BLOCK);
  return Buffer.concat([paxHeader, paxData, paxPad, header]);
}

/** Splits a name into ustar (name <= 100 bytes, prefix <= 155 bytes) at a '/', or undefined. */
function splitUstarName(full: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  if (full.length <= 100) {
    return { name: full, prefix: Buffer.alloc(0) };
  }
  // The name part excludes the separator; a directory's trailing '/' stays in the name part.
  const searchEnd = full[full.length - 1] === 0x2f ? full.length - 1 : full.length;
  for (let i = 0; i < searchEnd; i++) {
    if (full[i] !== 0x2f) continue;
    if (i > 155) break;
    const nameLen = full.length - i - 1;
    if (nameLen <= 100 && i > 0 && nameLen > 0 && (i < searchEnd - 1)) {
      return { name: full.subarray(i + 1), prefix: full.subarray(0, i) };
    }
  }
  return undefined;
}

function asciiSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** ustar name for readers that ignore PAX headers (the PAX `path` record is authoritative). */
function fallbackName(name: string, isDir: boolean): Buffer {
  const base = asciiSafe(name.replace(/\//g, '_'));
  const limit = isDir ? 99 : 100;
  const cut = base.length > limit ? base.slice(base.length - limit) : base;
  return Buffer.from(isDir ? `${cut}/` : cut, 'ascii');
}

/** One PAX record: "<len> <key>=<value>\n", where <len> counts the whole record including itself. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = 1 + Buffer.byteLength(key, 'utf8') + 1 + value.length + 1; // ' ' key '=' value '\n'
  let len = rest + String(rest).length;
  if (String(len).length + rest !== len) {
    len = rest + String(len).length;
  }
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), value, Buffer.from('\n', 'ascii')]);
}

function writeOctal(buf: Buffer, offset: number, fieldLen: number, value: number): void {
  const digits = value.toString(8).padStart(fieldLen - 1, '0');
  if (digits.length > fieldLen - 1) {
    // Internal invariant: sizes past the ustar field go to PAX records, mtimes and ids are 0.
    throw new Error(`Value ${value} does not fit a ${fieldLen}-byte tar field`);
  }
  buf.write(digits, offset, fieldLen - 1, 'ascii');
  buf[offset + fieldLen - 1] = 0;
}

function ustarHeader(name: Buffer, prefix: Buffer, mode: number, size: number, typeflag: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0, 0, Math.min(name.length, 100));
  writeOctal(h, 100, 8, mode);
  writeOctal(h, 108, 8, 0); // uid
  writeOctal(h, 116, 8, 0); // gid
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0); // mtime
  h.write(typeflag, 156, 1, 'ascii');
  // linkname (157, 100 bytes) stays empty
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  // uname (265, 32) and gname (297, 32) stay empty
  writeOctal(h, 329, 8, 0); // devmajor
  writeOctal(h, 337, 8, 0); // devminor
  prefix.copy(h, 345, 0, Math.min(prefix.length, 155));
  // checksum: sum of all bytes with the checksum field read as eight spaces
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.write(sum.toString(8).padStart(6, '0'), 148, 6, 'ascii');
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

// ---------------------------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------------------------

class HashSink implements ByteSink {
  private readonly hash = crypto.createHash('sha256');
  public write(data: Buffer): void {
    this.hash.update(data);
  }
  public digest(): string {
    return this.hash.digest('hex');
  }
}

function hashEntries(entries: readonly TarEntry[]): string {
  const sink = new HashSink();
  writeTarStream(entries, sink);
  return sink.digest();
}

/** sha256 of a file, read in chunks (bounded memory for multi-GB files). */
export function hashFile(file: string): string {
  const hash = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  const fd = openForReading(file);
  try {
    let position = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, position);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      position += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** Writes the tar stream as it is: its sha256 is the content hash, whatever the zlib build. */
class PlainFileSink implements ByteSink {
  private readonly hash = crypto.createHash('sha256');
  private size = 0;

  constructor(private readonly fd: number) {}

  public write(data: Buffer): void {
    this.hash.update(data);
    writeAll(this.fd, data);
    this.size += data.length;
  }

  public finish(): { uncompressedSha256: string; sha256: string; sizeBytes: number } {
    const digest = this.hash.digest('hex');
    return { uncompressedSha256: digest, sha256: digest, sizeBytes: this.size };
  }
}

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    off += fs.writeSync(fd, data, off, data.length - off);
  }
}

/** Compresses the stream chunk-wise into a gzip file; see the module comment. */
class GzipFileSink implements ByteSink {
  private readonly pending = Buffer.allocUnsafe(DEFLATE_CHUNK);
  private pendingLen = 0;
  private dictionary: Buffer | undefined;
  private crc = 0;
  private totalIn = 0;
  private sizeOut = 0;
  private readonly inHash = crypto.createHash('sha256');
  private readonly outHash = crypto.createHash('sha256');

  constructor(private readonly fd: number) {
    this.output(GZIP_HEADER);
  }

  public write(data: Buffer): void {
    this.inHash.update(data);
    this.crc = crc32(data, this.crc);
    this.totalIn += data.length;
    let offset = 0;
    while (offset < data.length) {
      if (this.pendingLen === DEFLATE_CHUNK) {
        this.compressPending(false);
      }
      const n = Math.min(DEFLATE_CHUNK - this.pendingLen, data.length - offset);
      data.copy(this.pending, this.pendingLen, offset, offset + n);
      this.pendingLen += n;
      offset += n;
    }
  }

  public finish(): { uncompressedSha256: string; sha256: string; sizeBytes: number } {
    this.compressPending(true);
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.totalIn % 0x100000000, 4);
    this.output(trailer);
    return { uncompressedSha256: this.inHash.digest('hex'), sha256: this.outHash.digest('hex'), sizeBytes: this.sizeOut };
  }

  private compressPending(last: boolean): void {
    const input = this.pending.subarray(0, this.pendingLen);
    const opts: zlib.ZlibOptions = {
      ...DEFLATE_OPTIONS,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (this.dictionary) {
      opts.dictionary = this.dictionary;
    }
    const out = zlib.deflateRawSync(input, opts);
    if (!last) {
      this.dictionary = Buffer.from(input.subarray(Math.max(0, input.length - DICTIONARY_SIZE)));
    }
    this.pendingLen = 0;
    this.output(out);
  }

  private output(data: Buffer): void {
    this.outHash.update(data);
    writeAll(this.fd, data);
    this.sizeOut += data.length;
  }
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (zlib.crc32 exists from Node 20.15 / 22.2; table fallback for older runtimes)
// ---------------------------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

function crc32(data: Buffer, previous: number): number {
  const native = (zlib as { crc32?: (d: Buffer, v?: number) => number }).crc32;
  if (typeof native === 'function') {
    return native(data, previous);
  }
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Cache
// ---------------------------------------------------------------------------------------------

function readValidCache(archivePath: string, manifestPath: string, contentHash: string): ModelArchive | undefined {
  let manifest: ArchiveManifest;
  let stat: fs.Stats;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as ArchiveManifest;
    stat = fs.statSync(archivePath);
  } catch {
    return undefined;
  }
  if (manifest.formatVersion !== FORMAT_VERSION
    || manifest.contentHash !== contentHash
    || !stat.isFile()
    || manifest.sizeBytes !== stat.size
    || typeof manifest.sha256 !== 'string'
    || typeof manifest.fileCount !== 'number') {
    return undefined;
  }
  if (hashFile(archivePath) !== manifest.sha256) {
    return undefined;
  }
  return { archivePath, sha256: manifest.sha256, contentHash, sizeBytes: stat.size, fileCount: manifest.fileCount };
}

/** Options for {@link packModelArchive}. */
export interface PackOptions {
  /** Where to write the archive (default: a cache directory keyed by the content hash). */
  readonly outDir?: string;
  /**
   * 'gzip' writes model.tar.gz (SageMaker needs it); 'none' writes model.tar, whose sha256 is the
   * content hash, so it does not change with the zlib build of the machine that packs it.
   */
  readonly compression?: 'gzip' | 'none';
}
