/**
 * The target's body types (lib/targets/azure-ml/bodies.ts, API 2024-10-01) against the interfaces of
 * the official SDK, @azure/arm-machinelearning 2.1.1 (API 2022-10-01; a dev dependency only: the
 * library does not depend on it). The check is the type checker's: `npm test` and `npm run
 * test:unit` run `tsc --noEmit` over test/, so a body field that the SDK types differently, or a key
 * the SDK does not know (`instanceCount`, `requestTimeoutMs`...), fails them. Fields newer than
 * 2022-10-01 (`startupProbe`, `startupRoute`) are left out of the comparison; the azapi validator
 * (test/support/azure/azapi-validator.ts) checks them against the 2024-10-01 type data.
 */
import type * as sdk from '@azure/arm-machinelearning';
import type {
  EnvironmentVersionBody, InferenceContainerProperties, ManagedOnlineDeploymentBody, ModelVersionBody, OnlineEndpointBody, OnlineEndpointPutBody,
  OnlineEndpointTrafficBody,
} from '../../lib/targets/azure-ml/bodies';
import { ARM_CREDENTIAL_ACTIONS } from '../../lib/targets/azure-ml/verify/main';

/** true when A is assignable to B and has no key B lacks. */
type Matches<A, B> = [A] extends [B] ? ([Exclude<keyof A, keyof B>] extends [never] ? true : false) : false;
type Newer<T, K extends PropertyKey> = Omit<T, K>;

type DeploymentProperties = Newer<ManagedOnlineDeploymentBody['properties'], 'startupProbe'>;
type EnvironmentProperties = Newer<EnvironmentVersionBody['properties'], 'inferenceConfig'> & { inferenceConfig: Newer<InferenceContainerProperties, 'startupRoute'> };

const CHECKS: { readonly [what: string]: true } = {
  'deployment properties': true as Matches<DeploymentProperties, sdk.ManagedOnlineDeployment>,
  'deployment sku': true as Matches<ManagedOnlineDeploymentBody['sku'], sdk.Sku>,
  'deployment probes': true as Matches<ManagedOnlineDeploymentBody['properties']['livenessProbe'], sdk.ProbeSettings>,
  'deployment request settings': true as Matches<ManagedOnlineDeploymentBody['properties']['requestSettings'], sdk.OnlineRequestSettings>,
  'endpoint properties': true as Matches<OnlineEndpointBody['properties'], sdk.OnlineEndpointProperties>,
  'endpoint traffic': true as Matches<OnlineEndpointTrafficBody['properties'], Partial<sdk.OnlineEndpointProperties>>,
  'endpoint PUT (drain)': true as Matches<OnlineEndpointPutBody['properties'], sdk.OnlineEndpointProperties>,
  'model version properties': true as Matches<ModelVersionBody['properties'], sdk.ModelVersionProperties>,
  'environment version properties': true as Matches<EnvironmentProperties, sdk.EnvironmentVersionProperties>,
};

// The comparison can fail: shapes that public samples use, and the SDK refuses.
// @ts-expect-error instanceCount is not a deployment property (the count is sku.capacity)
const wrongCount: Matches<{ instanceCount: number }, sdk.ManagedOnlineDeployment> = true;
// @ts-expect-error the model is a version's resource id, not { name, version }
const wrongModel: Matches<{ endpointComputeType: 'Managed'; model: { name: string; version: string } }, sdk.ManagedOnlineDeployment> = true;
// @ts-expect-error requestTimeoutMs is not a request setting (requestTimeout is an ISO-8601 duration)
const wrongTimeout: Matches<{ requestTimeoutMs: number }, sdk.OnlineRequestSettings> = true;
// @ts-expect-error a route's port is a number
const wrongPort: Matches<{ path: string; port: string }, sdk.Route> = true;

// The verification checker reads the scoring credential from these fields of the ARM actions' answers.
const keyField: keyof sdk.EndpointAuthKeys = ARM_CREDENTIAL_ACTIONS.Key.field;
const tokenField: keyof sdk.EndpointAuthToken = ARM_CREDENTIAL_ACTIONS.AMLToken.field;
// @ts-expect-error the answer of listKeys has no `key`
const wrongKeyField: keyof sdk.EndpointAuthKeys = 'key';

test('the verification checker reads the fields the SDK declares for listKeys and token', () => {
  expect([keyField, tokenField, wrongKeyField]).toEqual(['primaryKey', 'accessToken', 'key']);
});

test('the Azure ML body types match the official SDK\'s interfaces (checked by tsc; see the header)', () => {
  expect(Object.keys(CHECKS)).toHaveLength(9);
  expect([wrongCount, wrongModel, wrongTimeout, wrongPort]).toEqual([true, true, true, true]);
});
