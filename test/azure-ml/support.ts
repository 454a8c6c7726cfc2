import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
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

/** The one resource of a type (fails when there is not exactly one). */
export function only(json: any, type: string): any {
  const all = Object.values(json.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** The azapi_resource of an ARM type (by the type's prefix before '@'). */
export function azapi(json: any, armType: string): any {
  const all = Object.values(json.resource.azapi_resource).filter((r: any) => r.type.split('@')[0].endsWith(`/${armType}`));
  if (all.length !== 1) throw new Error(`expected one azapi_resource of ${armType}, found ${all.length}`);
  return all[0];
}

/** `TYPE.NAME` of the resource whose value is `resource`. */
export function addressOf(json: any, resource: any): string {
  for (const [type, byName] of Object.entries<any>(json.resource)) {
    for (const [name, value] of Object.entries(byName)) if (value === resource) return `${type}.${name}`;
  }
  throw new Error('not in the stack');
}

/**
 * Every `${...}` reference in the JSON (escaped `$${` skipped) that names a resource or data source,
 * and whether the stack has it: what `terraform validate` would check first.
 */
export function danglingReferences(json: any): string[] {
  const refs = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(/(?<!\$)\$\{([^}]*)\}/g)) {
        for (const r of m[1].matchAll(/(?<![\w.])((?:data\.)?(?:azurerm|azapi|terraform)_[a-z_]+\.[A-Za-z0-9_-]+)/g)) refs.add(r[1]);
      }
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json.resource);
  walk(json.data);
  walk(json.output);
  // depends_on lists name resources without ${}.
  for (const byName of Object.values<any>({ ...json.resource, ...json.data })) {
    for (const r of Object.values<any>(byName)) for (const d of r.depends_on ?? []) refs.add(d);
  }
  return [...refs].filter(ref => {
    const [a, b, c] = ref.split('.');
    return a === 'data' ? json.data?.[b]?.[c] === undefined : json.resource?.[a]?.[b] === undefined;
  });
}

export { refusal } from '../support/refusal';
