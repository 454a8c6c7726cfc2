#!/usr/bin/env node
/**
 * The Azure ML verification checker: `node dist/targets/azure-ml/verify/main.js`, run by the Azure ML
 * target's `terraform_data` `local-exec` provisioner with the request (verify-request.ts) as JSON in
 * $MD_AZURE_VERIFY_REQUEST, after the new deployment is provisioned and before the traffic update.
 * It sends every sample to the scoring URI with the header `azureml-model-deployment: <new
 * deployment>`, which Azure routes to that deployment even at 0% traffic, and checks the answers
 * with checkSamples (lib/common/sample-check.ts), the one definition every target uses.
 *
 * Credentials, per the endpoint's auth mode, all read at run time and never written anywhere:
 * Key: a key from the endpoint's ARM `listKeys` action; AMLToken: a token from its ARM `token`
 * action; AADToken: a Microsoft Entra token for `https://ml.azure.com`. The ARM and Entra tokens come
 * from `@azure/identity`'s DefaultAzureCredential when that optional peer is installed (environment
 * service principal, workload or managed identity, Azure CLI login...), else from the Azure CLI's
 * login (lib/common/azure-token.ts, which the probe uses too).
 *
 * Exit status: 0 every sample answered right and within the budget; 1 a sample failed, or an ARM
 * call failed (the message says which and why); 2 the request, the package or the credentials are
 * missing or wrong (nothing sent to the endpoint). Progress goes to stdout, errors to stderr, never a
 * key, a token or a header.
 */
import { azureAccessToken, azureTokenSource } from '../../../common/azure-token';
import { ProgramSetupError, firstLine, readRequest, runAsMain } from '../../../common/local-exec';
import { SampleAnswer, SampleToCheck, checkSamples, verificationFailedMessage } from '../../../common/sample-check';
import { samplesToCheck } from '../../../common/sample-travel';
import { AZURE_VERIFY_REQUEST_ENV, AzureVerifyRequest, azureVerifyRequestProblems } from '../verify-request';

const PREFIX = 'azure-ml verify';
const ARM_URL = 'https://management.azure.com';
/** The audience of ARM tokens. */
const ARM_RESOURCE = 'https://management.azure.com';
/** The audience of Microsoft Entra tokens for Azure ML online endpoints (AADToken auth). */
const ML_RESOURCE = 'https://ml.azure.com';
/** The header that sends a scoring request to one deployment, whatever its traffic share. */
export const DEPLOYMENT_HEADER = 'azureml-model-deployment';
/** How long an ARM call may take. */
const ARM_TIMEOUT_MS = 60_000;
/** Past the latency budget, how long a scoring request may still take before it is abandoned (Azure's own request timeout is 60 s). */
const SCORING_GRACE_MS = 65_000;

/**
 * TEST ONLY, and only loopback addresses: the base URL of a fake ARM (instead of
 * https://management.azure.com) and the URL of a fake scoring server (instead of the request's
 * scoringUri). Environment variables of the process that runs `cdktf apply`, never in the request, so
 * no spec can set them.
 */
export const TEST_ARM_URL_ENV = 'MD_AZURE_TEST_ARM_URL';
export const TEST_SCORING_URL_ENV = 'MD_AZURE_TEST_SCORING_URL';
const LOOPBACK_URL = /^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):[0-9]{1,5}(\/[^\s]*)?$/;

/** ARM_* variables that Terraform's azurerm and azapi providers read, and the AZURE_* names DefaultAzureCredential reads. */
const ARM_TO_AZURE = [
  ['ARM_CLIENT_ID', 'AZURE_CLIENT_ID'], ['ARM_TENANT_ID', 'AZURE_TENANT_ID'], ['ARM_CLIENT_SECRET', 'AZURE_CLIENT_SECRET'],
  ['ARM_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_CERTIFICATE_PATH'], ['ARM_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_CLIENT_CERTIFICATE_PASSWORD'],
] as const;

/** Access tokens for an Azure resource (an audience such as https://ml.azure.com). */
export interface TokenSource {
  getToken(resource: string): Promise<{ readonly token: string }>;
}

/**
 * The ARM actions that give the scoring credential, per auth mode (POST on the endpoint's id), and
 * the field of the answer that holds it (the SDK's EndpointAuthKeys and EndpointAuthToken:
 * test/azure-ml/sdk-types.test.ts checks the names).
 */
export const ARM_CREDENTIAL_ACTIONS = {
  Key: { action: 'listKeys', field: 'primaryKey', what: 'reading a key of' },
  AMLToken: { action: 'token', field: 'accessToken', what: 'getting an AML token for' },
} as const;

/** A failed ARM call or an unreachable endpoint: exit status 1. */
export class CheckError extends Error {}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.length !== 0) {
    process.stderr.write(`${PREFIX}: usage: main.js (with the request JSON in $${AZURE_VERIFY_REQUEST_ENV})\n`);
    return 2;
  }
  try {
    const request = readRequest<AzureVerifyRequest>(env, AZURE_VERIFY_REQUEST_ENV, azureVerifyRequestProblems);
    const urls = targetUrls(request, env);
    const credential = makeCredential(env);
    const failures = await verify(request, urls, credential, line => process.stdout.write(`${PREFIX}: ${line}\n`));
    if (failures.length > 0) {
      process.stderr.write(`${PREFIX}: ${verificationFailedMessage(`deployment ${request.deploymentName} of Azure ML endpoint ${request.endpointName}`, failures,
        'no traffic moved to it: the endpoint keeps serving the previous deployment (if any), and the next apply tries this deployment again or replaces it')}\n`);
      return 1;
    }
    return 0;
  } catch (e) {
    if (e instanceof ProgramSetupError) {
      process.stderr.write(`${PREFIX}: ${e.message}\n`);
      return 2;
    }
    // A CheckError's message is the whole story; anything else: its first line only (an error object could carry a header).
    process.stderr.write(`${PREFIX}: ${e instanceof CheckError ? e.message : `unexpected error: ${firstLine(e)}`}\n`);
    return 1;
  }
}

/** Where the checker sends: ARM and the scoring URI, or the loopback fakes of a test. */
export function targetUrls(request: AzureVerifyRequest, env: NodeJS.ProcessEnv): { readonly arm: string; readonly scoring: string } {
  const seam = (name: string): string | undefined => {
    const value = env[name];
    if (!value) return undefined;
    if (!LOOPBACK_URL.test(value)) throw new ProgramSetupError(`${name}=${JSON.stringify(value)} is not a loopback http URL (it is for tests only)`);
    return value.replace(/\/$/, '');
  };
  const scoring = seam(TEST_SCORING_URL_ENV) ?? request.scoringUri;
  // A key or a token goes with every request: never over plain http.
  if (!scoring.startsWith('https://') && env[TEST_SCORING_URL_ENV] === undefined) {
    throw new ProgramSetupError(`the scoring URI ${JSON.stringify(scoring)} is not https: the checker sends credentials only over TLS`);
  }
  return { arm: seam(TEST_ARM_URL_ENV) ?? ARM_URL, scoring };
}

/**
 * Tokens from DefaultAzureCredential (which reads the environment when it is made) or the Azure CLI.
 * Terraform users who give the azurerm and azapi providers a service principal in ARM_* variables
 * get the same one here, when @azure/identity is installed.
 */
export function makeCredential(env: NodeJS.ProcessEnv): TokenSource {
  if (env.AZURE_CLIENT_ID === undefined && env.ARM_CLIENT_ID !== undefined) {
    for (const [arm, azure] of ARM_TO_AZURE) if (env[arm] !== undefined) process.env[azure] = env[arm];
  }
  return {
    getToken: async resource => {
      try {
        return await azureAccessToken(resource);
      } catch (e) {
        throw new ProgramSetupError(
          `no Azure credentials for ${resource} from ${azureTokenSource()} (${String((e as Error)?.message ?? e).replace(/\s+/g, ' ').slice(0, 300)}): ` +
            'sign in with `az login`, or install @azure/identity (npm install @azure/identity@^4) and set AZURE_CLIENT_ID, AZURE_TENANT_ID and ' +
            'AZURE_CLIENT_SECRET (or the azurerm provider\'s ARM_* variables), or run where a managed identity is',
        );
      }
    },
  };
}

/** Gets the endpoint's credential, sends every sample to the deployment under test, returns one line per failure. */
export async function verify(request: AzureVerifyRequest, urls: { readonly arm: string; readonly scoring: string }, credential: TokenSource,
  log: (line: string) => void): Promise<string[]> {
  const authorization = `Bearer ${await endpointCredential(request, urls.arm, credential)}`;
  const samples = samplesToCheck(request.verification);
  const budget = request.verification.latencyBudgetMs;
  let slowest = 0;
  const send = async (sample: SampleToCheck): Promise<SampleAnswer> => {
    const started = Date.now();
    let response: Response;
    let body: string;
    try {
      response = await fetch(urls.scoring, {
        method: 'POST',
        headers: { 'Authorization': authorization, 'Content-Type': 'application/json', [DEPLOYMENT_HEADER]: request.deploymentName },
        body: sample.requestJson,
        signal: AbortSignal.timeout(budget + SCORING_GRACE_MS),
      });
      body = await response.text();
    } catch (e) {
      throw new Error(unreachable(request, urls.scoring, e), { cause: e });
    }
    slowest = Math.max(slowest, Date.now() - started);
    if (response.status === 401 || response.status === 403) {
      return { status: response.status, body: `the endpoint refused ${refusedCredential(request.authMode)}; it answered: ${body}` };
    }
    return { status: response.status, body };
  };
  log(`sending ${samples.length} sample${samples.length === 1 ? '' : 's'} to deployment ${request.deploymentName} of endpoint ${request.endpointName} (no traffic yet)`);
  const failures = await checkSamples(samples, budget, send);
  if (failures.length === 0) {
    log(`every sample answered right, the slowest in ${slowest} ms (budget ${budget} ms): traffic moves to ${request.deploymentName} next`);
  }
  return failures;
}

/** The credential the scoring URI takes: a key (listKeys), an AML token (token action) or an Entra token for ml.azure.com. */
async function endpointCredential(request: AzureVerifyRequest, arm: string, credential: TokenSource): Promise<string> {
  if (request.authMode === 'AADToken') return (await credential.getToken(ML_RESOURCE)).token;
  const armToken = (await credential.getToken(ARM_RESOURCE)).token;
  const { action, field, what: doing } = ARM_CREDENTIAL_ACTIONS[request.authMode as keyof typeof ARM_CREDENTIAL_ACTIONS];
  const url = `${arm}${request.endpointId}/${action}?api-version=${encodeURIComponent(request.apiVersion)}`;
  const what = `${doing} endpoint ${request.endpointName} (POST .../onlineEndpoints/${request.endpointName}/${action})`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: 'POST', headers: { Authorization: `Bearer ${armToken}` }, signal: AbortSignal.timeout(ARM_TIMEOUT_MS) });
    text = await response.text();
  } catch (e) {
    throw new CheckError(`${what} failed: ${transportError(e)}`, { cause: e });
  }
  if (!response.ok) {
    const hint = response.status === 401 || response.status === 403
      ? `: the identity cdktf apply runs as needs Microsoft.MachineLearningServices/workspaces/onlineEndpoints/${action}/action on the endpoint (Contributor has it)`
      : '';
    throw new CheckError(`${what} failed: HTTP ${response.status}${armError(text)}${hint}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const secret = (value as Record<string, unknown> | undefined)?.[field];
  if (typeof secret !== 'string' || secret === '') throw new CheckError(`${what} failed: the answer has no ${field}`);
  return secret;
}

/** ARM's `{ error: { code, message } }`, shortened; nothing else of the body. */
function armError(text: string): string {
  try {
    const error = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (error && (typeof error.code === 'string' || typeof error.message === 'string')) {
      return ` ${[error.code, error.message].filter(v => typeof v === 'string').join(': ').slice(0, 300)}`;
    }
  } catch {
    // not ARM's error shape
  }
  return '';
}

function refusedCredential(authMode: string): string {
  switch (authMode) {
    case 'Key': return 'the endpoint key read with listKeys';
    case 'AMLToken': return 'the AML token from the endpoint\'s token action';
    default: return 'the Microsoft Entra token (audience https://ml.azure.com): the identity cdktf apply runs as needs ' +
      'Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action on the endpoint (AzureML Data Scientist, Contributor, or a role from grantInvoke)';
  }
}

/** A transport failure, as one clear line: the cause's code (ECONNREFUSED, ENOTFOUND, a timeout). */
function transportError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'no answer in time';
  const cause = err?.cause;
  return cause?.code ?? (cause?.message ? firstLine(cause) : firstLine(e));
}

function unreachable(request: AzureVerifyRequest, url: string, e: unknown): string {
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  if ((e as Error)?.name === 'TimeoutError') return `no answer from ${host} within ${request.verification.latencyBudgetMs + SCORING_GRACE_MS} ms`;
  const base = `cannot reach the scoring URI's host ${host} (${transportError(e)})`;
  if (!request.privateNetwork) return base;
  return `${base}. The endpoint takes private traffic only (access.network PRIVATE) and the checker runs where cdktf apply runs: ` +
    'run the apply from a machine that reaches the workspace\'s private endpoint (in its virtual network or a peered one, resolving privatelink.api.azureml.ms), or leave verification out';
}

if (require.main === module) runAsMain(PREFIX, main);
