import { Http1Connection, Http1Error, MAX_HEAD_BYTES, http1Post } from '../../lib/probe/http1';
import { END, RawServer, rawServer } from '../support/probe/raw-server';

/** The probe's HTTP/1.1 client against a raw TCP server that writes exactly the bytes a test gives. */

type Outcome = { status: number; body?: string } | { error: string; message: string };

/** A connection whose answers and failures queue up, for `await next()`. */
function connection(url: URL, keep: (status: number) => boolean = () => true): { conn: Http1Connection; next(): Promise<Outcome> } {
  const outcomes: Outcome[] = [];
  const waiting: ((o: Outcome) => void)[] = [];
  const push = (o: Outcome): void => { const w = waiting.shift(); if (w) w(o); else outcomes.push(o); };
  const conn = new Http1Connection({ url }, {
    keepBody: keep,
    answered: (status, body) => push(body === undefined ? { status } : { status, body: body.toString('latin1') }),
    failed: (e: Http1Error) => push({ error: e.code, message: e.message }),
  });
  return { conn, next: () => outcomes.length ? Promise.resolve(outcomes.shift()!) : new Promise(resolve => waiting.push(resolve)) };
}

const servers: RawServer[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map(s => s.close())); });
async function serve(...args: Parameters<typeof rawServer>): Promise<RawServer> {
  const s = await rawServer(...args);
  servers.push(s);
  return s;
}
const BODY = Buffer.from('{"x":1}');

describe('http1Post: the request bytes', () => {
  test('request line with the query, host with the port, the headers as given, content-length, then the body, in one buffer', () => {
    const parts = http1Post(new URL('http://example.test:8080/a/b?x=1&y=%20'), { 'content-type': 'application/json', 'X-Api-Key': 'k' }, BODY);
    expect(parts).toHaveLength(1);
    expect(parts[0].toString('latin1')).toBe('POST /a/b?x=1&y=%20 HTTP/1.1\r\nhost: example.test:8080\r\ncontent-type: application/json\r\nX-Api-Key: k\r\ncontent-length: 7\r\n\r\n{"x":1}');
  });

  test('a host header (what a signature was made for) replaces the URL\'s, once', () => {
    const [bytes] = http1Post(new URL('http://127.0.0.1:9000/p'), { Host: 'runtime.sagemaker.eu-west-1.amazonaws.com', 'x-amz-date': 'd' }, BODY);
    expect(bytes.toString('latin1')).toBe('POST /p HTTP/1.1\r\nhost: runtime.sagemaker.eu-west-1.amazonaws.com\r\nx-amz-date: d\r\ncontent-length: 7\r\n\r\n{"x":1}');
  });

  test('a body over 64 KiB goes as a second buffer (not copied); the bytes are the same', () => {
    const body = Buffer.alloc(64 * 1024 + 1, 'a');
    const parts = http1Post(new URL('https://h/p'), {}, body);
    expect(parts).toHaveLength(2);
    expect(parts[1]).toBe(body);
    expect(parts[0].toString('latin1')).toBe(`POST /p HTTP/1.1\r\nhost: h\r\ncontent-length: ${body.length}\r\n\r\n`);
    expect(http1Post(new URL('https://h/p'), {}, body.subarray(1))).toHaveLength(1);
  });

  test.each([
    [{ 'x-key': 'a\r\nx-other: b' }, 'request header x-key: its value has a CR, LF or NUL character, which HTTP does not allow'],
    [{ 'x-key': 'a\nb' }, 'request header x-key: its value has a CR, LF or NUL character'],
    [{ 'x-key': 'a\0' }, 'request header x-key: its value has a CR, LF or NUL character'],
    [{ 'x key': 'a' }, 'request header name "x key" is not an HTTP token'],
    [{ 'x:y': 'a' }, 'request header name "x:y" is not an HTTP token'],
    [{ '': 'a' }, 'request header name "" is not an HTTP token'],
    [{ Host: 'a\r\n' }, 'request header Host: its value has a CR, LF or NUL character'],
    [{ 'content-length': '1' }, 'request header content-length is set by the probe itself'],
    [{ 'Transfer-Encoding': 'chunked' }, 'request header Transfer-Encoding is set by the probe itself'],
  ])('refuses a header that could smuggle another header or request: %j', (headers, message) => {
    expect(() => http1Post(new URL('http://h/p'), headers, BODY)).toThrow(message);
  });
});

/** Answers the parser must read whole, each with its status and body. */
const ANSWERS: readonly { readonly name: string; readonly bytes: string; readonly status: number; readonly body: string }[] = [
  { name: 'content-length', bytes: 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"y":[1,2,3]}\n', status: 200, body: '{"y":[1,2,3]}\n' },
  {
    name: 'chunked, with an extension and trailers',
    bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{"y"\r\nA\r\n:[1,2,3]}\n\r\n0\r\nx-trailer: t\r\n\r\n',
    status: 200, body: '{"y":[1,2,3]}\n',
  },
  { name: 'an interim 100 and 103 first', bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok', status: 201, body: 'ok' },
  { name: '204 without a body', bytes: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '' },
  { name: 'a 503 whose reason phrase is empty', bytes: 'HTTP/1.1 503 \r\ncontent-length: 4\r\n\r\nbusy', status: 503, body: 'busy' },
  { name: 'a status line without a reason phrase', bytes: 'HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n', status: 200, body: '' },
];

describe('reading answers', () => {
  test.each(ANSWERS)('$name: read whole wherever the bytes are split, on one keep-alive connection', async ({ bytes, status, body }) => {
    // Request n gets the answer split at byte n (n = 0: in one piece), then one answer a byte at a time.
    const s = await serve(n => n < bytes.length ? [bytes.slice(0, n), bytes.slice(n)].filter(p => p.length) : bytes.split(''));
    const { conn, next } = connection(s.url);
    try {
      for (let n = 0; n <= bytes.length; n++) {
        conn.send(http1Post(s.url, {}, BODY));
        await expect(next()).resolves.toEqual({ status, body });
      }
    } finally {
      conn.close();
    }
    expect(s.connections).toBe(1);
    expect(s.requests).toHaveLength(bytes.length + 1);
  });

  test('several answers in one read are not mixed up: each request gets its own answer', async () => {
    // The server answers request 0 with two answers at once: the second is unasked for, and drops the connection.
    const s = await serve(n => n === 0 ? ['HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\naHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb'] : ['HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nc']);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'a' });
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'c' });
    conn.close();
    expect(s.connections).toBe(2);
  });

  test('a body that is not kept is read and dropped; the next answer on the connection is still read right', async () => {
    const s = await serve(n => [`HTTP/1.1 ${n === 0 ? 200 : 500} X\r\ncontent-length: 5\r\n\r\n`, `${n}bcde`]);
    const { conn, next } = connection(s.url, status => status >= 400);
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200 });
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 500, body: '1bcde' });
    conn.close();
    expect(s.connections).toBe(1);
  });

  test('an answer without a length is read until the server closes; `connection: close` and HTTP/1.0 answers end their connection', async () => {
    const answers: (string | typeof END)[][] = [
      ['HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n', 'until ', 'close', END],
      ['HTTP/1.1 200 OK\r\nConnection: Close\r\ncontent-length: 2\r\n\r\nc2'],
      ['HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n10'],
      ['HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\nka'],
      ['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'],
    ];
    const s = await serve(n => answers[n]);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'until close' });
    for (const body of ['c2', '10', 'ka', 'ok']) {
      conn.send(http1Post(s.url, {}, BODY));
      await expect(next()).resolves.toEqual({ status: 200, body });
    }
    conn.close();
    // One for the answer until close, one each after `connection: close` and HTTP/1.0; the keep-alive HTTP/1.0 answer kept its connection.
    expect(s.connections).toBe(4);
  });

  test('a body of 3 MiB each way: the request arrives whole, the answer is read whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = 97 + (i % 26);
    const s = await serve((_n, request) => [`HTTP/1.1 200 OK\r\ncontent-length: ${request.length}\r\n\r\n`, request]);
    const { conn, next } = connection(s.url);
    const parts = http1Post(s.url, { 'content-type': 'text/plain' }, big);
    conn.send(parts);
    const answer = await next() as { status: number; body: string };
    conn.close();
    expect(s.requests[0].equals(Buffer.concat(parts))).toBe(true);
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(Buffer.concat(parts).length);
    expect(answer.body.endsWith(big.subarray(-100).toString('latin1'))).toBe(true);
  });
});

describe('failures', () => {
  test.each([
    ['a status line that is not HTTP/1.x', 'HTTP/2 200\r\n\r\n', 'a status line of "HTTP/2 200"'],
    ['no status line at all', 'hello\r\n\r\n', 'a status line of "hello"'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n', 'a header line of "broken"'],
    ['a content-length that is not a number', 'HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n', 'a content-length of "1x"'],
    ['two different content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab', 'a content-length of "2"'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'a chunk size of "zz"'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabX\r\n', 'a chunk not followed by CRLF'],
    ['headers longer than the limit', `HTTP/1.1 200 OK\r\nx-long: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, `longer than ${MAX_HEAD_BYTES} bytes`],
  ])('%s is a transport error EPROTO that says what was wrong; the next request gets a new connection', async (_name, bytes, message) => {
    const s = await serve(n => n === 0 ? [bytes] : ['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok']);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    const failed = await next() as { error: string; message: string };
    expect(failed.error).toBe('EPROTO');
    expect(failed.message).toContain('the server\'s answer is not HTTP/1.1 this probe can read: ');
    expect(failed.message).toContain(message);
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'ok' });
    conn.close();
    expect(s.connections).toBe(2);
  });

  test('headers of exactly the limit are accepted', async () => {
    const prefix = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-long: ';
    const head = prefix + 'a'.repeat(MAX_HEAD_BYTES - prefix.length);
    expect(head.length).toBe(MAX_HEAD_BYTES);
    const s = await serve(() => [head.slice(0, 1000), head.slice(1000), '\r\n\r\nok']);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'ok' });
    conn.close();
  });

  test('the server closing mid-answer is ECONNRESET; a refused connection is ECONNREFUSED', async () => {
    const s = await serve(() => ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc', '']);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    await new Promise(resolve => setTimeout(resolve, 30));
    await s.close();
    await expect(next()).resolves.toEqual({ error: 'ECONNRESET', message: 'the server closed the connection before answering' });
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toMatchObject({ error: 'ECONNREFUSED' });
    conn.close();
  });

  test('abort ends the request with the reason and closes the connection; a late answer is not taken for the next request', async () => {
    const s = await serve(n => n === 0 ? ['HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n', 'late'] : ['HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnext'], 100);
    const { conn, next } = connection(s.url);
    conn.send(http1Post(s.url, {}, BODY));
    await new Promise(resolve => setTimeout(resolve, 30));
    conn.abort(Object.assign(new Error('no answer within 30 ms'), { code: 'timeout' }));
    await expect(next()).resolves.toEqual({ error: 'timeout', message: 'no answer within 30 ms' });
    conn.send(http1Post(s.url, {}, BODY));
    await expect(next()).resolves.toEqual({ status: 200, body: 'next' });
    conn.close();
    expect(s.connections).toBe(2);
  });
});

