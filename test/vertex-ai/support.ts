import * as path from 'path';
import { TerraformStack, Testing } from 'cdktf';
import { danglingReferences as danglingIn } from '../support/terraform-json';
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

/** The target's terraform_data named `name` (Deployment or Retirement; cdktf adds a hash to the logical id). */
export function terraformData(json: any, name: 'Deployment' | 'Retirement'): any {
  const found = Object.entries(json.resource.terraform_data ?? {}).filter(([k]) => k.includes(`_${name}_`));
  if (found.length !== 1) throw new Error(`expected one terraform_data ${name}, found ${found.length}`);
  return found[0][1];
}

/** The bridge request, as the deployment's terraform_data's input holds it. */
export function request(json: any): any {
  return terraformData(json, 'Deployment').input;
}

/** Every reference in the JSON that names a resource or data source the stack does not have. */
export function danglingReferences(json: any): string[] {
  return danglingIn(json, ['google']);
}

export { refusal } from '../support/refusal';
export { addressOf, only } from '../support/terraform-json';
