/**
 * What one probe run measured: the contract between the load engine (which fills it), the
 * terminal table, `--json` (which prints it as is) and the HTML report (which plots it).
 * Latencies are milliseconds from writing the request to reading the whole response.
 */
export interface ProbeResult {
  /** The target's name, as DeploymentTarget names it (`sageMaker`, `azureMl`, `vertexAi`, `onPrem`). */
  readonly target: string;
  /** What was probed: the URL, or the platform's endpoint name. */
  readonly endpoint: string;
  /** ISO 8601 time of the first request. */
  readonly startedAt: string;
  /** Wall time from the first request sent to the last response read. */
  readonly durationMs: number;
  readonly concurrency: number;
  /** What was asked: a request count, or a duration. */
  readonly requested: { readonly count?: number; readonly durationSeconds?: number };
  /** False when the run stopped early (Ctrl-C, endpoint unreachable, authentication refused). */
  readonly completed: boolean;
  /** Why the run stopped early, in words, when it did. */
  readonly stopReason?: string;
  /** Responses received (any status) plus transport errors. */
  readonly requests: number;
  /** Requests per second over durationMs. */
  readonly throughputPerSecond: number;
  /** Over every request that got an HTTP response (none when there was none). */
  readonly latencyMs?: { readonly min: number; readonly mean: number; readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number };
  /** Count per HTTP status ("200", "403") and per transport error ("ECONNREFUSED", "timeout"). */
  readonly outcomes: { readonly [statusOrError: string]: number };
  /** Fraction (0 to 1) of requests that were not 2xx, transport errors included. */
  readonly errorRate: number;
  /** Present when the requests file had expected responses. */
  readonly accuracy?: {
    /** 2xx responses compared with an expected response. */
    readonly checked: number;
    readonly correct: number;
    /** correct / checked (0 to 1). */
    readonly rate: number;
    /** The first few mismatches, one line each, as checkSamples words them. */
    readonly mismatches: readonly string[];
  };
  /** Latency histogram buckets (contiguous, ascending). */
  readonly histogram: readonly { readonly fromMs: number; readonly toMs: number; readonly count: number }[];
  /** Latency over time, at most a few thousand points (evenly thinned): ms since start, latency, 2xx or not. */
  readonly timeline: readonly { readonly atMs: number; readonly latencyMs: number; readonly ok: boolean }[];
}
