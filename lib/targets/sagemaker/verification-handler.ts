import type { checkSamples, verificationFailedMessage } from '../../common/sample-check';
import type { responseMismatch } from '../../spec/verification';

/*
 * The code of the SageMaker verification function (a CloudFormation custom resource). It is not
 * imported at run time: verification-function.ts embeds the source text of `runVerification`
 * below, with that of checkSamples, verificationFailedMessage and responseMismatch, into the
 * function's index.js at synth. So `runVerification` is self-contained ON PURPOSE: no imports
 * (only the types above), no helpers outside its body; what it needs from Node.js and the AWS SDK
 * comes in `deps`, which the generated index.js fills with `require(...)`.
 */

/** What CloudFormation sends a custom resource (the fields this function reads). */
export interface VerificationEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** The part of the Lambda context the function uses. */
export interface VerificationContext {
  getRemainingTimeInMillis(): number;
}

/** What the generated index.js passes in. */
export interface VerificationDeps {
  /** `require('@aws-sdk/client-sagemaker-runtime')`, which the Lambda Node.js runtime provides. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK module is not a dependency of this package
  readonly sdk: any;
  readonly http: typeof import('http');
  readonly https: typeof import('https');
  readonly crypto: typeof import('crypto');
  readonly checkSamples: typeof checkSamples;
  readonly verificationFailedMessage: typeof verificationFailedMessage;
  readonly responseMismatch: typeof responseMismatch;
  /** console.log in the function; the whole report goes there (the Reason CloudFormation shows is capped). */
  readonly log: (line: string) => void;
}

/** What CloudFormation got, for the caller (and tests) to see. */
export interface VerificationOutcome {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly PhysicalResourceId: string;
}

/**
 * Handles one custom-resource request and always answers CloudFormation's pre-signed URL, once:
 *
 * - Delete: SUCCESS, nothing invoked (the resource is a check, there is nothing to remove).
 * - Create / Update: every sample goes to the endpoint with InvokeEndpoint (application/json, the
 *   request as-is) and is checked with checkSamples; all right → SUCCESS with a physical id that
 *   is a hash of the properties (endpoint config and samples); any failure → FAILED with
 *   verificationFailedMessage, so the stack operation fails and CloudFormation rolls back.
 * - Update whose properties hash to its own physical id: these exact properties passed before, and
 *   CloudFormation sends an Update with unchanged properties only when it rolls this resource
 *   back after a failed update (UPDATE_ROLLBACK). SUCCESS without invoking: re-checking the version
 *   that passed could only turn a rollback into UPDATE_ROLLBACK_FAILED.
 * - An exception, or the Lambda time running out: FAILED with the reason, still answered.
 */
export async function runVerification(event: VerificationEvent, context: VerificationContext, deps: VerificationDeps): Promise<VerificationOutcome> {
  // Leave this much of the Lambda's time to answer CloudFormation (with retries) when samples hang.
  const RESERVE_MS = 15_000;
  // A CloudFormation response body is at most 4096 bytes.
  const MAX_RESPONSE_BYTES = 4096;
  const props = event.ResourceProperties ?? {};
  const endpointName = String(props.EndpointName ?? '');
  const what = `SageMaker endpoint ${endpointName} (endpoint config ${String(props.EndpointConfigName ?? '?')})`;

  const canonical = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
    if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      return `{${Object.keys(record).sort().map(k => `${JSON.stringify(k)}:${canonical(record[k])}`).join(',')}}`;
    }
    return JSON.stringify(value) ?? 'null';
  };
  const verifiedId = (p: Record<string, unknown>): string => {
    const rest = { ...p };
    delete rest.ServiceToken;
    return `verified-${deps.crypto.createHash('sha256').update(canonical(rest)).digest('hex').slice(0, 40)}`;
  };

  const put = (body: string): Promise<number> => new Promise((resolve, reject) => {
    const url = new URL(event.ResponseURL);
    const transport = url.protocol === 'http:' ? deps.http : deps.https;
    const request = transport.request(url, {
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
      timeout: 10_000,
    }, response => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('timeout', () => request.destroy(new Error('no answer from the response URL within 10 s')));
    request.on('error', reject);
    request.end(body);
  });

  let answered: VerificationOutcome | undefined;
  const respond = async (status: 'SUCCESS' | 'FAILED', reason: string, physicalId: string): Promise<VerificationOutcome> => {
    if (answered !== undefined) return answered;
    const base = { Status: status, PhysicalResourceId: physicalId, StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
    let shown = reason;
    let body = JSON.stringify({ ...base, Reason: shown });
    while (Buffer.byteLength(body) > MAX_RESPONSE_BYTES) {
      shown = `${reason.slice(0, Math.floor(Math.min(shown.length, reason.length) * 0.9))} ... (cut to fit CloudFormation's 4 KB; the function's log has the whole report)`;
      body = JSON.stringify({ ...base, Reason: shown });
    }
    answered = { Status: status, Reason: shown, PhysicalResourceId: physicalId };
    deps.log(`${status} ${physicalId}: ${reason}`);
    for (let attempt = 1; ; attempt++) {
      try {
        const code = await put(body);
        if (code >= 200 && code < 300) return answered;
        deps.log(`the response URL answered HTTP ${code} (attempt ${attempt})`);
      } catch (e) {
        deps.log(`sending the response failed (attempt ${attempt}): ${(e as Error)?.message ?? String(e)}`);
      }
      if (attempt >= 5) throw new Error('could not deliver the response to CloudFormation after 5 attempts');
      await new Promise(r => setTimeout(r, 500 * 2 ** attempt));
    }
  };

  // Whatever happens, answer before the Lambda time runs out.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failedId = event.PhysicalResourceId ?? `verification-failed-${event.RequestId}`;
  const outOfTime = new Promise<VerificationOutcome>(resolve => {
    timer = setTimeout(() => resolve(respond('FAILED',
      `verification of ${what} did not finish in the function's time (the samples took too long to answer); CloudFormation rolls back`, failedId)),
    Math.max(0, context.getRemainingTimeInMillis() - RESERVE_MS));
  });

  const work = async (): Promise<VerificationOutcome> => {
    if (event.RequestType === 'Delete') {
      return respond('SUCCESS', 'nothing to delete: the verification is a check, no resource', event.PhysicalResourceId ?? verifiedId(props));
    }
    const id = verifiedId(props);
    if (event.RequestType === 'Update' && event.PhysicalResourceId === id) {
      return respond('SUCCESS', `these exact properties (${what}) passed verification before: CloudFormation is rolling back to them; not invoking the endpoint`, id);
    }
    const samples = JSON.parse(String(props.Samples));
    const budget = Number(props.LatencyBudgetMs);
    if (!Array.isArray(samples) || samples.length === 0 || !(budget > 0)) throw new Error('the Samples and LatencyBudgetMs properties are malformed');
    // SageMaker gives a real-time or serverless invocation at most 60 s; waiting longer than the budget cannot pass.
    const waitMs = Math.min(budget, 60_000) + 5_000;
    const client = new deps.sdk.SageMakerRuntimeClient({});
    const send = async (sample: { requestJson: string }) => {
      const controller = new AbortController();
      const abort = setTimeout(() => controller.abort(), waitMs);
      try {
        const out = await client.send(new deps.sdk.InvokeEndpointCommand({
          EndpointName: endpointName, ContentType: 'application/json', Accept: 'application/json', Body: Buffer.from(sample.requestJson, 'utf8'),
        }), { abortSignal: controller.signal });
        return { status: 200, body: Buffer.from(out.Body ?? []).toString('utf8') };
      } catch (e) {
        const error = e as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
        if (controller.signal.aborted) throw new Error(`no answer within ${waitMs} ms (latency budget ${budget} ms)`, { cause: e });
        const status = error.$metadata?.httpStatusCode;
        if (status !== undefined) return { status, body: `${error.name ?? 'Error'}: ${error.message ?? ''}` };
        throw e;
      } finally {
        clearTimeout(abort);
      }
    };
    const failures = await deps.checkSamples(samples, budget, send, deps.responseMismatch);
    if (failures.length === 0) {
      return respond('SUCCESS', `${what}: all ${samples.length} sample(s) answered correctly within ${budget} ms`, id);
    }
    const outcome = event.RequestType === 'Create'
      ? 'the stack operation fails and CloudFormation removes the new endpoint'
      : 'the stack update fails and CloudFormation rolls the endpoint back to its previous endpoint config';
    return respond('FAILED', deps.verificationFailedMessage(what, failures, outcome), event.RequestType === 'Create' ? failedId : event.PhysicalResourceId ?? failedId);
  };

  try {
    return await Promise.race([work(), outOfTime]);
  } catch (e) {
    // Already answered (and the delivery itself failed): fail the invocation, so the event lands in the DLQ.
    if (answered !== undefined) throw e;
    deps.log(`verification could not run: ${(e as Error)?.stack ?? String(e)}`);
    return await respond('FAILED', `verification of ${what} could not run: ${(e as Error)?.message ?? String(e)}`, failedId);
  } finally {
    clearTimeout(timer);
  }
}
