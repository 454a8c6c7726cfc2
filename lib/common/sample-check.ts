import { ResolvedPredictionSample, responseMismatch } from '../spec/verification';

/** What a checker needs of a sample: the resolved sample, as it travels (JSON) to wherever the check runs. */
export type SampleToCheck = Pick<ResolvedPredictionSample, 'name' | 'requestJson' | 'expectedResponse' | 'absoluteTolerance' | 'relativeTolerance'>;

/** One answer to one sample, as the target's transport got it. */
export interface SampleAnswer {
  /** The HTTP status (or the platform's equivalent: 200 for a successful SDK call). */
  readonly status: number;
  /** The response body as text. */
  readonly body: string;
}

/** Sends one sample's request to the version under test, with the target's own authentication. */
export type SendSample = (sample: SampleToCheck) => Promise<SampleAnswer>;

/**
 * Sends every sample, one after the other, and returns one line per failure (empty when all
 * passed): a transport error, a non-2xx status, a body that is not JSON, an answer that does not
 * match, or one slower than the budget. A line names the sample, what was expected and what came.
 *
 * Self-contained on purpose, like responseMismatch: the SageMaker verification function embeds
 * the source text of both, so that every target checks with these same two definitions. Pass
 * `mismatch` only there; everywhere else it defaults to responseMismatch.
 */
export async function checkSamples(samples: readonly SampleToCheck[], latencyBudgetMs: number, send: SendSample,
  mismatch: typeof responseMismatch = responseMismatch): Promise<string[]> {
  const failures: string[] = [];
  const excerpt = (text: string): string => {
    const flat = text.replace(/\s+/g, ' ').trim();
    return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
  };
  for (const sample of samples) {
    const started = Date.now();
    let answer: SampleAnswer;
    try {
      answer = await send(sample);
    } catch (e) {
      failures.push(`sample "${sample.name}": the request failed: ${(e as Error)?.message ?? String(e)}`);
      continue;
    }
    const elapsedMs = Date.now() - started;
    if (answer.status < 200 || answer.status > 299) {
      failures.push(`sample "${sample.name}": HTTP ${answer.status}: ${excerpt(answer.body)}`);
      continue;
    }
    let actual: unknown;
    try {
      actual = JSON.parse(answer.body);
    } catch {
      failures.push(`sample "${sample.name}": the response is not JSON: ${excerpt(answer.body)}`);
      continue;
    }
    const difference = mismatch(actual, sample.expectedResponse, sample.absoluteTolerance, sample.relativeTolerance);
    if (difference !== undefined) {
      failures.push(`sample "${sample.name}": wrong answer at ${difference}; expected ${excerpt(JSON.stringify(sample.expectedResponse))}, got ${excerpt(answer.body)}`);
    } else if (elapsedMs > latencyBudgetMs) {
      failures.push(`sample "${sample.name}": answered in ${elapsedMs} ms, over the latency budget of ${latencyBudgetMs} ms`);
    }
  }
  return failures;
}

/** The message a failed verification ends a deployment with, the same on every target. */
export function verificationFailedMessage(what: string, failures: readonly string[], outcome: string): string {
  return `verification of ${what} failed (${failures.length} sample${failures.length === 1 ? '' : 's'}); ${outcome}:\n${failures.map(f => `  ${f}`).join('\n')}`;
}
