/**
 * What the bridge does, step by step. Every step first reads what is there, so that a create run again
 * after a failure at any point converges, and a destroy of what is gone succeeds.
 *
 * create (blue/green, in this version's own create step: Terraform runs no destroy-time provisioner
 * for a deposed or tainted object):
 *   1. upload   GetModel(modelId); when NOT_FOUND, UploadModel with the fixed model id and wait for its
 *               operation. An existing Model with other content is refused.
 *   2. deploy   GetEndpoint; when the fixed deployed model id is not on it, DeployModel WITHOUT a
 *               traffic_split (the endpoint's split is then left as it is: the old version keeps
 *               serving) and wait for its operation.
 *   3. traffic  GetEndpoint; unless the new deployed model already has 100, UpdateEndpoint with
 *               traffic_split {newId: 100} (mask `traffic_split`, the etag read). Traffic moves only
 *               after the deploy operation reported success, and the service refuses a split naming a
 *               deployed model that the endpoint does not have: no traffic to an undeployed model.
 *               (DeployModel's own traffic_split {"0": 100} would switch in the same call, but whether
 *               it does so only once the replicas are up is not in the API's contract, and a failure
 *               would leave a "deployed, traffic not moved" state to converge from anyway.)
 *   4. verify   (only with the spec's `verification`) every sample through PredictionService.RawPredict,
 *               its request body as-is (`application/json`), compared by checkSamples
 *               (lib/common/sample-check.ts). AFTER the traffic moved, because Vertex AI cannot
 *               address a deployed model that has no traffic: RawPredict and Predict take only the
 *               endpoint and follow its traffic_split (ExplainRequest.deployed_model_id exists, but
 *               needs an explanation_spec and takes `instances`, not the raw body; the `invoke`
 *               route per deployed model is a preview, HTTP only, dedicated endpoints only, needs
 *               Model.invoke_route_prefix, which turns rawPredict off, and is not in this v1
 *               client). The same on both endpoint kinds the target builds; only the host differs
 *               (predictionHost). With the new version at 100%, every sample is answered by it.
 *               On a failure, ROLLBACK: the traffic split as it was before step 3 (empty on a first
 *               deploy: nothing serves), then the new deployed model undeployed and its Model
 *               deleted, then exit 1 with verificationFailedMessage (sample, expected, actual). When
 *               the new deployed model already had 100% before this run (a changed sample re-checks
 *               the serving version; or a run after a crash), the traffic goes back to this
 *               deployment's other deployed models if there are any, else nothing is changed: it
 *               was serving before this apply.
 *   5. undeploy every other deployed model on this endpoint whose Model carries this deployment's
 *               owner label (they have 0% now), then
 *   6. delete   every other Model with the owner label (the previous version, and what a failed run
 *               of another version left behind).
 * destroy (only what the request names):
 *   1. undeploy the deployed model (endpoint or deployed model NOT_FOUND: done), then
 *   2. delete   the Model (NOT_FOUND: done).
 * retire-all (the owner request only; see retireAll): undeploy every deployed model of a Model with the
 *   owner label, then delete those Models (endpoint gone, NOT_FOUND: done).
 */
import { SendSample, checkSamples, verificationFailedMessage } from '../../../common/sample-check';
import { VERTEX_OWNER_LABEL, VertexBridgeOwnerRequest, VertexBridgeRequest, VertexBridgeVerification, samplesToCheck, vertexResourceNames } from '../bridge-request';
import { Clients } from './client';
import {
  IDeployedModel, IEndpoint, IModel, deployModelRequest, modelPayload, moveTrafficRequest, rawPredictRequest, shareOut, trafficSplitRequest,
  undeployModelRequest, uploadModelRequest,
} from './payloads';

export type Step = 'upload' | 'deploy' | 'traffic' | 'verify' | 'rollback' | 'undeploy' | 'delete';

/** gRPC status codes the bridge tells apart (google.rpc.Code). */
const Code = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9 } as const;
const CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS',
  'UNAUTHENTICATED',
];

/** `NOT_FOUND (5): `, or nothing without a code. */
const codeText = (code: number | undefined) => (code === undefined ? '' : `${CODE_NAMES[code] ?? 'code'} (${code}): `);

/** A failed step: which step, on which resource, and the API's code and message. */
export class StepError extends Error {
  constructor(public readonly step: Step, public readonly resource: string, public readonly code: number | undefined, detail: string) {
    super(`${step} ${resource} failed: ${codeText(code)}${detail}`);
  }
}

/** The samples failed (the message is verificationFailedMessage's, with what the rollback did). */
export class VerificationError extends Error {}

/** Where an endpoint takes predictions, and which kind it is (see README, "Verification"). */
export function predictionHost(endpoint: IEndpoint, location: string): { host: string; kind: string } {
  if (endpoint.dedicatedEndpointEnabled && endpoint.dedicatedEndpointDns) {
    // Google refuses the shared regional domain for a dedicated endpoint.
    return { host: endpoint.dedicatedEndpointDns, kind: 'dedicated endpoint' };
  }
  const host = `${location}-aiplatform.googleapis.com`;
  if (endpoint.privateServiceConnectConfig?.enablePrivateServiceConnect) {
    // Reached through the consumer's PSC endpoint: this host must resolve to it where apply runs.
    return { host, kind: 'Private Service Connect endpoint' };
  }
  return { host, kind: 'shared endpoint' };
}

/** The code and message of a client error (a GoogleError, or an operation's google.rpc.Status); nothing else of it. */
function apiError(e: unknown): { code?: number; message: string } {
  const err = e as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof err.code === 'number' ? err.code : undefined;
  const details = typeof err.details === 'string' && err.details ? err.details : String(err.message ?? e);
  // grpc-js prefixes "5 NOT_FOUND: "; the step error says the code once.
  return { code, message: details.replace(/^\d+ [A-Z_]+: /, '') };
}

const isCode = (e: unknown, code: number) => apiError(e).code === code;

/** Runs one API call of a step; a failure becomes a StepError naming the step and the resource. */
async function call<T>(step: Step, resource: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof StepError) throw e;
    const { code, message } = apiError(e);
    throw new StepError(step, resource, code, message);
  }
}

/** Like `call`, but gives `undefined` for NOT_FOUND. */
async function callOrNotFound<T>(step: Step, resource: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (isCode(e, Code.NOT_FOUND)) return undefined;
    const { code, message } = apiError(e);
    throw new StepError(step, resource, code, message);
  }
}

const lastSegment = (name: string | null | undefined) => (name ?? '').split('/').pop() ?? '';

export type Log = (line: string) => void;

/**
 * retire-all, the destroy step of the target's second `terraform_data`, which is never replaced or
 * tainted: undeploys and deletes every Model of the deployment (owner label) from the endpoint. It is
 * what removes the serving version on a destroy after a failed update, where Terraform runs no
 * destroy-time provisioner (the failed version's object is tainted, the serving one's deposed).
 */
export async function retireAll(clients: Clients, owner: VertexBridgeOwnerRequest, log: Log): Promise<void> {
  // No model or deployment of its own: nothing is kept (retireOwned reads only the names and the owner).
  const request = { ...owner, model: { modelId: '' }, deployment: { deployedModelId: '' } } as unknown as VertexBridgeRequest;
  await new Bridge(clients, request, log).retireOwned();
}

export class Bridge {
  private readonly names: ReturnType<typeof vertexResourceNames>;

  constructor(private readonly clients: Clients, private readonly request: VertexBridgeRequest, private readonly log: Log) {
    this.names = vertexResourceNames(request);
  }

  public async create(): Promise<void> {
    await this.upload();
    await this.deploy();
    const before = await this.moveTraffic();
    if (this.request.verification) await this.verify(this.request.verification, before);
    await this.retireOwned({ modelId: this.request.model.modelId, deployedModelId: this.request.deployment.deployedModelId });
  }

  public async destroy(): Promise<void> {
    const { endpoint: endpointName, model: modelName } = this.names;
    const id = this.request.deployment.deployedModelId;
    const where = `${endpointName} deployed model ${id}`;
    const endpoint = await callOrNotFound('undeploy', endpointName, () => this.getEndpoint());
    if (!endpoint) this.log(`undeploy ${where}: the endpoint is gone`);
    else if (!(endpoint.deployedModels ?? []).some(d => d.id === id)) this.log(`undeploy ${where}: not deployed`);
    else await this.undeploy(endpoint, id);
    await this.deleteModel(modelName);
  }

  // ---- create ---------------------------------------------------------------------------------

  private async upload(): Promise<void> {
    const name = this.names.model;
    const existing = await callOrNotFound('upload', name, () => this.getModel(name));
    if (existing) {
      this.checkSameModel(existing);
      this.log(`upload ${name}: already uploaded`);
      return;
    }
    const request = this.checked('UploadModelRequest', uploadModelRequest(this.request), 'upload', name);
    try {
      const [operation] = await this.clients.models.uploadModel(request);
      this.log(`upload ${name}: started ${operation.name}`);
      await operation.promise();
    } catch (e) {
      // A run stopped after the upload started: the Model exists (or is being made) under the fixed id.
      if (!isCode(e, Code.ALREADY_EXISTS)) throw new StepError('upload', name, apiError(e).code, apiError(e).message);
      const model = await call('upload', name, () => this.getModel(name));
      this.checkSameModel(model);
    }
    this.log(`upload ${name}: uploaded`);
  }

  private async deploy(): Promise<void> {
    const endpointName = this.names.endpoint;
    const id = this.request.deployment.deployedModelId;
    const where = `${endpointName} deployed model ${id}`;
    const present = async () => (await call('deploy', endpointName, () => this.getEndpoint())).deployedModels?.find(d => d.id === id);
    const existing = await present();
    if (existing) {
      this.checkSameDeployment(existing, where);
      this.log(`deploy ${where}: already deployed`);
      return;
    }
    const request = this.checked('DeployModelRequest', deployModelRequest(this.request), 'deploy', where);
    try {
      const [operation] = await this.clients.endpoints.deployModel(request);
      this.log(`deploy ${where}: started ${operation.name} (no traffic yet)`);
      await operation.promise();
    } catch (e) {
      if (!isCode(e, Code.ALREADY_EXISTS)) throw new StepError('deploy', where, apiError(e).code, apiError(e).message);
      const deployed = await present();
      if (!deployed) throw new StepError('deploy', where, Code.ALREADY_EXISTS, `${apiError(e).message} (and the endpoint does not list it)`);
      this.checkSameDeployment(deployed, where);
    }
    this.log(`deploy ${where}: deployed`);
  }

  /** Moves all traffic to the new deployed model; returns the split before, or undefined when it had 100% already. */
  private async moveTraffic(): Promise<Record<string, number> | undefined> {
    const endpointName = this.names.endpoint;
    const id = this.request.deployment.deployedModelId;
    const endpoint = await call('traffic', endpointName, () => this.getEndpoint());
    const split = { ...(endpoint.trafficSplit ?? {}) };
    if (split[id] === 100) {
      this.log(`traffic ${endpointName}: deployed model ${id} already has 100%`);
      return undefined;
    }
    const request = this.checked('UpdateEndpointRequest', moveTrafficRequest(endpoint, id), 'traffic', endpointName);
    await call('traffic', endpointName, () => this.clients.endpoints.updateEndpoint(request));
    this.log(`traffic ${endpointName}: deployed model ${id} has 100% (was ${JSON.stringify(split)})`);
    return split;
  }

  /** Sends every sample to the endpoint (the new version has all its traffic); rolls back and throws on a failure. */
  private async verify(v: VertexBridgeVerification, before: Record<string, number> | undefined): Promise<void> {
    const endpointName = this.names.endpoint;
    const id = this.request.deployment.deployedModelId;
    const endpoint = await call('verify', endpointName, () => this.getEndpoint());
    const { host, kind } = predictionHost(endpoint, this.request.location);
    const client = this.clients.prediction(host);
    this.log(`verify ${endpointName}: ${v.samples.length} sample(s) by rawPredict to ${host} (${kind}); deployed model ${id} has the traffic`);
    const timeout = v.latencyBudgetMs + 30_000;
    const send: SendSample = async sample => {
      const request = rawPredictRequest(this.request, sample.requestJson);
      try {
        // The endpoint id header: what Vertex routes gRPC predictions to a dedicated private endpoint by.
        const [body] = await client.rawPredict(request, { timeout, otherArgs: { headers: { 'x-vertex-ai-endpoint-id': this.request.endpointId } } });
        return { status: 200, body: Buffer.from(body.data ?? new Uint8Array()).toString('utf8') };
      } catch (e) {
        const { code, message } = apiError(e);
        throw new Error(`${codeText(code)}${message}`, { cause: e });
      }
    };
    const failures = await checkSamples(samplesToCheck(v), v.latencyBudgetMs, send);
    if (failures.length === 0) {
      this.log(`verify ${endpointName}: ${v.samples.length} sample(s) answered correctly`);
      return;
    }
    let outcome: string;
    try {
      outcome = await this.rollBack(before);
    } catch (e) {
      outcome = `and the rollback failed (${(e as Error).message}); apply again: the next run checks the samples again and rolls back`;
    }
    throw new VerificationError(verificationFailedMessage(`deployed model ${id} (Model ${this.request.model.modelId}) on ${endpointName}`, failures, outcome));
  }

  /**
   * Gives the traffic back to what had it before this run, then undeploys the new deployed model and
   * deletes its Model. Returns what it did, for the failure message.
   */
  private async rollBack(before: Record<string, number> | undefined): Promise<string> {
    const endpointName = this.names.endpoint;
    const id = this.request.deployment.deployedModelId;
    const endpoint = await call('rollback', endpointName, () => this.getEndpoint());
    const others = (endpoint.deployedModels ?? []).map(d => d.id!).filter(d => d !== id);
    let restore: Record<string, number>;
    if (before !== undefined) {
      const kept = Object.keys(before).filter(k => k !== id && before[k] > 0 && others.includes(k)).sort();
      restore = shareOut(kept, kept.map(k => before[k]));
    } else {
      // It had all the traffic when this run began: back to this deployment's other versions, if any.
      const owned = await this.ownedModelIds('rollback');
      const previous = (endpoint.deployedModels ?? []).filter(d => d.id !== id && owned.has(lastSegment(d.model))).map(d => d.id!).sort();
      if (previous.length === 0) {
        return `nothing was changed: deployed model ${id} already had all the traffic before this run (a changed sample, or a run after an interrupted one) and there is no previous version to go back to`;
      }
      restore = shareOut(previous, previous.map(() => 0));
    }
    if (others.length > 0) {
      const request = this.checked('UpdateEndpointRequest', trafficSplitRequest(endpoint, restore), 'rollback', endpointName);
      await call('rollback', endpointName, () => this.clients.endpoints.updateEndpoint(request));
      this.log(`rollback ${endpointName}: traffic ${JSON.stringify(restore)} again`);
    }
    await this.undeploy(await call('rollback', endpointName, () => this.getEndpoint()), id);
    await this.deleteModel(this.names.model);
    const traffic = Object.keys(restore).length
      ? `the traffic is back on ${JSON.stringify(restore)}`
      : 'nothing had traffic before (a first deploy), so the endpoint serves nothing';
    return `rolled back: ${traffic}; deployed model ${id} was undeployed and Model ${this.request.model.modelId} deleted`;
  }

  /** The ids of every Model with this deployment's owner label. */
  private async ownedModelIds(step: Step): Promise<Set<string>> {
    const { parent } = this.names;
    const filter = `labels.${VERTEX_OWNER_LABEL}="${this.request.owner}"`;
    const [owned] = await call(step, `${parent}/models (${filter})`, () => this.clients.models.listModels({ parent, filter }));
    return new Set(owned.map(m => lastSegment(m.name)));
  }

  /**
   * Undeploys every deployed model on this endpoint whose Model carries this deployment's owner label,
   * then deletes those Models; all but `keep` (the new version, in create).
   */
  public async retireOwned(keep?: { readonly modelId: string; readonly deployedModelId: string }): Promise<void> {
    const { parent, endpoint: endpointName } = this.names;
    const owned = new Set([...await this.ownedModelIds('undeploy')].filter(id => id !== keep?.modelId));
    if (owned.size === 0) {
      if (!keep) this.log(`retire ${endpointName}: no Model with the owner label ${this.request.owner}`);
      return;
    }
    const endpoint = await callOrNotFound('undeploy', endpointName, () => this.getEndpoint());
    if (!endpoint) this.log(`undeploy ${endpointName}: the endpoint is gone`);
    for (const d of endpoint?.deployedModels ?? []) {
      if (d.id !== keep?.deployedModelId && owned.has(lastSegment(d.model))) await this.undeploy(await call('undeploy', endpointName, () => this.getEndpoint()), d.id!);
    }
    for (const modelId of [...owned].sort()) await this.deleteModel(`${parent}/models/${modelId}`);
  }

  // ---- shared ---------------------------------------------------------------------------------

  private async undeploy(endpoint: IEndpoint, deployedModelId: string): Promise<void> {
    const where = `${this.names.endpoint} deployed model ${deployedModelId}`;
    const request = this.checked('UndeployModelRequest', undeployModelRequest(endpoint, deployedModelId), 'undeploy', where);
    const done = await callOrNotFound('undeploy', where, async () => {
      const [operation] = await this.clients.endpoints.undeployModel(request);
      this.log(`undeploy ${where}: started ${operation.name}`);
      await operation.promise();
      return true;
    });
    this.log(`undeploy ${where}: ${done ? 'undeployed' : 'not deployed'}`);
  }

  private async deleteModel(name: string): Promise<void> {
    const done = await callOrNotFound('delete', name, async () => {
      const [operation] = await this.clients.models.deleteModel({ name });
      this.log(`delete ${name}: started ${operation.name}`);
      await operation.promise();
      return true;
    });
    this.log(`delete ${name}: ${done ? 'deleted' : 'not there'}`);
  }

  private async getModel(name: string): Promise<IModel> {
    return (await this.clients.models.getModel({ name }))[0];
  }

  private async getEndpoint(): Promise<IEndpoint> {
    return (await this.clients.endpoints.getEndpoint({ name: this.names.endpoint }))[0];
  }

  /** The Model under the fixed id must be this request's: the id is derived from the content. */
  private checkSameModel(existing: IModel): void {
    const want = modelPayload(this.request);
    const pick = (m: IModel) => ({
      artifactUri: m.artifactUri ?? '',
      imageUri: m.containerSpec?.imageUri ?? '',
      predictRoute: m.containerSpec?.predictRoute ?? '',
      healthRoute: m.containerSpec?.healthRoute ?? '',
      ports: (m.containerSpec?.ports ?? []).map(p => p.containerPort),
      env: Object.fromEntries((m.containerSpec?.env ?? []).map(e => [e.name, e.value ?? ''])),
      owner: (m.labels ?? {})[VERTEX_OWNER_LABEL] ?? '',
    });
    const diff = differences(pick(want), pick(existing));
    if (diff.length) {
      throw new StepError('upload', this.names.model, Code.ALREADY_EXISTS,
        `a Model with this id exists with other content (${diff.join('; ')}); its id is derived from the model, so it was not made by this deployment`);
    }
  }

  private checkSameDeployment(existing: IDeployedModel, where: string): void {
    const want = deployModelRequest(this.request).deployedModel!;
    const pick = (d: IDeployedModel) => ({
      model: lastSegment(d.model),
      machineType: d.dedicatedResources?.machineSpec?.machineType ?? '',
      acceleratorType: String(d.dedicatedResources?.machineSpec?.acceleratorType ?? 'ACCELERATOR_TYPE_UNSPECIFIED'),
      acceleratorCount: d.dedicatedResources?.machineSpec?.acceleratorCount ?? 0,
      minReplicaCount: d.dedicatedResources?.minReplicaCount ?? 0,
      maxReplicaCount: d.dedicatedResources?.maxReplicaCount ?? 0,
    });
    const diff = differences(pick(want), pick(existing));
    if (diff.length) {
      throw new StepError('deploy', where, Code.ALREADY_EXISTS, `the endpoint has a deployed model with this id and other settings (${diff.join('; ')})`);
    }
  }

  /**
   * The client validates nothing (protobufjs' fromObject drops an unknown enum name or a misspelt
   * field, truncates 1.7 to 1, passes 99 through as an enum): check the payload against the proto
   * before sending it, so that a bad value is an error here, naming the field, not a silently
   * different request.
   */
  private checked<T extends object>(typeName: string, payload: T, step: Step, resource: string): T {
    const problems = protoProblems(this.clients.protos, typeName, payload);
    if (problems.length) throw new StepError(step, resource, Code.INVALID_ARGUMENT, `the request does not fit ${typeName}: ${problems.join('; ')} (nothing was sent)`);
    return payload;
  }
}

interface StaticMessage {
  fromObject(o: object): object;
  toObject(m: object, opts: object): Record<string, unknown>;
  verify(m: object): string | null;
}

/** fromObject -> toObject round trip and `verify`: what the proto does not take as given, by path. */
export function protoProblems(protos: Clients['protos'], typeName: string, payload: object): string[] {
  const type = (protos.google.cloud.aiplatform.v1 as unknown as Record<string, StaticMessage>)[typeName];
  const message = type.fromObject(payload);
  const verified = type.verify(message);
  const back = type.toObject(message, { enums: String, longs: String, defaults: false });
  return [...(verified ? [verified] : []), ...differences(normalise(payload), normalise(back))];
}

/** Drops undefined, null, empty lists and empty maps (what a proto round trip does not keep). */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normalise(x);
      if (n === undefined || n === null || (Array.isArray(n) && n.length === 0)) continue;
      if (typeof n === 'object' && !Array.isArray(n) && Object.keys(n as object).length === 0) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}

/** `path: expected X, found Y` for every leaf that differs. */
export function differences(want: unknown, got: unknown, at = ''): string[] {
  if (want !== null && got !== null && typeof want === 'object' && typeof got === 'object' && Array.isArray(want) === Array.isArray(got)) {
    const keys = [...new Set([...Object.keys(want as object), ...Object.keys(got as object)])].sort();
    return keys.flatMap(k => differences((want as Record<string, unknown>)[k], (got as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(want) === JSON.stringify(got) ? [] : [`${at || '(value)'}: expected ${JSON.stringify(want) ?? 'nothing'}, found ${JSON.stringify(got) ?? 'nothing'}`];
}
