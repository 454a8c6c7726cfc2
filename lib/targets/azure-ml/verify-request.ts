import * as path from 'path';
import type { TravellingVerification } from '../../common/sample-travel';
import { travellingVerificationProblems } from '../../common/sample-travel';

/**
 * The request the Azure ML target hands to its verification checker (verify/main.ts), the Node
 * program a `terraform_data`'s `local-exec` provisioner runs between the new deployment and the
 * traffic update: it sends the spec's sample predictions to the NEW deployment alone (header
 * `azureml-model-deployment`, which reaches a deployment with 0% traffic) and fails the apply,
 * before traffic moves, when one is answered wrong or too slowly.
 *
 * It carries no credential: the checker gets one at run time (see verify/main.ts). Internal: not
 * exported from the package's entry points.
 */

/** The environment variable that carries the request JSON to the checker. */
export const AZURE_VERIFY_REQUEST_ENV = 'MD_AZURE_VERIFY_REQUEST';

/**
 * The compiled checker, for `node <this>`: dist/targets/azure-ml/verify/main.js in the package (next
 * to this module's own compiled file). Under ts-jest only main.ts exists there: tests run the checker
 * from its sources transpiled (test/support/azure/verify-process.ts).
 */
export const AZURE_VERIFY_MAIN = path.join(__dirname, 'verify', 'main.js');

/** The format of `AzureVerifyRequest`, so that a checker refuses a request it does not understand. */
export const AZURE_VERIFY_REQUEST_FORMAT = 1;

/** The auth modes of an online endpoint, and what the checker sends for each. */
export const AZURE_VERIFY_AUTH_MODES = ['Key', 'AMLToken', 'AADToken'] as const;

export interface AzureVerifyRequest {
  /** `AZURE_VERIFY_REQUEST_FORMAT` */
  readonly format: number;
  /** The online endpoint's ARM resource id (listKeys and token actions go to it). */
  readonly endpointId: string;
  /** The online endpoint's name (for messages). */
  readonly endpointName: string;
  /** The deployment under test: sent as `azureml-model-deployment`. */
  readonly deploymentName: string;
  /** The endpoint's scoring URI, as Azure reports it (https). */
  readonly scoringUri: string;
  /** The endpoint's `authMode`. */
  readonly authMode: string;
  /** The API version of the ARM actions. */
  readonly apiVersion: string;
  /** Whether the endpoint takes only private traffic (access.network PRIVATE): for the message when it cannot be reached. */
  readonly privateNetwork: boolean;
  /** The samples and the latency budget (base64: lib/common/sample-travel.ts). */
  readonly verification: TravellingVerification;
}

/**
 * What is wrong with a parsed request, one line per field (empty when it is fine). The construct
 * builds it from a validated spec; the checker checks again, because it reads it from Terraform state.
 */
export function azureVerifyRequestProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return ['request: must be an object'];
  const r = value as Record<string, unknown>;
  if (r.format !== AZURE_VERIFY_REQUEST_FORMAT) {
    return [`format: is ${JSON.stringify(r.format)}; this checker reads format ${AZURE_VERIFY_REQUEST_FORMAT} (the package that synthesized it is not the one installed)`];
  }
  const str = (o: Record<string, unknown>, key: string, at: string, re?: RegExp, rule?: string) => {
    const v = o[key];
    if (typeof v !== 'string' || v === '') problems.push(`${at}: must be a non-empty string`);
    else if (re && !re.test(v)) problems.push(`${at}: ${JSON.stringify(v)} ${rule}`);
  };
  str(r, 'endpointId', 'endpointId', /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/onlineEndpoints\/[^/]+$/i,
    'is not an online endpoint resource id');
  str(r, 'endpointName', 'endpointName');
  str(r, 'deploymentName', 'deploymentName', /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/, 'is not a deployment name');
  str(r, 'scoringUri', 'scoringUri');
  str(r, 'apiVersion', 'apiVersion', /^\d{4}-\d{2}-\d{2}(-preview)?$/, 'is not an API version');
  if (!(AZURE_VERIFY_AUTH_MODES as readonly unknown[]).includes(r.authMode)) problems.push(`authMode: ${JSON.stringify(r.authMode)} is not one of ${AZURE_VERIFY_AUTH_MODES.join(', ')}`);
  if (typeof r.privateNetwork !== 'boolean') problems.push('privateNetwork: must be true or false');
  problems.push(...travellingVerificationProblems(r.verification, 'verification'));
  return problems;
}
