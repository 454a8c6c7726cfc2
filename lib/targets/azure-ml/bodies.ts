/**
 * The request bodies this target writes into `azapi_resource`, typed for
 * Microsoft.MachineLearningServices API version 2024-10-01 (the Bicep type data azapi validates
 * against). Our own interfaces: the library does not depend on @azure/arm-machinelearning, whose
 * newest release targets 2022-10-01 and lacks startupProbe and mirrorTraffic (test/azure-ml/sdk-types.test.ts
 * checks these types against its interfaces, where it has the fields). Only the fields the
 * target writes are here. azapi merges `name`, `location`, `tags` and `identity` into the body
 * from the resource's own attributes, so they are not part of these bodies.
 *
 * Durations are ISO-8601 (`PT5S`), counts are integers, and the enums are the closed sets of values
 * Azure accepts (the type data leaves them open-ended).
 */

/** The API version every body here is written for. */
export const AZURE_ML_API_VERSION = '2024-10-01';

/** Resource types, with the API version, as azapi's `type` takes them. */
export const AZURE_ML_TYPES = {
  /** A model version. */
  modelVersion: `Microsoft.MachineLearningServices/workspaces/models/versions@${AZURE_ML_API_VERSION}`,
  /** An environment version. */
  environmentVersion: `Microsoft.MachineLearningServices/workspaces/environments/versions@${AZURE_ML_API_VERSION}`,
  /** An online endpoint. */
  onlineEndpoint: `Microsoft.MachineLearningServices/workspaces/onlineEndpoints@${AZURE_ML_API_VERSION}`,
  /** A deployment of an online endpoint. */
  onlineDeployment: `Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments@${AZURE_ML_API_VERSION}`,
} as const;

/** `authMode` of an online endpoint. */
export type EndpointAuthMode = 'Key' | 'AMLToken' | 'AADToken';
/** `publicNetworkAccess` / `egressPublicNetworkAccess`. */
export type PublicNetworkAccess = 'Enabled' | 'Disabled';
/** `modelType` of a model version. */
export type ModelType = 'custom_model' | 'mlflow_model' | 'triton_model';

/** An HTTP route of the inference container. */
export interface Route {
  /** An absolute path. */
  readonly path: string;
  /** An integer port. */
  readonly port: number;
}

/** `properties.inferenceConfig` of an environment version. */
export interface InferenceContainerProperties {
  /** The route of the liveness probe. @default - none */
  readonly livenessRoute?: Route;
  /** The route of the readiness probe. @default - none */
  readonly readinessRoute?: Route;
  /** The route that scoring requests go to. @default - none */
  readonly scoringRoute?: Route;
  /** The route of the startup probe. @default - none */
  readonly startupRoute?: Route;
}

/** A model version (`workspaces/models/versions`); Azure creates the model (its parent) with its first version. */
export interface ModelVersionBody {
  /** The version's properties. */
  readonly properties: {
    /** The kind of model (this target writes `custom_model`). */
    readonly modelType: ModelType;
    /** Where the files are: `https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX/` or `azureml://...`. */
    readonly modelUri: string;
    /** A description. @default - none */
    readonly description?: string;
    /** Tags on the version. @default - none */
    readonly tags?: Record<string, string>;
    /** Whether the version is anonymous (hidden in the studio's model list). @default false */
    readonly isAnonymous?: boolean;
  };
}

/** An environment version (`workspaces/environments/versions`): an image and its routes; the environment comes with its first version. */
export interface EnvironmentVersionBody {
  /** The version's properties. */
  readonly properties: {
    /** The container image reference. */
    readonly image: string;
    /** The image's operating system. */
    readonly osType: 'Linux';
    /** The container's routes. */
    readonly inferenceConfig: InferenceContainerProperties;
    /** A description. @default - none */
    readonly description?: string;
    /** Tags on the version. @default - none */
    readonly tags?: Record<string, string>;
  };
}

/** An online endpoint (`workspaces/onlineEndpoints`). `traffic` is set later, once the deployments exist. */
export interface OnlineEndpointBody {
  /** The endpoint's properties. */
  readonly properties: {
    /** How callers authenticate. */
    readonly authMode: EndpointAuthMode;
    /** Whether the endpoint answers from public networks. */
    readonly publicNetworkAccess: PublicNetworkAccess;
    /** A description. @default - none */
    readonly description?: string;
  };
}

/**
 * The whole endpoint as a PUT sends it (ARM's endpoint PATCH takes only tags and identity): what
 * the destroy-time traffic drain writes, with `traffic` empty.
 */
export interface OnlineEndpointPutBody {
  /** The endpoint's Azure region. */
  readonly location: string;
  /** The endpoint's identity, as it was created. */
  readonly identity: {
    /** The identity kind. */
    readonly type: 'UserAssigned';
    /** The user-assigned identity's resource id, to an empty object. */
    readonly userAssignedIdentities: Record<string, Record<string, never>>;
  };
  /** Tags on the endpoint. @default - none */
  readonly tags?: Record<string, string>;
  /** The endpoint's properties, with the traffic split. */
  readonly properties: OnlineEndpointBody['properties'] & {
    /** Deployment name to percent (empty: no traffic). */
    readonly traffic: Record<string, number>;
  };
}

/** The traffic split, written by an `azapi_update_resource` on the endpoint. */
export interface OnlineEndpointTrafficBody {
  /** The part of the endpoint's properties that this body sets. */
  readonly properties: {
    /** Deployment name to percent (integers summing to 100). */
    readonly traffic: Record<string, number>;
  };
}

/** Probe timings (the route is the environment's). */
export interface ProbeSettings {
  /** ISO-8601 duration, e.g. `PT10S`. */
  readonly initialDelay: string;
  /** ISO-8601 duration. */
  readonly period: string;
  /** ISO-8601 duration. */
  readonly timeout: string;
  /** Integer. */
  readonly failureThreshold: number;
  /** Integer. */
  readonly successThreshold: number;
}

/** `properties.requestSettings` of a deployment. */
export interface OnlineRequestSettings {
  /** Integer. */
  readonly maxConcurrentRequestsPerInstance: number;
  /** ISO-8601 duration, at most PT180S on managed endpoints. */
  readonly requestTimeout: string;
}

/** A managed online deployment (`workspaces/onlineEndpoints/deployments`). */
export interface ManagedOnlineDeploymentBody {
  /** The instance count lives here (`capacity`), not in the properties. */
  readonly sku: {
    /** The SKU name managed deployments take. */
    readonly name: 'Default';
    /** The instance count. */
    readonly capacity: number;
  };
  /** The deployment's properties. */
  readonly properties: {
    /** A managed (not Kubernetes) deployment. */
    readonly endpointComputeType: 'Managed';
    /** The model version's resource id. */
    readonly model: string;
    /** The environment version's resource id. */
    readonly environmentId: string;
    /** The VM size, e.g. `Standard_NC4as_T4_v3`. */
    readonly instanceType: string;
    /** Manual scale settings (capacity from `sku`; autoscale is a separate setting). */
    readonly scaleSettings: {
      /** Scale type. */
      readonly scaleType: 'Default';
    };
    /** Concurrency and timeout per request. */
    readonly requestSettings: OnlineRequestSettings;
    /** Liveness probe timings. */
    readonly livenessProbe: ProbeSettings;
    /** Readiness probe timings. */
    readonly readinessProbe: ProbeSettings;
    /** Startup probe timings. */
    readonly startupProbe: ProbeSettings;
    /** The container's environment variables. */
    readonly environmentVariables: Record<string, string>;
    /** Whether Application Insights collects the deployment's telemetry. */
    readonly appInsightsEnabled: boolean;
    /** Whether the deployment may reach public networks. */
    readonly egressPublicNetworkAccess: PublicNetworkAccess;
    /** A description. @default - none */
    readonly description?: string;
  };
}

/** Seconds as an ISO-8601 duration (`PT90S`), the form every duration in these bodies takes. */
export function isoSeconds(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`not a whole number of seconds: ${seconds}`);
  return `PT${seconds}S`;
}
