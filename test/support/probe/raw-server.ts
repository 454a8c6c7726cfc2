/**
 * A hand-written HTTP/1.1 server on a raw TCP socket, for the probe's client tests: it writes
 * exactly the bytes a test gives, in the pieces it gives, a little apart (so that they arrive as
 * separate reads), and records the requests' bytes as they came (each read up to its body, by
 * Content-Length). `respond` returning null closes the connection without an answer; the END piece
 * ends the server's side after the pieces before it.
 */
import * as net from 'net';

export interface RawServer {
  readonly url: URL;
  connections: number;
  /** Each request's bytes (head and body), in order. */
  readonly requests: Buffer[];
  close(): Promise<void>;
}

/** A piece that ends the server's side of the connection (after the pieces before it). */
export const END: unique symbol = Symbol('end');

export type RawPiece = string | Buffer | typeof END;

export async function rawServer(respond: (n: number, request: Buffer) => readonly RawPiece[] | null, gapMs = 1): Promise<RawServer> {
  const sockets = new Set<net.Socket>();
  const state = { connections: 0, requests: [] as Buffer[] };
  const server = net.createServer(socket => {
    state.connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let writing = Promise.resolve();
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.subarray(0, end + 4 + length);
        buffered = buffered.subarray(end + 4 + length);
        const n = state.requests.length;
        state.requests.push(request);
        const pieces = respond(n, request);
        writing = writing.then(async () => {
          if (pieces === null) { socket.destroy(); return; }
          for (const [i, piece] of pieces.entries()) {
            if (i > 0) await new Promise(resolve => setTimeout(resolve, gapMs));
            if (piece === END) socket.end();
            else if (!socket.destroyed) socket.write(piece);
          }
        });
      }
    });
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(state, {
    url: new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/invocations?v=1`),
    close: () => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  });
}
