import * as path from 'path';
import type { TravellingSample, TravellingVerification } from '../../common/sample-travel';
import { samplesToCheck, travellingVerification, travellingVerificationProblems } from '../../common/sample-travel';

/**
 * The request the Vertex AI target hands to its bridge (lib/targets/vertex-ai/bridge/main.ts), the
 * Node program that a `terraform_data`'s create- and destroy-time `local-exec` provisioners run to
 * upload a custom model and deploy it to an endpoint, which no google provider resource does.
 *
 * The construct builds one `VertexBridgeRequest`, puts it in the `terraform_data`'s `input` (and
 * `triggers_replace`: a changed `input` alone updates in place and runs no provisioner), and passes
 * `jsonencode(self.input)` to the bridge in the environment variable `VERTEX_BRIDGE_REQUEST_ENV`.
 * A destroy-time provisioner may read only `self`, so everything either step needs is in here.
 *
 * This file is free of the optional peer `@google-cloud/aiplatform`: the construct imports it, and its
 * declarations must load without that package. The bridge turns these plain values into the client's
 * `protos.google.cloud.aiplatform.v1.I*` payloads (bridge/payloads.ts), type-checked there.
 *
 * Internal: not exported from the package's entry points.
 */

/** The environment variable that carries the request JSON to the bridge. */
export const VERTEX_BRIDGE_REQUEST_ENV = 'MD_VERTEX_REQUEST';

/**
 * The compiled bridge, for `node <this> create|destroy`: dist/targets/vertex-ai/bridge/main.js in the
 * package (tsconfig.build.json compiles lib/ to dist/ file for file, so the bridge sits next to this
 * module's own compiled file). Under ts-jest, `__dirname` is lib/targets/vertex-ai, where only
 * main.ts exists: tests run the bridge from its sources (see test/support/vertex/bridge-process.ts).
 */
export const VERTEX_BRIDGE_MAIN = path.join(__dirname, 'bridge', 'main.js');

/**
 * The label key that marks a Model as one of this deployment's (value: `VertexBridgeRequest.owner`).
 * An underscore, not a hyphen: the bridge finds the Models with the ListModels filter
 * `labels.KEY="VALUE"`, and in Google's filter syntax (AIP-160) a `-` can read as negation.
 */
export const VERTEX_OWNER_LABEL = 'cdk_model_deployment';

/** Vertex AI's autoscaling metrics for online prediction (DedicatedResources.autoscaling_metric_specs). */
export const VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE = 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle';
export const VERTEX_METRIC_CPU_UTILIZATION = 'aiplatform.googleapis.com/prediction/online/cpu/utilization';

/** The format of `VertexBridgeRequest`, so that a bridge can refuse a request it does not understand. */
export const VERTEX_BRIDGE_REQUEST_FORMAT = 1;

export interface VertexBridgeRequest {
  /** `VERTEX_BRIDGE_REQUEST_FORMAT` */
  readonly format: number;
  /** the project id */
  readonly project: string;
  /** the region, e.g. `europe-west4` (the endpoint's, the model's and the API endpoint's) */
  readonly location: string;
  /** the numeric id of the endpoint (the `google_vertex_ai_endpoint`'s `name`) */
  readonly endpointId: string;
  /**
   * Marks this deployment's Models (label `VERTEX_OWNER_LABEL`): a create retires every other Model
   * with this label (undeploys it from this endpoint, then deletes it) once the new one serves 100%.
   * A label value: lowercase letters, digits, `_` and `-`, at most 63 characters.
   */
  readonly owner: string;
  readonly model: VertexBridgeModel;
  readonly deployment: VertexBridgeDeployment;
  /**
   * The spec's sample predictions (absent: none). The bridge sends each to the endpoint with
   * rawPredict once the new deployed model has the traffic, and rolls back on a failure (see
   * bridge/steps.ts). Part of the request, so a changed sample is a new version: the
   * `terraform_data` is replaced and its create step checks the samples again.
   */
  readonly verification?: VertexBridgeVerification;
}

/**
 * What the `retire-all` step needs (the destroy step of the target's second `terraform_data`, which a
 * new version does not change): the endpoint and the owner label's value.
 */
export type VertexBridgeOwnerRequest = Pick<VertexBridgeRequest, 'format' | 'project' | 'location' | 'endpointId' | 'owner'>;

/** The samples as they travel in `MD_VERTEX_REQUEST` (base64: see lib/common/sample-travel.ts). */
export type VertexBridgeVerification = TravellingVerification;
export type VertexBridgeSample = TravellingSample;
export { samplesToCheck, travellingVerification as vertexBridgeVerification };

export interface VertexBridgeModel {
  /**
   * UploadModelRequest.model_id, fixed by the construct from the model's content: the same id means
   * the same model (an existing Model with this id but other content is refused). Up to 63 of
   * `[a-z0-9_-]`, not starting with a digit or hyphen.
   */
  readonly modelId: string;
  /** Model.display_name (at most 128 characters) */
  readonly displayName: string;
  /** Model.artifact_uri: the `gs://` prefix the container reads as `$AIP_STORAGE_URI` */
  readonly artifactUri: string;
  readonly container: VertexBridgeContainer;
  /** extra Model labels (the owner label is added by the bridge) */
  readonly labels?: Readonly<Record<string, string>>;
  /** Model.encryption_spec: the customer-managed key (CMEK) the Model is kept under, when the construct has `encryptionKeyName` */
  readonly encryptionSpec?: { readonly kmsKeyName: string };
}

export interface VertexBridgeContainer {
  /** ModelContainerSpec.image_uri (Artifact Registry) */
  readonly imageUri: string;
  readonly predictRoute: string;
  readonly healthRoute: string;
  /** the container port (ModelContainerSpec.ports[0].container_port; `$AIP_HTTP_PORT`) */
  readonly port: number;
  /** environment variables of the container */
  readonly env?: Readonly<Record<string, string>>;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
}

export interface VertexBridgeDeployment {
  /** DeployedModel.id, fixed by the construct: 1 to 10 digits */
  readonly deployedModelId: string;
  /** DeployedModel.display_name */
  readonly displayName: string;
  readonly machineSpec: VertexBridgeMachineSpec;
  readonly minReplicaCount: number;
  readonly maxReplicaCount: number;
  /** accelerator duty cycle or CPU utilisation targets (empty: Vertex's default, CPU 60%) */
  readonly autoscalingMetricSpecs: readonly VertexBridgeMetricSpec[];
  /** the serving service account's email (empty: Vertex's default service agent) */
  readonly serviceAccount?: string;
}

export interface VertexBridgeMachineSpec {
  readonly machineType: string;
  /** a name in Vertex AI v1's AcceleratorType enum, e.g. `NVIDIA_L4` */
  readonly acceleratorType?: string;
  readonly acceleratorCount?: number;
}

export interface VertexBridgeMetricSpec {
  /** `VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE` or `VERTEX_METRIC_CPU_UTILIZATION` */
  readonly metricName: string;
  /** target utilisation in percent, 1 to 100 */
  readonly target: number;
}

/** The fully qualified names the bridge works on. */
export function vertexResourceNames(r: Pick<VertexBridgeRequest, 'project' | 'location' | 'endpointId'> & { readonly model: Pick<VertexBridgeModel, 'modelId'> }) {
  const parent = `projects/${r.project}/locations/${r.location}`;
  return { parent, endpoint: `${parent}/endpoints/${r.endpointId}`, model: `${parent}/models/${r.model.modelId}` };
}

/**
 * Checks a parsed request's shape and Vertex's id rules; returns what is wrong, one line per field
 * (empty when it is fine). The construct refuses these at synth; the bridge checks again at apply
 * time, because the request it receives comes from Terraform state. `part` 'owner': only what a
 * VertexBridgeOwnerRequest has.
 */
export function vertexBridgeRequestProblems(value: unknown, part: 'deployment' | 'owner' = 'deployment'): string[] {
  const problems: string[] = [];
  const at = (p: string, what: string) => problems.push(`${p}: ${what}`);
  const obj = (v: unknown, p: string): Record<string, unknown> | undefined => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    at(p, 'must be an object');
    return undefined;
  };
  const join = (p: string, key: string) => (p ? `${p}.${key}` : key);
  const str = (o: Record<string, unknown>, key: string, p: string, re?: RegExp, rule?: string, optional = false): void => {
    const v = o[key];
    if (v === undefined && optional) return;
    if (typeof v !== 'string' || v === '') at(join(p, key), 'must be a non-empty string');
    else if (re && !re.test(v)) at(join(p, key), `${JSON.stringify(v)} ${rule}`);
  };
  const int = (o: Record<string, unknown>, key: string, p: string, min: number, max: number, optional = false) => {
    const v = o[key];
    if (v === undefined && optional) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) at(join(p, key), `must be an integer from ${min} to ${max}`);
  };
  const strings = (v: unknown, p: string) => {
    if (v === undefined) return;
    if (!Array.isArray(v) || v.some(s => typeof s !== 'string')) at(p, 'must be a list of strings');
  };
  const stringMap = (v: unknown, p: string) => {
    if (v === undefined) return;
    const m = obj(v, p);
    if (m) for (const [k, s] of Object.entries(m)) if (typeof s !== 'string') at(`${p}.${k}`, 'must be a string');
  };

  const r = obj(value, 'request');
  if (!r) return problems;
  if (r.format !== VERTEX_BRIDGE_REQUEST_FORMAT) {
    at('format', `is ${JSON.stringify(r.format)}; this bridge reads format ${VERTEX_BRIDGE_REQUEST_FORMAT} (the package that synthesized it is not the one installed)`);
    return problems;
  }
  str(r, 'project', '', /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'is not a project id');
  str(r, 'location', '', /^[a-z]+-[a-z]+[0-9]+$/, 'is not a region');
  str(r, 'endpointId', '', /^[0-9]{1,19}$/, 'is not a numeric endpoint id');
  str(r, 'owner', '', /^[a-z0-9_-]{1,63}$/, 'is not a label value (lowercase letters, digits, _ and -, at most 63)');
  if (part === 'owner') return problems;

  const m = obj(r.model, 'model');
  if (m) {
    str(m, 'modelId', 'model', /^[a-z_][a-z0-9_-]{0,62}$/, 'is not a model id (up to 63 of [a-z0-9_-], not starting with a digit or hyphen)');
    str(m, 'displayName', 'model', /^.{1,128}$/su, 'is longer than 128 characters');
    str(m, 'artifactUri', 'model', /^gs:\/\/[^/]+/, 'is not a gs:// URI');
    stringMap(m.labels, 'model.labels');
    if (m.encryptionSpec !== undefined) {
      const e = obj(m.encryptionSpec, 'model.encryptionSpec');
      if (e) str(e, 'kmsKeyName', 'model.encryptionSpec', /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, 'is not a Cloud KMS key name');
    }
    const c = obj(m.container, 'model.container');
    if (c) {
      str(c, 'imageUri', 'model.container');
      str(c, 'predictRoute', 'model.container', /^\//, 'must start with /');
      str(c, 'healthRoute', 'model.container', /^\//, 'must start with /');
      int(c, 'port', 'model.container', 1, 65535);
      stringMap(c.env, 'model.container.env');
      // EnvVar.value is REQUIRED in the proto: an empty value is refused by the service.
      for (const [k, v] of Object.entries((c.env ?? {}) as Record<string, unknown>)) if (v === '') at(`model.container.env.${k}`, 'must not be empty (EnvVar.value is REQUIRED)');
      strings(c.command, 'model.container.command');
      strings(c.args, 'model.container.args');
    }
  }

  const d = obj(r.deployment, 'deployment');
  if (d) {
    str(d, 'deployedModelId', 'deployment', /^[0-9]{1,10}$/, 'is not a deployed model id (1 to 10 digits)');
    str(d, 'displayName', 'deployment');
    str(d, 'serviceAccount', 'deployment', /^[^@\s]+@[^@\s]+$/, 'is not a service account email', true);
    int(d, 'minReplicaCount', 'deployment', 1, 1000);
    int(d, 'maxReplicaCount', 'deployment', 1, 1000);
    if (typeof d.minReplicaCount === 'number' && typeof d.maxReplicaCount === 'number' && d.maxReplicaCount < d.minReplicaCount) {
      at('deployment.maxReplicaCount', `${d.maxReplicaCount} is below minReplicaCount ${d.minReplicaCount}`);
    }
    const ms = obj(d.machineSpec, 'deployment.machineSpec');
    if (ms) {
      str(ms, 'machineType', 'deployment.machineSpec');
      str(ms, 'acceleratorType', 'deployment.machineSpec', /^[A-Z0-9_]+$/, 'is not an AcceleratorType name', true);
      int(ms, 'acceleratorCount', 'deployment.machineSpec', 1, 16, true);
      if ((ms.acceleratorType === undefined) !== (ms.acceleratorCount === undefined)) {
        at('deployment.machineSpec', 'acceleratorType and acceleratorCount go together');
      }
    }
    if (!Array.isArray(d.autoscalingMetricSpecs)) at('deployment.autoscalingMetricSpecs', 'must be a list');
    else d.autoscalingMetricSpecs.forEach((s, i) => {
      const spec = obj(s, `deployment.autoscalingMetricSpecs[${i}]`);
      if (!spec) return;
      const known = [VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE, VERTEX_METRIC_CPU_UTILIZATION];
      if (!known.includes(spec.metricName as string)) at(`deployment.autoscalingMetricSpecs[${i}].metricName`, `must be one of ${known.join(', ')}`);
      int(spec, 'target', `deployment.autoscalingMetricSpecs[${i}]`, 1, 100);
    });
  }

  if (r.verification !== undefined) problems.push(...travellingVerificationProblems(r.verification, 'verification'));
  return problems;
}
