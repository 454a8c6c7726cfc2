import { checkBoolean, checkInteger, checkNumber, checkOptions } from './check';
import { ModelDeploymentValidationError } from './errors';

/** Request and response capture, for audits, drift detection and replay. */
export interface CaptureProps {
  /** Percent of requests captured, 1 to 100. */
  readonly samplingPercent: number;
  /**
   * Capture request payloads.
   * @default true
   */
  readonly requests?: boolean;
  /**
   * Capture response payloads.
   * @default true
   */
  readonly responses?: boolean;
}

/** Alarms and capture. */
export interface MonitoringProps {
  /**
   * Create the error-rate and latency alarms. Rollbacks on alarms need them.
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * The alarm fires when server errors (HTTP 5xx) exceed this percent of requests.
   * @default 5
   */
  readonly errorRatePercent?: number;
  /**
   * The alarm fires when p99 model latency exceeds this many milliseconds.
   * @default 2000
   */
  readonly latencyP99Ms?: number;
  /**
   * How many consecutive one-minute periods must breach before an alarm fires.
   * @default 3
   */
  readonly evaluationMinutes?: number;
  /**
   * Capture requests and responses to encrypted storage.
   * @default - no capture
   */
  readonly capture?: CaptureProps;
}

/** Capture with every default filled in. */
export interface ResolvedCapture {
  readonly samplingPercent: number;
  readonly requests: boolean;
  readonly responses: boolean;
}

/** Monitoring with every default filled in. */
export interface ResolvedMonitoring {
  readonly alarms: boolean;
  readonly errorRatePercent: number;
  readonly latencyP99Ms: number;
  readonly evaluationMinutes: number;
  readonly capture?: ResolvedCapture;
}

export function resolveMonitoring(props: MonitoringProps): ResolvedMonitoring {
  const captureProps = props.capture === undefined ? undefined : checkOptions<CaptureProps>('monitoring.capture', props.capture, ['samplingPercent', 'requests', 'responses']);
  const capture: ResolvedCapture | undefined = captureProps === undefined ? undefined : {
    samplingPercent: checkInteger('monitoring.capture.samplingPercent', captureProps.samplingPercent, 1, 100),
    requests: checkBoolean('monitoring.capture.requests', captureProps.requests ?? true),
    responses: checkBoolean('monitoring.capture.responses', captureProps.responses ?? true),
  };
  if (capture && !capture.requests && !capture.responses) {
    throw new ModelDeploymentValidationError('monitoring.capture', props.capture, 'requests, responses or both set to true (leave capture out to capture nothing)');
  }
  return {
    alarms: checkBoolean('monitoring.alarms', props.alarms ?? true),
    errorRatePercent: checkNumber('monitoring.errorRatePercent', props.errorRatePercent ?? 5, 0.01, 100),
    latencyP99Ms: checkNumber('monitoring.latencyP99Ms', props.latencyP99Ms ?? 2000, 1, 3_600_000),
    evaluationMinutes: checkInteger('monitoring.evaluationMinutes', props.evaluationMinutes ?? 3, 1, 1440),
    capture,
  };
}
