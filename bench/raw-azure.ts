/**
 * The hand-written baseline of the Azure bench: what a team writes without this library, one
 * managed online endpoint per call, declared straight with @cdktf/provider-azurerm (deep imports,
 * like the target) and plain cdktf `TerraformResource`s with `addOverride` for azapi (which has
 * no prebuilt bindings). Loaded by bench/child.ts, never by the library.
 *
 * It declares the same resources, attributes and outputs per deployment as
 * `DeploymentTarget.azureMl({ location, containerRegistryId })` does for the bench's spec (CPU
 * 4 vCPU / 16 GiB, 2-4 instances on requests per instance, public network, a custom image from an
 * ACR): resource group, storage account, key vault, Log Analytics, Application Insights, ML
 * workspace, user-assigned identity, AcrPull and Metrics Writer role assignments, model version,
 * environment version, online endpoint, deployment, traffic update, traffic drain on destroy,
 * autoscale, diagnostic setting, latency and 5xx alerts, one azurerm_client_config data source
 * and three outputs; with a local model also the private container, the uploader's and the
 * endpoint's Storage Blob Data roles, the asset and the blobs (one for_each resource). The two
 * providers are declared once per stack, as the target does. Same resource count and types.
 *
 * What differs, on purpose (it is what a hand-written stack leaves out, and what the bench measures):
 * - names are fixed strings built from the index (the target derives them with sha256 from the
 *   construct path, the model and the deployment's settings: deployment and version names);
 * - no validation of anything (the target resolves and checks the spec, the options, the ids, the
 *   catalog and Azure's limits before it creates a resource), no escaping of `${`, no provider
 *   lookup across the stack (the target looks for a user-declared provider first);
 * - the local model's blob prefix is cdktf's own asset hash (the target hashes the model itself
 *   and passes that hash to the asset, so cdktf does not hash it again): one hash either way.
 */
import * as fs from 'fs';
import { AssetType, TerraformAsset, TerraformIterator, TerraformOutput, TerraformProvider, TerraformResource, TerraformStack } from 'cdktf';
import type { ITerraformDependable, TerraformResourceLifecycle } from 'cdktf';
import { Construct } from 'constructs';
import { ApplicationInsights } from '@cdktf/provider-azurerm/lib/application-insights';
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { MachineLearningWorkspace } from '@cdktf/provider-azurerm/lib/machine-learning-workspace';
import { MonitorAutoscaleSetting } from '@cdktf/provider-azurerm/lib/monitor-autoscale-setting';
import { MonitorDiagnosticSetting } from '@cdktf/provider-azurerm/lib/monitor-diagnostic-setting';
import { MonitorMetricAlert } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';
import { MonitorScheduledQueryRulesAlertV2 } from '@cdktf/provider-azurerm/lib/monitor-scheduled-query-rules-alert-v2';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';

/** What one raw deployment needs. */
export interface RawAzureDeployment {
  readonly location: string;
  /** The ACR the image is pulled from (resource id). */
  readonly containerRegistryId: string;
  readonly image: string;
  /** An `azureml://` model URI, or... */
  readonly modelUri?: string;
  /** ... a local model directory uploaded as blobs. */
  readonly localModelDir?: string;
}

const API = '2024-10-01';
const ML = 'Microsoft.MachineLearningServices/workspaces';
const ENDPOINT_METRICS = `${ML}/onlineEndpoints`;
const DEPLOYMENT_NAME = 'blue';
const PORT = 8080;

/** The azapi provider: no bindings exist, so a bare TerraformProvider with its source. */
class AzapiProvider extends TerraformProvider {
  constructor(scope: Construct, id: string) {
    super(scope, id, { terraformResourceType: 'azapi', terraformProviderSource: 'Azure/azapi', terraformGeneratorMetadata: { providerName: 'azapi', providerVersionConstraint: '~> 2.5' } });
  }
}

/** An azapi resource of `kind`, its attributes written with addOverride (Terraform's snake_case). */
function azapi(scope: Construct, id: string, kind: 'azapi_resource' | 'azapi_update_resource' | 'azapi_resource_action', attributes: Record<string, unknown>,
  meta: { dependsOn?: ITerraformDependable[]; lifecycle?: TerraformResourceLifecycle } = {}): TerraformResource {
  const r = new TerraformResource(scope, id, { terraformResourceType: kind, terraformGeneratorMetadata: { providerName: 'azapi' }, ...meta });
  for (const [key, value] of Object.entries(attributes)) r.addOverride(key, value);
  return r;
}

const probe = (failureThreshold: number) => ({ initialDelay: 'PT10S', period: 'PT10S', timeout: 'PT2S', failureThreshold, successThreshold: 1 });

/** Declares deployment number `i` (and the providers, on the first call in a stack). */
export function rawAzureDeployment(stack: TerraformStack, i: number, d: RawAzureDeployment): void {
  if (stack.node.tryFindChild('azurerm') === undefined) {
    new AzurermProvider(stack, 'azurerm', { features: [{}], storageUseAzuread: true });
    new AzapiProvider(stack, 'azapi');
  }
  const scope = new Construct(stack, `Raw${i}`);
  const name = `bench-raw-${i}`;
  const { location } = d;
  const tags = {};
  const client = new DataAzurermClientConfig(scope, 'Client', {});
  const group = new ResourceGroup(scope, 'ResourceGroup', { name: `rg-${name}`, location, tags });
  const placed = { location, resourceGroupName: group.name, tags };
  // The same settings as the target's own (a raw stack with the same secure defaults), spelled out.
  const storage = new StorageAccount(scope, 'Storage', {
    ...placed,
    name: `benchraw${i}models`,
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
  const keyVault = new KeyVault(scope, 'KeyVault', {
    ...placed, name: `kv-bench-raw-${i}`, tenantId: client.tenantId, skuName: 'standard', rbacAuthorizationEnabled: true, purgeProtectionEnabled: true, softDeleteRetentionDays: 90,
  });
  const logs = new LogAnalyticsWorkspace(scope, 'Logs', { ...placed, name: `log-${name}`, sku: 'PerGB2018', retentionInDays: 30 });
  const insights = new ApplicationInsights(scope, 'Insights', { ...placed, name: `appi-${name}`, workspaceId: logs.id, applicationType: 'other' });
  const workspace = new MachineLearningWorkspace(scope, 'Workspace', {
    ...placed,
    name: `mlw-${name}`,
    applicationInsightsId: insights.id,
    keyVaultId: keyVault.id,
    storageAccountId: storage.id,
    containerRegistryId: d.containerRegistryId,
    identity: { type: 'SystemAssigned' },
    publicNetworkAccessEnabled: true,
  });

  // The local model: a private container, the uploader's role, and the files as blobs.
  let modelUri = d.modelUri;
  let modelScope: string | undefined;
  const uploads: ITerraformDependable[] = [];
  if (d.localModelDir !== undefined) {
    const container = new StorageContainer(scope, 'ModelContainer', { name: 'models', storageAccountId: storage.id, containerAccessType: 'private' });
    modelScope = `${storage.id}/blobServices/default/containers/models`;
    const writer = new RoleAssignment(scope, 'ModelWriter', {
      scope: modelScope, roleDefinitionName: 'Storage Blob Data Contributor', principalId: client.objectId, dependsOn: [container],
    });
    const asset = new TerraformAsset(scope, 'ModelFiles', { path: d.localModelDir, type: AssetType.DIRECTORY });
    const files = TerraformIterator.fromMap(Object.fromEntries(fs.readdirSync(d.localModelDir).map(f => [f, `${asset.path}/${f}`])));
    const prefix = `${name}/${asset.assetHash}`;
    uploads.push(container, new StorageBlob(scope, 'ModelBlobs', {
      forEach: files,
      name: `${prefix}/${files.key}`,
      storageAccountName: storage.name,
      storageContainerName: 'models',
      type: 'Block',
      contentType: 'application/octet-stream',
      source: files.value,
      dependsOn: [container, writer],
    }));
    modelUri = `https://${storage.name}.blob.core.windows.net/models/${prefix}/`;
  }

  const modelVersion = azapi(scope, 'ModelVersion', 'azapi_resource', {
    type: `${ML}/models/versions@${API}`, name: '1', parent_id: `${workspace.id}/models/${name}-model`,
    body: { properties: { modelType: 'custom_model', modelUri, description: `Model of ${name}` } },
  }, { dependsOn: uploads.length > 0 ? uploads : undefined, lifecycle: { createBeforeDestroy: true } });
  const route = (p: string) => ({ path: p, port: PORT });
  const environmentVersion = azapi(scope, 'EnvironmentVersion', 'azapi_resource', {
    type: `${ML}/environments/versions@${API}`, name: '1', parent_id: `${workspace.id}/environments/${name}-env`,
    body: { properties: { image: d.image, osType: 'Linux', inferenceConfig: { livenessRoute: route('/ping'), readinessRoute: route('/ping'), startupRoute: route('/ping'), scoringRoute: route('/invocations') } } },
  }, { lifecycle: { createBeforeDestroy: true } });

  const identity = new UserAssignedIdentity(scope, 'EndpointIdentity', { name: `id-${name}`, resourceGroupName: group.name, location, tags });
  const endpointProperties = { authMode: 'AADToken', publicNetworkAccess: 'Enabled', description: `Managed online endpoint ${name}` };
  const endpoint = azapi(scope, 'OnlineEndpoint', 'azapi_resource', {
    type: `${ML}/onlineEndpoints@${API}`, name, parent_id: workspace.id, location,
    identity: [{ type: 'UserAssigned', identity_ids: [identity.id] }],
    body: { properties: endpointProperties },
    response_export_values: ['properties.scoringUri'],
  });
  const endpointId = endpoint.getStringAttribute('id');

  const grant = (id: string, roleScope: string, roleDefinitionName: string) =>
    new RoleAssignment(scope, id, { scope: roleScope, roleDefinitionName, principalId: identity.principalId, principalType: 'ServicePrincipal' });
  const roles = [
    ...(modelScope ? [grant('EndpointReadsModel', modelScope, 'Storage Blob Data Reader')] : []),
    grant('EndpointPullsImage', d.containerRegistryId, 'AcrPull'),
    grant('EndpointWritesMetrics', workspace.id, 'AzureML Metrics Writer (preview)'),
  ];

  const deployment = azapi(scope, 'Deployment', 'azapi_resource', {
    type: `${ML}/onlineEndpoints/deployments@${API}`, name: DEPLOYMENT_NAME, parent_id: endpointId, location,
    body: {
      sku: { name: 'Default', capacity: 2 },
      properties: {
        endpointComputeType: 'Managed',
        model: modelVersion.getStringAttribute('id'),
        environmentId: environmentVersion.getStringAttribute('id'),
        instanceType: 'Standard_E4s_v3',
        scaleSettings: { scaleType: 'Default' },
        requestSettings: { maxConcurrentRequestsPerInstance: 1, requestTimeout: 'PT60S' },
        startupProbe: probe(60),
        livenessProbe: probe(30),
        readinessProbe: probe(30),
        environmentVariables: {},
        appInsightsEnabled: true,
        egressPublicNetworkAccess: 'Enabled',
      },
    },
  }, { dependsOn: roles, lifecycle: { createBeforeDestroy: true, ignoreChanges: ['body.sku.capacity'] } });
  const deploymentId = deployment.getStringAttribute('id');
  azapi(scope, 'Traffic', 'azapi_update_resource', {
    type: `${ML}/onlineEndpoints@${API}`, resource_id: endpointId, body: { properties: { traffic: { [DEPLOYMENT_NAME]: 100 } } },
  }, { dependsOn: [deployment] });
  azapi(scope, 'DrainTrafficOnDestroy', 'azapi_resource_action', {
    type: `${ML}/onlineEndpoints@${API}`, resource_id: endpointId, method: 'PUT', when: 'destroy',
    body: { location, identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } }, properties: { ...endpointProperties, traffic: {} } },
  }, { dependsOn: [deployment] });

  const trigger = (operator: string, threshold: number) => ({
    operator, threshold, statistic: 'Average', timeAggregation: 'Average', timeGrain: 'PT1M', timeWindow: 'PT5M',
    metricName: 'RequestsPerMinute', metricNamespace: ENDPOINT_METRICS, metricResourceId: endpointId, divideByInstanceCount: true,
    dimensions: [{ name: 'deployment', operator: 'Equals', values: [DEPLOYMENT_NAME] }],
  });
  new MonitorAutoscaleSetting(scope, 'Autoscale', {
    ...placed, name: `autoscale-${name}`, targetResourceId: deploymentId,
    profile: [{
      name: 'default',
      capacity: { default: 2, minimum: 2, maximum: 4 },
      rule: [
        { metricTrigger: trigger('GreaterThan', 100), scaleAction: { direction: 'Increase', type: 'ChangeCount', value: 1, cooldown: 'PT1M' } },
        { metricTrigger: trigger('LessThan', 50), scaleAction: { direction: 'Decrease', type: 'ChangeCount', value: 1, cooldown: 'PT5M' } },
      ],
    }],
  });
  new MonitorMetricAlert(scope, 'LatencyAlarm', {
    name: `p99-latency-${name}`, resourceGroupName: group.name, scopes: [endpointId],
    description: `p99 request latency of ${name} above 2000 ms for 3 minute(s)`, severity: 2, frequency: 'PT1M', windowSize: 'PT5M',
    criteria: [{ metricNamespace: ENDPOINT_METRICS, metricName: 'RequestLatency_P99', aggregation: 'Average', operator: 'GreaterThan', threshold: 2000 }],
    tags,
  });
  const diagnostics = new MonitorDiagnosticSetting(scope, 'TrafficLogs', {
    name: `traffic-${name}`, targetResourceId: endpointId, logAnalyticsWorkspaceId: logs.id,
    enabledLog: [{ category: 'AmlOnlineEndpointTrafficLog' }, { category: 'AmlOnlineEndpointConsoleLog' }],
  });
  new MonitorScheduledQueryRulesAlertV2(scope, 'ErrorRateAlarm', {
    ...placed, name: `5xx-rate-${name}`, scopes: [logs.id],
    description: `5xx responses of ${name} above 5% for 3 minute(s)`, severity: 2, evaluationFrequency: 'PT1M', windowDuration: 'PT1M',
    criteria: [{
      query: [
        'AmlOnlineEndpointTrafficLog',
        `| where EndpointName == "${name}"`,
        '| summarize total = count(), errors = countif(ResponseCode startswith "5")',
        '| extend errorRatePercent = iff(total == 0, 0.0, 100.0 * errors / total)',
      ].join('\n'),
      timeAggregationMethod: 'Maximum', metricMeasureColumn: 'errorRatePercent', operator: 'GreaterThan', threshold: 5,
      failingPeriods: { numberOfEvaluationPeriods: 3, minimumFailingPeriodsToTriggerAlert: 3 },
    }],
    dependsOn: [diagnostics],
  });

  new TerraformOutput(scope, 'EndpointName', { value: name, description: 'The Azure ML online endpoint' });
  new TerraformOutput(scope, 'ScoringUri', { value: endpoint.interpolationForAttribute('output.properties.scoringUri'), description: 'POST prediction requests here' });
  new TerraformOutput(scope, 'DeploymentName', { value: DEPLOYMENT_NAME, description: 'The deployment that takes all traffic' });
}
