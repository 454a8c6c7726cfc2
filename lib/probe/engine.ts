import type * as Undici from 'undici';
import { checkSamples } from '../common/sample-check';
import { ProbeSample } from './requests';
import { ProbeResult } from './result';
import { LatencyLog, round } from './stats';

/**
 * How the probe authenticates to a target. Headers are made for every sample ahead of time (the
 * engine adds nothing per request) and made again every `refreshMs`, so that signatures and tokens
 * stay fresh on long runs. Never holds a secret in `description` or `hint`.
 */
export interface ProbeAuth {
  /** What is used, for messages and the table: `SigV4 (AWS credential chain, region eu-west-1)`. Never a secret. */
  readonly description: string;
  /** What to check when the endpoint answers 401 or 403. */
  readonly hint: string;
  /** Every how many milliseconds to sign again (default: never). */
  readonly refreshMs?: number;
  /** Headers for each sample, in order. */
  headers(url: URL, bodies: readonly Buffer[]): Promise<ReadonlyArray<Readonly<Record<string, string>>>>;
}

/** No authentication (a local server). */
export const NO_AUTH: ProbeAuth = { description: 'no authentication', hint: 'whether the endpoint needs a key', headers: async (_u, b) => b.map(() => ({})) };

/** Where a run is, for a progress bar. */
export interface ProbeProgress {
  /** Requests finished (answered or failed). */
  readonly done: number;
  /** Of them, not 2xx. */
  readonly errors: number;
  readonly elapsedMs: number;
}

export interface ProbeOptions {
  /** The target's name for the result (`sageMaker`, `azureMl`, `vertexAi`, `onPrem`, or anything). */
  readonly target: string;
  /** Where to POST the requests (http or https). */
  readonly url: string;
  /** What the result calls the endpoint. @default url */
  readonly endpoint?: string;
  readonly samples: readonly ProbeSample[];
  /** Requests in flight at once (also the keep-alive pool's size). */
  readonly concurrency: number;
  /** Send this many requests (samples in turn). One of count and durationSeconds. */
  readonly count?: number;
  /** Send requests for this long. */
  readonly durationSeconds?: number;
  /** @default NO_AUTH */
  readonly auth?: ProbeAuth;
  /** Extra request headers (e.g. `azureml-model-deployment`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** A request with no answer after this long is a transport error `timeout`. @default 30000 */
  readonly timeoutMs?: number;
  /** Certificates to trust for https (instead of the system's). */
  readonly ca?: Buffer;
  /** Aborting stops sending; the result is partial, its stopReason the signal's reason when it is a string. */
  readonly signal?: AbortSignal;
  /** After a stop, how long to wait for requests in flight before dropping them. @default 5000 */
  readonly drainMs?: number;
  /** Called about every progressIntervalMs while the run lasts. */
  readonly onProgress?: (progress: ProbeProgress) => void;
  /** @default 200 */
  readonly progressIntervalMs?: number;
  /** Stop when this many transport errors in a row come before any HTTP answer. @default 3 */
  readonly unreachableAfter?: number;
}

type UndiciModule = typeof Undici;
let undici: UndiciModule | undefined;
/**
 * undici (Node's own fetch client, much cheaper per request than http.request, whose cost showed
 * in what the probe measured: bench/probe.ts), loaded at the first run, so that importing the
 * probe's modules, or the constructs, costs nothing more.
 */
const loadUndici = (): UndiciModule => (undici ??= require('undici') as UndiciModule);

/** A failed request: its code (`ECONNREFUSED`, `timeout`, ...) counts in the outcomes. */
interface TransportError { readonly code: string; readonly message: string }

/** undici's codes for a timeout, each reported as `timeout`, as the probe always has. */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * The code and message of a failed request: the system's code where there is one (ECONNREFUSED,
 * ECONNRESET, ENOTFOUND, a TLS code), `timeout`, and `ECONNRESET` for a connection the server
 * closed before answering (undici's UND_ERR_SOCKET, node:http's "socket hang up").
 */
function transportError(error: Error & { code?: string; cause?: unknown; errors?: unknown }, timeoutMs: number): TransportError {
  if (error.code === 'timeout' || (error.code !== undefined && TIMEOUT_CODES.has(error.code))) return { code: 'timeout', message: `no answer within ${timeoutMs} ms` };
  if (error.code === 'UND_ERR_SOCKET') return { code: 'ECONNRESET', message: error.message };
  // A connection tried on every address of a name fails as an AggregateError without a message of its own.
  const inner = Array.isArray(error.errors) ? error.errors[0] as Error | undefined : undefined;
  const cause = error.cause instanceof Error ? error.cause as Error & { code?: string } : undefined;
  return { code: error.code ?? cause?.code ?? 'error', message: error.message || inner?.message || cause?.message || String(error) };
}

/** Transport errors in a row, after answers came, that end the run as "became unreachable". */
const LOST_AFTER = 100;
/** Distinct answers per sample whose accuracy is remembered (a model that answers the same way is checked once). */
const ANSWER_CACHE = 32;
const MAX_MISMATCHES = 10;

/**
 * One of the `concurrency` workers: it sends its next request when the last one ends, until the run
 * stops. Its timer, made once and refreshed at each send (a timer per request would cost the probe
 * a good part of what it measures), cuts a request without an answer.
 */
interface Worker { timer?: NodeJS.Timeout; exchange?: Exchange }

/** What an exchange reports to its run. */
interface ExchangeContext {
  /** Whether the answer's body is read (an error's reason, or an answer to check), or dropped. */
  keepBody(sample: number, status: number): boolean;
  answered(exchange: Exchange): void;
  failed(exchange: Exchange, error: Error): void;
}

/**
 * One request and its answer: undici's handler for it. Methods rather than closures, so that a
 * request allocates one small object.
 */
class Exchange implements Undici.Dispatcher.DispatchHandler {
  public status = 0;
  public chunks: Buffer[] | undefined = undefined;
  public controller: Undici.Dispatcher.DispatchController | undefined = undefined;
  public settled = false;

  constructor(private readonly context: ExchangeContext, public readonly worker: Worker, public readonly sample: number, public readonly sent: bigint) {}

  public onRequestStart(controller: Undici.Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  public onResponseStart(_controller: Undici.Dispatcher.DispatchController, status: number): void {
    this.status = status;
    this.chunks = this.context.keepBody(this.sample, status) ? [] : undefined;
  }

  public onResponseData(_controller: Undici.Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks?.push(chunk);
  }

  public onResponseEnd(): void {
    this.context.answered(this);
  }

  public onResponseError(_controller: Undici.Dispatcher.DispatchController, error: Error): void {
    this.context.failed(this, error);
  }
}

/**
 * Sends the samples, in turn, at the given concurrency, for a count or a duration, and measures:
 * latency from writing the request to reading the whole response (`process.hrtime.bigint()`),
 * exact percentiles over every answer (a sorted Float64Array: 17 bytes per request, so about 170 MB
 * for 10 million requests), throughput, outcomes per status or transport error, and accuracy with
 * checkSamples (the same check as every target's verification), remembered per distinct answer.
 *
 * Never throws for what the endpoint does: an unreachable endpoint, a 401/403 and an abort end the
 * run early with a partial result (`completed: false`, `stopReason`).
 */
export async function runProbe(options: ProbeOptions): Promise<ProbeResult> {
  const { samples, concurrency } = options;
  if (samples.length === 0) throw new Error('runProbe: no samples');
  if (!(concurrency >= 1)) throw new Error('runProbe: concurrency must be at least 1');
  if ((options.count === undefined) === (options.durationSeconds === undefined)) throw new Error('runProbe: give count or durationSeconds');
  const url = new URL(options.url);
  const auth = options.auth ?? NO_AUTH;
  const bodies = samples.map(s => s.body);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const unreachableAfter = options.unreachableAfter ?? 3;
  // Keep-alive connections as many as the concurrency, one request in flight on each (no pipelining).
  // undici's own answer timeouts are off: they tick in whole seconds; each request has its own timer.
  const pool = new (loadUndici().Pool)(url.origin, {
    connections: concurrency, pipelining: 1, connectTimeout: timeoutMs, headersTimeout: 0, bodyTimeout: 0,
    ...(options.ca === undefined ? {} : { connect: { ca: options.ca } }),
  });
  const path = `${url.pathname}${url.search}`;

  // One set of headers per sample, made again when the authentication is refreshed.
  const build = (signed: ReadonlyArray<Readonly<Record<string, string>>>): Record<string, string>[] =>
    samples.map((_s, i) => ({ 'content-type': 'application/json', ...options.headers, ...signed[i] }));
  let requestHeaders = build(await auth.headers(url, bodies));
  const wantBody = samples.map(s => s.expected !== undefined);
  const answers = samples.map(() => new Map<string, string | null>());

  const log = new LatencyLog();
  const statusCounts = new Map<number, number>();
  const transportErrors = new Map<string, number>();
  const mismatches: string[] = [];
  const pendingChecks = new Set<Promise<void>>();
  let checked = 0;
  let correct = 0;
  let issued = 0;
  let finished = 0;
  let errors = 0;
  let answered = 0;
  let consecutiveTransport = 0;
  let active = 0;
  let stopReason: string | undefined;
  let stopping = false;
  let closed = false;
  let firstSent = 0n;
  let lastDone = 0n;

  // Settles when every worker has stopped, or drainMs after a stop with requests still in flight.
  let finish!: () => void;
  const done = new Promise<void>(resolve => { finish = resolve; });
  let drainTimer: NodeJS.Timeout | undefined;

  const stop = (reason: string | undefined): void => {
    if (reason !== undefined && stopReason === undefined) stopReason = reason;
    if (stopping) return;
    stopping = true;
    drainTimer = setTimeout(finish, options.drainMs ?? 5000);
  };

  const countAccuracy = (mismatch: string | null): void => {
    checked++;
    if (mismatch === null) correct++;
    else if (mismatches.length < MAX_MISMATCHES && !mismatches.includes(mismatch)) mismatches.push(mismatch);
  };

  const check = (s: number, body: string): void => {
    const cache = answers[s];
    const known = cache.get(body);
    if (known !== undefined) { countAccuracy(known); return; }
    const pending: Promise<void> = checkSamples([samples[s].expected!], Number.MAX_SAFE_INTEGER, async () => ({ status: 200, body }))
      .then(lines => {
        const mismatch = lines[0] ?? null;
        if (cache.size < ANSWER_CACHE) cache.set(body, mismatch);
        countAccuracy(mismatch);
      })
      .finally(() => pendingChecks.delete(pending));
    pendingChecks.add(pending);
  };

  const onAnswer = (s: number, sent: bigint, status: number, body: string): void => {
    const now = process.hrtime.bigint();
    lastDone = now;
    finished++;
    answered++;
    consecutiveTransport = 0;
    const ok = status >= 200 && status <= 299;
    if (!ok) errors++;
    statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
    log.add(Number(now - sent) / 1e6, Number(sent - firstSent) / 1e6, ok);
    if (ok && wantBody[s]) check(s, body);
    if (status === 401 || status === 403) {
      const detail = body.replace(/\s+/g, ' ').trim().slice(0, 200);
      stop(`the endpoint refused the authentication (HTTP ${status}${detail ? `: ${detail}` : ''}); used ${auth.description}; check ${auth.hint}`);
    }
  };

  const onTransportError = (error: TransportError): void => {
    lastDone = process.hrtime.bigint();
    finished++;
    errors++;
    consecutiveTransport++;
    const { code } = error;
    transportErrors.set(code, (transportErrors.get(code) ?? 0) + 1);
    if (answered === 0 && consecutiveTransport >= unreachableAfter) {
      stop(`the endpoint is unreachable: ${code} (${error.message}) at ${url.host}; check the URL, the network path and that the endpoint is deployed`);
    } else if (consecutiveTransport >= LOST_AFTER) {
      stop(`the endpoint became unreachable: ${LOST_AFTER} transport errors in a row, the last ${code} (${error.message})`);
    }
  };

  const more = (): boolean => !stopping && (options.count === undefined || issued < options.count);

  const keepBody = (s: number, status: number): boolean => status >= 400 || (status >= 200 && status <= 299 && wantBody[s]);

  const fire = (worker: Worker): void => {
    if (!more()) {
      clearTimeout(worker.timer);
      if (--active === 0) finish();
      return;
    }
    const s = issued % samples.length;
    issued++;
    if (worker.timer) worker.timer.refresh();
    else worker.timer = setTimeout(expire, timeoutMs, worker);
    const sent = process.hrtime.bigint();
    if (firstSent === 0n) firstSent = sent;
    const exchange = new Exchange(context, worker, s, sent);
    worker.exchange = exchange;
    pool.dispatch({ path, method: 'POST', headers: requestHeaders[s], body: bodies[s] }, exchange);
  };

  const settle = (exchange: Exchange): boolean => {
    if (exchange.settled || closed) return false;
    exchange.settled = true;
    exchange.worker.exchange = undefined;
    return true;
  };
  const context: ExchangeContext = {
    keepBody,
    answered: exchange => {
      if (!settle(exchange)) return;
      const { chunks } = exchange;
      onAnswer(exchange.sample, exchange.sent, exchange.status, chunks === undefined ? '' : Buffer.concat(chunks).toString('utf8'));
      fire(exchange.worker);
    },
    failed: (exchange, error) => {
      if (!settle(exchange)) return;
      onTransportError(transportError(error, timeoutMs));
      // Not synchronously: an error can come from within dispatch() and must not recurse.
      setImmediate(fire, exchange.worker);
    },
  };
  // A request without an answer within timeoutMs is aborted, which closes its connection (so a late
  // answer cannot be taken for the next request's); before it is written (still connecting), the
  // connect timeout, as long, ends it.
  const expire = (worker: Worker): void => {
    const exchange = worker.exchange;
    if (exchange === undefined) return;
    const timeout = Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' });
    if (exchange.controller) exchange.controller.abort(timeout);
    else context.failed(exchange, timeout);
  };
  const workers: Worker[] = [];

  const refresher = auth.refreshMs === undefined ? undefined : setInterval(() => {
    auth.headers(url, bodies).then(signed => { requestHeaders = build(signed); }, () => { /* keep the previous headers; a refusal will show as 401/403 */ });
  }, auth.refreshMs);
  refresher?.unref();

  const startedAt = new Date();
  const started = process.hrtime.bigint();
  const elapsedMs = (): number => Number(process.hrtime.bigint() - started) / 1e6;
  const progress = options.onProgress === undefined ? undefined : setInterval(() => options.onProgress!({ done: finished, errors, elapsedMs: elapsedMs() }), options.progressIntervalMs ?? 200);
  const deadline = options.durationSeconds === undefined ? undefined : setTimeout(() => stop(undefined), options.durationSeconds * 1000);
  const onAbort = (): void => {
    const reason = options.signal?.reason;
    stop(typeof reason === 'string' ? reason : 'interrupted');
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  active = concurrency;
  for (let i = 0; i < concurrency; i++) {
    workers.push({});
    fire(workers[i]);
  }

  await done;
  closed = true;
  clearTimeout(drainTimer);
  for (const worker of workers) clearTimeout(worker.timer);
  clearTimeout(deadline);
  clearInterval(progress);
  clearInterval(refresher);
  options.signal?.removeEventListener('abort', onAbort);
  await pool.destroy();
  await Promise.all([...pendingChecks]);
  if (options.onProgress) options.onProgress({ done: finished, errors, elapsedMs: elapsedMs() });

  const durationMs = finished === 0 ? 0 : Number(lastDone - firstSent) / 1e6;
  const outcomes: Record<string, number> = {};
  for (const [status, n] of [...statusCounts].sort((a, b) => a[0] - b[0])) outcomes[String(status)] = n;
  for (const [code, n] of [...transportErrors].sort()) outcomes[code] = n;
  const completed = stopReason === undefined;
  return {
    target: options.target,
    endpoint: options.endpoint ?? options.url,
    startedAt: startedAt.toISOString(),
    durationMs: round(durationMs),
    concurrency,
    requested: options.count !== undefined ? { count: options.count } : { durationSeconds: options.durationSeconds },
    completed,
    ...(completed ? {} : { stopReason }),
    requests: finished,
    throughputPerSecond: durationMs > 0 ? round(finished / (durationMs / 1000), 1) : 0,
    latencyMs: log.summary(),
    outcomes,
    errorRate: finished === 0 ? 0 : round(errors / finished, 6),
    ...(wantBody.some(Boolean) ? { accuracy: { checked, correct, rate: checked === 0 ? 0 : round(correct / checked, 6), mismatches } } : {}),
    histogram: log.histogram(),
    timeline: log.timeline(),
  };
}
