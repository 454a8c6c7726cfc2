import type { SampleToCheck } from './sample-check';
import { ResolvedVerification, VERIFICATION_LIMITS } from '../spec/verification';

/**
 * The samples as they travel to a checker run by Terraform's local-exec (the Vertex AI bridge, the
 * Azure ML checker), in the `terraform_data`'s input and then in one environment variable from
 * `jsonencode(self.input)`: each sample's request and expected response as base64 of their compact
 * JSON. Base64 needs no escaping, neither for Terraform's templates nor in `jsonencode`, which writes
 * `<`, `>` and `&` as six-byte `\u003c` escapes: as plain JSON, the 32 KiB of sample JSON that
 * VERIFICATION_LIMITS allows could grow past Linux's 128 KiB limit on one environment variable; as
 * base64 it is at most 4/3 of it (about 43 KiB).
 */
export interface TravellingVerification {
  readonly latencyBudgetMs: number;
  readonly samples: readonly TravellingSample[];
}

export interface TravellingSample {
  readonly name: string;
  /** base64 of the request body, the sample's `requestJson`, sent as-is */
  readonly requestBase64: string;
  /** base64 of the expected response's compact JSON */
  readonly expectedBase64: string;
  readonly absoluteTolerance: number;
  readonly relativeTolerance: number;
}

/** The resolved samples, as a request carries them. */
export function travellingVerification(v: ResolvedVerification): TravellingVerification {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return {
    latencyBudgetMs: v.latencyBudgetMs,
    samples: v.samples.map(s => ({
      name: s.name,
      requestBase64: b64(s.requestJson),
      expectedBase64: b64(s.expectedJson),
      absoluteTolerance: s.absoluteTolerance,
      relativeTolerance: s.relativeTolerance,
    })),
  };
}

/** The samples back, for checkSamples (the request was checked by travellingVerificationProblems). */
export function samplesToCheck(v: TravellingVerification): SampleToCheck[] {
  const text = (b: string) => Buffer.from(b, 'base64').toString('utf8');
  return v.samples.map(s => ({
    name: s.name,
    requestJson: text(s.requestBase64),
    expectedResponse: JSON.parse(text(s.expectedBase64)) as unknown,
    absoluteTolerance: s.absoluteTolerance,
    relativeTolerance: s.relativeTolerance,
  }));
}

/**
 * What is wrong with a travelling verification read back from Terraform state, one line per field
 * (`<field>: <what>`, the field under `at`); empty when it is fine.
 */
export function travellingVerificationProblems(value: unknown, at: string): string[] {
  const problems: string[] = [];
  const add = (p: string, what: string) => problems.push(`${p}: ${what}`);
  const obj = (v: unknown, p: string): Record<string, unknown> | undefined => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    add(p, 'must be an object');
    return undefined;
  };
  const v = obj(value, at);
  if (!v) return problems;
  const budget = v.latencyBudgetMs;
  if (typeof budget !== 'number' || !Number.isInteger(budget) || budget < 1 || budget > VERIFICATION_LIMITS.maxLatencyBudgetMs) {
    add(`${at}.latencyBudgetMs`, `must be an integer from 1 to ${VERIFICATION_LIMITS.maxLatencyBudgetMs}`);
  }
  if (!Array.isArray(v.samples) || v.samples.length < 1 || v.samples.length > VERIFICATION_LIMITS.maxSamples) {
    add(`${at}.samples`, `must be a list of 1 to ${VERIFICATION_LIMITS.maxSamples} samples`);
    return problems;
  }
  v.samples.forEach((x, i) => {
    const p = `${at}.samples[${i}]`;
    const s = obj(x, p);
    if (!s) return;
    if (typeof s.name !== 'string' || s.name === '') add(`${p}.name`, 'must be a non-empty string');
    for (const key of ['requestBase64', 'expectedBase64']) {
      const b = s[key];
      if (typeof b !== 'string' || b === '') add(`${p}.${key}`, 'must be a non-empty string');
      else if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b)) add(`${p}.${key}`, `${JSON.stringify(b)} is not base64`);
      if (typeof b !== 'string') continue;
      try {
        JSON.parse(Buffer.from(b, 'base64').toString('utf8'));
      } catch {
        add(`${p}.${key}`, 'is not base64 of JSON');
      }
    }
    for (const key of ['absoluteTolerance', 'relativeTolerance']) {
      if (typeof s[key] !== 'number' || !Number.isFinite(s[key]) || (s[key] as number) < 0) add(`${p}.${key}`, 'must be a number of 0 or more');
    }
  });
  return problems;
}
