/**
 * The model server of the probe bench (bench/probe.ts), in a process of its own so that its CPU
 * does not share an event loop with the load generator being measured. It answers POST /predict
 * at once and POST /predict-5ms after a 5 ms timer (a model's think time), both with the same small
 * JSON prediction, after reading the whole request body; keep-alive on. It tells the parent its
 * port over IPC and exits when the parent disconnects. Asked `take` over IPC, it answers what it
 * saw since the last `take` (so that the parent can check both tools sent the same thing the same
 * way): the connections opened, the requests, and each distinct one of the first 100 as method,
 * path, headers (but host, and `connection: keep-alive`, HTTP/1.1's default) and body.
 */
import * as http from 'http';

const ANSWER = Buffer.from(JSON.stringify({ predictions: [[9.5, 11.5]], modelVersion: 'bench' }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(ANSWER.length) };

/** What the server saw since the last `take`. */
export interface Seen { readonly connections: number; readonly requests: number; readonly distinct: string[] }
const FINGERPRINTED = 100;
let connections = 0;
let requests = 0;
let distinct = new Set<string>();

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    // The first requests of each run only: the server's cost per request stays what it was.
    if (++requests <= FINGERPRINTED) {
      // Order and case of the header names vary by client; the host has the port; keep-alive is HTTP/1.1's default.
      const headers = Object.entries(req.headers).filter(([k, v]) => k !== 'host' && !(k === 'connection' && v === 'keep-alive'))
        .sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`);
      distinct.add([`${req.method} ${req.url}`, ...headers, Buffer.concat(chunks).toString('utf8')].join(' | '));
    }
    const answer = () => {
      res.writeHead(200, HEADERS);
      res.end(ANSWER);
    };
    if (req.method !== 'POST' || Buffer.concat(chunks).length === 0) {
      res.writeHead(400).end();
    } else if (req.url === '/predict') {
      answer();
    } else if (req.url === '/predict-5ms') {
      setTimeout(answer, 5);
    } else {
      res.writeHead(404).end();
    }
  });
});
// Longer than any run: neither load generator may lose its connections to the server's idle timer.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
server.on('connection', () => { connections++; });
process.on('message', (m: unknown) => {
  if (m !== 'take') return;
  const seen: Seen = { connections, requests, distinct: [...distinct] };
  connections = 0;
  requests = 0;
  distinct = new Set();
  process.send!(seen);
});
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
