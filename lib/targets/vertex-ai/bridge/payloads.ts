/**
 * The bridge's API payloads, built from the plain request and typed against the official client's
 * `protos.google.cloud.aiplatform.v1.I*` types. Type-only imports of the optional peer: this module
 * emits no `require` of it, and no public entry point of the package reaches its declarations.
 */
import type { protos } from '@google-cloud/aiplatform';
import { VERTEX_OWNER_LABEL, VertexBridgeRequest, vertexResourceNames } from '../bridge-request';

type v1 = typeof protos.google.cloud.aiplatform.v1;
export type IModel = protos.google.cloud.aiplatform.v1.IModel;
export type IDeployedModel = protos.google.cloud.aiplatform.v1.IDeployedModel;
export type IEndpoint = protos.google.cloud.aiplatform.v1.IEndpoint;
export type IUploadModelRequest = protos.google.cloud.aiplatform.v1.IUploadModelRequest;
export type IDeployModelRequest = protos.google.cloud.aiplatform.v1.IDeployModelRequest;
export type IUpdateEndpointRequest = protos.google.cloud.aiplatform.v1.IUpdateEndpointRequest;
export type IUndeployModelRequest = protos.google.cloud.aiplatform.v1.IUndeployModelRequest;
export type IRawPredictRequest = protos.google.cloud.aiplatform.v1.IRawPredictRequest;
type AcceleratorTypeName = keyof v1['AcceleratorType'];

/** The labels every Model of this deployment carries. */
export function modelLabels(r: VertexBridgeRequest): Record<string, string> {
  return { ...(r.model.labels ?? {}), [VERTEX_OWNER_LABEL]: r.owner };
}

export function modelPayload(r: VertexBridgeRequest): IModel {
  const c = r.model.container;
  return {
    displayName: r.model.displayName,
    artifactUri: r.model.artifactUri,
    labels: modelLabels(r),
    ...(r.model.encryptionSpec ? { encryptionSpec: { kmsKeyName: r.model.encryptionSpec.kmsKeyName } } : {}),
    containerSpec: {
      imageUri: c.imageUri,
      ...(c.command?.length ? { command: [...c.command] } : {}),
      ...(c.args?.length ? { args: [...c.args] } : {}),
      ...(c.env && Object.keys(c.env).length
        ? { env: Object.keys(c.env).sort().map(name => ({ name, value: c.env![name] })) }
        : {}),
      ports: [{ containerPort: c.port }],
      predictRoute: c.predictRoute,
      healthRoute: c.healthRoute,
    },
  };
}

export function uploadModelRequest(r: VertexBridgeRequest): IUploadModelRequest {
  return { parent: vertexResourceNames(r).parent, modelId: r.model.modelId, model: modelPayload(r) };
}

export function deployedModelPayload(r: VertexBridgeRequest): IDeployedModel {
  const d = r.deployment;
  const ms = d.machineSpec;
  return {
    id: d.deployedModelId,
    model: vertexResourceNames(r).model,
    displayName: d.displayName,
    dedicatedResources: {
      machineSpec: {
        machineType: ms.machineType,
        ...(ms.acceleratorType !== undefined
          ? { acceleratorType: ms.acceleratorType as AcceleratorTypeName, acceleratorCount: ms.acceleratorCount }
          : {}),
      },
      minReplicaCount: d.minReplicaCount,
      maxReplicaCount: d.maxReplicaCount,
      ...(d.autoscalingMetricSpecs.length
        ? { autoscalingMetricSpecs: d.autoscalingMetricSpecs.map(s => ({ metricName: s.metricName, target: s.target })) }
        : {}),
    },
    ...(d.serviceAccount ? { serviceAccount: d.serviceAccount } : {}),
  };
}

/**
 * DeployModel WITHOUT a traffic_split: "If this field is empty, then the Endpoint's traffic_split is
 * not updated" (endpoint_service.proto), so the new DeployedModel gets no traffic until the bridge
 * moves it with UpdateEndpoint once the deploy operation has succeeded.
 */
export function deployModelRequest(r: VertexBridgeRequest): IDeployModelRequest {
  return { endpoint: vertexResourceNames(r).endpoint, deployedModel: deployedModelPayload(r) };
}

/**
 * UpdateEndpoint setting traffic_split to {deployedModelId: 100}: the endpoint's name (which the
 * update addresses), its display_name (REQUIRED in Endpoint) and etag as read, and only the
 * `traffic_split` path in the mask.
 */
export function moveTrafficRequest(endpoint: IEndpoint, deployedModelId: string): IUpdateEndpointRequest {
  return trafficSplitRequest(endpoint, { [deployedModelId]: 100 });
}

/**
 * UpdateEndpoint setting traffic_split to `split` (as moveTrafficRequest). An empty split is
 * allowed: "the map must be empty if the Endpoint is to not accept any traffic" (endpoint.proto).
 */
export function trafficSplitRequest(endpoint: IEndpoint, split: Readonly<Record<string, number>>): IUpdateEndpointRequest {
  return {
    endpoint: {
      name: endpoint.name,
      displayName: endpoint.displayName,
      ...(endpoint.etag ? { etag: endpoint.etag } : {}),
      trafficSplit: { ...split },
    },
    updateMask: { paths: ['traffic_split'] },
  };
}

/**
 * Shares 100% out among `ids` in proportion to `weights` (evenly when they are all 0), in whole
 * percent, the rounding remainder to the first: the split that Vertex takes (it adds up to 100).
 */
export function shareOut(ids: readonly string[], weights: readonly number[]): Record<string, number> {
  if (ids.length === 0) return {};
  const total = weights.reduce((a, b) => a + b, 0);
  const shares = ids.map((_, i) => (total > 0 ? Math.floor((weights[i] * 100) / total) : Math.floor(100 / ids.length)));
  shares[0] += 100 - shares.reduce((a, b) => a + b, 0);
  return Object.fromEntries(ids.map((id, i) => [id, shares[i]]));
}

/**
 * UndeployModel. When the undeployed model still has traffic and others stay deployed, the others get
 * its share in proportion to what they have (evenly when they have none): Vertex undeploys a model
 * that holds traffic only when the request's traffic_split takes the traffic away from it.
 */
export function undeployModelRequest(endpoint: IEndpoint, deployedModelId: string): IUndeployModelRequest {
  const name = endpoint.name!;
  const split = endpoint.trafficSplit ?? {};
  const others = (endpoint.deployedModels ?? []).map(d => d.id!).filter(id => id !== deployedModelId).sort();
  if (!(split[deployedModelId] > 0) || others.length === 0) return { endpoint: name, deployedModelId };
  return { endpoint: name, deployedModelId, trafficSplit: shareOut(others, others.map(id => split[id] ?? 0)) };
}

/**
 * RawPredict with a sample's request body as-is (`application/json`): the same bytes every target
 * sends. RawPredictRequest has no deployed_model_id: Vertex routes it by the endpoint's traffic_split.
 */
export function rawPredictRequest(r: VertexBridgeRequest, requestJson: string): IRawPredictRequest {
  return { endpoint: vertexResourceNames(r).endpoint, httpBody: { contentType: 'application/json', data: Buffer.from(requestJson, 'utf8') } };
}
