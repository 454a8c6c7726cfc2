/**
 * A fake model endpoint on 127.0.0.1 for the probe's tests: it checks the authentication the way
 * the real endpoint would (an exact API key header, or a bearer token it issued), waits the delay
 * the test asks for, and answers for the model.
 */
import * as http from 'http';
import { AddressInfo } from 'net';

export interface FakeEndpointOptions {
  /** Refuse with 401 unless this header has exactly this value (`x-api-key`, or `authorization` with `Bearer ...`). */
  readonly require?: { readonly header: string; readonly value: string };
  /** Plays the model: the status, the body, and how long it takes. */
  readonly answer: (body: string, n: number) => { status: number; body: string; delayMs?: number };
}

export interface FakeEndpoint {
  readonly url: string;
  /** Requests received, and how many passed the authentication check. */
  readonly received: { total: number; authorized: number; refused: number };
  /** The headers of the last request (to check no secret but the expected one travels). */
  lastHeaders?: http.IncomingHttpHeaders;
  /** The path (and query) of the last request. */
  lastPath?: string;
  close(): Promise<void>;
}

export async function startFakeEndpoint(options: FakeEndpointOptions): Promise<FakeEndpoint> {
  const received = { total: 0, authorized: 0, refused: 0 };
  const fake: Partial<FakeEndpoint> & { received: typeof received } = { received };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const n = received.total++;
      fake.lastHeaders = req.headers;
      fake.lastPath = req.url;
      if (options.require && req.headers[options.require.header] !== options.require.value) {
        received.refused++;
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"missing or wrong credentials"}');
        return;
      }
      received.authorized++;
      const answer = options.answer(Buffer.concat(chunks).toString('utf8'), n);
      const send = () => {
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(answer.body);
      };
      // unref: a delayed answer to a client that gave up must not keep the test process alive.
      if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(fake, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/invocations`,
    close: () => new Promise<void>(resolve => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  }) as FakeEndpoint;
}
