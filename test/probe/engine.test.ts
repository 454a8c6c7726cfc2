import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { runProbe } from '../../lib/probe/engine';
import { ProbeInputError } from '../../lib/probe/errors';
import { parseRequests } from '../../lib/probe/requests';
import { percentile } from '../../lib/probe/stats';
import { FakeEndpoint, startFakeEndpoint } from '../support/probe/fake-endpoint';
import { END, rawServer } from '../support/probe/raw-server';

const fakes: FakeEndpoint[] = [];
afterAll(() => Promise.all(fakes.map(f => f.close())));

async function fake(...args: Parameters<typeof startFakeEndpoint>): Promise<FakeEndpoint> {
  const f = await startFakeEndpoint(...args);
  fakes.push(f);
  return f;
}

const SAMPLES = parseRequests([
  JSON.stringify({ name: 'fast', request: { x: 1 }, expectedResponse: { y: 2 } }),
  JSON.stringify({ name: 'slow', request: { x: 3 }, expectedResponse: { y: 6 } }),
].join('\n'), 'requests.jsonl');

test('latency is measured from sending to reading the answer: known delays give the expected percentiles, computed exactly', async () => {
  const f = await fake({ answer: body => ({ status: 200, body: JSON.stringify({ y: 2 * JSON.parse(body).x }), delayMs: JSON.parse(body).x === 1 ? 20 : 200 }) });
  await runProbe({ target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 4, count: 8 }); // warm up (module loading, JIT)
  f.received.total = 0;
  const r = await runProbe({ target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 4, count: 40 });
  expect(r).toMatchObject({ completed: true, requests: 40, outcomes: { 200: 40 }, errorRate: 0, concurrency: 4, requested: { count: 40 } });
  expect(f.received.total).toBe(40);
  const l = r.latencyMs!;
  // Half the answers take 20 ms, half 200 ms (plus the local round trip, and a busy machine's delays).
  // Less 1 ms: the server's timers count from libuv's loop time, cached in whole ms, so they may fire
  // up to 1 ms early against a clock read when the request arrived.
  expect(l.min).toBeGreaterThanOrEqual(19);
  expect(l.p50).toBeGreaterThanOrEqual(19);
  expect(l.p50).toBeLessThan(200);
  expect(l.p90).toBeGreaterThanOrEqual(199);
  expect(l.p99).toBeLessThanOrEqual(l.max);
  expect(l.mean).toBeGreaterThanOrEqual(109);
  expect(l.mean).toBeLessThan(l.p90);
  // Every answer is in the timeline (fewer than its cap): the percentiles are the exact nearest ranks.
  const sorted = r.timeline.map(p => p.latencyMs).sort((a, b) => a - b);
  expect(sorted).toHaveLength(40);
  expect(l.p50).toBeCloseTo(percentile(sorted, 0.5), 2);
  expect(l.p90).toBeCloseTo(percentile(sorted, 0.9), 2);
  expect(l.max).toBeCloseTo(sorted[39], 2);
  // 4 workers over 20 × 20 ms + 20 × 200 ms of model time: at least 1100 ms (less timers firing early), and throughput is requests over that.
  expect(r.durationMs).toBeGreaterThanOrEqual(1090);
  expect(r.throughputPerSecond).toBeCloseTo(40 / (r.durationMs / 1000), 0);
  expect(r.histogram.reduce((n, b) => n + b.count, 0)).toBe(40);
  expect(r.histogram[0].fromMs).toBeCloseTo(l.min, 2);
  expect(r.histogram.at(-1)!.toMs).toBeCloseTo(l.max, 2);
  for (let i = 1; i < r.histogram.length; i++) expect(r.histogram[i].fromMs).toBeCloseTo(r.histogram[i - 1].toMs, 6);
  expect(r.accuracy).toEqual({ checked: 40, correct: 40, rate: 1, mismatches: [] });
});

test('a duration run sends for that long, at most `concurrency` requests at once', async () => {
  let inFlight = 0;
  let most = 0;
  const f = await fake({ answer: () => { inFlight++; most = Math.max(most, inFlight); setTimeout(() => inFlight--, 10); return { status: 200, body: '{"y":2}', delayMs: 10 }; } });
  const r = await runProbe({ target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 3, durationSeconds: 0.5 });
  expect(r.completed).toBe(true);
  expect(r.requested).toEqual({ durationSeconds: 0.5 });
  expect(r.durationMs).toBeGreaterThanOrEqual(495);
  expect(r.durationMs).toBeLessThan(3000); // it stops (generous: the machine may be busy)
  expect(most).toBeLessThanOrEqual(3);
  expect(r.requests).toBe(f.received.total);
});

test('accuracy counts right and wrong answers with the verification check; errors are counted by status, not as wrong answers', async () => {
  const samples = parseRequests(JSON.stringify([
    { name: 'a', request: { x: 1 }, expectedResponse: { y: [1.0, 2.0] }, absoluteTolerance: 0.01 },
    { name: 'b', request: { x: 2 } },
  ]), 'requests.json');
  // Sample a (even n): right (within tolerance), wrong, not JSON, a 500, in turn. Sample b has no expectation.
  const f = await fake({
    answer: (body, n) => {
      if (JSON.parse(body).x === 2) return { status: 200, body: 'anything' };
      return [{ status: 200, body: '{"y":[1.005,2],"v":"m1"}' }, { status: 200, body: '{"y":[1,2.5]}' }, { status: 200, body: 'oops' }, { status: 500, body: 'crash' }][(n / 2) % 4];
    },
  });
  const r = await runProbe({ target: 'onPrem', url: f.url, samples, concurrency: 1, count: 16 });
  expect(r.outcomes).toEqual({ 200: 14, 500: 2 });
  expect(r.errorRate).toBeCloseTo(2 / 16, 6);
  expect(r.accuracy).toMatchObject({ checked: 6, correct: 2, rate: expect.closeTo(2 / 6, 5) });
  expect(r.accuracy!.mismatches).toEqual([
    'sample "a": wrong answer at $.y[1]: expected 2 ± 0.01, got 2.5; expected {"y":[1,2]}, got {"y":[1,2.5]}',
    'sample "a": the response is not JSON: oops',
  ]);
});

test('an unreachable endpoint ends the run early with a partial result naming the error', async () => {
  const closed = await new Promise<number>(resolve => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  const r = await runProbe({ target: 'onPrem', url: `http://127.0.0.1:${closed}/invocations`, samples: SAMPLES, concurrency: 2, count: 1000 });
  expect(r.completed).toBe(false);
  expect(r.stopReason).toMatch(/^the endpoint is unreachable: ECONNREFUSED .* at 127\.0\.0\.1:\d+/);
  expect(r.requests).toBeLessThan(10);
  expect(r.outcomes.ECONNREFUSED).toBe(r.requests);
  expect(r.errorRate).toBe(1);
  expect(r.latencyMs).toBeUndefined();
});

test('a request with no answer within the timeout is a transport error "timeout"', async () => {
  const f = await fake({ answer: () => ({ status: 200, body: '{}', delayMs: 2000 }) });
  const r = await runProbe({ target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 1, count: 5, timeoutMs: 100, unreachableAfter: 2 });
  expect(r.completed).toBe(false);
  expect(r.outcomes).toEqual({ timeout: 2 });
  expect(r.stopReason).toMatch(/unreachable: timeout \(no answer within 100 ms\)/);
  // Each request was cut after its 100 ms, not when the 2 s answer came (nor on a timer wheel of whole seconds).
  expect(r.durationMs).toBeGreaterThanOrEqual(195);
  expect(r.durationMs).toBeLessThan(1500);
});

test('aborting stops sending, waits for the requests in flight, and returns the partial result with the reason', async () => {
  const f = await fake({ answer: () => ({ status: 200, body: '{"y":2}', delayMs: 50 }) });
  const abort = new AbortController();
  setTimeout(() => abort.abort('interrupted (Ctrl-C)'), 300);
  const r = await runProbe({ target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 2, count: 100_000, signal: abort.signal });
  expect(r).toMatchObject({ completed: false, stopReason: 'interrupted (Ctrl-C)' });
  expect(r.requests).toBeGreaterThan(2);
  expect(r.requests).toBeLessThan(100);
  // Those in flight at the abort were waited for: everything sent was answered.
  expect(r.requests).toBe(f.received.total);
  expect(r.outcomes).toEqual({ 200: r.requests });
});

test('a 401 stops the run at once, naming the authentication used and what to check', async () => {
  const f = await fake({ require: { header: 'x-api-key', value: 'k'.repeat(20) }, answer: () => ({ status: 200, body: '{}' }) });
  const r = await runProbe({
    target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 1, count: 50,
    auth: { description: 'an API key as X-Api-Key', hint: 'the key file', headers: async (_u, b) => b.map(() => ({ 'x-api-key': 'wrong' })) },
  });
  expect(r.completed).toBe(false);
  expect(r.requests).toBe(1);
  expect(r.stopReason).toBe('the endpoint refused the authentication (HTTP 401: {"error":"missing or wrong credentials"}); used an API key as X-Api-Key; check the key file');
});

test('https: trusted with `ca` (a private CA), refused with the TLS error code without it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-tls-'));
  try {
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=probe-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
    const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"y":2}'));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/invocations`;
      const samples = SAMPLES.slice(0, 1);
      const trusted = await runProbe({ target: 'onPrem', url, samples, concurrency: 2, count: 10, ca: fs.readFileSync(cert) });
      expect(trusted).toMatchObject({ completed: true, requests: 10, outcomes: { 200: 10 }, accuracy: { checked: 10, correct: 10 } });
      const untrusted = await runProbe({ target: 'onPrem', url, samples, concurrency: 1, count: 10 });
      expect(untrusted.completed).toBe(false);
      expect(untrusted.outcomes).toEqual({ DEPTH_ZERO_SELF_SIGNED_CERT: 3 });
      expect(untrusted.stopReason).toMatch(/^the endpoint is unreachable: DEPTH_ZERO_SELF_SIGNED_CERT \(self.signed certificate\) at 127\.0\.0\.1:\d+/);
    } finally {
      server.closeAllConnections();
      await new Promise(resolve => server.close(resolve));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('answers split anywhere, chunked or with Content-Length, and `Connection: close` (a new connection for the next request) are read whole', async () => {
  const s = await rawServer(n => n % 2 === 0
    // Chunked, the chunk boundaries inside the JSON, the pieces inside the chunks.
    ? ['HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"y"', '\r\n3\r\n:2}\r', '\n0\r\n\r\n']
    : ['HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 7\r\nconnection: close\r\n\r\n{"y"', ':2}', END], 3);
  try {
    const r = await runProbe({ target: 'onPrem', url: s.url.href, samples: SAMPLES.slice(0, 1), concurrency: 1, count: 8 });
    expect(r).toMatchObject({ completed: true, requests: 8, outcomes: { 200: 8 }, accuracy: { checked: 8, correct: 8, mismatches: [] } });
    expect(s.requests).toHaveLength(8);
    // Each `Connection: close` answer (4) ended its connection: the first, and one after each of the first 3.
    expect(s.connections).toBe(4);
    // Each answer came in 2 or 3 pieces 3 ms apart (timers: less up to 1 ms): latency runs to the answer's last byte.
    expect(r.latencyMs!.min).toBeGreaterThanOrEqual(2);
  } finally {
    await s.close();
  }
});

test('a connection the server closes without an answer is a transport error ECONNRESET; the next requests go on a new connection', async () => {
  const s = await rawServer(n => n === 1 ? null : ['HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{"y":2}']);
  try {
    const r = await runProbe({ target: 'onPrem', url: s.url.href, samples: SAMPLES.slice(0, 1), concurrency: 1, count: 5 });
    expect(r).toMatchObject({ completed: true, requests: 5, outcomes: { 200: 4, ECONNRESET: 1 }, errorRate: 0.2 });
    expect(r.accuracy).toMatchObject({ checked: 4, correct: 4 });
    expect(s.connections).toBe(2);
  } finally {
    await s.close();
  }
});

test('authentication headers are made again every refreshMs, and the requests carry the newest', async () => {
  const f = await fake({ answer: () => ({ status: 200, body: '{"y":2}', delayMs: 5 }) });
  let made = 0;
  const r = await runProbe({
    target: 'onPrem', url: f.url, samples: SAMPLES, concurrency: 2, durationSeconds: 0.6, headers: { 'x-extra': 'e' },
    auth: { description: 'a token', hint: 'the token', refreshMs: 100, headers: async (_u, bodies) => { made++; return bodies.map((_b, i) => ({ authorization: `Bearer t${made}-${i}` })); } },
  });
  expect(r.completed).toBe(true);
  expect(made).toBeGreaterThanOrEqual(3);
  // The last request went out after the last refresh but one, at least.
  expect(f.lastHeaders!.authorization).toMatch(new RegExp(`^Bearer t(${made}|${made - 1})-[01]$`));
  expect(f.lastHeaders!['x-extra']).toBe('e');
  expect(f.lastHeaders!['content-type']).toBe('application/json');
});

test('a header that could smuggle another (a CR or LF in a value) is bad input, refused before anything is sent', async () => {
  const f = await fake({ answer: () => ({ status: 200, body: '{}' }) });
  const run = runProbe({ target: 'azureMl', url: f.url, samples: SAMPLES, concurrency: 1, count: 5, headers: { 'azureml-model-deployment': 'blue\r\nx-injected: 1' } });
  await expect(run).rejects.toThrow(ProbeInputError);
  await expect(run).rejects.toThrow('request header azureml-model-deployment: its value has a CR, LF or NUL character, which HTTP does not allow');
  expect(f.received.total).toBe(0);
});

test('an endpoint URL that is not http or https is bad input', async () => {
  await expect(runProbe({ target: 'onPrem', url: 'ftp://127.0.0.1/x', samples: SAMPLES, concurrency: 1, count: 1 })).rejects.toThrow('the endpoint URL ftp://127.0.0.1/x is not http or https');
});
