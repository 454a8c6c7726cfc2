import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { danglingReferences as danglingIn } from '../support/terraform-json';
import { ModelArtifact, ServingContainer } from '../../lib';
import { AzureMlModelEndpoint, AzureMlModelEndpointProps } from '../../lib/targets/azure-ml';

export const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
export const SUB = '00000000-0000-0000-0000-000000000000';
export const id = (provider: string, type: string, name: string, group = 'rg-shared') =>
  `/subscriptions/${SUB}/resourceGroups/${group}/providers/${provider}/${type}/${name}`;
export const REGISTRY_ID = id('Microsoft.ContainerRegistry', 'registries', 'contosoacr');
export const WORKSPACE_ID = id('Microsoft.MachineLearningServices', 'workspaces', 'mlw-shared');
export const STORAGE_ID = id('Microsoft.Storage', 'storageAccounts', 'contosomodels');

export const BASE: AzureMlModelEndpointProps = {
  model: ModelArtifact.fromLocalPath(FIXTURE),
  serving: ServingContainer.custom({ image: 'contosoacr.azurecr.io/fraud-scorer:4.2.0', port: 5001, healthPath: '/healthz', predictPath: '/score' }),
  location: 'westeurope',
  containerRegistryId: REGISTRY_ID,
};

/** Synthesizes one AzureMlModelEndpoint in a fresh stack and returns the Terraform JSON. */
export function synth(props: Partial<AzureMlModelEndpointProps> = {}, stackId = 'azure') {
  const app = Testing.app();
  const stack = new TerraformStack(app, stackId);
  const endpoint = new AzureMlModelEndpoint(stack, 'Fraud', { ...BASE, ...props });
  const json = JSON.parse(Testing.synth(stack));
  return { endpoint, json, stack };
}

/** The azapi_resource of an ARM type (by the type's prefix before '@'). */
export function azapi(json: any, armType: string): any {
  const all = Object.values(json.resource.azapi_resource).filter((r: any) => r.type.split('@')[0].endsWith(`/${armType}`));
  if (all.length !== 1) throw new Error(`expected one azapi_resource of ${armType}, found ${all.length}`);
  return all[0];
}

/** Every reference in the JSON that names a resource or data source the stack does not have. */
export function danglingReferences(json: any): string[] {
  return danglingIn(json, ['azurerm', 'azapi']);
}

export { refusal } from '../support/refusal';
export { addressOf, only } from '../support/terraform-json';
