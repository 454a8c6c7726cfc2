import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { ModelArtifact, ServingContainer } from '../../lib';
import { VertexAiModelEndpoint, VertexAiModelEndpointProps } from '../../lib/targets/vertex-ai';

export const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
export const PROJECT = 'ml-prod-4711';
export const IMAGE = 'europe-west4-docker.pkg.dev/ml-prod-4711/serving/fraud-scorer:4.2.0';
export const KEY = 'projects/ml-keys-0001/locations/europe-west4/keyRings/ml/cryptoKeys/models';

export const BASE: VertexAiModelEndpointProps = {
  model: ModelArtifact.fromLocalPath(FIXTURE),
  serving: ServingContainer.custom({ image: IMAGE, port: 5001, healthPath: '/healthz', predictPath: '/score' }),
  project: PROJECT,
  location: 'europe-west4',
};

/** Synthesizes one VertexAiModelEndpoint in a fresh stack and returns the Terraform JSON. */
export function synth(props: Partial<VertexAiModelEndpointProps> = {}, stackId = 'vertex') {
  const app = Testing.app();
  const stack = new TerraformStack(app, stackId);
  const endpoint = new VertexAiModelEndpoint(stack, 'Fraud', { ...BASE, ...props });
  const json = JSON.parse(Testing.synth(stack));
  return { endpoint, json, stack };
}

/** The one resource of a type (fails when there is not exactly one). */
export function only(json: any, type: string): any {
  const all = Object.values(json.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** The bridge request, as the terraform_data's input holds it. */
export function request(json: any): any {
  return only(json, 'terraform_data').input;
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
        for (const r of m[1].matchAll(/(?<![\w.])((?:data\.)?(?:google|terraform)_[a-z_]+\.[A-Za-z0-9_-]+)/g)) refs.add(r[1]);
      }
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(json.resource);
  walk(json.data);
  walk(json.output);
  for (const byName of Object.values<any>({ ...json.resource, ...json.data })) {
    for (const r of Object.values<any>(byName)) for (const d of r.depends_on ?? []) refs.add(d);
  }
  return [...refs].filter(ref => {
    const [a, b, c] = ref.split('.');
    return a === 'data' ? json.data?.[b]?.[c] === undefined : json.resource?.[a]?.[b] === undefined;
  });
}

export { refusal } from '../support/refusal';
