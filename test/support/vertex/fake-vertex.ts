/**
 * A fake Vertex AI API on 127.0.0.1: a plaintext gRPC server built only from the .proto files that
 * @google-cloud/aiplatform and google-gax ship (./protos.ts). It stands in for the network boundary
 * and nothing else: the bridge and the official client on the other side are the real ones, and the
 * bytes between them are Vertex's wire format.
 *
 * It serves ModelService UploadModel, GetModel, ListModels (label filters only) and DeleteModel,
 * EndpointService GetEndpoint, DeployModel, UndeployModel and UpdateEndpoint,
 * PredictionService RawPredict (routed by the endpoint's traffic split to a deployed model, whose
 * Model answers with the function `answerFor` set for it), and google.longrunning.Operations
 * GetOperation. The LRO methods return an unfinished operation; the
 * change is made (or fails) when a GetOperation polls it. It keeps state (models, endpoints with their
 * deployed models and traffic split, etags) and a log of every call and every change, and refuses like
 * the service does: INVALID_ARGUMENT for fields or values the proto does not know and for missing
 * REQUIRED fields (read from the .proto sources), and the service's documented rules (a traffic split
 * adds up to 100 and names deployed models only; a model with traffic is undeployed only with a split
 * that takes it away; a deployed model's Model cannot be deleted; an etag must match).
 *
 * Resource names come back with a project NUMBER, as Vertex returns them; requests may use the
 * project id or the number.
 */
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { V1, requestProblems, vertexProtoRoot } from './protos';

export const Status = grpc.status;
type Obj = Record<string, any>;

export interface FakeVertexOptions {
  readonly project?: string;
  readonly projectNumber?: string;
  readonly location?: string;
  /** endpoints that exist from the start (Terraform's google_vertex_ai_endpoint made them) */
  readonly endpoints?: readonly { readonly id: string; readonly displayName?: string }[];
}

/**
 * How a Model answers a RawPredict: the request body (text) to the response body (text), after
 * `delayMs` (see answerFor).
 */
export type Predictor = (body: string) => string;

export interface CallRecord {
  /** e.g. 'DeployModel', 'GetOperation' */
  readonly method: string;
  /** the request as decoded (enums as names, 64-bit numbers as strings) */
  readonly request: Obj;
  /** 'OK' or the gRPC status name */
  readonly status: string;
  readonly message?: string;
  /** the call's metadata keys (never values: an `authorization` value would be a token) */
  readonly metadataKeys: readonly string[];
  /** the x-goog-request-params routing header, decoded */
  readonly routing?: string;
}

/** A change the fake made to its state, in order. */
export type FakeEvent =
  | { readonly kind: 'uploaded'; readonly modelId: string }
  | { readonly kind: 'deployed'; readonly endpointId: string; readonly deployedModelId: string; readonly modelId: string }
  | { readonly kind: 'traffic'; readonly endpointId: string; readonly split: Readonly<Record<string, number>> }
  | { readonly kind: 'undeployed'; readonly endpointId: string; readonly deployedModelId: string }
  | { readonly kind: 'deleted'; readonly modelId: string }
  | { readonly kind: 'predicted'; readonly endpointId: string; readonly deployedModelId: string; readonly modelId: string };

export interface Injection {
  readonly method: 'UploadModel' | 'DeployModel' | 'UndeployModel' | 'DeleteModel' | 'UpdateEndpoint' | 'GetEndpoint' | 'GetModel' | 'ListModels';
  /** the Nth call of `method` from now on (1-based, default 1) */
  readonly nth?: number;
  /** 'call': the call itself fails; 'operation': its LRO completes with the error (default for LRO methods) */
  readonly at?: 'call' | 'operation';
  readonly code: grpc.status;
  readonly message: string;
}

interface EndpointState {
  displayName: string;
  deployedModels: Obj[];
  trafficSplit: Record<string, number>;
  etag: string;
}

interface PendingOperation {
  readonly name: string;
  readonly responseType: string;
  /** makes the change; returns the response object, or throws a FakeError */
  readonly complete: () => Obj;
  readonly failWith?: { code: grpc.status; message: string };
  done?: Obj;
}

class FakeError extends Error {
  constructor(public readonly code: grpc.status, message: string) {
    super(message);
  }
}

const LRO_METHODS = new Set(['UploadModel', 'DeployModel', 'UndeployModel', 'DeleteModel']);
const TRAFFIC_METRICS = new Set([
  'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle',
  'aiplatform.googleapis.com/prediction/online/cpu/utilization',
]);

export class FakeVertex {
  public static async start(opts: FakeVertexOptions = {}): Promise<FakeVertex> {
    const fake = new FakeVertex(opts);
    await fake.listen();
    return fake;
  }

  public readonly project: string;
  public readonly projectNumber: string;
  public readonly location: string;
  public readonly calls: CallRecord[] = [];
  public readonly events: FakeEvent[] = [];
  /** modelId -> Model (as GetModel returns it) */
  public readonly models = new Map<string, Obj>();
  public readonly endpoints = new Map<string, EndpointState>();
  /** modelId -> how it answers RawPredict, and after how many milliseconds */
  public readonly predictors = new Map<string, { answer: Predictor; delayMs: number }>();
  public port = 0;

  private readonly root: protobuf.Root;
  private readonly server = new grpc.Server();
  private readonly operations = new Map<string, PendingOperation>();
  private injections: (Injection & { remaining: number })[] = [];
  private readonly callCounts = new Map<string, number>();
  private sequence = 0;

  private constructor(opts: FakeVertexOptions) {
    this.project = opts.project ?? 'md-test-project';
    this.projectNumber = opts.projectNumber ?? '123456789012';
    this.location = opts.location ?? 'europe-west4';
    for (const e of opts.endpoints ?? []) this.addEndpoint(e.id, e.displayName);
    this.root = vertexProtoRoot();
  }

  /** `127.0.0.1:<port>`, for the bridge's test seam */
  public get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  public addEndpoint(id: string, displayName = `endpoint-${id}`): void {
    this.endpoints.set(id, { displayName, deployedModels: [], trafficSplit: {}, etag: this.nextEtag() });
  }

  /** How the Model `modelId` answers RawPredict (once deployed and given traffic). */
  public answerFor(modelId: string, answer: Predictor, delayMs = 0): void {
    this.predictors.set(modelId, { answer, delayMs });
  }

  /** Fail a later call (see Injection). */
  public inject(i: Injection): void {
    const at = i.at ?? (LRO_METHODS.has(i.method) ? 'operation' : 'call');
    this.injections.push({ ...i, at, remaining: i.nth ?? 1 });
  }

  /** the calls of one method, or of all but GetOperation */
  public callsOf(method?: string): CallRecord[] {
    return this.calls.filter(c => (method ? c.method === method : c.method !== 'GetOperation'));
  }

  public endpoint(id: string): EndpointState {
    const e = this.endpoints.get(id);
    if (!e) throw new Error(`the fake has no endpoint ${id}`);
    return e;
  }

  /** Stops the server: a graceful shutdown for up to a second, then a forced one. */
  public async stop(): Promise<void> {
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.server.forceShutdown();
  }

  // ---- server ---------------------------------------------------------------------------------

  private async listen(): Promise<void> {
    const services: Record<string, Record<string, (req: Obj, method: string) => Obj | Promise<Obj>>> = {
      [`${V1}.ModelService`]: {
        UploadModel: r => this.uploadModel(r),
        GetModel: r => this.getModel(r),
        ListModels: r => this.listModels(r),
        DeleteModel: r => this.deleteModel(r),
      },
      [`${V1}.EndpointService`]: {
        GetEndpoint: r => this.getEndpoint(r),
        DeployModel: r => this.deployModel(r),
        UndeployModel: r => this.undeployModel(r),
        UpdateEndpoint: r => this.updateEndpoint(r),
      },
      [`${V1}.PredictionService`]: { RawPredict: r => this.rawPredict(r) },
      'google.longrunning.Operations': { GetOperation: r => this.getOperation(r) },
    };
    for (const [serviceName, handlers] of Object.entries(services)) {
      const service = this.root.lookupService(serviceName);
      const definition: Record<string, grpc.MethodDefinition<Buffer, Obj>> = {};
      const impl: grpc.UntypedServiceImplementation = {};
      for (const [name, handler] of Object.entries(handlers)) {
        const method = service.methods[name];
        const requestType = method.resolvedRequestType!;
        const responseType = method.resolvedResponseType!;
        definition[name] = {
          path: `/${serviceName}/${name}`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (o: Obj) => Buffer.from(responseType.encode(responseType.fromObject(o)).finish()),
          responseDeserialize: (b: Buffer) => b,
        };
        impl[name] = async (call: grpc.ServerUnaryCall<Buffer, Obj>, callback: grpc.sendUnaryData<Obj>) => {
          let request: Obj = {};
          const metadataKeys = Object.keys(call.metadata.getMap()).sort();
          const routingHeader = call.metadata.get('x-goog-request-params')[0];
          const routing = routingHeader === undefined ? undefined : decodeURIComponent(String(routingHeader));
          try {
            const { message, problems } = requestProblems(requestType, call.request);
            request = requestType.toObject(message, { enums: String, longs: String, bytes: String, defaults: false });
            if (problems.length) throw new FakeError(Status.INVALID_ARGUMENT, `Invalid request: ${problems.join('; ')}`);
            this.injected(name, 'call');
            const response = await handler(request, name);
            this.calls.push({ method: name, request, status: 'OK', metadataKeys, routing });
            callback(null, response);
          } catch (e) {
            const code = e instanceof FakeError ? e.code : Status.INTERNAL;
            const message = (e as Error).message;
            this.calls.push({ method: name, request, status: Status[code], message, metadataKeys, routing });
            callback({ code, details: message });
          }
        };
      }
      this.server.addService(definition, impl);
    }
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  }

  /** Throws the injected error for the Nth call of `method` at `at`, if one is due. */
  private injected(method: string, at: 'call' | 'operation'): { code: grpc.status; message: string } | undefined {
    if (at === 'call') this.callCounts.set(method, (this.callCounts.get(method) ?? 0) + 1);
    for (const i of this.injections) {
      if (i.method !== method || i.at !== at) continue;
      i.remaining -= 1;
      if (i.remaining === 0) {
        this.injections = this.injections.filter(x => x !== i);
        if (at === 'call') throw new FakeError(i.code, i.message);
        return { code: i.code, message: i.message };
      }
    }
    return undefined;
  }

  // ---- names ----------------------------------------------------------------------------------

  private nextEtag(): string {
    this.sequence += 1;
    return `etag-${this.sequence}`;
  }

  private get parentName(): string {
    return `projects/${this.projectNumber}/locations/${this.location}`;
  }

  /** Parses a resource name, with the project as id or number; NOT_FOUND for another project or region. */
  private parse(name: string, collection?: 'models' | 'endpoints'): string {
    const m = /^projects\/([^/]+)\/locations\/([^/]+)(?:\/(models|endpoints)\/([^/]+))?$/.exec(name ?? '');
    if (!m || (collection ? m[3] !== collection : m[3] !== undefined)) {
      throw new FakeError(Status.INVALID_ARGUMENT, `Invalid resource name: ${JSON.stringify(name)}`);
    }
    if ((m[1] !== this.project && m[1] !== this.projectNumber) || m[2] !== this.location) {
      throw new FakeError(Status.NOT_FOUND, `${name} not found (the fake serves ${this.project} in ${this.location})`);
    }
    return m[4] ?? '';
  }

  private endpointFor(name: string): [string, EndpointState] {
    const id = this.parse(name, 'endpoints');
    const e = this.endpoints.get(id);
    if (!e) throw new FakeError(Status.NOT_FOUND, `Endpoint ${name} not found.`);
    return [id, e];
  }

  private endpointView(id: string, e: EndpointState): Obj {
    return {
      name: `${this.parentName}/endpoints/${id}`,
      displayName: e.displayName,
      deployedModels: e.deployedModels,
      trafficSplit: e.trafficSplit,
      etag: e.etag,
    };
  }

  private operation(resource: string, responseType: string, complete: () => Obj, method: string): Obj {
    this.sequence += 1;
    const name = `${resource}/operations/${1000 + this.sequence}`;
    this.operations.set(name, { name, responseType, complete, failWith: this.injected(method, 'operation') });
    return { name, done: false };
  }

  // ---- ModelService ---------------------------------------------------------------------------

  private uploadModel(r: Obj): Obj {
    this.parse(r.parent);
    const model = r.model as Obj;
    const modelId: string = r.modelId || `${1_000_000 + this.sequence}`;
    if (!/^[a-z_][a-z0-9_-]{0,62}$/.test(modelId)) throw new FakeError(Status.INVALID_ARGUMENT, `Invalid model_id ${JSON.stringify(modelId)}.`);
    if (r.parentModel) throw new FakeError(Status.UNIMPLEMENTED, 'The fake does not upload model versions (parent_model).');
    if (this.models.has(modelId)) throw new FakeError(Status.ALREADY_EXISTS, `Model ${this.parentName}/models/${modelId} already exists.`);
    if (!model.artifactUri?.startsWith('gs://')) throw new FakeError(Status.INVALID_ARGUMENT, 'Model.artifact_uri must be a gs:// URI.');
    const name = `${this.parentName}/models/${modelId}`;
    return this.operation(name, `${V1}.UploadModelResponse`, () => {
      if (this.models.has(modelId)) throw new FakeError(Status.ALREADY_EXISTS, `Model ${name} already exists.`);
      this.models.set(modelId, { ...model, name, versionId: '1', deployedModels: [] });
      this.events.push({ kind: 'uploaded', modelId });
      return { model: name, modelVersionId: '1' };
    }, 'UploadModel');
  }

  private getModel(r: Obj): Obj {
    const id = this.parse(r.name, 'models');
    const m = this.models.get(id);
    if (!m) throw new FakeError(Status.NOT_FOUND, `Model ${r.name} not found.`);
    return m;
  }

  private listModels(r: Obj): Obj {
    this.parse(r.parent);
    const filter: string = r.filter ?? '';
    let match: (m: Obj) => boolean = () => true;
    if (filter) {
      const f = /^labels\.([a-z][a-z0-9_-]*)\s*=\s*"?([a-z0-9_-]*)"?$/.exec(filter);
      if (!f) throw new FakeError(Status.INVALID_ARGUMENT, `The fake understands only labels.KEY="VALUE" filters, not ${JSON.stringify(filter)}.`);
      match = m => (m.labels ?? {})[f[1]] === f[2];
    }
    return { models: [...this.models.values()].filter(match) };
  }

  private deleteModel(r: Obj): Obj {
    const id = this.parse(r.name, 'models');
    const m = this.models.get(id);
    if (!m) throw new FakeError(Status.NOT_FOUND, `Model ${r.name} not found.`);
    const check = () => {
      const deployed = [...this.endpoints.entries()].flatMap(([eid, e]) => e.deployedModels.filter(d => d.model.endsWith(`/models/${id}`)).map(d => `${eid}/${d.id}`));
      if (deployed.length) throw new FakeError(Status.FAILED_PRECONDITION, `Model ${m.name} is deployed (${deployed.join(', ')}); undeploy it before deleting.`);
    };
    check();
    return this.operation(m.name, 'google.protobuf.Empty', () => {
      check();
      this.models.delete(id);
      this.events.push({ kind: 'deleted', modelId: id });
      return {};
    }, 'DeleteModel');
  }

  // ---- EndpointService ------------------------------------------------------------------------

  private getEndpoint(r: Obj): Obj {
    const [id, e] = this.endpointFor(r.name);
    return this.endpointView(id, e);
  }

  private checkSplit(e: EndpointState, split: Record<string, number>, extra: string[] = [], without?: string): void {
    const ids = new Set([...e.deployedModels.map(d => d.id as string).filter(id => id !== without), ...extra]);
    const unknown = Object.keys(split).filter(k => !ids.has(k));
    if (unknown.length) throw new FakeError(Status.INVALID_ARGUMENT, `traffic_split names deployed models the endpoint does not have: ${unknown.join(', ')}.`);
    const sum = Object.values(split).reduce((a, b) => a + b, 0);
    if (Object.values(split).some(v => v < 0 || v > 100) || sum !== 100) {
      throw new FakeError(Status.INVALID_ARGUMENT, `The traffic_split percentages must add up to 100 (they add up to ${sum}).`);
    }
  }

  private deployModel(r: Obj): Obj {
    const [eid, e] = this.endpointFor(r.endpoint);
    const dm = r.deployedModel as Obj;
    const id: string = dm.id || `${4_000_000_000 + this.sequence}`;
    if (!/^[0-9]{1,10}$/.test(id)) throw new FakeError(Status.INVALID_ARGUMENT, `DeployedModel.id ${JSON.stringify(id)} must be 1-10 digits.`);
    const modelId = this.parse(dm.model, 'models');
    const model = this.models.get(modelId);
    if (!model) throw new FakeError(Status.NOT_FOUND, `Model ${dm.model} not found.`);
    const res = dm.dedicatedResources as Obj | undefined;
    if (!res) throw new FakeError(Status.INVALID_ARGUMENT, 'Model requires dedicated_resources: it does not support automatic or shared resources.');
    const ms = res.machineSpec as Obj;
    if (!ms.machineType) throw new FakeError(Status.INVALID_ARGUMENT, 'machine_spec.machine_type is required.');
    if ((ms.acceleratorCount ?? 0) > 0 !== (ms.acceleratorType !== undefined && ms.acceleratorType !== 'ACCELERATOR_TYPE_UNSPECIFIED')) {
      throw new FakeError(Status.INVALID_ARGUMENT, `machine_spec: accelerator_type ${ms.acceleratorType ?? 'ACCELERATOR_TYPE_UNSPECIFIED'} with accelerator_count ${ms.acceleratorCount ?? 0}.`);
    }
    if ((res.maxReplicaCount ?? 0) !== 0 && res.maxReplicaCount < res.minReplicaCount) {
      throw new FakeError(Status.INVALID_ARGUMENT, 'max_replica_count must not be below min_replica_count.');
    }
    for (const s of res.autoscalingMetricSpecs ?? []) {
      if (!TRAFFIC_METRICS.has(s.metricName)) throw new FakeError(Status.INVALID_ARGUMENT, `Unsupported autoscaling metric ${s.metricName}.`);
    }
    if (e.deployedModels.some(d => d.id === id) || [...this.operations.values()].some(o => !o.done && o.name.startsWith(`${this.parentName}/endpoints/${eid}/deployedModels/${id}/`))) {
      throw new FakeError(Status.ALREADY_EXISTS, `DeployedModel ${id} already exists in Endpoint ${r.endpoint}.`);
    }
    const split = r.trafficSplit as Record<string, number> | undefined;
    if (split && Object.keys(split).length) this.checkSplit(e, split, ['0']);
    return this.operation(`${this.parentName}/endpoints/${eid}/deployedModels/${id}`, `${V1}.DeployModelResponse`, () => {
      if (!this.models.has(modelId)) throw new FakeError(Status.NOT_FOUND, `Model ${dm.model} not found.`);
      const deployed = { ...dm, id, model: `${this.parentName}/models/${modelId}`, modelVersionId: '1' };
      e.deployedModels.push(deployed);
      this.models.get(modelId)!.deployedModels.push({ endpoint: `${this.parentName}/endpoints/${eid}`, deployedModelId: id });
      this.events.push({ kind: 'deployed', endpointId: eid, deployedModelId: id, modelId });
      if (split && Object.keys(split).length) this.setSplit(eid, e, Object.fromEntries(Object.entries(split).map(([k, v]) => [k === '0' ? id : k, v])));
      else e.etag = this.nextEtag();
      return { deployedModel: deployed };
    }, 'DeployModel');
  }

  private setSplit(eid: string, e: EndpointState, split: Record<string, number>): void {
    e.trafficSplit = Object.fromEntries(Object.entries(split).filter(([, v]) => v > 0));
    e.etag = this.nextEtag();
    this.events.push({ kind: 'traffic', endpointId: eid, split: { ...e.trafficSplit } });
  }

  private undeployModel(r: Obj): Obj {
    const [eid, e] = this.endpointFor(r.endpoint);
    const id: string = r.deployedModelId;
    const check = () => {
      if (!e.deployedModels.some(d => d.id === id)) throw new FakeError(Status.NOT_FOUND, `DeployedModel ${id} not found in Endpoint ${r.endpoint}.`);
      const split = r.trafficSplit as Record<string, number> | undefined;
      const last = e.deployedModels.length === 1;
      if (split && Object.keys(split).length && !last) this.checkSplit(e, split, [], id);
      else if ((e.trafficSplit[id] ?? 0) > 0 && !last) {
        throw new FakeError(Status.FAILED_PRECONDITION, `DeployedModel ${id} has ${e.trafficSplit[id]}% of the traffic; give it to others in traffic_split first.`);
      }
      return { split, last };
    };
    check();
    return this.operation(`${this.parentName}/endpoints/${eid}/deployedModels/${id}`, `${V1}.UndeployModelResponse`, () => {
      const { split, last } = check();
      const dm = e.deployedModels.find(d => d.id === id)!;
      e.deployedModels = e.deployedModels.filter(d => d.id !== id);
      const model = this.models.get(dm.model.split('/').pop());
      if (model) model.deployedModels = model.deployedModels.filter((ref: Obj) => ref.deployedModelId !== id);
      this.events.push({ kind: 'undeployed', endpointId: eid, deployedModelId: id });
      if (last) this.setSplit(eid, e, {});
      else if (split && Object.keys(split).length) this.setSplit(eid, e, split);
      else e.etag = this.nextEtag();
      return {};
    }, 'UndeployModel');
  }

  private updateEndpoint(r: Obj): Obj {
    const [eid, e] = this.endpointFor(r.endpoint.name);
    const paths: string[] = r.updateMask.paths ?? [];
    const unsupported = paths.filter(p => p !== 'traffic_split' && p !== 'display_name');
    if (unsupported.length) throw new FakeError(Status.UNIMPLEMENTED, `The fake updates only traffic_split and display_name, not ${unsupported.join(', ')}.`);
    if (r.endpoint.etag && r.endpoint.etag !== e.etag) throw new FakeError(Status.ABORTED, `Endpoint ${r.endpoint.name} has changed (etag ${r.endpoint.etag} is not ${e.etag}).`);
    if (paths.includes('display_name')) e.displayName = r.endpoint.displayName;
    if (paths.includes('traffic_split')) {
      const split = (r.endpoint.trafficSplit ?? {}) as Record<string, number>;
      // "must add up to 100, or map must be empty if the Endpoint is to not accept any traffic" (endpoint.proto)
      if (Object.keys(split).length) this.checkSplit(e, split);
      this.setSplit(eid, e, split);
    } else e.etag = this.nextEtag();
    return this.endpointView(eid, e);
  }

  // ---- PredictionService ----------------------------------------------------------------------

  /**
   * RawPredict: the deployed model with the largest share of the endpoint's traffic answers (the
   * fake does not split one request stream); no traffic at all is FAILED_PRECONDITION. The body is
   * handed to the Model's predictor as text; the answer comes back as an `application/json` HttpBody.
   */
  private async rawPredict(r: Obj): Promise<Obj> {
    const [eid, e] = this.endpointFor(r.endpoint);
    const [deployedModelId] = Object.entries(e.trafficSplit).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? [];
    if (!deployedModelId) throw new FakeError(Status.FAILED_PRECONDITION, `Endpoint ${r.endpoint} has no deployed model with traffic.`);
    const dm = e.deployedModels.find(d => d.id === deployedModelId)!;
    const modelId = dm.model.split('/').pop()!;
    const predictor = this.predictors.get(modelId);
    if (!predictor) throw new FakeError(Status.UNIMPLEMENTED, `The fake has no predictor for Model ${modelId} (set one with answerFor).`);
    if (r.httpBody?.contentType !== 'application/json') throw new FakeError(Status.INVALID_ARGUMENT, `http_body.content_type ${JSON.stringify(r.httpBody?.contentType)}: the container takes application/json.`);
    const body = Buffer.from(r.httpBody.data ?? '', 'base64').toString('utf8');
    if (predictor.delayMs > 0) await new Promise(resolve => setTimeout(resolve, predictor.delayMs));
    this.events.push({ kind: 'predicted', endpointId: eid, deployedModelId, modelId });
    return { contentType: 'application/json', data: Buffer.from(predictor.answer(body), 'utf8') };
  }

  // ---- Operations -----------------------------------------------------------------------------

  private getOperation(r: Obj): Obj {
    const op = this.operations.get(r.name);
    if (!op) throw new FakeError(Status.NOT_FOUND, `Operation ${r.name} not found.`);
    if (!op.done) {
      try {
        if (op.failWith) throw new FakeError(op.failWith.code, op.failWith.message);
        const response = op.complete();
        const type = this.root.lookupType(op.responseType);
        op.done = { name: op.name, done: true, response: { typeUrl: `type.googleapis.com/${op.responseType}`, value: type.encode(type.fromObject(response)).finish() } };
      } catch (e) {
        const code = e instanceof FakeError ? e.code : Status.INTERNAL;
        op.done = { name: op.name, done: true, error: { code, message: (e as Error).message } };
      }
    }
    return op.done;
  }
}
