import * as path from 'path';
import { Annotations, AssetType, Fn, ITerraformDependable, TerraformAsset, TerraformIterator, TerraformOutput, Token } from 'cdktf';
import { ApplicationInsights } from '@cdktf/provider-azurerm/lib/application-insights';
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { MachineLearningWorkspace } from '@cdktf/provider-azurerm/lib/machine-learning-workspace';
import { PrivateEndpoint } from '@cdktf/provider-azurerm/lib/private-endpoint';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { MonitorAutoscaleSetting } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { RoleDefinition } from '@cdktf/provider-azurerm/lib/role-definition';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Construct, IConstruct } from 'constructs';
import type { IModelEndpoint } from '../../model-endpoint';
import { ModelFile, hashModelSource, listModelFiles } from '../../common/model-archive';
import { findTargetConstruct } from '../../common/target-construct';
import { nodeCommand, requestEnvironment } from '../../common/local-exec';
import { terraformLiteral, terraformLiteralDeep } from '../../common/terraform';
import { TerraformData } from '../../common/terraform-data';
import { travellingVerification } from '../../common/sample-travel';
import { stackProvider } from '../../common/terraform-providers';
import { AuthMode, NetworkAccess } from '../../spec/access';
import { ArtifactLayout, ArtifactScheme, ArtifactSource } from '../../spec/artifact';
import { Problems } from '../../spec/check';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { InstanceOffer, findInstance, selectInstance } from '../../spec/instance-catalog';
import { ServingFramework } from '../../spec/serving';
import { ModelDeploymentSpecProps, ResolvedModelDeploymentSpec, resolveSpec } from '../../spec/spec';
import { checkBlueGreenOnly } from '../../common/blue-green';
import { nameFromConstructPath, sha256Hex } from '../../common/naming';
import { AzapiProvider, AzapiResource, AzapiResourceAction, AzapiUpdateResource } from './azapi';
import {
  AZURE_ML_API_VERSION, AZURE_ML_TYPES, EndpointAuthMode, EnvironmentVersionBody, ManagedOnlineDeploymentBody, ModelVersionBody, OnlineEndpointBody,
  OnlineEndpointPutBody, OnlineEndpointTrafficBody, ProbeSettings, PublicNetworkAccess, isoSeconds,
} from './bodies';
import { AZURE_ML_INSTANCE_TYPES } from './instance-types';
import { RenderedAlarms, renderAlarms, renderAutoscale } from './monitoring';
import { TARGET } from './name';
import { AZURE_ML_OPTION_KEYS, AzureMlTargetOptions } from './options';
import { AZURE_VERIFY_MAIN, AZURE_VERIFY_REQUEST_ENV, AZURE_VERIFY_REQUEST_FORMAT, AzureVerifyRequest } from './verify-request';

/** Props for {@link AzureMlModelEndpoint}: the spec plus the Azure ML options. */
export interface AzureMlModelEndpointProps extends ModelDeploymentSpecProps, AzureMlTargetOptions {}

/** Azure's own limits and the shapes of the ids the options take. */
const ENDPOINT_NAME = /^[A-Za-z][A-Za-z0-9-]{2,31}$/;
const LOCATION = /^[a-z][a-z0-9]{2,39}$/;
const RESOURCE_GROUP_NAME = /^[-\w.()]{0,89}[-\w()]$/;
const CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
const ARM = (provider: string, type: string, name: string) =>
  new RegExp(`^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\\w.()]{1,90}/providers/${provider.replace('.', '\\.')}/${type}/(${name})$`, 'i');
const IDS = {
  workspaceId: ARM('Microsoft.MachineLearningServices', 'workspaces', '[A-Za-z0-9][A-Za-z0-9_-]{2,32}'),
  storageAccountId: ARM('Microsoft.Storage', 'storageAccounts', '[a-z0-9]{3,24}'),
  keyVaultId: ARM('Microsoft.KeyVault', 'vaults', '[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]'),
  encryptionKeyVaultId: ARM('Microsoft.KeyVault', 'vaults', '[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]'),
  applicationInsightsId: ARM('Microsoft.Insights', 'components', '[^/]{1,260}'),
  containerRegistryId: ARM('Microsoft.ContainerRegistry', 'registries', '[A-Za-z0-9]{5,50}'),
  alarmActionGroupId: ARM('Microsoft.Insights', 'actionGroups', '[^/]{1,260}'),
} as const;
const ID_TYPES: { readonly [field in keyof typeof IDS]: string } = {
  workspaceId: 'Microsoft.MachineLearningServices/workspaces', storageAccountId: 'Microsoft.Storage/storageAccounts',
  keyVaultId: 'Microsoft.KeyVault/vaults', encryptionKeyVaultId: 'Microsoft.KeyVault/vaults', applicationInsightsId: 'Microsoft.Insights/components',
  containerRegistryId: 'Microsoft.ContainerRegistry/registries', alarmActionGroupId: 'Microsoft.Insights/actionGroups',
};
const SUBNET_ID = /^\/subscriptions\/[0-9a-fA-F-]{36}\/resourceGroups\/[-\w.()]{1,90}\/providers\/Microsoft\.Network\/virtualNetworks\/[-\w.]{2,64}\/subnets\/[-\w.]{1,80}$/i;
/** The private DNS zones of an Azure ML workspace's private endpoint (Azure ML's "Configure a private endpoint"). */
const WORKSPACE_DNS_ZONES = ['privatelink.api.azureml.ms', 'privatelink.notebooks.azure.net'];
const DNS_ZONE_ID = ARM('Microsoft.Network', 'privateDnsZones', WORKSPACE_DNS_ZONES.map(z => z.replace(/\./g, '\\.')).join('|'));
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const KEY_URL = /^https:\/\/[A-Za-z0-9-]{3,24}\.vault\.azure\.net\/keys\/[A-Za-z0-9-]{1,127}\/[0-9a-fA-F]{32}$/;
/** The most instances of one managed online deployment Azure ML allows. */
const MAX_INSTANCES = 50;
/** An Azure blob URI: its account and container. */
const AZURE_BLOB_URI = /^https:\/\/([a-z0-9]{3,24})\.blob\.core\.windows\.net\/([a-z0-9-]{3,63})\//;
/** Azure ML's route paths must hold a letter, digit or underscore (the type data's pattern). */
const ROUTE_PATH = /[a-zA-Z0-9_]/;

/** Built-in Azure roles the target assigns, by their names. */
export const AZURE_ROLES = {
  /** The endpoint identity's read access to the model's container. */
  storageBlobDataReader: 'Storage Blob Data Reader',
  /** The applying principal's upload access to the model's container. */
  storageBlobDataContributor: 'Storage Blob Data Contributor',
  /** The endpoint identity's pull access to the image's registry. */
  acrPull: 'AcrPull',
  /** The endpoint identity's access to the workspace's metrics. */
  azureMlMetricsWriter: 'AzureML Metrics Writer (preview)',
} as const;

/** Where the deployment's model comes from. */
type ResolvedModel =
  | { readonly kind: 'local'; readonly files: readonly ModelFile[]; readonly contentHash: string; readonly source: string; readonly isDirectory: boolean }
  | { readonly kind: 'uri'; readonly uri: string };

/** The workspace to deploy into: an existing one, or one created here with its neighbours. */
interface ResolvedWorkspace {
  readonly existingId?: string;
  /** An existing resource group to create in, when the workspace is created here. */
  readonly resourceGroupName?: string;
  readonly storageAccountId?: string;
  readonly keyVaultId?: string;
  readonly applicationInsightsId?: string;
  readonly encryption?: { readonly keyId: string; readonly keyVaultId: string };
}

/** The props validated and their defaults applied: everything the render reads. */
interface ResolvedAzureMlEndpoint {
  readonly spec: ResolvedModelDeploymentSpec;
  readonly endpointName: string;
  readonly location: string;
  readonly authMode: EndpointAuthMode;
  readonly publicNetworkAccess: PublicNetworkAccess;
  readonly instance: InstanceOffer;
  readonly capacity: number;
  readonly image: string;
  readonly registryId?: string;
  readonly alarmActionGroupId?: string;
  /** The workspace's private endpoint, with PRIVATE and `privateEndpointSubnetId`. */
  readonly privateEndpoint?: { readonly subnetId: string; readonly dnsZoneIds?: string[] };
  readonly workspace: ResolvedWorkspace;
  readonly model: ResolvedModel;
  readonly modelContainerName: string;
  /** Names of the resources created here (unique per stack and endpoint). */
  readonly names: { readonly resourceGroup: string; readonly storageAccount: string; readonly keyVault: string; readonly logAnalytics: string;
    readonly applicationInsights: string; readonly workspace: string; readonly model: string; readonly environment: string };
  readonly tags: Record<string, string>;
}

/** A storage account: its id and name (references, when it is created here or given as one). */
interface StorageAccountRef {
  readonly id: string;
  readonly name: string;
}

/** The workspace, once rendered: its id, its resource group, and what around it the target knows. */
interface RenderedWorkspace {
  readonly workspaceId: string;
  readonly resourceGroupName: string;
  readonly resourceGroupId: string;
  /** The Log Analytics workspace created here (none with an existing workspace or Application Insights). */
  readonly logAnalyticsId?: string;
  readonly storage?: StorageAccountRef;
}

/** Where the model's files are, once rendered. */
interface RenderedStore {
  readonly accountId: string;
  readonly accountName: string;
  readonly containerScope: string;
  readonly uploads: ITerraformDependable[];
}

/**
 * A model served by an Azure Machine Learning managed online endpoint, built with cdktf: the
 * workspace and what it needs (azurerm), the model version, environment version, endpoint and
 * deployment (azapi, API 2024-10-01), the endpoint identity's role assignments, and traffic set
 * once the deployment exists. A new model version is a new deployment: it is created beside the
 * old one, traffic moves to it once Azure reports it provisioned (and, with `verification` in the
 * spec, once it has answered every sample right: `verification`), and the old one is removed.
 */
export class AzureMlModelEndpoint extends Construct implements IModelEndpoint {
  /** The AzureMlModelEndpoint that a ModelDeployment (or any construct containing one) built. */
  public static of(scope: IConstruct): AzureMlModelEndpoint {
    return findTargetConstruct(scope, AzureMlModelEndpoint, TARGET);
  }

  public readonly targetName = TARGET;
  /** The online endpoint's name. */
  public readonly endpointName: string;
  /** The scoring URI, as Azure reports it (a Terraform reference, known after apply). */
  public readonly endpointUrl: string;
  /** The current deployment's name (`v` and a hash of everything that makes it a new deployment). */
  public readonly deploymentName: string;
  /** The VM size of the deployment's instances. */
  public readonly instanceType: string;
  /** The workspace's resource id (a Terraform reference when it is created here). */
  public readonly workspaceId: string;
  /** The online endpoint (escape hatch). */
  public readonly endpoint: AzapiResource;
  /** The managed online deployment (escape hatch). */
  public readonly deployment: AzapiResource;
  /** The traffic update that sends every request to the current deployment. */
  public readonly traffic: AzapiUpdateResource;
  /**
   * With `verification` in the spec: the check that runs the sample predictions against the new
   * deployment alone, before the traffic update (a `terraform_data` whose `local-exec` runs this
   * package's checker). A failed check fails the apply before any traffic moves.
   */
  public readonly verification?: TerraformData;
  /** The endpoint's user-assigned identity (the deployment pulls the image and reads the model with it). */
  public readonly identity: UserAssignedIdentity;
  /** The principal id of the endpoint's identity. */
  public readonly endpointPrincipalId: string;
  /** The autoscale setting on the deployment, when `scaling.maxReplicas` is above `minReplicas`. */
  public readonly autoscale?: MonitorAutoscaleSetting;
  /** The alerts, unless `monitoring.alarms` is false. */
  public readonly alarms?: RenderedAlarms;
  /** The workspace's private endpoint, with `privateEndpointSubnetId`. */
  public readonly privateEndpoint?: PrivateEndpoint;
  private readonly resourceGroupId: string;
  private invokeRole?: RoleDefinition;
  private readonly invokeAuthMode: EndpointAuthMode;

  constructor(scope: Construct, id: string, props: AzureMlModelEndpointProps) {
    super(scope, id);
    // Resolve, then render: every refusal is collected, and nothing is created before all pass.
    const r = this.resolve(props);
    this.endpointName = r.endpointName;
    this.invokeAuthMode = r.authMode;
    this.instanceType = r.instance.name;
    this.renderProviders(r);
    const client = new DataAzurermClientConfig(this, 'Client', {});
    const workspace = this.renderWorkspace(r, client);
    const { workspaceId, storage } = workspace;
    this.workspaceId = workspaceId;
    this.resourceGroupId = workspace.resourceGroupId;
    this.privateEndpoint = this.renderPrivateEndpoint(r, workspace);
    const store = r.model.kind === 'local' ? this.renderModelStore(r, storage!, client) : undefined;
    const modelVersion = this.renderModelVersion(r, workspaceId, store);
    const environmentVersion = this.renderEnvironmentVersion(r, workspaceId);
    // A user-assigned identity: created, and granted its roles, before the endpoint and the
    // deployment exist; Azure gives it nothing by itself (a system-assigned one gets AcrPull on the
    // workspace registry, Storage Blob Data Reader on its default datastore and Metrics Writer
    // automatically, which is broader than needed and collides with explicit assignments).
    this.identity = new UserAssignedIdentity(this, 'EndpointIdentity', {
      name: `id-${literal(r.endpointName)}`, resourceGroupName: workspace.resourceGroupName, location: r.location, tags: r.tags,
    });
    this.endpointPrincipalId = this.identity.principalId;
    this.endpoint = this.renderEndpoint(r, workspaceId, this.identity);
    // The blob container the endpoint reads the model from: the upload's, or the given blob URI's.
    const blobUri = r.model.kind === 'uri' ? AZURE_BLOB_URI.exec(r.model.uri) : null;
    const modelScope = store?.containerScope ?? (blobUri && storage ? `${storage.id}/blobServices/default/containers/${blobUri[2]}` : undefined);
    const roles = this.renderEndpointRoles(r, workspaceId, modelScope);
    this.deploymentName = deploymentNameFor(r, modelVersion.name, environmentBody(r));
    this.deployment = this.renderDeployment(r, modelVersion, environmentVersion, roles);
    this.endpointUrl = this.endpoint.output('properties.scoringUri');
    this.verification = this.renderVerification(r);
    this.traffic = this.renderTraffic(this.deployment, this.verification);
    this.renderTrafficDrainOnDestroy(r, this.endpoint, this.deployment);
    const monitored = {
      endpointName: literal(r.endpointName), location: r.location, resourceGroupName: workspace.resourceGroupName, tags: r.tags,
      endpointId: this.endpoint.id, deploymentId: this.deployment.id, deploymentName: this.deploymentName,
      autoscaleAfter: this.verification === undefined ? undefined : [this.traffic],
    };
    this.autoscale = renderAutoscale(this, monitored, r.spec.scaling);
    const alarms = renderAlarms(this, monitored, r.spec.monitoring, r.alarmActionGroupId && literal(r.alarmActionGroupId), workspace.logAnalyticsId);
    if (alarms && !alarms.errorRate) {
      Annotations.of(this).addWarning('azureMl: no 5xx error-rate alert: it reads the endpoint\'s traffic log from the Log Analytics workspace this target creates, and with an existing workspace or Application Insights there is none; the p99 latency alert is created');
    }
    this.alarms = alarms;
    this.renderOutputs();
  }

  /**
   * Lets `principalId` (an Entra ID user, group or service principal object id) call this endpoint,
   * and nothing else: a custom role with the one action the endpoint's auth mode checks
   * (Azure ML's documented actions for online endpoint clients: `.../onlineEndpoints/score/action`
   * for Entra ID tokens, `.../token/action` to get an AML token, `.../listKeys/action` to read the
   * keys), assigned on this endpoint only. The role is defined once per endpoint, in its resource group.
   * With KEY auth, whoever holds a key can call the endpoint: the grant is who may read the keys.
   */
  public grantInvoke(principalId: string, id?: string): RoleAssignment {
    if (typeof principalId !== 'string' || !(Token.isUnresolved(principalId) || GUID.test(principalId))) {
      throw new ModelDeploymentValidationError('grantInvoke.principalId', principalId, 'the object id (a GUID) of a Microsoft Entra user, group or service principal, or a reference to one', TARGET);
    }
    if (this.invokeRole === undefined) {
      const action = { AADToken: 'score/action', AMLToken: 'token/action', Key: 'listKeys/action' }[this.invokeAuthMode];
      this.invokeRole = new RoleDefinition(this, 'InvokeRole', {
        name: `Invoke Azure ML endpoint ${literal(this.endpointName)} (${sha256Hex(this.node.path).slice(0, 8)})`,
        description: `Call the Azure ML online endpoint ${literal(this.endpointName)} (${this.invokeAuthMode} auth) and nothing else`,
        scope: this.resourceGroupId,
        assignableScopes: [this.resourceGroupId],
        permissions: [{ actions: [`Microsoft.MachineLearningServices/workspaces/onlineEndpoints/${action}`] }],
      });
    }
    const count = this.node.children.filter(c => c instanceof RoleAssignment && c.node.id.startsWith('Invoke')).length;
    return new RoleAssignment(this, id ?? `Invoke${count}`, {
      scope: this.endpoint.id,
      roleDefinitionId: this.invokeRole.roleDefinitionResourceId,
      principalId: literal(principalId),
    });
  }

  /** Validates the props and applies their defaults; every problem is collected and thrown together, before any resource is created. */
  private resolve(props: AzureMlModelEndpointProps): ResolvedAzureMlEndpoint {
    const spec = resolveSpec(props, AZURE_ML_OPTION_KEYS);
    const problems = new Problems(TARGET);
    const refuse = (field: string, value: unknown, allowed: string) => problems.add(field, value, allowed);

    const location = typeof props.location === 'string' && LOCATION.test(props.location) ? props.location : undefined;
    if (location === undefined) refuse('location', props.location, 'an Azure region name in lower case, e.g. "westeurope" or "eastus2"');

    const endpointName = spec.endpointName ?? endpointNameFrom(this.node.path);
    if (!ENDPOINT_NAME.test(endpointName)) {
      refuse('endpointName', endpointName, 'Azure ML\'s endpoint name rule: 3 to 32 letters, digits and hyphens, starting with a letter');
    }

    const workspace = resolveWorkspace(problems, props);
    const model = resolveModel(problems, spec, props, workspace);
    const modelContainerName = props.modelContainerName ?? 'models';
    if (!CONTAINER_NAME.test(modelContainerName)) {
      refuse('modelContainerName', modelContainerName, 'a blob container name: 3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit');
    }
    const instance = problems.attempt(() => pickInstance(spec, props.instanceType));
    checkScaling(problems, spec);
    checkRollout(problems, spec);
    if (spec.monitoring.capture) {
      refuse('monitoring.capture', spec.monitoring.capture, 'left out: Azure ML collects request and response payloads only from a scoring script that calls its data collector, which a custom container does not have');
    }
    const image = checkServing(problems, spec);
    const registryId = checkRegistry(problems, props.containerRegistryId, image);
    if (props.alarmActionGroupId !== undefined) checkId(problems, 'alarmActionGroupId', props.alarmActionGroupId);
    const privateEndpoint = resolvePrivateEndpoint(problems, spec.network, props);
    checkVerification(problems, spec);
    problems.throwIfAny();
    if (spec.network === NetworkAccess.PRIVATE && privateEndpoint === undefined) {
      Annotations.of(this).addWarning('azureMl: access.network is PRIVATE and no privateEndpointSubnetId is given: the workspace and the endpoint take no public traffic, so the endpoint answers only through a private endpoint of the workspace that you create');
    }
    if (spec.network === NetworkAccess.PRIVATE && spec.verification !== undefined) {
      Annotations.of(this).addInfo('azureMl: verification with access.network PRIVATE: the sample predictions are sent from the machine that runs cdktf apply, which must reach the endpoint through the workspace\'s private endpoint; elsewhere the apply stops with "cannot reach the scoring URI\'s host" before traffic moves');
    }

    const unique = sha256Hex(`${this.node.path}\n${endpointName}`);
    return {
      spec, endpointName, location: location!, instance: instance!, image: image!, registryId, workspace, model, modelContainerName,
      alarmActionGroupId: props.alarmActionGroupId,
      privateEndpoint,
      authMode: authModeOf(spec.auth),
      publicNetworkAccess: spec.network === NetworkAccess.PUBLIC ? 'Enabled' : 'Disabled',
      capacity: spec.scaling.minReplicas,
      names: {
        resourceGroup: `rg-${endpointName}`,
        storageAccount: `mdl${unique.slice(0, 21)}`,
        keyVault: `kv${unique.slice(0, 22)}`,
        logAnalytics: `log-${endpointName}`,
        applicationInsights: `appi-${endpointName}`,
        workspace: `mlw-${endpointName}`.slice(0, 33).replace(/-+$/, ''),
        model: `${endpointName}-model`,
        environment: `${endpointName}-env`,
      },
      tags: Object.fromEntries(Object.entries(spec.tags).map(([k, v]) => [literal(k), literal(v)])),
    };
  }

  /** azurerm and azapi: the user's own configurations when the stack declares them, else ours. */
  private renderProviders(r: ResolvedAzureMlEndpoint): void {
    const { provider: azurerm, declaredByTarget } = stackProvider(this, 'azurerm', (stack, id) => new AzurermProvider(stack, id, {
      features: [{}],
      // Shared keys are off on the storage account: Terraform uploads the model with Entra ID.
      storageUseAzuread: true,
    }));
    if (!declaredByTarget && r.model.kind === 'local' && azurerm.storageUseAzuread !== true) {
      throw new ModelDeploymentValidationError('provider azurerm', `${azurerm.node.path} without storage_use_azuread`,
        'storageUseAzuread: true on your azurerm provider: the model is uploaded to a storage account whose shared keys are off', TARGET);
    }
    stackProvider(this, 'azapi', (stack, id) => new AzapiProvider(stack, id));
  }

  /** The workspace: the existing one, or a new one with its storage account, key vault, Log Analytics and Application Insights. */
  private renderWorkspace(r: ResolvedAzureMlEndpoint, client: DataAzurermClientConfig): RenderedWorkspace {
    const w = r.workspace;
    if (w.existingId !== undefined) {
      const resourceGroup = resourceGroupOf(w.existingId);
      return { workspaceId: literal(w.existingId), ...resourceGroup, storage: w.storageAccountId === undefined ? undefined : existingStorage(w.storageAccountId) };
    }

    const tags = r.tags;
    const location = r.location;
    const group = w.resourceGroupName !== undefined ? undefined : new ResourceGroup(this, 'ResourceGroup', { name: r.names.resourceGroup, location, tags });
    const resourceGroupName = group?.name ?? literal(w.resourceGroupName!);
    const resourceGroupId = group?.id ?? `/subscriptions/${client.subscriptionId}/resourceGroups/${resourceGroupName}`;
    const placed = { location, resourceGroupName, tags };

    const storage = w.storageAccountId !== undefined ? existingStorage(w.storageAccountId) : new StorageAccount(this, 'Storage', {
      ...placed,
      name: r.names.storageAccount,
      accountTier: 'Standard',
      accountReplicationType: 'LRS',
      accountKind: 'StorageV2',
      minTlsVersion: 'TLS1_2',
      httpsTrafficOnlyEnabled: true,
      allowNestedItemsToBePublic: false,
      sharedAccessKeyEnabled: false,
      defaultToOauthAuthentication: true,
      infrastructureEncryptionEnabled: true,
      crossTenantReplicationEnabled: false,
      blobProperties: { deleteRetentionPolicy: { days: 7 }, containerDeleteRetentionPolicy: { days: 7 } },
    });

    const keyVaultId = w.keyVaultId !== undefined ? literal(w.keyVaultId) : new KeyVault(this, 'KeyVault', {
      ...placed,
      name: r.names.keyVault,
      tenantId: client.tenantId,
      skuName: 'standard',
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: true,
      softDeleteRetentionDays: 90,
    }).id;

    let applicationInsightsId = w.applicationInsightsId === undefined ? undefined : literal(w.applicationInsightsId);
    let logAnalyticsId: string | undefined;
    if (applicationInsightsId === undefined) {
      logAnalyticsId = new LogAnalyticsWorkspace(this, 'Logs', { ...placed, name: r.names.logAnalytics, sku: 'PerGB2018', retentionInDays: 30 }).id;
      applicationInsightsId = new ApplicationInsights(this, 'Insights', { ...placed, name: r.names.applicationInsights, workspaceId: logAnalyticsId, applicationType: 'other' }).id;
    }

    const workspace = new MachineLearningWorkspace(this, 'Workspace', {
      ...placed,
      name: r.names.workspace,
      applicationInsightsId,
      keyVaultId,
      storageAccountId: storage.id,
      containerRegistryId: r.registryId && literal(r.registryId),
      identity: { type: 'SystemAssigned' },
      publicNetworkAccessEnabled: r.publicNetworkAccess === 'Enabled',
      encryption: w.encryption === undefined ? undefined : { keyId: literal(w.encryption.keyId), keyVaultId: literal(w.encryption.keyVaultId) },
      highBusinessImpact: w.encryption !== undefined ? true : undefined,
    });
    return { workspaceId: workspace.id, resourceGroupName, resourceGroupId, logAnalyticsId, storage: { id: storage.id, name: storage.name } };
  }

  /** With PRIVATE: a private endpoint of the workspace in the given subnet, registered in the given DNS zones. */
  private renderPrivateEndpoint(r: ResolvedAzureMlEndpoint, workspace: RenderedWorkspace): PrivateEndpoint | undefined {
    const pe = r.privateEndpoint;
    if (pe === undefined) return undefined;
    return new PrivateEndpoint(this, 'WorkspacePrivateEndpoint', {
      name: `pe-${r.names.workspace}`,
      location: r.location,
      resourceGroupName: workspace.resourceGroupName,
      subnetId: literal(pe.subnetId),
      tags: r.tags,
      privateServiceConnection: {
        name: `psc-${r.names.workspace}`, privateConnectionResourceId: workspace.workspaceId, subresourceNames: ['amlworkspace'], isManualConnection: false,
      },
      privateDnsZoneGroup: pe.dnsZoneIds === undefined ? undefined : { name: 'azureml', privateDnsZoneIds: pe.dnsZoneIds.map(literal) },
    });
  }

  /**
   * The private container for the model, and (for a local model) its files uploaded as blobs under
   * a prefix named by their content hash: an unchanged model keeps its blob names, so nothing is
   * uploaded and nothing redeploys.
   */
  private renderModelStore(r: ResolvedAzureMlEndpoint, storage: StorageAccountRef, client: DataAzurermClientConfig): RenderedStore {
    const { id: storageAccountId, name: accountName } = storage;
    const container = new StorageContainer(this, 'ModelContainer', { name: r.modelContainerName, storageAccountId, containerAccessType: 'private' });
    const containerScope = `${storageAccountId}/blobServices/default/containers/${r.modelContainerName}`;
    const uploads: ITerraformDependable[] = [container];
    if (r.model.kind === 'local') {
      // Whoever runs `cdktf apply` writes the blobs with Entra ID (shared keys are off).
      const writer = new RoleAssignment(this, 'ModelWriter', {
        scope: containerScope, roleDefinitionName: AZURE_ROLES.storageBlobDataContributor, principalId: client.objectId,
        dependsOn: [container],
      });
      const m = r.model;
      const asset = new TerraformAsset(this, 'ModelFiles', { path: m.source, type: m.isDirectory ? AssetType.DIRECTORY : AssetType.FILE, assetHash: m.contentHash });
      const files = TerraformIterator.fromMap(Object.fromEntries(m.files.map(f => [
        literal(f.name), literal(m.isDirectory ? `${asset.path}/${f.name}` : asset.path),
      ])));
      uploads.push(new StorageBlob(this, 'ModelBlobs', {
        forEach: files,
        name: `${modelPrefix(r)}/${files.key}`,
        storageAccountName: accountName,
        storageContainerName: r.modelContainerName,
        type: 'Block',
        contentType: 'application/octet-stream',
        source: files.value,
        dependsOn: [container, writer],
      }));
    }
    return { accountId: storageAccountId, accountName, containerScope, uploads };
  }

  /** The model version: the uploaded prefix, or the given URI. Its version is the content hash (or the URI's). */
  private renderModelVersion(r: ResolvedAzureMlEndpoint, workspaceId: string, store?: RenderedStore): AzapiResource {
    const m = r.model;
    const modelUri = m.kind === 'local'
      ? `https://${store!.accountName}.blob.core.windows.net/${r.modelContainerName}/${modelPrefix(r)}/`
      : literal(m.uri);
    const body: ModelVersionBody = { properties: { modelType: 'custom_model', modelUri, description: `Model of ${literal(r.endpointName)}` } };
    return new AzapiResource(this, 'ModelVersion', {
      type: AZURE_ML_TYPES.modelVersion,
      name: modelVersionOf(r),
      parentId: `${workspaceId}/models/${r.names.model}`,
      body,
      dependsOn: store?.uploads,
      lifecycle: { createBeforeDestroy: true },
    });
  }

  /** The environment version: the image and its routes, from the serving contract. */
  private renderEnvironmentVersion(r: ResolvedAzureMlEndpoint, workspaceId: string): AzapiResource {
    const body: EnvironmentVersionBody = environmentBody(r);
    return new AzapiResource(this, 'EnvironmentVersion', {
      type: AZURE_ML_TYPES.environmentVersion,
      name: sha256Hex(JSON.stringify(body)).slice(0, 12),
      parentId: `${workspaceId}/environments/${r.names.environment}`,
      body,
      lifecycle: { createBeforeDestroy: true },
    });
  }

  /** The online endpoint: its identity, auth mode and network access. Traffic is set later. */
  private renderEndpoint(r: ResolvedAzureMlEndpoint, workspaceId: string, identity: UserAssignedIdentity): AzapiResource {
    const body: OnlineEndpointBody = {
      properties: { authMode: r.authMode, publicNetworkAccess: r.publicNetworkAccess, description: `Managed online endpoint ${literal(r.endpointName)}` },
    };
    return new AzapiResource(this, 'OnlineEndpoint', {
      type: AZURE_ML_TYPES.onlineEndpoint,
      name: literal(r.endpointName),
      parentId: workspaceId,
      location: r.location,
      identity: { type: 'UserAssigned', identityIds: [identity.id] },
      tags: r.tags,
      body,
      responseExportValues: ['properties.scoringUri'],
    });
  }

  /** What the endpoint's identity may do, and nothing more: read the model's container, pull the image, write metrics. */
  private renderEndpointRoles(r: ResolvedAzureMlEndpoint, workspaceId: string, modelScope?: string): RoleAssignment[] {
    const principalId = this.identity.principalId;
    const grant = (id: string, scope: string, roleDefinitionName: string) =>
      new RoleAssignment(this, id, { scope, roleDefinitionName, principalId, principalType: 'ServicePrincipal' });
    return [
      ...(modelScope ? [grant('EndpointReadsModel', modelScope, AZURE_ROLES.storageBlobDataReader)] : []),
      ...(r.registryId ? [grant('EndpointPullsImage', literal(r.registryId), AZURE_ROLES.acrPull)] : []),
      grant('EndpointWritesMetrics', workspaceId, AZURE_ROLES.azureMlMetricsWriter),
    ];
  }

  /**
   * The managed online deployment. Its name hashes everything that makes a new deployment (model
   * version, environment, instance type, probes, settings), so a change is a new deployment created
   * before the old one goes (create_before_destroy); the capacity alone changes in place.
   */
  private renderDeployment(r: ResolvedAzureMlEndpoint, model: AzapiResource, environment: AzapiResource,
    roles: RoleAssignment[]): AzapiResource {
    const body: ManagedOnlineDeploymentBody = { sku: { name: 'Default', capacity: r.capacity }, properties: deploymentProperties(r, model.id, environment.id) };
    return new AzapiResource(this, 'Deployment', {
      type: AZURE_ML_TYPES.onlineDeployment,
      name: this.deploymentName,
      parentId: this.endpoint.id,
      location: r.location,
      tags: r.tags,
      body,
      // The identity's roles exist before the deployment pulls the image and downloads the model.
      dependsOn: roles,
      // With autoscale, Azure Monitor owns the capacity: Terraform leaves it as it finds it.
      lifecycle: { createBeforeDestroy: true, ignoreChanges: r.spec.scaling.target === undefined ? undefined : ['body.sku.capacity'] },
    });
  }

  /**
   * All traffic to the current deployment, set once Azure reports it provisioned (azapi waits for
   * the create to finish). On a new version, the old deployment is destroyed only after this update:
   * Terraform destroys a create_before_destroy object after the resources that depend on it are updated.
   */
  private renderTraffic(deployment: AzapiResource, verification: TerraformData | undefined): AzapiUpdateResource {
    const body: OnlineEndpointTrafficBody = { properties: { traffic: { [this.deploymentName]: 100 } } };
    return new AzapiUpdateResource(this, 'Traffic', {
      type: AZURE_ML_TYPES.onlineEndpoint,
      resourceId: this.endpoint.id,
      body,
      dependsOn: verification === undefined ? [deployment] : [deployment, verification],
    });
  }

  /**
   * The sample predictions, sent to the new deployment alone (header `azureml-model-deployment`,
   * which Azure routes even at 0% traffic) once it is provisioned and before the traffic update,
   * which depends on this: a wrong or slow answer fails the apply while the previous deployment
   * still takes all the traffic (and, being a create_before_destroy object, is not destroyed).
   * Replaced, and so run again, whenever the deployment is replaced or the samples change; a failed
   * run is tainted, so the next apply runs it again. The request holds no credential: the checker
   * reads a key or gets a token at run time.
   */
  private renderVerification(r: ResolvedAzureMlEndpoint): TerraformData | undefined {
    const v = r.spec.verification;
    if (v === undefined) return undefined;
    const request: AzureVerifyRequest = {
      format: AZURE_VERIFY_REQUEST_FORMAT,
      endpointId: this.endpoint.id,
      endpointName: r.endpointName,
      deploymentName: this.deploymentName,
      scoringUri: this.endpointUrl,
      authMode: r.authMode,
      apiVersion: AZURE_ML_API_VERSION,
      privateNetwork: r.publicNetworkAccess === 'Disabled',
      verification: travellingVerification(v),
    };
    return new TerraformData(this, 'Verification', {
      // Strings escaped for Terraform's templates (references pass unchanged): jsonencode(self.input) gives the originals back.
      input: terraformLiteralDeep(request),
      triggersReplace: { deployment: this.deployment.id, samples: sha256Hex(JSON.stringify(request.verification)).slice(0, 16) },
      dependsOn: [this.deployment],
      provisioners: [{ type: 'local-exec', command: literal(nodeCommand(AZURE_VERIFY_MAIN)), environment: requestEnvironment(AZURE_VERIFY_REQUEST_ENV) }],
    });
  }

  /**
   * Azure refuses to delete a deployment that still takes traffic, so `cdktf destroy` would fail on
   * the deployment. This action, destroyed before the deployment it depends on, first PUTs the
   * endpoint back with no traffic. It names no deployment, so a new version (a replaced
   * deployment) leaves it alone: only a real destroy sends it.
   */
  private renderTrafficDrainOnDestroy(r: ResolvedAzureMlEndpoint, endpoint: AzapiResource, deployment: AzapiResource): AzapiResourceAction {
    const endpointBody = endpoint.body as OnlineEndpointBody;
    const body: OnlineEndpointPutBody = {
      location: r.location,
      identity: { type: 'UserAssigned', userAssignedIdentities: { [this.identity.id]: {} } },
      ...(Object.keys(r.tags).length > 0 ? { tags: r.tags } : {}),
      properties: { ...endpointBody.properties, traffic: {} },
    };
    return new AzapiResourceAction(this, 'DrainTrafficOnDestroy', {
      type: AZURE_ML_TYPES.onlineEndpoint, resourceId: endpoint.id, method: 'PUT', body, when: 'destroy', dependsOn: [deployment],
    });
  }

  private renderOutputs(): void {
    new TerraformOutput(this, 'EndpointName', { value: literal(this.endpointName), description: 'The Azure ML online endpoint' });
    new TerraformOutput(this, 'ScoringUri', { value: this.endpointUrl, description: 'POST prediction requests here' });
    new TerraformOutput(this, 'DeploymentName', { value: this.deploymentName, description: 'The deployment that takes all traffic' });
  }
}

/** A user string written literally into Terraform JSON (a reference to another resource passes unchanged). */
const literal = terraformLiteral;

/** The resource group (name and id) of an existing resource, from its id (read by Terraform for a reference). */
function resourceGroupOf(resourceId: string): { resourceGroupName: string; resourceGroupId: string } {
  if (Token.isUnresolved(resourceId)) {
    const parts = Fn.split('/', resourceId);
    return { resourceGroupName: Fn.element(parts, 4), resourceGroupId: Fn.join('/', Fn.slice(parts, 0, 5)) };
  }
  const [, , subscription, , group] = resourceId.split('/');
  return { resourceGroupName: literal(group), resourceGroupId: literal(`/subscriptions/${subscription}/resourceGroups/${group}`) };
}

/** An existing storage account by id: its name is the id's last segment (read by Terraform for a reference). */
function existingStorage(id: string): StorageAccountRef {
  if (Token.isUnresolved(id)) return { id, name: Fn.element(Fn.split('/', id), 8) };
  return { id: literal(id), name: IDS.storageAccountId.exec(id)![1] };
}

/**
 * The deployment's name: `v` and a hash of what makes a new deployment: the model and environment
 * versions (their ids are known only after apply, so their version names stand in) and every
 * property but the capacity.
 */
function deploymentNameFor(r: ResolvedAzureMlEndpoint, modelVersion: string, environment: EnvironmentVersionBody): string {
  const properties = deploymentProperties(r, '', '');
  return `v${sha256Hex(JSON.stringify({ modelVersion, environment, properties })).slice(0, 12)}`;
}

/** A valid default endpoint name from the construct path: letter first, at most 32 characters, with a hash for uniqueness. */
export function endpointNameFrom(constructPath: string): string {
  return nameFromConstructPath(constructPath, 25, true);
}

function authModeOf(auth: AuthMode | undefined): EndpointAuthMode {
  switch (auth) {
    case AuthMode.KEY: return 'Key';
    case AuthMode.TOKEN: return 'AMLToken';
    // Microsoft Entra ID tokens, checked against Azure RBAC: the strongest, and the default.
    default: return 'AADToken';
  }
}

/** The blob prefix of a local model: the endpoint's folder, then the content hash. */
function modelPrefix(r: ResolvedAzureMlEndpoint): string {
  return `${literal(r.endpointName)}/${(r.model as { contentHash: string }).contentHash}`;
}

function modelVersionOf(r: ResolvedAzureMlEndpoint): string {
  return (r.model.kind === 'local' ? r.model.contentHash : sha256Hex(r.model.uri)).slice(0, 12);
}

function environmentBody(r: ResolvedAzureMlEndpoint): EnvironmentVersionBody {
  const s = r.spec.serving;
  const route = (p: string) => ({ path: literal(p), port: s.port });
  return {
    properties: {
      image: literal(r.image),
      osType: 'Linux',
      inferenceConfig: { livenessRoute: route(s.healthPath), readinessRoute: route(s.healthPath), startupRoute: route(s.healthPath), scoringRoute: route(s.predictPath) },
    },
  };
}

/** Probe timings: Azure's defaults (10 s period), and a startup probe that allows startupTimeoutSeconds. */
const PROBE_PERIOD_SECONDS = 10;
/** Azure's default is 5 s, short for large models; managed endpoints allow at most 180 s. */
const REQUEST_TIMEOUT_SECONDS = 60;

function deploymentProperties(r: ResolvedAzureMlEndpoint, modelId: string, environmentId: string): ManagedOnlineDeploymentBody['properties'] {
  const probe = (initialDelay: number, failureThreshold: number): ProbeSettings => ({
    initialDelay: isoSeconds(initialDelay), period: isoSeconds(PROBE_PERIOD_SECONDS), timeout: isoSeconds(2), failureThreshold, successThreshold: 1,
  });
  const serving = r.spec.serving;
  return {
    endpointComputeType: 'Managed',
    model: modelId,
    environmentId,
    instanceType: r.instance.name,
    scaleSettings: { scaleType: 'Default' },
    requestSettings: { maxConcurrentRequestsPerInstance: 1, requestTimeout: isoSeconds(REQUEST_TIMEOUT_SECONDS) },
    startupProbe: probe(PROBE_PERIOD_SECONDS, Math.ceil(serving.startupTimeoutSeconds / PROBE_PERIOD_SECONDS)),
    livenessProbe: probe(PROBE_PERIOD_SECONDS, 30),
    readinessProbe: probe(PROBE_PERIOD_SECONDS, 30),
    environmentVariables: Object.fromEntries(Object.entries(serving.environment).map(([k, v]) => [literal(k), literal(v)])),
    appInsightsEnabled: true,
    egressPublicNetworkAccess: r.publicNetworkAccess,
  };
}

/** The workspace's private endpoint: only with PRIVATE; its subnet and DNS zones well formed. */
function resolvePrivateEndpoint(problems: Problems, network: NetworkAccess, props: AzureMlTargetOptions): ResolvedAzureMlEndpoint['privateEndpoint'] {
  const { privateEndpointSubnetId: subnetId, privateDnsZoneIds: zones } = props;
  if (subnetId === undefined) {
    if (zones !== undefined) problems.add('privateDnsZoneIds', zones, 'left out without privateEndpointSubnetId: they are the zones of the private endpoint it creates');
    return undefined;
  }
  if (network !== NetworkAccess.PRIVATE) {
    problems.add('privateEndpointSubnetId', subnetId, 'left out with access.network PUBLIC, or set access.network PRIVATE to reach the workspace only through this private endpoint');
  }
  if (typeof subnetId !== 'string' || !(Token.isUnresolved(subnetId) || SUBNET_ID.test(subnetId))) {
    problems.add('privateEndpointSubnetId', subnetId, 'a subnet id /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/Microsoft.Network/virtualNetworks/VNET/subnets/NAME (or a reference to one in this stack)');
  }
  if (zones !== undefined) {
    const literalIds = Array.isArray(zones) ? zones.filter(z => !(typeof z === 'string' && Token.isUnresolved(z))) : [];
    const wellFormed = Array.isArray(zones) && zones.length > 0 && literalIds.every(z => typeof z === 'string' && DNS_ZONE_ID.test(z));
    const hasApiZone = literalIds.length < (Array.isArray(zones) ? zones.length : 0) || literalIds.some(z => (z as string).toLowerCase().endsWith(`/${WORKSPACE_DNS_ZONES[0]}`));
    if (!wellFormed || !hasApiZone) {
      problems.add('privateDnsZoneIds', zones, `private DNS zone ids (.../providers/Microsoft.Network/privateDnsZones/ZONE) of the zones ${WORKSPACE_DNS_ZONES.join(' and ')}, including the first`);
    }
  }
  return { subnetId, dnsZoneIds: zones };
}

function checkId(problems: Problems, field: keyof typeof IDS, value: unknown): void {
  if (typeof value === 'string' && (Token.isUnresolved(value) || IDS[field].test(value))) return;
  const type = ID_TYPES[field];
  problems.add(field, value, `a resource id /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/providers/${type}/NAME (or a reference to one in this stack)`);
}

function resolveWorkspace(problems: Problems, props: AzureMlTargetOptions): ResolvedWorkspace {
  for (const field of ['workspaceId', 'storageAccountId', 'keyVaultId', 'applicationInsightsId', 'encryptionKeyVaultId'] as const) {
    if (props[field] !== undefined) checkId(problems, field, props[field]);
  }
  if (props.resourceGroupName !== undefined && (typeof props.resourceGroupName !== 'string' || !RESOURCE_GROUP_NAME.test(props.resourceGroupName))) {
    problems.add('resourceGroupName', props.resourceGroupName, 'a resource group name: 1 to 90 letters, digits, _ . ( ) and -, not ending with "."');
  }
  if (props.encryptionKeyId !== undefined && (typeof props.encryptionKeyId !== 'string' || !(Token.isUnresolved(props.encryptionKeyId) || KEY_URL.test(props.encryptionKeyId)))) {
    problems.add('encryptionKeyId', props.encryptionKeyId, 'a versioned key URL https://VAULT.vault.azure.net/keys/NAME/VERSION');
  }
  if ((props.encryptionKeyId === undefined) !== (props.encryptionKeyVaultId === undefined)) {
    const [missing, given] = props.encryptionKeyId === undefined ? ['encryptionKeyId', 'encryptionKeyVaultId'] : ['encryptionKeyVaultId', 'encryptionKeyId'];
    problems.add(missing, undefined, `set together with ${given}: Azure needs the key's URL and its vault's resource id`);
  }
  if (props.workspaceId !== undefined) {
    for (const field of ['resourceGroupName', 'keyVaultId', 'applicationInsightsId', 'encryptionKeyId', 'encryptionKeyVaultId'] as const) {
      if (props[field] !== undefined) {
        problems.add(field, props[field], `left out with workspaceId: nothing around an existing workspace is created or changed (${field} only applies to a workspace created here)`);
      }
    }
  }
  return {
    existingId: props.workspaceId,
    resourceGroupName: props.resourceGroupName,
    storageAccountId: props.storageAccountId,
    keyVaultId: props.keyVaultId,
    applicationInsightsId: props.applicationInsightsId,
    encryption: props.encryptionKeyId !== undefined && props.encryptionKeyVaultId !== undefined ? { keyId: props.encryptionKeyId, keyVaultId: props.encryptionKeyVaultId } : undefined,
  };
}

function resolveModel(problems: Problems, spec: ResolvedModelDeploymentSpec, props: AzureMlTargetOptions, workspace: ResolvedWorkspace): ResolvedModel {
  const model = spec.model;
  const unpacked = 'Azure ML mounts the model\'s files as they are and does not unpack archives: give the unpacked directory';
  if (model.source === ArtifactSource.LOCAL_PATH) {
    if (model.layout === ArtifactLayout.TAR_GZ) problems.add('model.path', model.localPath, `a directory or a single model file, not a .tar.gz: ${unpacked}`);
    if (workspace.existingId !== undefined && props.storageAccountId === undefined) {
      problems.add('storageAccountId', undefined, 'the storage account to upload the local model to: with an existing workspaceId nothing is created around it, so name one (or give the model as an azureml:// or blob URI)');
    }
    const files = problems.attempt(() => listModelFiles(model.localPath!)) ?? [];
    const contentHash = problems.attempt(() => hashModelSource(model.localPath!)) ?? '';
    const source = path.resolve(model.localPath!);
    return { kind: 'local', files, contentHash, source, isDirectory: !(files.length === 1 && path.resolve(files[0].path) === source) };
  }
  if (model.scheme !== ArtifactScheme.AZURE_BLOB && model.scheme !== ArtifactScheme.AZURE_ML) {
    problems.add('model.uri', model.uri, 'an Azure ML asset (azureml://...) or an Azure blob (https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH), or ModelArtifact.fromLocalPath(...) to upload one');
  } else if (model.layout === ArtifactLayout.TAR_GZ) {
    problems.add('model.uri', model.uri, `a prefix (ending in "/") or a single model file, not a .tar.gz: ${unpacked}`);
  } else if (model.scheme === ArtifactScheme.AZURE_BLOB) {
    // The endpoint's identity is granted read on the URI's container, which needs the account's id.
    const account = AZURE_BLOB_URI.exec(model.uri!)?.[1];
    const given = props.storageAccountId !== undefined && !Token.isUnresolved(props.storageAccountId) ? IDS.storageAccountId.exec(props.storageAccountId)?.[1] : undefined;
    if (props.storageAccountId === undefined) {
      problems.add('storageAccountId', undefined, `the resource id of the storage account ${account} that holds model.uri: the endpoint's identity is granted Storage Blob Data Reader on its container`);
    } else if (given !== undefined && given !== account) {
      problems.add('storageAccountId', props.storageAccountId, `the storage account that holds model.uri (${account}), not ${given}`);
    }
  }
  return { kind: 'uri', uri: model.uri! };
}

/** The instance type: the catalog's choice for compute, or the override (which must be in the catalog and have the spec's GPUs). */
function pickInstance(spec: ResolvedModelDeploymentSpec, instanceType: string | undefined): InstanceOffer {
  const compute = spec.compute;
  if (instanceType === undefined) return selectInstance(AZURE_ML_INSTANCE_TYPES, compute, TARGET);
  const known = findInstance(AZURE_ML_INSTANCE_TYPES, instanceType);
  if (known === undefined) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, `an Azure ML managed online endpoint size from the catalog: ${offersFor(compute.kind === ComputeKind.GPU ? compute.gpu : undefined)}`, TARGET);
  }
  if (compute.kind === ComputeKind.GPU && (known.gpu !== compute.gpu || known.gpuCount !== compute.gpuCount)) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, `a size with ${compute.describe()} (this one has ${known.gpuCount ? `${known.gpuCount} x ${known.gpu}` : 'no GPU'}): ${offersFor(compute.gpu)}`, TARGET);
  }
  if (compute.kind === ComputeKind.CPU && known.gpuCount > 0) {
    throw new ModelDeploymentValidationError('instanceType', instanceType, `a CPU size for CPU compute (or Compute.gpu({...}) in the spec): ${offersFor(undefined)}`, TARGET);
  }
  return known;
}

function offersFor(gpu: string | undefined): string {
  return AZURE_ML_INSTANCE_TYPES.filter(o => gpu === undefined ? o.gpuCount === 0 : o.gpu === gpu).map(o => o.name).join(', ');
}

function checkScaling(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  const s = spec.scaling;
  if (s.minReplicas < 1) {
    problems.add('scaling.minReplicas', s.minReplicas, 'at least 1: a managed online deployment cannot scale to zero (Azure recommends at least 3 for production)');
  }
  if (s.maxReplicas > MAX_INSTANCES) {
    problems.add('scaling.maxReplicas', s.maxReplicas, `at most ${MAX_INSTANCES} instances per deployment (Azure ML's limit for managed online deployments; the default quota is lower, and a new version needs room for both deployments while traffic moves)`);
  }
}

/** Verification: the latency budget must fit in the deployment's request timeout, after which Azure answers 408 itself. */
function checkVerification(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  const budget = spec.verification?.latencyBudgetMs;
  if (budget !== undefined && budget > REQUEST_TIMEOUT_SECONDS * 1000) {
    problems.add('verification.latencyBudgetMs', budget,
      `at most ${REQUEST_TIMEOUT_SECONDS * 1000}: Azure ML ends a scoring request after the deployment's request timeout of ${REQUEST_TIMEOUT_SECONDS} s`);
  }
}

function checkRollout(problems: Problems, spec: ResolvedModelDeploymentSpec): void {
  checkBlueGreenOnly(problems, spec,
    'Azure ML gets blue/green in one apply (the new deployment is created beside the old one, all traffic moves to it once Azure reports it provisioned, then the old one is removed)',
    'the old deployment is removed in the same apply, as soon as traffic has moved');
}

function checkServing(problems: Problems, spec: ResolvedModelDeploymentSpec): string | undefined {
  const s = spec.serving;
  if (s.image === undefined) {
    const preset = s.framework === ServingFramework.CUSTOM ? 'custom' : s.framework;
    problems.add('serving.image', undefined,
      `the image to run (pin a tag or digest): this target has no Azure-managed image for ${preset} yet (Azure ML's curated inference images need a scoring script, which the spec does not describe)`);
  }
  for (const [field, value] of [['serving.healthPath', s.healthPath], ['serving.predictPath', s.predictPath]] as const) {
    if (!ROUTE_PATH.test(value)) problems.add(field, value, 'a path with at least one letter, digit or underscore (Azure ML\'s route rule), e.g. "/health"');
  }
  return s.image;
}

/** The registry the image is pulled from: required for an `*.azurecr.io` image, and must be that registry. */
function checkRegistry(problems: Problems, registryId: string | undefined, image: string | undefined): string | undefined {
  if (registryId !== undefined) checkId(problems, 'containerRegistryId', registryId);
  const acr = image === undefined ? undefined : /^([a-z0-9]{5,50})\.azurecr\.io\//i.exec(image)?.[1]?.toLowerCase();
  if (acr !== undefined && registryId === undefined) {
    problems.add('containerRegistryId', undefined, `the resource id of the registry ${acr}.azurecr.io: the endpoint's identity is granted AcrPull on it to pull serving.image`);
  }
  const named = registryId !== undefined && !Token.isUnresolved(registryId) ? IDS.containerRegistryId.exec(registryId)?.[1]?.toLowerCase() : undefined;
  if (acr !== undefined && named !== undefined && acr !== named) {
    problems.add('containerRegistryId', registryId, `the registry serving.image is in (${acr}.azurecr.io), not ${named}`);
  }
  return registryId;
}
