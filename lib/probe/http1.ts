import * as net from 'net';
import * as tls from 'tls';

/**
 * The probe's HTTP/1.1 client: one keep-alive connection that carries one request at a time, the
 * request written as bytes made once per sample (one `write`), the answer read by a small parser.
 *
 * Why not undici or node:http: the probe measures latency, and whatever it spends per request is
 * added to what it reports. undici's request building, its WASM parser and its two-buffer writes
 * cost this machine 10 to 25% of autocannon's throughput against an instant server, and node:http
 * half of it (bench/probe.ts). This client does what autocannon does (prebuilt bytes, one write,
 * a minimal parser) and nothing else: no redirects, no proxies, no compression, no pipelining.
 *
 * What it reads: a status line `HTTP/1.x NNN`, headers (at most MAX_HEAD_BYTES), then a body by
 * `transfer-encoding: chunked` (extensions and trailers allowed), by `content-length`, or until the
 * server closes; interim 1xx answers are skipped; 204 and 304 have no body. The connection is closed
 * after an answer with `connection: close` (or an HTTP/1.0 answer without `keep-alive`), after one
 * read until close, and when the server sends bytes nobody asked for; the next request opens a new
 * one. Anything else malformed is a transport error `EPROTO`.
 */

/** Where the requests go. */
export interface Http1Origin {
  readonly url: URL;
  /** Certificates to trust for https (instead of the system's). */
  readonly ca?: Buffer;
}

/** What a connection reports; one call per request, either answered or failed. */
export interface Http1Listener {
  /** Whether to keep the body of an answer with this status (a dropped body is read and forgotten). */
  keepBody(status: number): boolean;
  /** The whole answer has been read: its status, and its body when kept. */
  answered(status: number, body: Buffer | undefined): void;
  /** The request failed: `error.code` is the system's (ECONNREFUSED, a TLS code, ...), ECONNRESET or EPROTO. */
  failed(error: Http1Error): void;
}

export type Http1Error = Error & { code: string };

/** The longest status line and headers accepted (node:http's default is 16 KiB; cloud gateways send a few KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Bodies up to this size are copied behind the head, so that a request is one write; larger ones are written after it. */
const ONE_WRITE_BYTES = 64 * 1024;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;

/**
 * A POST's bytes: the request line, `host` (the URL's, or a `host` header's: a signature covers the
 * host it was made for), the other headers (names and values checked, so that no header can smuggle
 * another or a second request), `content-length`, and the body. Throws, naming the header, for a
 * name that is not an HTTP token, a value with CR, LF or NUL, or content-length/transfer-encoding.
 */
export function http1Post(url: URL, headers: Readonly<Record<string, string>>, body: Buffer): readonly Buffer[] {
  let host = url.host;
  let lines = '';
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new Error(`request header name ${JSON.stringify(name)} is not an HTTP token (letters, digits and !#$%&'*+.^_\`|~-)`);
    if (FORBIDDEN_IN_VALUE.test(value)) throw new Error(`request header ${name}: its value has a CR, LF or NUL character, which HTTP does not allow`);
    const lower = name.toLowerCase();
    if (lower === 'content-length' || lower === 'transfer-encoding') throw new Error(`request header ${name} is set by the probe itself`);
    // A signature covers the host it was made for (SigV4 signs it): that one is sent, once.
    if (lower === 'host') host = value;
    else lines += `${name}: ${value}\r\n`;
  }
  const head = Buffer.from(`POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${host}\r\n${lines}content-length: ${body.length}\r\n\r\n`, 'latin1');
  return body.length <= ONE_WRITE_BYTES ? [Buffer.concat([head, body])] : [head, body];
}

const error = (code: string, message: string): Http1Error => Object.assign(new Error(message), { code });

/** Where the parser is in an answer. */
enum Read { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailers, UntilClose, Idle }

/**
 * One connection to the origin, opened by the first `send` and again after the server closes it.
 * One request at a time: `send` again only after the listener heard of the last one.
 */
export class Http1Connection {
  private socket: net.Socket | undefined;
  /** Where the answer to the request in flight is; Idle: no request in flight. */
  private state = Read.Idle;
  /** The start of a head or chunk line whose end has not come yet. */
  private carry: Buffer | undefined;
  private status = 0;
  private closeAfter = false;
  /** Body bytes still to read: of the content-length, or of the current chunk. */
  private remaining = 0;
  private chunks: Buffer[] | undefined;
  private readonly port: number;
  private readonly secure: boolean;

  constructor(private readonly origin: Http1Origin, private readonly listener: Http1Listener) {
    this.secure = origin.url.protocol === 'https:';
    this.port = Number(origin.url.port) || (this.secure ? 443 : 80);
  }

  /** Sends a request (the bytes of http1Post); its answer or failure goes to the listener. */
  public send(request: readonly Buffer[]): void {
    this.state = Read.Head;
    this.carry = undefined;
    this.chunks = undefined;
    const socket = this.socket ?? this.connect();
    // Before the connection is up, node queues the writes.
    if (request.length === 1) socket.write(request[0]);
    else { socket.cork(); for (const part of request) socket.write(part); socket.uncork(); }
  }

  /** Ends the request in flight with this error (a timeout), and the connection with it: a late answer must not be taken for the next request's. */
  public abort(reason: Http1Error): void {
    this.drop();
    this.fail(reason);
  }

  /** Closes the connection; a request in flight is not reported. */
  public close(): void {
    this.state = Read.Idle;
    this.drop();
  }

  private connect(): net.Socket {
    const { hostname } = this.origin.url;
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    const socket = this.secure
      ? tls.connect({ host, port: this.port, ALPNProtocols: ['http/1.1'], ...(net.isIP(host) ? {} : { servername: host }), ...(this.origin.ca ? { ca: this.origin.ca } : {}) })
      : net.connect({ host, port: this.port });
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => { if (this.socket === socket) this.read(data); });
    socket.on('error', (e: Error & { code?: string }) => {
      if (this.socket !== socket) return;
      this.drop();
      this.fail(Object.assign(e, { code: e.code ?? 'error' }) as Http1Error);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      if (this.state === Read.UntilClose) this.complete();
      else this.fail(error('ECONNRESET', 'the server closed the connection before answering'));
    });
    this.socket = socket;
    return socket;
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }

  private fail(e: Http1Error): void {
    if (this.state === Read.Idle) return;
    this.state = Read.Idle;
    this.carry = undefined;
    this.listener.failed(e);
  }

  private complete(): void {
    this.state = Read.Idle;
    const { status, chunks } = this;
    this.chunks = undefined;
    if (this.closeAfter) this.drop();
    this.listener.answered(status, chunks === undefined ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  }

  private protocolError(message: string): void {
    this.drop();
    this.fail(error('EPROTO', `the server's answer is not HTTP/1.1 this probe can read: ${message}`));
  }

  /**
   * Reads what arrived: a piece of an answer, or the rest of one. Returns once the answer is
   * complete: the listener may have sent the next request already, on this connection or a new one.
   */
  private read(data: Buffer): void {
    let at = 0;
    while (at < data.length) {
      switch (this.state) {
        case Read.Idle:
          // Bytes nobody asked for: the connection cannot be trusted for the next request.
          this.drop();
          return;
        case Read.Head: {
          const head = this.scan(data, at, '\r\n\r\n');
          if (head === undefined) return;
          at = head.next;
          if (!this.parseHead(head.text)) return;
          if ((this.state as Read) === Read.Idle) return this.finishBody(data, at);
          break;
        }
        case Read.Length:
          at = this.takeBody(data, at);
          if (this.remaining === 0) return this.finishBody(data, at);
          break;
        case Read.UntilClose:
          this.keep(data, at, data.length);
          return;
        case Read.ChunkSize: {
          const line = this.scan(data, at, '\r\n');
          if (line === undefined) return;
          at = line.next;
          const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line.text);
          if (!size) return this.protocolError(`a chunk size of ${JSON.stringify(line.text.slice(0, 40))}`);
          this.remaining = parseInt(size[1], 16);
          this.state = this.remaining === 0 ? Read.Trailers : Read.ChunkData;
          break;
        }
        case Read.ChunkData:
          at = this.takeBody(data, at);
          if (this.remaining === 0) { this.state = Read.ChunkEnd; this.remaining = 2; }
          break;
        case Read.ChunkEnd: {
          // The CRLF after a chunk's data, which may be split across reads.
          const n = Math.min(this.remaining, data.length - at);
          for (let i = 0; i < n; i++) {
            if (data[at + i] !== (this.remaining - i === 2 ? 13 : 10)) return this.protocolError('a chunk not followed by CRLF');
          }
          at += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = Read.ChunkSize;
          break;
        }
        case Read.Trailers: {
          const line = this.scan(data, at, '\r\n');
          if (line === undefined) return;
          at = line.next;
          if (line.text === '') return this.finishBody(data, at);
          break;
        }
      }
    }
  }

  /**
   * The text from `at` to the delimiter, and where reading goes on; or undefined when the delimiter
   * has not come yet (what was read is carried to the next read) or the text is too long (an error).
   */
  private scan(data: Buffer, at: number, delimiter: string): { readonly text: string; readonly next: number } | undefined {
    const carry = this.carry;
    let text: string | undefined;
    let next = 0;
    if (carry === undefined) {
      const end = data.indexOf(delimiter, at, 'latin1');
      if (end >= 0) { text = data.toString('latin1', at, end); next = end + delimiter.length; } else this.carry = data.subarray(at);
    } else {
      const joined = Buffer.concat([carry, data.subarray(at)]);
      // The carry holds no delimiter: one can only start in its last bytes.
      const end = joined.indexOf(delimiter, Math.max(0, carry.length - delimiter.length + 1), 'latin1');
      if (end >= 0) { text = joined.toString('latin1', 0, end); next = at + end + delimiter.length - carry.length; this.carry = undefined; } else this.carry = joined;
    }
    if ((text?.length ?? this.carry!.length) > MAX_HEAD_BYTES) {
      this.protocolError(`its status line and headers, or a chunk line, are longer than ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    return text === undefined ? undefined : { text, next };
  }

  /** Reads up to `remaining` body bytes from `at`; returns where reading goes on. */
  private takeBody(data: Buffer, at: number): number {
    const end = Math.min(at + this.remaining, data.length);
    this.keep(data, at, end);
    this.remaining -= end - at;
    return end;
  }

  private keep(data: Buffer, from: number, to: number): void {
    if (this.chunks !== undefined && to > from) this.chunks.push(data.subarray(from, to));
  }

  /** The answer is complete, and nothing may follow it (one request at a time): bytes after it close the connection. */
  private finishBody(data: Buffer, at: number): void {
    if (at < data.length) this.closeAfter = true;
    this.complete();
  }

  /**
   * Reads the status line and headers; sets the state for the body (Idle when there is none).
   * Returns false after a protocol error. An interim 1xx answer is skipped: the state stays Head.
   */
  private parseHead(text: string): boolean {
    const lines = text.split('\r\n');
    const statusLine = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: .*)?$/.exec(lines[0]);
    if (!statusLine) { this.protocolError(`a status line of ${JSON.stringify(lines[0].slice(0, 60))}`); return false; }
    const status = Number(statusLine[2]);
    if (status >= 100 && status <= 199 && status !== 101) {
      this.state = Read.Head;
      return true;
    }
    let length: number | undefined;
    let chunked = false;
    let transferEncoding = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) { this.protocolError(`a header line of ${JSON.stringify(line.slice(0, 60))}`); return false; }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value) || (length !== undefined && length !== Number(value))) { this.protocolError(`a content-length of ${JSON.stringify(value)}`); return false; }
        length = Number(value);
      } else if (name === 'transfer-encoding') {
        transferEncoding = true;
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'connection') {
        connection += `${value.toLowerCase()},`;
      }
    }
    this.status = status;
    this.closeAfter = /(?:^|,)\s*close\s*,/.test(connection) || (statusLine[1] === '0' && !/(?:^|,)\s*keep-alive\s*,/.test(connection));
    this.chunks = this.listener.keepBody(status) ? [] : undefined;
    if (status === 204 || status === 304 || status === 101) {
      this.state = Read.Idle;
    } else if (transferEncoding) {
      // A transfer coding other than chunked last runs until the server closes (RFC 9112, 6.3).
      this.state = chunked ? Read.ChunkSize : Read.UntilClose;
    } else if (length !== undefined) {
      this.remaining = length;
      this.state = length === 0 ? Read.Idle : Read.Length;
    } else {
      this.state = Read.UntilClose;
    }
    if (this.state === Read.UntilClose) this.closeAfter = true;
    return true;
  }
}
