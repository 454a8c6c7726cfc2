/**
 * The model server of the probe bench (bench/probe.ts), in a process of its own so that its CPU
 * does not share an event loop with the load generator being measured. It answers POST /predict
 * at once and POST /predict-5ms after a 5 ms timer (a model's think time), both with the same small
 * JSON prediction, after reading the whole request body; keep-alive on. It tells the parent its
 * port over IPC and exits when the parent disconnects.
 */
import * as http from 'http';

const ANSWER = Buffer.from(JSON.stringify({ predictions: [[9.5, 11.5]], modelVersion: 'bench' }));
const HEADERS = { 'content-type': 'application/json', 'content-length': String(ANSWER.length) };

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
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
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as { port: number }).port });
});
process.on('disconnect', () => process.exit(0));
