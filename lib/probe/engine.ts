import * as http from 'http';
import * as https from 'https';
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

/** Transport errors in a row, after answers came, that end the run as "became unreachable". */
const LOST_AFTER = 100;
/** Distinct answers per sample whose accuracy is remembered (a model that answers the same way is checked once). */
const ANSWER_CACHE = 32;
const MAX_MISMATCHES = 10;

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
  const secure = url.protocol === 'https:';
  const auth = options.auth ?? NO_AUTH;
  const agent = secure
    ? new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: options.ca })
    : new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const request = secure ? https.request : http.request;
  const bodies = samples.map(s => s.body);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const unreachableAfter = options.unreachableAfter ?? 3;

  // One options object per sample, rebuilt when the authentication is refreshed.
  const build = (signed: ReadonlyArray<Readonly<Record<string, string>>>): http.RequestOptions[] => samples.map((s, i) => ({
    agent, protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || (secure ? 443 : 80),
    path: `${url.pathname}${url.search}`, method: 'POST', timeout: timeoutMs,
    headers: { 'content-type': 'application/json', 'content-length': String(s.body.length), ...options.headers, ...signed[i] },
  }));
  let requestOptions = build(await auth.headers(url, bodies));
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

  const onTransportError = (error: Error & { code?: string }): void => {
    lastDone = process.hrtime.bigint();
    finished++;
    errors++;
    consecutiveTransport++;
    const code = error.code ?? 'error';
    transportErrors.set(code, (transportErrors.get(code) ?? 0) + 1);
    if (answered === 0 && consecutiveTransport >= unreachableAfter) {
      stop(`the endpoint is unreachable: ${code} (${error.message}) at ${url.host}; check the URL, the network path and that the endpoint is deployed`);
    } else if (consecutiveTransport >= LOST_AFTER) {
      stop(`the endpoint became unreachable: ${LOST_AFTER} transport errors in a row, the last ${code} (${error.message})`);
    }
  };

  const more = (): boolean => !stopping && (options.count === undefined || issued < options.count);

  const fire = (): void => {
    if (!more()) {
      if (--active === 0) finish();
      return;
    }
    const s = issued % samples.length;
    issued++;
    const sent = process.hrtime.bigint();
    if (firstSent === 0n) firstSent = sent;
    let settled = false;
    const settle = (): boolean => {
      if (settled || closed) return false;
      settled = true;
      return true;
    };
    const req = request(requestOptions[s], res => {
      const status = res.statusCode ?? 0;
      let body = '';
      if (status >= 400 || (status >= 200 && status <= 299 && wantBody[s])) {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { body += chunk; });
      } else {
        res.resume();
      }
      res.on('end', () => {
        if (!settle()) return;
        onAnswer(s, sent, status, body);
        fire();
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'timeout' })));
    req.on('error', (e: Error) => {
      if (!settle()) return;
      onTransportError(e);
      // Not synchronously: an error can come from within request() and must not recurse.
      setImmediate(fire);
    });
    req.end(bodies[s]);
  };

  const refresher = auth.refreshMs === undefined ? undefined : setInterval(() => {
    auth.headers(url, bodies).then(signed => { requestOptions = build(signed); }, () => { /* keep the previous headers; a refusal will show as 401/403 */ });
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
  for (let i = 0; i < concurrency; i++) fire();

  await done;
  closed = true;
  clearTimeout(drainTimer);
  clearTimeout(deadline);
  clearInterval(progress);
  clearInterval(refresher);
  options.signal?.removeEventListener('abort', onAbort);
  agent.destroy();
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
