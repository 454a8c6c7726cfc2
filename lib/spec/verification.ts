import { checkInteger, checkKnownKeys, checkNumber, checkObject, checkString } from './check';
import { ModelDeploymentValidationError } from './errors';

/**
 * One sample prediction: a request the model must answer, and what the answer must contain.
 *
 * Matching rules, the same on every target and in the probe: an expected object matches a
 * response object that has every expected key with a matching value (keys the response adds, such
 * as a model version, are ignored); an expected array matches an array of the same length whose
 * items match in order; an expected number matches a number within the tolerances; strings,
 * booleans and null must be equal.
 */
export interface PredictionSample {
  /**
   * A name for messages and reports: letters, digits, `_`, `.` and `-`, at most 64 characters,
   * unique among the samples.
   * @default - `sample-N`, N being the sample's position from 1
   */
  readonly name?: string;
  /**
   * The request body, a JSON object or array. It is sent as-is, as `application/json`, to the
   * serving container's predict route (SageMaker InvokeEndpoint, the Azure ML scoring URI,
   * Vertex AI rawPredict, the on-prem proxy).
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsii's JSON type is `any`
  readonly request: any;
  /** What the response body must contain (see the matching rules above). Any JSON value. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- jsii's JSON type is `any`
  readonly expectedResponse: any;
  /**
   * How far a number in the response may be from the expected one, in absolute terms.
   * @default 0 - exact, unless relativeTolerance is set
   */
  readonly absoluteTolerance?: number;
  /**
   * How far a number in the response may be from the expected one, as a fraction of the expected
   * number (0.01 is 1%). A number matches when it is within either tolerance.
   * @default 0 - exact, unless absoluteTolerance is set
   */
  readonly relativeTolerance?: number;
}

/**
 * Sample predictions that gate every rollout: the new version must answer each sample correctly,
 * and within the latency budget, before it takes traffic (or, where the platform cannot address a
 * version without traffic, right after, with a rollback). A wrong answer or a slow one fails the
 * deployment, naming the sample, the expected and the actual response.
 */
export interface VerificationProps {
  /** The samples, 1 to 10. */
  readonly samples: PredictionSample[];
  /**
   * Every sample's response must arrive within this many milliseconds, measured by the checker
   * from sending the request to reading the whole response.
   * @default 5000
   */
  readonly latencyBudgetMs?: number;
}

/** A sample after validation, with its defaults filled in and its request rendered. */
export interface ResolvedPredictionSample {
  readonly name: string;
  /** The request body exactly as it is sent (compact JSON). */
  readonly requestJson: string;
  /** The expected response as a parsed JSON value (a deep copy of the user's). */
  readonly expectedResponse: unknown;
  /** The expected response as compact JSON. */
  readonly expectedJson: string;
  readonly absoluteTolerance: number;
  readonly relativeTolerance: number;
}

/** Verification with every default filled in. */
export interface ResolvedVerification {
  readonly samples: readonly ResolvedPredictionSample[];
  readonly latencyBudgetMs: number;
}

/**
 * The limits of a verification, one definition for the spec, every target and the probe. They
 * keep the samples small enough to travel in a CloudFormation custom resource, a Terraform
 * `terraform_data` input, an environment variable (Linux caps one at 128 KiB) and a host file.
 */
export const VERIFICATION_LIMITS = {
  maxSamples: 10,
  /** Bytes (UTF-8) of one sample's request JSON, and separately of its expected-response JSON. */
  maxSampleJsonBytes: 16 * 1024,
  /** Bytes of every request and expected response together. */
  maxTotalJsonBytes: 32 * 1024,
  /** How deeply a request or response may nest objects and arrays. */
  maxDepth: 32,
  maxLatencyBudgetMs: 600_000,
  defaultLatencyBudgetMs: 5_000,
} as const;

const SAMPLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function resolveVerification(props: VerificationProps): ResolvedVerification {
  const object = checkObject('verification', props);
  checkKnownKeys('verification', object, ['samples', 'latencyBudgetMs']);
  const samples = props.samples;
  if (!Array.isArray(samples) || samples.length < 1 || samples.length > VERIFICATION_LIMITS.maxSamples) {
    throw new ModelDeploymentValidationError('verification.samples', Array.isArray(samples) ? `${samples.length} samples` : samples,
      `an array of 1 to ${VERIFICATION_LIMITS.maxSamples} samples (leave verification out to deploy without sample predictions)`);
  }
  const resolved = samples.map((sample, i) => resolveSample(`verification.samples[${i}]`, sample, i));
  const names = new Set<string>();
  resolved.forEach((s, i) => {
    if (names.has(s.name)) throw new ModelDeploymentValidationError(`verification.samples[${i}].name`, s.name, 'a name no other sample has');
    names.add(s.name);
  });
  const total = resolved.reduce((sum, s) => sum + utf8Bytes(s.requestJson) + utf8Bytes(s.expectedJson), 0);
  if (total > VERIFICATION_LIMITS.maxTotalJsonBytes) {
    throw new ModelDeploymentValidationError('verification.samples', `${total} bytes of JSON`,
      `at most ${VERIFICATION_LIMITS.maxTotalJsonBytes} bytes of request and expected-response JSON in all (send large payloads with the probe instead)`);
  }
  const latencyBudgetMs = checkInteger('verification.latencyBudgetMs', props.latencyBudgetMs ?? VERIFICATION_LIMITS.defaultLatencyBudgetMs, 1, VERIFICATION_LIMITS.maxLatencyBudgetMs);
  return { samples: resolved, latencyBudgetMs };
}

/**
 * Validates one sample; `field` is its path in messages (the probe passes its file position).
 * `maxJsonBytes` caps the request and the expected response each: the spec's limit, unless the
 * caller (the probe, which sends what it reads) has its own.
 */
export function resolveSample(field: string, sample: PredictionSample, index: number,
  maxJsonBytes: number = VERIFICATION_LIMITS.maxSampleJsonBytes): ResolvedPredictionSample {
  const object = checkObject(field, sample);
  checkKnownKeys(field, object, ['name', 'request', 'expectedResponse', 'absoluteTolerance', 'relativeTolerance']);
  const name = sample.name === undefined ? `sample-${index + 1}`
    : checkString(`${field}.name`, sample.name, SAMPLE_NAME, 'letters, digits, _ . and -, starting with a letter or digit, at most 64 characters');
  if (sample.request === null || typeof sample.request !== 'object') {
    throw new ModelDeploymentValidationError(`${field}.request`, sample.request, 'a JSON object or array: the request body');
  }
  checkJsonValue(`${field}.request`, sample.request, 0);
  if (!('expectedResponse' in object) || sample.expectedResponse === undefined) {
    throw new ModelDeploymentValidationError(`${field}.expectedResponse`, undefined, 'a JSON value the response must match (an object matches a response with at least its keys)');
  }
  checkJsonValue(`${field}.expectedResponse`, sample.expectedResponse, 0);
  const requestJson = JSON.stringify(sample.request);
  const expectedJson = JSON.stringify(sample.expectedResponse);
  for (const [part, json] of [['request', requestJson], ['expectedResponse', expectedJson]] as const) {
    const bytes = utf8Bytes(json);
    if (bytes > maxJsonBytes) {
      throw new ModelDeploymentValidationError(`${field}.${part}`, `${bytes} bytes of JSON`, `at most ${maxJsonBytes} bytes`);
    }
  }
  return {
    name,
    requestJson,
    expectedResponse: JSON.parse(expectedJson),
    expectedJson,
    absoluteTolerance: checkNumber(`${field}.absoluteTolerance`, sample.absoluteTolerance ?? 0, 0, 1e12),
    relativeTolerance: checkNumber(`${field}.relativeTolerance`, sample.relativeTolerance ?? 0, 0, 1),
  };
}

/** Refuses what JSON cannot carry faithfully: undefined, functions, NaN, class instances, cycles, deep nesting. */
function checkJsonValue(field: string, value: unknown, depth: number): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ModelDeploymentValidationError(field, value, 'a finite number (JSON has no NaN or Infinity)');
    return;
  }
  if (typeof value !== 'object') {
    throw new ModelDeploymentValidationError(field, typeof value, 'a JSON value: an object, array, string, finite number, boolean or null');
  }
  if (depth >= VERIFICATION_LIMITS.maxDepth) {
    throw new ModelDeploymentValidationError(field, `nesting deeper than ${VERIFICATION_LIMITS.maxDepth}`, `at most ${VERIFICATION_LIMITS.maxDepth} levels of objects and arrays`);
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJsonValue(`${field}[${i}]`, value[i], depth + 1);
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new ModelDeploymentValidationError(field, `an instance of ${(value as object).constructor?.name ?? 'a class'}`, 'a plain JSON object');
  }
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    checkJsonValue(`${field}.${key}`, item, depth + 1);
  }
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Compares a response with the expected value by the matching rules of {@link PredictionSample}.
 * Returns undefined when it matches, otherwise where and how it differs (`$.predictions[0][1]:
 * expected 11.5, got 23`).
 *
 * Self-contained on purpose (no imports, no outside helpers): checkers that run outside this
 * package (the SageMaker verification function) embed its source text, so every target compares
 * with this one definition.
 */
export function responseMismatch(actual: unknown, expected: unknown, absoluteTolerance: number, relativeTolerance: number): string | undefined {
  const show = (v: unknown): string => {
    const text = JSON.stringify(v);
    return text === undefined ? 'nothing' : text.length > 120 ? `${text.slice(0, 117)}...` : text;
  };
  const walk = (a: unknown, e: unknown, path: string): string | undefined => {
    if (typeof e === 'number') {
      if (typeof a !== 'number') return `${path}: expected the number ${e}, got ${show(a)}`;
      const allowed = Math.max(absoluteTolerance, relativeTolerance * Math.abs(e));
      return Math.abs(a - e) <= allowed ? undefined : `${path}: expected ${e}${allowed > 0 ? ` ± ${allowed}` : ''}, got ${a}`;
    }
    if (Array.isArray(e)) {
      if (!Array.isArray(a)) return `${path}: expected an array, got ${show(a)}`;
      if (a.length !== e.length) return `${path}: expected ${e.length} items, got ${a.length}`;
      for (let i = 0; i < e.length; i++) {
        const m = walk(a[i], e[i], `${path}[${i}]`);
        if (m !== undefined) return m;
      }
      return undefined;
    }
    if (e !== null && typeof e === 'object') {
      if (a === null || typeof a !== 'object' || Array.isArray(a)) return `${path}: expected an object, got ${show(a)}`;
      for (const key of Object.keys(e)) {
        const child = `${path}${/^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`;
        if (!Object.prototype.hasOwnProperty.call(a, key)) return `${child}: missing`;
        const m = walk((a as Record<string, unknown>)[key], (e as Record<string, unknown>)[key], child);
        if (m !== undefined) return m;
      }
      return undefined;
    }
    return a === e ? undefined : `${path}: expected ${show(e)}, got ${show(a)}`;
  };
  return walk(actual, expected, '$');
}
