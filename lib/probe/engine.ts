import { checkSamples } from '../common/sample-check';
import { ProbeInputError } from './errors';
import { Http1Connection, Http1Error, Http1Listener, Http1Origin, http1Post } from './http1';
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
  /** Requests in flight at once, each worker on a keep-alive connection of its own. */
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

/** A failed request: its code (`ECONNREFUSED`, `timeout`, ...) counts in the outcomes. */
interface TransportError { readonly code: string; readonly message: string }

/**
 * The code and message of a failed request: the system's code (ECONNREFUSED, ECONNRESET,
 * ENOTFOUND, a TLS code), `timeout`, or EPROTO for an answer that is not HTTP/1.1.
 */
function transportError(error: Error & { code?: string; errors?: unknown }): TransportError {
  // A connection tried on every address of a name fails as an AggregateError without a message of its own.
  const inner = Array.isArray(error.errors) ? error.errors[0] as (Error & { code?: string }) | undefined : undefined;
  return { code: error.code ?? inner?.code ?? 'error', message: error.message || inner?.message || String(error) };
}

/** Transport errors in a row, after answers came, that end the run as "became unreachable". */
const LOST_AFTER = 100;
/** Distinct answers per sample whose accuracy is remembered (a model that answers the same way is checked once). */
const ANSWER_CACHE = 32;
const MAX_MISMATCHES = 10;

/** What a worker reports to its run. */
interface WorkerContext {
  /** Whether the answer's body is read (an error's reason, or an answer to check), or dropped. */
  keepBody(sample: number, status: number): boolean;
  answered(worker: Worker, status: number, body: Buffer | undefined): void;
  failed(worker: Worker, error: Http1Error): void;
}

/**
 * One of the `concurrency` workers, with its own keep-alive connection: it sends its next request
 * when the last one ends, until the run stops. Its timer, made once and refreshed at each send (a
 * timer per request would cost the probe a good part of what it measures), cuts a request without
 * an answer.
 */
class Worker implements Http1Listener {
  public readonly connection: Http1Connection;
  public timer: NodeJS.Timeout | undefined = undefined;
  /** The request in flight: its sample, and when it was sent (0n: none in flight). */
  public sample = 0;
  public sent = 0n;

  constructor(origin: Http1Origin, private readonly context: WorkerContext) {
    this.connection = new Http1Connection(origin, this);
  }

  public keepBody(status: number): boolean {
    return this.context.keepBody(this.sample, status);
  }

  public answered(status: number, body: Buffer | undefined): void {
    this.context.answered(this, status, body);
  }

  public failed(error: Http1Error): void {
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ProbeInputError(`the endpoint URL ${options.url} is not http or https`);
  const auth = options.auth ?? NO_AUTH;
  const bodies = samples.map(s => s.body);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const unreachableAfter = options.unreachableAfter ?? 3;
  const origin: Http1Origin = { url, ca: options.ca };

  // Each sample's request as bytes, made again when the authentication is refreshed.
  const build = (signed: ReadonlyArray<Readonly<Record<string, string>>>): ReadonlyArray<readonly Buffer[]> =>
    samples.map((_s, i) => http1Post(url, { 'content-type': 'application/json', ...options.headers, ...signed[i] }, bodies[i]));
  const signed = await auth.headers(url, bodies);
  let requests: ReadonlyArray<readonly Buffer[]>;
  try {
    requests = build(signed);
  } catch (e) {
    // A header the client refuses (a CR or LF in --deployment, say) is bad input.
    throw new ProbeInputError((e as Error).message);
  }
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
    worker.sample = s;
    worker.sent = sent;
    worker.connection.send(requests[s]);
  };

  const context: WorkerContext = {
    keepBody,
    answered: (worker, status, body) => {
      // Each request counts once, and none after the run ended.
      if (worker.sent === 0n || closed) return;
      const { sample, sent } = worker;
      worker.sent = 0n;
      onAnswer(sample, sent, status, body === undefined ? '' : body.toString('utf8'));
      fire(worker);
    },
    failed: (worker, error) => {
      if (worker.sent === 0n || closed) return;
      worker.sent = 0n;
      onTransportError(transportError(error));
      // Not synchronously: the failed connection is still inside its socket's error or close event.
      setImmediate(fire, worker);
    },
  };
  // A request without an answer within timeoutMs (connecting included) is aborted, which closes its
  // connection, so that a late answer cannot be taken for the next request's.
  const expire = (worker: Worker): void => {
    if (worker.sent === 0n) return;
    worker.connection.abort(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' }));
  };
  const workers: Worker[] = [];

  const refresher = auth.refreshMs === undefined ? undefined : setInterval(() => {
    // On a failure, the previous headers stay; a refusal will show as 401/403.
    auth.headers(url, bodies).then(signed => { requests = build(signed); }).catch(() => undefined);
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
    workers.push(new Worker(origin, context));
    fire(workers[i]);
  }

  await done;
  closed = true;
  clearTimeout(drainTimer);
  for (const worker of workers) {
    clearTimeout(worker.timer);
    worker.connection.close();
  }
  clearTimeout(deadline);
  clearInterval(progress);
  clearInterval(refresher);
  options.signal?.removeEventListener('abort', onAbort);
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
