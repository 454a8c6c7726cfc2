import * as path from 'path';
import { AssetType, ITerraformDependable, TerraformAsset, TerraformIterator, TerraformOutput, TerraformStack, Token } from 'cdktf';
import { BigqueryDataset } from '@cdktf/provider-google/lib/bigquery-dataset';
import { DataGoogleBigqueryDefaultServiceAccount } from '@cdktf/provider-google/lib/data-google-bigquery-default-service-account';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project';
import { DataGoogleStorageProjectServiceAccount } from '@cdktf/provider-google/lib/data-google-storage-project-service-account';
import { KmsCryptoKeyIamMember } from '@cdktf/provider-google/lib/kms-crypto-key-iam-member';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { ProjectService } from '@cdktf/provider-google/lib/project-service';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { VertexAiEndpoint } from '@cdktf/provider-google/lib/vertex-ai-endpoint';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../model-endpoint';
import { ModelFile, hashModelSource, listModelFiles } from '../../common/model-archive';
import { checkBlueGreenOnly } from '../../common/blue-green';
import { sha256Hex } from '../../common/naming';
import { findTargetConstruct } from '../../common/target-construct';
import { nodeCommand, requestEnvironment } from '../../common/local-exec';
import { terraformLiteral as literal, terraformLiteralDeep } from '../../common/terraform';
import { TerraformData } from '../../common/terraform-data';
import { stackProvider } from '../../common/terraform-providers';
import { AuthMode, NetworkAccess } from '../../spec/access';
import { ArtifactLayout, ArtifactScheme, ArtifactSource } from '../../spec/artifact';
import { Problems } from '../../spec/check';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { findInstance, selectInstance } from '../../spec/instance-catalog';
import { ScalingMetric } from '../../spec/scaling';
import { ServingFramework } from '../../spec/serving';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import {
  VERTEX_BRIDGE_MAIN, VERTEX_BRIDGE_REQUEST_ENV, VERTEX_BRIDGE_REQUEST_FORMAT, VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE, VERTEX_METRIC_CPU_UTILIZATION, VERTEX_OWNER_LABEL,
  VertexBridgeContainer, VertexBridgeMetricSpec, VertexBridgeOwnerRequest, VertexBridgeRequest, vertexBridgeVerification,
} from './bridge-request';
import { VERTEX_AI_MACHINE_TYPES, VertexMachineOffer } from './machine-types';
import { RenderedVertexAlarms, renderAlarms } from './monitoring';
import { TARGET } from './name';
import { VERTEX_AI_OPTION_KEYS, VertexAiTargetOptions } from './options';

/** Props for {@link VertexAiModelEndpoint}: the spec plus the Vertex AI options. */
export interface VertexAiModelEndpointProps extends ModelDeploymentSpecProps, VertexAiTargetOptions {}

/** Google's id rules and Vertex AI's limits. */
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const PROJECT_NUMBER = /^[1-9][0-9]{5,18}$/;
const LOCATION = /^[a-z]+-[a-z]+[0-9]+$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/;
const KMS_KEY = /^projects\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/locations\/([a-z0-9-]+)\/keyRings\/[A-Za-z0-9_-]{1,63}\/cryptoKeys\/[A-Za-z0-9_-]{1,63}$/;
const SERVICE_ACCOUNT_EMAIL = /^[a-z0-9][a-z0-9-]{4,62}@[a-z0-9-]+\.(iam\.gserviceaccount\.com|developer\.gserviceaccount\.com)$/;
const ENDPOINT_ID = /^[1-9][0-9]{0,9}$/;
const NOTIFICATION_CHANNEL = /^projects\/[^/\s]+\/notificationChannels\/[0-9]+$/;
const IAM_MEMBER = /^(user|serviceAccount|group|domain):[^\s:]+$|^principal(Set)?:\/\/\S+$/;
/** GCP label keys and values (the spec's tags become labels). */
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
/** The label on everything the target creates. */
const MANAGED_BY = 'managed-by';
/** Artifact Registry's Docker hosts: `REGION-docker.pkg.dev` or a multi-region `us|europe|asia-docker.pkg.dev`. */
const ARTIFACT_REGISTRY_IMAGE = /^[a-z0-9-]+-docker\.pkg\.dev\/[a-z0-9-]+\/[a-z0-9._-]+\/\S+$/;
/** Vertex AI's display-name limit (Endpoint, Model, DeployedModel). */
const MAX_DISPLAY_NAME = 128;
/**
 * This target's replica bound per deployed model. Vertex AI itself caps replicas by the project's
 * regional quota for the machine and accelerator type, which synth cannot see; a new version needs
 * room for the old and the new deployed model side by side.
 */
const MAX_REPLICAS = 100;
/** The Vertex AI API; nothing else is enabled (Cloud Storage, IAM, KMS and Monitoring are assumed on). */
const AIPLATFORM_API = 'aiplatform.googleapis.com';

/** Roles the target grants, by their ids. */
export const VERTEX_AI_ROLES = {
  /** The serving account's read access to its model prefix (with an IAM condition). */
  objectViewer: 'roles/storage.objectViewer',
  /** The service agents' use of the CMEK key. */
  keyUser: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
  /** What `grantInvoke` gives, on the project. */
  invoke: 'roles/aiplatform.user',
} as const;

/**
 * Vertex AI's prebuilt prediction containers, for the presets that have one. Source: Google Cloud,
 * "Prebuilt containers for prediction" (cloud.google.com/vertex-ai/docs/predictions/pre-built-containers),
 * as summarised in shared/research/vertex-ai.md: `{us|europe|asia}-docker.pkg.dev/vertex-ai/prediction/<fw>-<cpu|gpu>.<ver>:latest`.
 * Each reads the model from `$AIP_STORAGE_URI` and serves Vertex's own routes (`$AIP_PREDICT_ROUTE`,
 * `$AIP_HEALTH_ROUTE` on `$AIP_HTTP_PORT`): the preset's routes and port do not apply to them.
 */
const PREBUILT: { readonly [f in ServingFramework]?: { readonly cpu?: string; readonly gpu?: string; readonly layout: string } } = {
  [ServingFramework.SKLEARN]: { cpu: 'sklearn-cpu.1-5', layout: 'model.joblib, model.pkl or model.pickle at the prefix root' },
  [ServingFramework.XGBOOST]: { cpu: 'xgboost-cpu.2-1', layout: 'model.bst, model.joblib, model.pkl or model.pickle at the prefix root' },
  [ServingFramework.TENSORFLOW_SERVING]: { cpu: 'tf2-cpu.2-15', gpu: 'tf2-gpu.2-15', layout: 'a SavedModel directory' },
  [ServingFramework.TORCHSERVE]: { gpu: 'pytorch-gpu.2-4', layout: 'a TorchServe archive named model.mar' },
};
/** Vertex AI's default HTTP port for a container (`$AIP_HTTP_PORT`). */
const VERTEX_DEFAULT_PORT = 8080;

/** Where the deployment's model comes from. */
type ResolvedModel =
  | { readonly kind: 'local'; readonly files: readonly ModelFile[]; readonly contentHash: string; readonly source: string; readonly isDirectory: boolean }
  | { readonly kind: 'uri'; readonly bucket: string; readonly prefix: string };

/** Where the model's files are: the bucket's name, the prefix (no trailing "/"; both as given, unescaped), and what creates the bucket. */
interface RenderedBucket {
  readonly name: string;
  readonly prefix: string;
  readonly resource: ITerraformDependable[];
}

/** The props validated and their defaults applied: everything the render reads. */
interface ResolvedVertexEndpoint {
  readonly spec: ResolvedModelDeploymentSpec;
  readonly project: string;
  readonly location: string;
  readonly displayName: string;
  readonly endpointId: string;
  readonly machine: VertexMachineOffer;
  readonly container: VertexBridgeContainer;
  readonly metrics: VertexBridgeMetricSpec[];
  readonly model: ResolvedModel;
  /** The existing bucket, when one is given (else one is created with `names.bucket`). */
  readonly existingBucket?: string;
  readonly encryptionKeyName?: string;
  readonly existingServiceAccount?: string;
  readonly pscProjects: string[];
  readonly notificationChannels?: string[];
  readonly labels: Record<string, string>;
  readonly names: { readonly bucket: string; readonly serviceAccount: string; readonly dataset: string; readonly owner: string; readonly slug: string };
}

/**
 * A model served by a Vertex AI online prediction endpoint, built with cdktf and the google
 * provider: the Vertex AI API, the artifact bucket and the model's files in it, a serving service
 * account with read access to its own prefix, the endpoint (CMEK, request-response logging, Private
 * Service Connect or a dedicated public endpoint), alert policies, and, because no google resource
 * uploads or deploys a custom model, a `terraform_data` whose create and destroy steps run this
 * package's bridge (`@google-cloud/aiplatform`). A new version is uploaded and deployed beside the
 * old one, takes all traffic once deployed, then the old one is undeployed and deleted.
 */
export class VertexAiModelEndpoint extends Construct implements IModelEndpoint {
  /** The VertexAiModelEndpoint that a ModelDeployment (or any construct containing one) built. */
  public static of(scope: IConstruct): VertexAiModelEndpoint {
    return findTargetConstruct(scope, VertexAiModelEndpoint, TARGET);
  }

  public readonly targetName = TARGET;
  /** The endpoint's display name. */
  public readonly endpointName: string;
  /** The endpoint's numeric id (fixed at synth). */
  public readonly endpointId: string;
  /**
   * Where prediction requests go (POST `{"instances": [...]}`): the dedicated endpoint's DNS name
   * for PUBLIC (known after apply); for PRIVATE, the regional API URL, which callers reach through
   * their Private Service Connect endpoint (a DNS record for the host pointing at it).
   */
  public readonly endpointUrl: string;
  /** The deployed model's id (fixed at synth from the version). */
  public readonly deployedModelId: string;
  /** The uploaded Model's id (fixed at synth from the version). */
  public readonly modelId: string;
  /** The machine type of the deployed model's replicas. */
  public readonly machineType: string;
  /** The accelerator type (Vertex AI's enum name), for GPU compute. */
  public readonly acceleratorType?: string;
  /** The bucket the model is read from (created here, or the given one). */
  public readonly artifactBucketName: string;
  /** The `gs://` prefix the model is read from (`$AIP_STORAGE_URI` is a copy of it). */
  public readonly artifactUri: string;
  /** The service account the model's containers run as. */
  public readonly servingServiceAccountEmail: string;
  /** The Vertex AI endpoint (escape hatch). */
  public readonly endpoint: VertexAiEndpoint;
  /** The `terraform_data` whose create and destroy steps upload, deploy, undeploy and delete the model. */
  public readonly deployment: TerraformData;
  /** The alert policies, unless `monitoring.alarms` is false. */
  public readonly alarms?: RenderedVertexAlarms;
  private readonly project: string;

  constructor(scope: Construct, id: string, props: VertexAiModelEndpointProps) {
    super(scope, id);
    // Resolve, then render: every refusal is collected, and nothing is created before all pass.
    const r = this.resolve(props);
    this.project = r.project;
    this.endpointName = r.displayName;
    this.endpointId = r.endpointId;
    this.machineType = r.machine.name;
    this.acceleratorType = r.machine.acceleratorType;
    stackProvider(this, 'google', (stack, providerId) => new GoogleProvider(stack, providerId, {}));

    const api = this.renderApi(r);
    const keyGrants = this.renderKeyGrants(r, api);
    const bucket = this.renderBucket(r, keyGrants);
    this.artifactBucketName = bucket.name;
    const uploads = this.renderModelObjects(r, bucket);
    this.artifactUri = `gs://${bucket.name}/${bucket.prefix}/`;
    const serving = this.renderServingAccount(r, bucket);
    this.servingServiceAccountEmail = serving.email;
    const dataset = this.renderLoggingDataset(r, keyGrants);
    this.endpoint = this.renderEndpoint(r, [api, ...keyGrants, ...(dataset ? [dataset] : [])], dataset);

    // The bridge request (an internal type): the `terraform_data`'s input.
    const request = bridgeRequestOf(r, this.artifactUri, serving.email);
    this.modelId = request.model.modelId;
    this.deployedModelId = request.deployment.deployedModelId;
    this.deployment = this.renderDeployment(request, [this.endpoint, ...bucket.resource, ...uploads, ...serving.dependables]);
    this.renderRetirement(request, this.deployment);

    const path = `v1/projects/${r.project}/locations/${r.location}/endpoints/${r.endpointId}:predict`;
    this.endpointUrl = r.spec.network === NetworkAccess.PUBLIC
      ? `https://${this.endpoint.dedicatedEndpointDns}/${path}`
      : `https://${r.location}-aiplatform.googleapis.com/${path}`;
    this.alarms = renderAlarms(this, {
      project: r.project, displayName: literal(r.displayName), endpointId: r.endpointId, notificationChannels: r.notificationChannels?.map(literal), labels: r.labels,
    }, r.spec.monitoring);
    new TerraformOutput(this, 'EndpointId', { value: r.endpointId, description: 'The Vertex AI endpoint id' });
    new TerraformOutput(this, 'PredictUrl', { value: this.endpointUrl, description: 'POST {"instances": [...]} here, with a Google OAuth access token' });
    new TerraformOutput(this, 'DeployedModelId', { value: this.deployedModelId, description: 'The deployed model that takes all traffic' });
  }

  /**
   * Lets `member` (`user:`, `serviceAccount:`, `group:`, `domain:`, `principal://` or
   * `principalSet://`) call the endpoint, with `roles/aiplatform.user` on the **project**.
   * Endpoint-level IAM (`google_vertex_ai_endpoint_iam_*`) exists only in the google-beta
   * provider, so the grant covers every Vertex AI resource in the project, and more than
   * prediction (the role also creates and manages them). Prefer a dedicated project for serving.
   */
  public grantInvoke(member: string, id?: string): ProjectIamMember {
    if (typeof member !== 'string' || !(Token.isUnresolved(member) || IAM_MEMBER.test(member))) {
      throw new ModelDeploymentValidationError('grantInvoke.member', member,
        'an IAM member: user:EMAIL, serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, principal://... or principalSet://... (or a reference to one)', TARGET);
    }
    const count = this.node.children.filter(c => c instanceof ProjectIamMember && c.node.id.startsWith('Invoke')).length;
    return new ProjectIamMember(this, id ?? `Invoke${count}`, { project: this.project, role: VERTEX_AI_ROLES.invoke, member: literal(member) });
  }

  /** Validates the props and applies their defaults; every problem is collected and thrown together, before any resource is created. */
  private resolve(props: VertexAiModelEndpointProps): ResolvedVertexEndpoint {
    const spec = resolveSpec(props, VERTEX_AI_OPTION_KEYS);
    const problems = new Problems(TARGET);
    const refuse = (field: string, value: unknown, allowed: string) => problems.add(field, value, allowed);

    const project = typeof props.project === 'string' && PROJECT_ID.test(props.project) ? props.project : undefined;
    if (project === undefined) refuse('project', props.project, 'a Google Cloud project id: 6 to 30 lower-case letters, digits and hyphens, starting with a letter, e.g. "ml-prod-4711"');
    const location = typeof props.location === 'string' && LOCATION.test(props.location) ? props.location : undefined;
    if (location === undefined) refuse('location', props.location, 'a Vertex AI region in lower case, e.g. "europe-west4" or "us-central1"');

    const displayName = spec.endpointName ?? displayNameFrom(this.node.path);
    if (displayName.length > MAX_DISPLAY_NAME) refuse('endpointName', displayName, `at most ${MAX_DISPLAY_NAME} characters (Vertex AI's display-name limit)`);
    const endpointId = props.endpointId ?? numericId(`${props.project}\n${props.location}\n${this.node.path}`);
    if (typeof endpointId !== 'string' || !ENDPOINT_ID.test(endpointId)) {
      refuse('endpointId', endpointId, 'Vertex AI\'s endpoint id rule: 1 to 10 digits, no leading zero, e.g. "4711000042"');
    }

    const existingBucket = checkBucket(problems, props.artifactBucket);
    const encryptionKeyName = checkKey(problems, props.encryptionKeyName, location);
    const existingServiceAccount = props.servingServiceAccountEmail;
    if (existingServiceAccount !== undefined && (typeof existingServiceAccount !== 'string' || !(Token.isUnresolved(existingServiceAccount) || SERVICE_ACCOUNT_EMAIL.test(existingServiceAccount)))) {
      refuse('servingServiceAccountEmail', existingServiceAccount, 'a service account email, NAME@PROJECT.iam.gserviceaccount.com (or a reference to one)');
    }
    const pscProjects = checkPscProjects(problems, props.privateServiceConnectProjects, spec.network, project);
    const notificationChannels = checkChannels(problems, props.alertNotificationChannels, spec.monitoring.alarms);

    const model = resolveModel(problems, spec);
    const machine = problems.attempt(() => pickMachine(spec, props.machineType));
    const metrics = checkScaling(problems, spec, machine);
    checkRollout(problems, spec);
    checkAccess(problems, spec);
    checkCapture(problems, spec);
    const container = checkServing(problems, spec, location, endpointId);
    const labels = checkLabels(problems, spec.tags);
    problems.throwIfAny();

    const unique = sha256Hex(`${project}\n${location}\n${this.node.path}\n${endpointId}`);
    return {
      spec, project: project!, location: location!, displayName, endpointId, machine: machine!, container: container!, metrics, model,
      existingBucket, encryptionKeyName, existingServiceAccount, pscProjects, notificationChannels, labels,
      names: {
        bucket: `md-models-${unique.slice(0, 40)}`,
        serviceAccount: `md-serve-${unique.slice(0, 20)}`,
        dataset: `md_predictions_${unique.slice(0, 20)}`,
        owner: `md-${endpointId}`,
        slug: displayName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'endpoint',
      },
    };
  }

  /**
   * The Vertex AI API, once per project in the stack, never disabled on destroy (other workloads
   * in the project may use it). Cloud Storage, IAM, KMS, BigQuery and Monitoring are left as they are.
   */
  private renderApi(r: ResolvedVertexEndpoint): ProjectService {
    const stack = TerraformStack.of(this);
    const apiId = `cdk-model-deployment-aiplatform-${sha256Hex(r.project).slice(0, 8)}`;
    const existing = stack.node.tryFindChild(apiId);
    if (existing instanceof ProjectService) return existing;
    return new ProjectService(stack, apiId, { project: r.project, service: AIPLATFORM_API, disableOnDestroy: false });
  }

  /**
   * With a customer-managed key: the service agents that encrypt with it (Vertex AI for the
   * endpoint and its models, Cloud Storage for the bucket created here, BigQuery for the logging
   * dataset) may use it, and nothing else.
   */
  private renderKeyGrants(r: ResolvedVertexEndpoint, api: ProjectService): KmsCryptoKeyIamMember[] {
    if (r.encryptionKeyName === undefined) return [];
    // The Vertex AI service agent's email holds the project number, which Terraform reads.
    const project = new DataGoogleProject(this, 'Project', { projectId: r.project });
    const cryptoKeyId = literal(r.encryptionKeyName);
    const grant = (id: string, member: string, dependsOn?: ITerraformDependable[]) =>
      new KmsCryptoKeyIamMember(this, id, { cryptoKeyId, role: VERTEX_AI_ROLES.keyUser, member, dependsOn });
    // The Vertex AI service agent comes with the API: granted after the API is enabled.
    const grants = [grant('VertexAgentUsesKey', `serviceAccount:service-${project.number}@gcp-sa-aiplatform.iam.gserviceaccount.com`, [api])];
    if (r.existingBucket === undefined) {
      const storage = new DataGoogleStorageProjectServiceAccount(this, 'StorageAgent', { project: r.project });
      grants.push(grant('StorageAgentUsesKey', `serviceAccount:${storage.emailAddress}`));
    }
    if (r.spec.monitoring.capture) {
      const bigquery = new DataGoogleBigqueryDefaultServiceAccount(this, 'BigQueryAgent', { project: r.project });
      grants.push(grant('BigQueryAgentUsesKey', `serviceAccount:${bigquery.email}`));
    }
    return grants;
  }

  /** The artifact bucket: the given one, or a new one with secure defaults in the endpoint's region. */
  private renderBucket(r: ResolvedVertexEndpoint, keyGrants: KmsCryptoKeyIamMember[]): RenderedBucket {
    const prefix = r.model.kind === 'local' ? `${r.names.slug}/${r.model.contentHash}` : r.model.prefix.replace(/\/$/, '');
    if (r.model.kind === 'uri') return { name: r.model.bucket, prefix, resource: [] };
    if (r.existingBucket !== undefined) return { name: r.existingBucket, prefix, resource: [] };
    const bucket = new StorageBucket(this, 'ArtifactBucket', {
      project: r.project,
      name: r.names.bucket,
      location: r.location.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      // Old versions of replaced files go after 30 days; a destroy leaves them, so the bucket is kept (no force_destroy).
      lifecycleRule: [{ condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' }, action: { type: 'Delete' } }],
      encryption: r.encryptionKeyName === undefined ? undefined : { defaultKmsKeyName: literal(r.encryptionKeyName) },
      labels: r.labels,
      // The Cloud Storage service agent may use the key before the bucket names it as its default.
      dependsOn: nonEmpty(keyGrants.filter(g => g.node.id === 'StorageAgentUsesKey')),
    });
    return { name: r.names.bucket, prefix, resource: [bucket] };
  }

  /**
   * A local model's files, uploaded as objects under a prefix named by their content hash: an
   * unchanged model keeps its object names, so nothing is uploaded and nothing redeploys.
   */
  private renderModelObjects(r: ResolvedVertexEndpoint, bucket: RenderedBucket): ITerraformDependable[] {
    if (r.model.kind !== 'local') return [];
    const m = r.model;
    const asset = new TerraformAsset(this, 'ModelFiles', { path: m.source, type: m.isDirectory ? AssetType.DIRECTORY : AssetType.FILE, assetHash: m.contentHash });
    const files = TerraformIterator.fromMap(Object.fromEntries(m.files.map(f => [
      literal(f.name), literal(m.isDirectory ? `${asset.path}/${f.name}` : asset.path),
    ])));
    return [new StorageBucketObject(this, 'ModelObjects', {
      forEach: files,
      bucket: literal(bucket.name),
      name: `${literal(bucket.prefix)}/${files.key}`,
      source: files.value,
      contentType: 'application/octet-stream',
      dependsOn: nonEmpty(bucket.resource),
    })];
  }

  /**
   * The serving service account (the given one, or a new one) and its one grant: read the model's
   * prefix. The IAM condition lets it get objects under the prefix, and list the bucket only with
   * that prefix (Cloud Storage checks a list against the bucket, with the listed prefix as the
   * `objectListPrefix` attribute); conditions need uniform bucket-level access.
   */
  private renderServingAccount(r: ResolvedVertexEndpoint, bucket: RenderedBucket): { email: string; dependables: ITerraformDependable[] } {
    let email: string;
    const dependables: ITerraformDependable[] = [];
    if (r.existingServiceAccount !== undefined) {
      email = r.existingServiceAccount;
    } else {
      const account = new ServiceAccount(this, 'ServingAccount', {
        project: r.project,
        accountId: r.names.serviceAccount,
        displayName: literal(`Serving ${r.displayName}`.slice(0, 100)),
        description: 'Runs the model containers of a Vertex AI endpoint (cdk-model-deployment); reads its model prefix only',
      });
      dependables.push(account);
      // Fixed at synth (Google's email rule), so the bridge request is known before apply.
      email = `${r.names.serviceAccount}@${r.project}.iam.gserviceaccount.com`;
    }
    const objects = `projects/_/buckets/${bucket.name}/objects/${bucket.prefix}/`;
    dependables.push(new StorageBucketIamMember(this, 'ServingReadsModel', {
      bucket: literal(bucket.name),
      role: VERTEX_AI_ROLES.objectViewer,
      member: literal(`serviceAccount:${email}`),
      condition: {
        title: 'model prefix only',
        description: 'Read the objects under this deployment\'s model prefix, and list that prefix',
        expression: literal(`resource.name.startsWith("${objects}") || (resource.type == "storage.googleapis.com/Bucket" && api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${bucket.prefix}/"))`),
      },
      dependsOn: [...bucket.resource, ...dependables],
    }));
    return { email, dependables };
  }

  /** With `monitoring.capture`: a dataset in the endpoint's region that Vertex AI writes the logged requests and responses to. */
  private renderLoggingDataset(r: ResolvedVertexEndpoint, keyGrants: KmsCryptoKeyIamMember[]): BigqueryDataset | undefined {
    if (!r.spec.monitoring.capture) return undefined;
    return new BigqueryDataset(this, 'PredictionLog', {
      project: r.project,
      datasetId: r.names.dataset,
      location: r.location,
      description: literal(`Request-response log of the Vertex AI endpoint ${r.displayName} (${r.endpointId})`),
      defaultEncryptionConfiguration: r.encryptionKeyName === undefined ? undefined : { kmsKeyName: literal(r.encryptionKeyName) },
      deleteContentsOnDestroy: false,
      labels: r.labels,
      dependsOn: nonEmpty(keyGrants.filter(g => g.node.id === 'BigQueryAgentUsesKey')),
    });
  }

  /**
   * The endpoint. PRIVATE: Private Service Connect, IAM-authorized (secure PSC), reachable only from
   * PSC endpoints in the allowed projects. PUBLIC: a dedicated endpoint (its own DNS name, isolated
   * from other tenants' traffic), on the internet, still IAM-authenticated. Traffic is set by the
   * bridge, so Terraform leaves `traffic_split` as it finds it.
   */
  private renderEndpoint(r: ResolvedVertexEndpoint, dependsOn: ITerraformDependable[], dataset?: BigqueryDataset): VertexAiEndpoint {
    const capture = r.spec.monitoring.capture;
    const isPublic = r.spec.network === NetworkAccess.PUBLIC;
    return new VertexAiEndpoint(this, 'Endpoint', {
      project: r.project,
      location: r.location,
      region: r.location,
      name: r.endpointId,
      displayName: literal(r.displayName),
      description: 'Online prediction endpoint (cdk-model-deployment)',
      labels: r.labels,
      encryptionSpec: r.encryptionKeyName === undefined ? undefined : { kmsKeyName: literal(r.encryptionKeyName) },
      dedicatedEndpointEnabled: isPublic ? true : undefined,
      privateServiceConnectConfig: isPublic ? undefined : {
        enablePrivateServiceConnect: true, enableSecurePrivateServiceConnect: true, projectAllowlist: r.pscProjects.map(literal),
      },
      predictRequestResponseLoggingConfig: capture === undefined || dataset === undefined ? undefined : {
        enabled: true,
        samplingRate: capture.samplingPercent / 100,
        bigqueryDestination: { outputUri: `bq://${r.project}.${dataset.datasetId}` },
      },
      dependsOn,
      lifecycle: { ignoreChanges: ['traffic_split'] },
    });
  }

  /**
   * The upload and the deployment, which no google resource does: a `terraform_data` whose input
   * is the bridge request, replaced when the version changes (a changed input alone would update
   * in place and run nothing). Create runs `bridge create` (upload, deploy, move all traffic, check
   * the spec's samples and roll back on a failure, retire the old version); destroy runs `bridge
   * destroy` with only `self.input` (undeploy, delete).
   */
  private renderDeployment(request: VertexBridgeRequest, dependsOn: ITerraformDependable[]): TerraformData {
    return new TerraformData(this, 'Deployment', {
      input: terraformLiteralDeep(request),
      triggersReplace: { version: versionOf(request) },
      lifecycle: { createBeforeDestroy: true },
      dependsOn,
      provisioners: [
        { type: 'local-exec', command: literal(bridgeCommand('create')), environment: BRIDGE_ENVIRONMENT },
        { type: 'local-exec', when: 'destroy', command: literal(bridgeCommand('destroy')), environment: BRIDGE_ENVIRONMENT },
      ],
    });
  }

  /**
   * What a destroy after a failed update needs: Terraform runs no destroy-time provisioner for the
   * failed version's `terraform_data` (tainted) nor for the serving one's (deposed), so the
   * deployment's own destroy step would leave the serving version deployed. This second
   * `terraform_data`'s input is only the endpoint and the owner label, which no new version changes
   * (so it is never replaced, and it has no create step that could taint it); its destroy step runs
   * `bridge retire-all`: every Model of this deployment undeployed and deleted. It depends on the
   * deployment, so a destroy runs it after the deployment's own destroy step and before the endpoint
   * is deleted.
   */
  private renderRetirement(request: VertexBridgeRequest, deployment: TerraformData): TerraformData {
    const owner: VertexBridgeOwnerRequest = {
      format: request.format, project: request.project, location: request.location, endpointId: request.endpointId, owner: request.owner,
    };
    return new TerraformData(this, 'Retirement', {
      input: terraformLiteralDeep(owner),
      triggersReplace: terraformLiteralDeep(owner),
      dependsOn: [deployment],
      provisioners: [{ type: 'local-exec', when: 'destroy', command: literal(bridgeCommand('retire-all')), environment: BRIDGE_ENVIRONMENT }],
    });
  }
}

/** The bridge gets its request from `self.input`, the only thing a destroy step may read. */
const BRIDGE_ENVIRONMENT = requestEnvironment(VERTEX_BRIDGE_REQUEST_ENV);

function bridgeCommand(step: string): string {
  return nodeCommand(VERTEX_BRIDGE_MAIN, step);
}

/** A depends_on list, or none when it would be empty. */
function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length === 0 ? undefined : list;
}

/** Ten digits without a leading zero, from a hash of `seed` (Vertex AI's numeric ids take at most 10). */
function numericId(seed: string): string {
  return String(1_000_000_000 + (parseInt(sha256Hex(seed).slice(0, 12), 16) % 9_000_000_000));
}

/** A display name from the construct path (Vertex AI takes any characters; the path's last parts read best). */
function displayNameFrom(constructPath: string): string {
  const name = constructPath.split('/').filter(Boolean).join('-');
  return name.length <= 100 ? name : `${name.slice(name.length - 91)}-${sha256Hex(constructPath).slice(0, 8)}`;
}

/** What makes a new version: everything in the request (a new one is uploaded and deployed beside the old). */
function versionOf(request: VertexBridgeRequest): string {
  return sha256Hex(JSON.stringify(request)).slice(0, 16);
}

function bridgeRequestOf(r: ResolvedVertexEndpoint, artifactUri: string, serviceAccount: string): VertexBridgeRequest {
  const m = r.machine;
  const deploymentSpec = {
    machineSpec: { machineType: m.name, ...(m.acceleratorType ? { acceleratorType: m.acceleratorType, acceleratorCount: m.gpuCount } : {}) },
    minReplicaCount: r.spec.scaling.minReplicas,
    maxReplicaCount: r.spec.scaling.maxReplicas,
    autoscalingMetricSpecs: r.metrics,
    serviceAccount,
  };
  // The ids are fixed from everything else in the request: the same request, the same ids.
  // The key is part of the Model (its encryption spec); left out (undefined) it adds nothing to the JSON, so ids without a key are unchanged.
  const version = sha256Hex(JSON.stringify({ artifactUri, container: r.container, deploymentSpec, endpointId: r.endpointId, project: r.project, location: r.location, encryptionKeyName: r.encryptionKeyName }));
  const deployedModelId = numericId(version);
  // Prebuilt images serve Vertex's default routes, which name the deployed model.
  const container = r.container.predictRoute.includes('DEPLOYED_MODEL_ID')
    ? { ...r.container, predictRoute: r.container.predictRoute.replace('DEPLOYED_MODEL_ID', deployedModelId), healthRoute: r.container.healthRoute.replace('DEPLOYED_MODEL_ID', deployedModelId) }
    : r.container;
  return {
    format: VERTEX_BRIDGE_REQUEST_FORMAT,
    project: r.project,
    location: r.location,
    endpointId: r.endpointId,
    owner: r.names.owner,
    model: {
      modelId: `m${r.endpointId}-${version.slice(0, 16)}`,
      displayName: `${r.displayName}`.slice(0, MAX_DISPLAY_NAME - 8) + ` ${version.slice(0, 7)}`,
      artifactUri,
      container,
      labels: r.labels,
      // With CMEK, the Model Vertex AI keeps (and its copy of the artifacts) is under the key too, like the endpoint and the bucket.
      ...(r.encryptionKeyName === undefined ? {} : { encryptionSpec: { kmsKeyName: literal(r.encryptionKeyName) } }),
    },
    deployment: { deployedModelId, displayName: `${r.displayName}`.slice(0, MAX_DISPLAY_NAME - 8) + ` ${version.slice(0, 7)}`, ...deploymentSpec },
    // Not in the ids above: changed samples re-check the same model (a new terraform_data, the same Model).
    ...(r.spec.verification ? { verification: vertexBridgeVerification(r.spec.verification) } : {}),
  };
}

function checkBucket(problems: Problems, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && Token.isUnresolved(value)) return value;
  const name = typeof value === 'string' ? value.replace(/^gs:\/\//, '').replace(/\/$/, '') : undefined;
  if (name === undefined || !BUCKET_NAME.test(name) || name.includes('..')) {
    problems.add('artifactBucket', value, 'an existing Cloud Storage bucket: its name or gs://NAME (3 to 63 lower-case letters, digits, "-", "_" and ".")');
    return undefined;
  }
  return name;
}

function checkKey(problems: Problems, value: unknown, location: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && Token.isUnresolved(value)) return value;
  const match = typeof value === 'string' ? KMS_KEY.exec(value) : null;
  if (match === null) {
    problems.add('encryptionKeyName', value, 'a Cloud KMS key: projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY');
    return undefined;
  }
  if (location !== undefined && match[2] !== location) {
    problems.add('encryptionKeyName', value, `a key in ${location}: Vertex AI needs the key in the endpoint's region (this one is in ${match[2]})`);
    return undefined;
  }
  return value as string;
}

function checkPscProjects(problems: Problems, value: unknown, network: NetworkAccess, project: string | undefined): string[] {
  if (value === undefined) return project === undefined ? [] : [project];
  if (network === NetworkAccess.PUBLIC) {
    problems.add('privateServiceConnectProjects', value, 'left out with access.network PUBLIC (a dedicated public endpoint has no Private Service Connect), or access.network PRIVATE');
    return [];
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > 100
    || value.some(p => typeof p !== 'string' || !(Token.isUnresolved(p) || PROJECT_ID.test(p) || PROJECT_NUMBER.test(p)))) {
    problems.add('privateServiceConnectProjects', value, 'a list of 1 to 100 project ids or numbers allowed to connect, e.g. ["ml-clients-01"]');
    return [];
  }
  return value as string[];
}

function checkChannels(problems: Problems, value: unknown, alarms: boolean): string[] | undefined {
  if (value === undefined) return undefined;
  if (!alarms) {
    problems.add('alertNotificationChannels', value, 'left out with monitoring.alarms false (there is no alert policy to notify from), or monitoring.alarms true');
    return undefined;
  }
  if (!Array.isArray(value) || value.length > 16 || value.some(c => typeof c !== 'string' || !(Token.isUnresolved(c) || NOTIFICATION_CHANNEL.test(c)))) {
    problems.add('alertNotificationChannels', value, 'a list of up to 16 Cloud Monitoring notification channels, projects/PROJECT/notificationChannels/ID');
    return undefined;
  }
  return value as string[];
}

function resolveModel(problems: Problems, spec: ResolvedModelDeploymentSpec): ResolvedModel {
  const model = spec.model;
  const asIs = 'Vertex AI copies the files under the model\'s prefix as they are and does not unpack archives';
  if (model.source === ArtifactSource.LOCAL_PATH) {
    if (model.layout === ArtifactLayout.TAR_GZ) problems.add('model.path', model.localPath, `a directory or a single model file, not a .tar.gz: ${asIs}`);
    const files = problems.attempt(() => listModelFiles(model.localPath!)) ?? [];
    const contentHash = problems.attempt(() => hashModelSource(model.localPath!)) ?? '';
    const source = path.resolve(model.localPath!);
    return { kind: 'local', files, contentHash, source, isDirectory: !(files.length === 1 && path.resolve(files[0].path) === source) };
  }
  const gcs = /^gs:\/\/([^/]+)\/(.+\/)$/.exec(model.uri!);
  if (model.scheme !== ArtifactScheme.GCS) {
    problems.add('model.uri', model.uri, 'a Cloud Storage prefix gs://BUCKET/PATH/ (Vertex AI reads models from Cloud Storage only), or ModelArtifact.fromLocalPath(...) to upload one');
  } else if (gcs !== null && /["\\\s]/.test(gcs[2])) {
    // The prefix goes into the serving account's IAM condition, a CEL string literal.
    problems.add('model.uri', model.uri, 'a prefix without quotes, backslashes or white space (it is quoted in the serving account\'s IAM condition)');
  } else if (model.layout !== ArtifactLayout.PREFIX || gcs === null) {
    problems.add('model.uri', model.uri, `a prefix gs://BUCKET/PATH/ ending in "/": Vertex AI's artifact URI is a directory (${asIs})`);
  }
  return { kind: 'uri', bucket: gcs?.[1] ?? '', prefix: gcs?.[2] ?? '' };
}

/** The machine type: the table's choice for compute, or the override (which must be in the table and have the spec's GPUs). */
function pickMachine(spec: ResolvedModelDeploymentSpec, machineType: string | undefined): VertexMachineOffer {
  const compute = spec.compute;
  if (machineType === undefined) return selectInstance(VERTEX_AI_MACHINE_TYPES, compute, TARGET);
  const named = VERTEX_AI_MACHINE_TYPES.filter(o => o.name === machineType);
  const offersFor = (gpu: string | undefined) => [...new Set(VERTEX_AI_MACHINE_TYPES
    .filter(o => gpu === undefined ? o.gpuCount === 0 : o.gpu === gpu && o.gpuCount === compute.gpuCount).map(o => o.name))].join(', ');
  if (findInstance(VERTEX_AI_MACHINE_TYPES, machineType) === undefined) {
    throw new ModelDeploymentValidationError('machineType', machineType, `a Vertex AI machine type from the target's table: ${offersFor(compute.kind === ComputeKind.GPU ? compute.gpu : undefined)}`, TARGET);
  }
  if (compute.kind === ComputeKind.CPU) {
    const cpu = named.find(o => o.gpuCount === 0);
    if (cpu === undefined) {
      throw new ModelDeploymentValidationError('machineType', machineType, `a CPU machine type for CPU compute (or Compute.gpu({...}) in the spec): ${offersFor(undefined)}`, TARGET);
    }
    return cpu;
  }
  const fit = named.find(o => o.gpu === compute.gpu && o.gpuCount === compute.gpuCount);
  if (fit === undefined) {
    const has = named.filter(o => o.gpuCount > 0).map(o => `${o.gpuCount} x ${o.acceleratorType}`).join(' or ') || 'no accelerator';
    throw new ModelDeploymentValidationError('machineType', machineType,
      `a machine type that takes ${compute.describe()} (${machineType} takes ${has}): ${offersFor(compute.gpu) || `none in the table; ${compute.gpu} counts offered: ${[...new Set(VERTEX_AI_MACHINE_TYPES.filter(o => o.gpu === compute.gpu).map(o => o.gpuCount))].join(', ')}`}`, TARGET);
  }
  return fit;
}

/** Replica bounds, and the autoscaling metric: accelerator duty cycle or CPU utilisation, from `scaling.target`. */
function checkScaling(problems: Problems, spec: ResolvedModelDeploymentSpec, machine: VertexMachineOffer | undefined): VertexBridgeMetricSpec[] {
  const s = spec.scaling;
  if (s.minReplicas < 1) {
    problems.add('scaling.minReplicas', s.minReplicas, 'at least 1: a Vertex AI deployed model with dedicated resources does not scale to zero');
  }
  if (s.maxReplicas > MAX_REPLICAS) {
    problems.add('scaling.maxReplicas', s.maxReplicas, `at most ${MAX_REPLICAS} (this target's bound: Vertex AI's limit is the project's regional quota, and a new version runs beside the old one until traffic moves)`);
  }
  const target = s.target;
  if (target === undefined) return [];
  const percent = Math.round(target.value);
  switch (target.metric) {
    case ScalingMetric.GPU_PERCENT:
      if (spec.compute.kind !== ComputeKind.GPU || (machine !== undefined && machine.acceleratorType === undefined)) {
        problems.add('scaling.target', 'gpuPercent', 'ScalingTarget.cpuPercent(n) for CPU compute: Vertex AI scales on accelerator duty cycle only when the machine has accelerators');
        return [];
      }
      return [{ metricName: VERTEX_METRIC_ACCELERATOR_DUTY_CYCLE, target: percent }];
    case ScalingMetric.CPU_PERCENT:
      return [{ metricName: VERTEX_METRIC_CPU_UTILIZATION, target: percent }];
    default:
      problems.add('scaling.target', target.metric, `${spec.compute.kind === ComputeKind.GPU ? 'ScalingTarget.gpuPercent(n) or cpuPercent(n)' : 'ScalingTarget.cpuPercent(n)'}: Vertex AI's v1 autoscaling metrics are accelerator duty cycle and CPU utilisation`);
      return [];
  }
}

function checkRollout(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  checkBlueGreenOnly(problems, spec,
    'Vertex AI gets blue/green in one apply (the new version is uploaded and deployed beside the old one, takes 100% of traffic once deployed, then the old one is undeployed and deleted)',
    'the old version is undeployed in the same apply, as soon as traffic has moved');
}

function checkAccess(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  if (spec.auth !== undefined && spec.auth !== AuthMode.IAM) {
    problems.add('access.auth', spec.auth, 'AuthMode.IAM (or left out): Vertex AI authenticates every prediction with Google IAM (OAuth access tokens); it has no API keys or tokens of its own');
  }
}

function checkCapture(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  const capture = spec.monitoring.capture;
  if (capture !== undefined && !(capture.requests && capture.responses)) {
    problems.add('monitoring.capture', capture, 'requests and responses both true (the default): Vertex AI\'s request-response logging writes both together');
  }
}

/** GCP labels from the spec's tags: keys start with a lower-case letter; both are lower-case letters, digits, "_" and "-", at most 63. */
function checkLabels(problems: Problems, tags: { readonly [key: string]: string }): Record<string, string> {
  for (const [key, value] of Object.entries(tags)) {
    if (!LABEL_KEY.test(key)) problems.add('tags', key, 'Google Cloud label keys: a lower-case letter, then up to 62 lower-case letters, digits, "_" and "-"');
    else if (key === VERTEX_OWNER_LABEL || key === MANAGED_BY) problems.add('tags', key, `another key: ${VERTEX_OWNER_LABEL} and ${MANAGED_BY} are this target's own labels (the bridge finds a deployment's models by the first)`);
    else if (!LABEL_VALUE.test(value)) problems.add(`tags.${key}`, value, 'a Google Cloud label value: up to 63 lower-case letters, digits, "_" and "-"');
  }
  return { ...tags, [MANAGED_BY]: 'cdk-model-deployment' };
}

/** The prebuilt image's region prefix: Vertex AI publishes each image in the us, europe and asia multi-regions. */
function prebuiltRegion(location: string): string {
  if (/^(europe|me|africa)-/.test(location)) return 'europe';
  if (/^(asia|australia)-/.test(location)) return 'asia';
  return 'us';
}

/** The container: the given Artifact Registry image with the spec's routes, or Vertex AI's prebuilt image for the preset. */
function checkServing(problems: Problems, spec: ResolvedModelDeploymentSpec, location: string | undefined, endpointId: string): VertexBridgeContainer | undefined {
  const s = spec.serving;
  const env = Object.keys(s.environment).length === 0 ? undefined : { ...s.environment };
  for (const [name, value] of Object.entries(s.environment)) {
    if (name.startsWith('AIP_')) problems.add('serving.environment', name, 'names that do not start with AIP_ (Vertex AI sets those for the container)');
    // EnvVar.value is REQUIRED in Vertex AI's API: an empty value is refused at upload.
    if (value === '') problems.add(`serving.environment.${name}`, value, 'a non-empty value (Vertex AI refuses an empty environment variable; leave the variable out instead)');
  }
  if (s.image !== undefined) {
    if (!ARTIFACT_REGISTRY_IMAGE.test(s.image)) {
      problems.add('serving.image', s.image, 'an image in Artifact Registry, REGION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE[:TAG|@sha256:DIGEST] (Vertex AI pulls custom containers from Artifact Registry)');
      return undefined;
    }
    return { imageUri: s.image, predictRoute: s.predictPath, healthRoute: s.healthPath, port: s.port, ...(env ? { env } : {}) };
  }
  const prebuilt = PREBUILT[s.framework];
  const gpu = spec.compute.kind === ComputeKind.GPU;
  const name = prebuilt === undefined ? undefined : gpu ? prebuilt.gpu : prebuilt.cpu;
  if (prebuilt === undefined || name === undefined) {
    const preset = s.framework === ServingFramework.CUSTOM ? 'custom' : s.framework;
    const has = Object.entries(PREBUILT).map(([f, p]) => `${f} (${[p!.cpu && 'CPU', p!.gpu && 'GPU'].filter(Boolean).join(', ')})`).join(', ');
    problems.add('serving.image', undefined, `an Artifact Registry image for ${preset} on ${gpu ? 'GPU' : 'CPU'} compute: Vertex AI has no prebuilt prediction container for it (prebuilt: ${has})`);
    return undefined;
  }
  if (s.frameworkVersion !== undefined && !name.endsWith(`.${s.frameworkVersion.replace(/\./g, '-')}`)) {
    problems.add('serving.frameworkVersion', s.frameworkVersion, `${name.split('.')[1].replace('-', '.')} (the prebuilt ${name} container this target knows), or serving.image for another version`);
  }
  // Vertex's default routes (ModelContainerSpec: predict_route and health_route left unset), which
  // the prebuilt servers answer on; the deployed model's id is filled in once it is known.
  const base = `/v1/endpoints/${endpointId}/deployedModels/DEPLOYED_MODEL_ID`;
  return {
    imageUri: `${prebuiltRegion(location ?? 'us-central1')}-docker.pkg.dev/vertex-ai/prediction/${name}:latest`,
    predictRoute: `${base}:predict`, healthRoute: base, port: VERTEX_DEFAULT_PORT, ...(env ? { env } : {}),
  };
}
