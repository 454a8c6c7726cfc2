import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdkApp, Stack as CdkStack } from 'aws-cdk-lib';
import { TerraformStack, Testing } from 'cdktf';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import {
  AuthMode, Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, NetworkAccess, Rollout, ScalingTarget, ServingContainer,
} from '../../lib';
import { AzureMlModelEndpoint, endpointNameFrom } from '../../lib/targets/azure-ml';
import { validateAzapiStack } from '../support/azure/azapi-validator';
import { BASE, FIXTURE, REGISTRY_ID, STORAGE_ID, SUB, WORKSPACE_ID, addressOf, azapi, danglingReferences, id, only, refusal, synth } from './support';
import { modelDir as copyModel } from '../support/model-dir';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'azure-ml-synth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture model, with `weights.bin` replaced when `weights` is given. */
const modelDir = (name: string, weights?: string) => copyModel(tmp, FIXTURE, name, weights);

describe('secure by default', () => {
  const { json } = synth();

  test('storage: no public blobs, shared keys off, TLS 1.2, HTTPS only, infrastructure encryption, private container', () => {
    const storage = only(json, 'azurerm_storage_account');
    expect(storage).toMatchObject({
      allow_nested_items_to_be_public: false, shared_access_key_enabled: false, min_tls_version: 'TLS1_2', https_traffic_only_enabled: true,
      infrastructure_encryption_enabled: true, default_to_oauth_authentication: true, cross_tenant_replication_enabled: false,
    });
    expect(only(json, 'azurerm_storage_container').container_access_type).toBe('private');
    // Terraform uploads with Entra ID, since shared keys are off.
    expect(json.provider.azurerm).toEqual([{ features: [{}], storage_use_azuread: true }]);
  });

  test('key vault: RBAC, purge protection, soft delete', () => {
    expect(only(json, 'azurerm_key_vault')).toMatchObject({ rbac_authorization_enabled: true, purge_protection_enabled: true, soft_delete_retention_days: 90 });
  });

  test('PRIVATE (the default): workspace and endpoint closed to public networks, deployment egress disabled', () => {
    const workspace = only(json, 'azurerm_machine_learning_workspace');
    expect(workspace.public_network_access_enabled).toBe(false);
    expect(workspace.identity).toEqual({ type: 'SystemAssigned' });
    expect(azapi(json, 'onlineEndpoints').body.properties.publicNetworkAccess).toBe('Disabled');
    expect(azapi(json, 'deployments').body.properties.egressPublicNetworkAccess).toBe('Disabled');
  });

  test('PUBLIC opens the workspace and the endpoint, and the deployment egress', () => {
    const { json: open } = synth({ access: { network: NetworkAccess.PUBLIC } });
    expect(only(open, 'azurerm_machine_learning_workspace').public_network_access_enabled).toBe(true);
    expect(azapi(open, 'onlineEndpoints').body.properties.publicNetworkAccess).toBe('Enabled');
    expect(azapi(open, 'deployments').body.properties.egressPublicNetworkAccess).toBe('Enabled');
  });

  test('the endpoint has its own user-assigned identity (Azure grants it nothing by itself) and the strongest auth, Entra ID tokens', () => {
    const endpoint = azapi(json, 'onlineEndpoints');
    const identity = addressOf(json, only(json, 'azurerm_user_assigned_identity'));
    expect(endpoint.identity).toEqual([{ type: 'UserAssigned', identity_ids: [`\${${identity}.id}`] }]);
    expect(endpoint.body.properties.authMode).toBe('AADToken');
  });

  test('a customer-managed key goes to the workspace', () => {
    const keyVaultId = id('Microsoft.KeyVault', 'vaults', 'kv-keys');
    const keyId = 'https://kv-keys.vault.azure.net/keys/ml/0123456789abcdef0123456789abcdef';
    const { json: cmk } = synth({ encryptionKeyId: keyId, encryptionKeyVaultId: keyVaultId });
    expect(only(cmk, 'azurerm_machine_learning_workspace').encryption).toEqual({ key_id: keyId, key_vault_id: keyVaultId });
  });
});

describe('the spec, mapped', () => {
  test.each([
    [undefined, 'AADToken'],
    [AuthMode.IAM, 'AADToken'],
    [AuthMode.TOKEN, 'AMLToken'],
    [AuthMode.KEY, 'Key'],
  ])('access.auth %s -> authMode %s', (auth, authMode) => {
    const { json } = synth({ access: { auth } });
    expect(azapi(json, 'onlineEndpoints').body.properties.authMode).toBe(authMode);
  });

  test('sku: name Default and capacity = minReplicas (the instance count lives in the sku)', () => {
    const { json } = synth({ scaling: { minReplicas: 3 } });
    const deployment = azapi(json, 'deployments');
    expect(deployment.body.sku).toEqual({ name: 'Default', capacity: 3 });
    expect(deployment.body.properties.instanceCount).toBeUndefined();
  });

  test.each([
    [Compute.cpu(), 'Standard_F2s_v2'],
    [Compute.cpu({ vcpus: 4, memoryGiB: 16 }), 'Standard_E4s_v3'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), 'Standard_NC4as_T4_v3'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 4 }), 'Standard_NC64as_T4_v3'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A100_80GB }), 'Standard_NC24ads_A100_v4'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_A100_80GB, count: 2 }), 'Standard_NC48ads_A100_v4'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB }), 'Standard_NC40ads_H100_v5'],
    [Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB, count: 8 }), 'Standard_ND96isr_H100_v5'],
  ])('compute %p -> instanceType from the catalog', (compute, instanceType) => {
    const { json, endpoint } = synth({ compute });
    expect(azapi(json, 'deployments').body.properties.instanceType).toBe(instanceType);
    expect(endpoint.instanceType).toBe(instanceType);
  });

  test('a GPU kind or count Azure does not offer is refused, naming what it offers', () => {
    const l4 = refusal(() => synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }) }));
    expect(l4).toMatchObject({ field: 'compute.gpu', target: 'azureMl' });
    expect(l4.allowed).toMatch(/nvidia-t4.*instanceType/);
    expect(refusal(() => synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4, count: 2 }) }))).toMatchObject({ field: 'compute.count', target: 'azureMl' });
  });

  test('instanceType override: a catalog size with the spec\'s GPUs; others are refused', () => {
    const { json } = synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), instanceType: 'Standard_NC16as_T4_v3' });
    expect(azapi(json, 'deployments').body.properties.instanceType).toBe('Standard_NC16as_T4_v3');
    const unknown = refusal(() => synth({ instanceType: 'Standard_Bogus_v9' }));
    expect(unknown).toMatchObject({ field: 'instanceType', value: '"Standard_Bogus_v9"', target: 'azureMl' });
    expect(unknown.allowed).toMatch(/Standard_DS3_v2/);
    const wrongGpu = refusal(() => synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_H100_80GB }), instanceType: 'Standard_NC4as_T4_v3' }));
    expect(wrongGpu.allowed).toMatch(/1 x nvidia-h100-80gb.*Standard_NC40ads_H100_v5/);
    expect(refusal(() => synth({ instanceType: 'Standard_NC4as_T4_v3' })).allowed).toMatch(/a CPU size/);
  });

  test('routes and port from the serving contract go to the environment; probe timings to the deployment', () => {
    const { json } = synth({
      serving: ServingContainer.triton({ image: 'contosoacr.azurecr.io/triton:24.08', modelName: 'resnet', startupTimeoutSeconds: 905, environment: { LOG: 'info' } }),
    });
    const env = azapi(json, 'environments/versions').body.properties;
    expect(env).toEqual({
      image: 'contosoacr.azurecr.io/triton:24.08',
      osType: 'Linux',
      inferenceConfig: {
        livenessRoute: { path: '/v2/health/ready', port: 8000 },
        readinessRoute: { path: '/v2/health/ready', port: 8000 },
        startupRoute: { path: '/v2/health/ready', port: 8000 },
        scoringRoute: { path: '/v2/models/resnet/infer', port: 8000 },
      },
    });
    const props = azapi(json, 'deployments').body.properties;
    // Integers and ISO-8601 durations, as the API takes them.
    expect(props.startupProbe).toEqual({ initialDelay: 'PT10S', period: 'PT10S', timeout: 'PT2S', failureThreshold: 91, successThreshold: 1 });
    expect(props.livenessProbe.period).toBe('PT10S');
    expect(props.readinessProbe.failureThreshold).toBe(30);
    expect(props.requestSettings).toEqual({ maxConcurrentRequestsPerInstance: 1, requestTimeout: 'PT60S' });
    expect(props.environmentVariables).toEqual({ LOG: 'info' });
    expect(props.appInsightsEnabled).toBe(true);
    expect(props.endpointComputeType).toBe('Managed');
    expect(props.scaleSettings).toEqual({ scaleType: 'Default' });
  });

  test('the deployment names the model and environment versions by id', () => {
    const { json } = synth();
    const props = azapi(json, 'deployments').body.properties;
    expect(props.model).toBe(`\${${addressOf(json, azapi(json, 'models/versions'))}.id}`);
    expect(props.environmentId).toBe(`\${${addressOf(json, azapi(json, 'environments/versions'))}.id}`);
    expect(azapi(json, 'models/versions').body.properties.modelType).toBe('custom_model');
  });

  test('tags go on every azurerm resource that takes them and on the endpoint and deployment', () => {
    const { json } = synth({ tags: { team: 'risk', 'cost-center': 'cc-42' } });
    for (const type of ['azurerm_resource_group', 'azurerm_storage_account', 'azurerm_key_vault', 'azurerm_machine_learning_workspace']) {
      expect(only(json, type).tags).toEqual({ team: 'risk', 'cost-center': 'cc-42' });
    }
    expect(azapi(json, 'onlineEndpoints').tags).toEqual({ team: 'risk', 'cost-center': 'cc-42' });
    expect(azapi(json, 'deployments').tags).toEqual({ team: 'risk', 'cost-center': 'cc-42' });
  });
});

describe('ordering: identity before the deployment, traffic after it', () => {
  const { json } = synth();
  const endpoint = addressOf(json, azapi(json, 'onlineEndpoints'));
  const deployment = azapi(json, 'deployments');
  const identity = addressOf(json, only(json, 'azurerm_user_assigned_identity'));
  const roles = Object.entries<any>(json.resource.azurerm_role_assignment).filter(([, r]) => r.principal_id === `\${${identity}.principal_id}`);

  test('the endpoint identity gets exactly three roles, on narrow scopes', () => {
    const byRole = Object.fromEntries(roles.map(([, r]) => [r.role_definition_name, r.scope]));
    const storage = addressOf(json, only(json, 'azurerm_storage_account'));
    const workspace = addressOf(json, only(json, 'azurerm_machine_learning_workspace'));
    expect(byRole).toEqual({
      'Storage Blob Data Reader': `\${${storage}.id}/blobServices/default/containers/models`,
      AcrPull: REGISTRY_ID,
      'AzureML Metrics Writer (preview)': `\${${workspace}.id}`,
    });
  });

  test('every role assignment of the endpoint identity is created before the deployment (and need not wait for the endpoint)', () => {
    expect(roles).toHaveLength(3);
    for (const [, role] of roles) expect(role.depends_on).toBeUndefined();
    for (const [name] of roles) expect(deployment.depends_on).toContain(`azurerm_role_assignment.${name}`);
  });

  test('the traffic update comes after the deployment, names it, and sends it 100%', () => {
    const traffic = only(json, 'azapi_update_resource');
    expect(traffic.resource_id).toBe(`\${${endpoint}.id}`);
    expect(traffic.depends_on).toEqual([addressOf(json, deployment)]);
    expect(traffic.body).toEqual({ properties: { traffic: { [deployment.name]: 100 } } });
    // The endpoint itself never names a deployment (it is created before any exists).
    expect(azapi(json, 'onlineEndpoints').body.properties.traffic).toBeUndefined();
  });

  test('blue/green: a changed deployment is a new one, created before the old one is destroyed', () => {
    expect(deployment.lifecycle).toEqual({ create_before_destroy: true });
    expect(deployment.name).toMatch(/^v[0-9a-f]{12}$/);
    expect(deployment.parent_id).toBe(`\${${endpoint}.id}`);
  });

  test('outputs: endpoint name, scoring URI from the response, deployment name', () => {
    const values = Object.values<any>(json.output).map(o => o.value);
    expect(values).toContain(`\${${endpoint}.output.properties.scoringUri}`);
    expect(values).toContain(deployment.name);
    expect(values).toContain(azapi(json, 'onlineEndpoints').name);
    expect(azapi(json, 'onlineEndpoints').response_export_values).toEqual(['properties.scoringUri']);
  });
});

describe('the model: content-addressed blobs', () => {
  const v1 = modelDir('v1');
  const v1Again = modelDir('v1-again');
  const v2 = modelDir('v2', 'new weights');

  const blobsOf = (json: any) => {
    const blob = only(json, 'azurerm_storage_blob');
    return Object.keys(blob.for_each).map(key => blob.name.replace('${each.key}', key));
  };

  test('each file is a blob under <endpoint>/<content hash>/, written after the uploader may write', () => {
    const { json, endpoint } = synth({ model: ModelArtifact.fromLocalPath(v1) });
    const blob = only(json, 'azurerm_storage_blob');
    expect(Object.keys(blob.for_each).sort()).toEqual(['config.json', 'weights.bin']);
    expect(blob.name).toMatch(new RegExp(`^${endpoint.endpointName}/[0-9a-f]{64}/\\$\\{each.key\\}$`));
    expect(blob.source).toBe('${each.value}');
    const writer = Object.values<any>(json.resource.azurerm_role_assignment).find(r => r.role_definition_name === 'Storage Blob Data Contributor');
    expect(writer.principal_id).toMatch(/^\$\{data\.azurerm_client_config\.[^.]+\.object_id\}$/);
    expect(blob.depends_on).toContain(addressOf(json, writer));
    const model = azapi(json, 'models/versions');
    expect(model.body.properties.modelUri).toBe(`https://\${${addressOf(json, only(json, 'azurerm_storage_account'))}.name}.blob.core.windows.net/models/${blob.name.replace('${each.key}', '')}`);
    expect(model.depends_on).toContain(addressOf(json, blob));
  });

  test('the same content gives the same blob names, model version and deployment: nothing uploads, nothing redeploys', () => {
    const a = synth({ model: ModelArtifact.fromLocalPath(v1) }).json;
    const b = synth({ model: ModelArtifact.fromLocalPath(v1Again) }).json;
    expect(blobsOf(b)).toEqual(blobsOf(a));
    expect(azapi(b, 'models/versions').name).toBe(azapi(a, 'models/versions').name);
    expect(azapi(b, 'deployments').name).toBe(azapi(a, 'deployments').name);
  });

  test('a changed file gives a new prefix, a new model version and a new deployment', () => {
    const a = synth({ model: ModelArtifact.fromLocalPath(v1) }).json;
    const b = synth({ model: ModelArtifact.fromLocalPath(v2) }).json;
    expect(blobsOf(b).some(name => blobsOf(a).includes(name))).toBe(false);
    expect(azapi(b, 'models/versions').name).not.toBe(azapi(a, 'models/versions').name);
    expect(azapi(b, 'deployments').name).not.toBe(azapi(a, 'deployments').name);
    expect(only(b, 'azapi_update_resource').body.properties.traffic).toEqual({ [azapi(b, 'deployments').name]: 100 });
  });

  test('capacity alone changes the deployment in place (same name)', () => {
    const a = synth({ scaling: { minReplicas: 1 } }).json;
    const b = synth({ scaling: { minReplicas: 4 } }).json;
    expect(azapi(b, 'deployments').name).toBe(azapi(a, 'deployments').name);
  });

  test('an existing azureml:// model is used in place: nothing uploaded, no storage role', () => {
    const { json } = synth({ model: ModelArtifact.fromUri('azureml://registries/azureml/models/fraud/versions/3') });
    expect(json.resource.azurerm_storage_blob).toBeUndefined();
    expect(json.resource.azurerm_storage_container).toBeUndefined();
    expect(azapi(json, 'models/versions').body.properties.modelUri).toBe('azureml://registries/azureml/models/fraud/versions/3');
    expect(Object.values<any>(json.resource.azurerm_role_assignment).map(r => r.role_definition_name).sort()).toEqual(['AcrPull', 'AzureML Metrics Writer (preview)']);
  });

  test('an existing blob prefix: the endpoint may read its container, and only that', () => {
    const uri = 'https://contosomodels.blob.core.windows.net/fraud/v7/';
    const { json } = synth({ model: ModelArtifact.fromUri(uri), storageAccountId: STORAGE_ID });
    expect(azapi(json, 'models/versions').body.properties.modelUri).toBe(uri);
    const reader = Object.values<any>(json.resource.azurerm_role_assignment).find(r => r.role_definition_name === 'Storage Blob Data Reader');
    expect(reader.scope).toBe(`${STORAGE_ID}/blobServices/default/containers/fraud`);
    expect(refusal(() => synth({ model: ModelArtifact.fromUri(uri) }))).toMatchObject({ field: 'storageAccountId' });
    const other = id('Microsoft.Storage', 'storageAccounts', 'othermodels');
    expect(refusal(() => synth({ model: ModelArtifact.fromUri(uri), storageAccountId: other })).allowed).toMatch(/contosomodels/);
  });
});

describe('an existing workspace', () => {
  test('nothing around it is created; everything hangs off its id', () => {
    const { json, endpoint } = synth({ workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID });
    for (const type of ['azurerm_resource_group', 'azurerm_storage_account', 'azurerm_key_vault', 'azurerm_log_analytics_workspace',
      'azurerm_application_insights', 'azurerm_machine_learning_workspace']) {
      expect(json.resource[type]).toBeUndefined();
    }
    expect(azapi(json, 'onlineEndpoints').parent_id).toBe(WORKSPACE_ID);
    expect(azapi(json, 'models/versions').parent_id).toBe(`${WORKSPACE_ID}/models/${endpoint.endpointName}-model`);
    expect(only(json, 'azurerm_storage_container').storage_account_id).toBe(STORAGE_ID);
    expect(only(json, 'azurerm_storage_blob').storage_account_name).toBe('contosomodels');
    expect(endpoint.workspaceId).toBe(WORKSPACE_ID);
  });

  test('a local model needs a storage account to upload to; options that only shape a new workspace are refused', () => {
    const e = refusal(() => synth({ workspaceId: WORKSPACE_ID, keyVaultId: id('Microsoft.KeyVault', 'vaults', 'kv-one') }));
    expect(e.message).toMatch(/invalid storageAccountId: undefined. Allowed: the storage account to upload the local model to/);
    expect(e.message).toMatch(/keyVaultId: .*left out with workspaceId/);
  });

  test('existing neighbours for a new workspace are used, not created', () => {
    const kv = id('Microsoft.KeyVault', 'vaults', 'kv-one');
    const ai = id('Microsoft.Insights', 'components', 'appi-one');
    const { json } = synth({ resourceGroupName: 'rg-ml', keyVaultId: kv, applicationInsightsId: ai, storageAccountId: STORAGE_ID });
    expect(json.resource.azurerm_resource_group).toBeUndefined();
    expect(json.resource.azurerm_key_vault).toBeUndefined();
    expect(json.resource.azurerm_application_insights).toBeUndefined();
    expect(json.resource.azurerm_storage_account).toBeUndefined();
    expect(only(json, 'azurerm_machine_learning_workspace')).toMatchObject({ resource_group_name: 'rg-ml', key_vault_id: kv, application_insights_id: ai, storage_account_id: STORAGE_ID });
  });
});

describe('names', () => {
  test('the longest endpoint name Azure allows (32) works; 33 is refused, naming the rule', () => {
    const name32 = `a${'b'.repeat(31)}`;
    expect(azapi(synth({ endpointName: name32 }).json, 'onlineEndpoints').name).toBe(name32);
    const e = refusal(() => synth({ endpointName: `${name32}c` }));
    expect(e).toMatchObject({ field: 'endpointName', target: 'azureMl' });
    expect(e.allowed).toMatch(/3 to 32/);
    expect(refusal(() => synth({ endpointName: 'ab' })).field).toBe('endpointName');
  });

  test.each([
    'azure/Fraud/Endpoint',
    '1stStack/9Model/Endpoint',
    `a-very-long-stack-name-for-production/${'Nested'.repeat(10)}/Endpoint`,
  ])('the default name derived from %s is valid for Azure', constructPath => {
    const name = endpointNameFrom(constructPath);
    expect(name).toMatch(/^[a-z][a-z0-9-]{2,31}$/);
    expect(name).not.toMatch(/--/);
  });

  test('two deployments in one stack get distinct names and share one azurerm and one azapi provider', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'two');
    const a = new AzureMlModelEndpoint(stack, 'A', BASE);
    const b = new AzureMlModelEndpoint(stack, 'B', BASE);
    const json = JSON.parse(Testing.synth(stack));
    expect(a.endpointName).not.toBe(b.endpointName);
    expect(json.provider.azurerm).toHaveLength(1);
    expect(json.provider.azapi).toHaveLength(1);
    expect(Object.keys(json.resource.azurerm_storage_account)).toHaveLength(2);
    const names = Object.values<any>(json.resource.azurerm_storage_account).map(s => s.name);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n).toMatch(/^[a-z0-9]{3,24}$/);
  });
});

describe('escaping: user strings arrive literally', () => {
  test('${ and %{ in environment values and file names are escaped', () => {
    const dir = path.join(tmp, 'odd-names');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'w${x}.bin'), 'w');
    const { json } = synth({
      model: ModelArtifact.fromLocalPath(dir),
      serving: ServingContainer.custom({ image: 'contosoacr.azurecr.io/fraud:1', environment: { GREETING: 'hi ${name} %{if x}' } }),
    });
    expect(azapi(json, 'deployments').body.properties.environmentVariables.GREETING).toBe('hi $${name} %%{if x}');
    expect(Object.keys(only(json, 'azurerm_storage_blob').for_each)).toEqual(['w$${x}.bin']);
    expect(danglingReferences(json)).toEqual([]);
  });

  test('tags and endpointName cannot carry ${ at all: the spec refuses them before any JSON is written', () => {
    expect(refusal(() => synth({ tags: { team: 'a${b}' } })).field).toBe('tags.team');
    expect(refusal(() => synth({ endpointName: 'a${b}c' })).field).toBe('endpointName');
  });
});

describe('access.network PRIVATE: reached only through a private endpoint of the workspace', () => {
  const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-hub/subnets/ml`;
  const zone = (name: string) => id('Microsoft.Network', 'privateDnsZones', name, 'rg-dns');
  const warnings = (endpoint: AzureMlModelEndpoint) => endpoint.node.metadata.filter(m => m.type === '@cdktf/warn').map(m => String(m.data)).join('\n');

  test('without a subnet: no private endpoint, public access off everywhere, and the synth warns how the endpoint can be reached', () => {
    const { json, endpoint } = synth();
    expect(json.resource.azurerm_private_endpoint).toBeUndefined();
    expect(only(json, 'azurerm_machine_learning_workspace').public_network_access_enabled).toBe(false);
    expect(azapi(json, 'onlineEndpoints').body.properties.publicNetworkAccess).toBe('Disabled');
    expect(warnings(endpoint)).toMatch(/PRIVATE and no privateEndpointSubnetId.*private endpoint of the workspace that you create/);
    expect(warnings(synth({ access: { network: NetworkAccess.PUBLIC } }).endpoint)).not.toMatch(/privateEndpointSubnetId/);
  });

  test('with a subnet and DNS zones: a private endpoint of the workspace (amlworkspace) in that subnet, registered in the zones', () => {
    const zones = [zone('privatelink.api.azureml.ms'), zone('privatelink.notebooks.azure.net')];
    const { json, endpoint } = synth({ privateEndpointSubnetId: SUBNET, privateDnsZoneIds: zones });
    const pe = only(json, 'azurerm_private_endpoint');
    const workspace = addressOf(json, only(json, 'azurerm_machine_learning_workspace'));
    expect(pe.subnet_id).toBe(SUBNET);
    expect(pe.location).toBe('westeurope');
    expect(pe.private_service_connection).toEqual(expect.objectContaining({
      private_connection_resource_id: `\${${workspace}.id}`, subresource_names: ['amlworkspace'], is_manual_connection: false,
    }));
    expect(pe.private_dns_zone_group).toEqual(expect.objectContaining({ private_dns_zone_ids: zones }));
    expect(warnings(endpoint)).not.toMatch(/privateEndpointSubnetId/);
    expect(danglingReferences(json)).toEqual([]);
  });

  test('an existing workspace gets its private endpoint in the workspace\'s resource group', () => {
    const { json } = synth({ workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID, privateEndpointSubnetId: SUBNET });
    const pe = only(json, 'azurerm_private_endpoint');
    expect(pe.private_service_connection.private_connection_resource_id).toBe(WORKSPACE_ID);
    expect(pe.resource_group_name).toBe('rg-shared');
    expect(pe.private_dns_zone_group).toBeUndefined();
  });

  test('refused: a subnet with PUBLIC, zones without a subnet, a malformed subnet, zones without the api zone; all at once', () => {
    expect(refusal(() => synth({ access: { network: NetworkAccess.PUBLIC }, privateEndpointSubnetId: SUBNET })).field).toBe('privateEndpointSubnetId');
    expect(refusal(() => synth({ privateDnsZoneIds: [zone('privatelink.api.azureml.ms')] })).field).toBe('privateDnsZoneIds');
    const e = refusal(() => synth({ privateEndpointSubnetId: 'vnet-hub/ml', privateDnsZoneIds: [zone('privatelink.notebooks.azure.net')] }));
    expect(e.field).toBe('privateEndpointSubnetId');
    expect(e.allowed).toMatch(/virtualNetworks\/VNET\/subnets\/NAME/);
    expect(e.message).toMatch(/privateDnsZoneIds.*privatelink\.api\.azureml\.ms/s);
    expect(refusal(() => synth({ privateEndpointSubnetId: SUBNET, privateDnsZoneIds: [zone('privatelink.blob.core.windows.net')] })).field).toBe('privateDnsZoneIds');
  });
});

describe('cdktf destroy: Azure refuses to delete a deployment that takes traffic', () => {
  test('a destroy-time action PUTs the endpoint back with no traffic, before the deployment goes, keeping everything else', () => {
    const { json } = synth({ tags: { team: 'risk' } });
    const drain = only(json, 'azapi_resource_action');
    const endpoint = azapi(json, 'onlineEndpoints');
    const deployment = azapi(json, 'deployments');
    expect(drain).toMatchObject({ when: 'destroy', method: 'PUT', resource_id: `\${${addressOf(json, endpoint)}.id}`, type: endpoint.type });
    expect(drain.depends_on).toEqual([addressOf(json, deployment)]);
    expect(drain.body.properties).toEqual({ ...endpoint.body.properties, traffic: {} });
    expect(drain.body.location).toBe(endpoint.location);
    expect(drain.body.tags).toEqual(endpoint.tags);
    expect(drain.body.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [endpoint.identity[0].identity_ids[0]]: {} } });
    // It names no deployment, so a new version does not replace it (blue-green.test.ts applies it).
    expect(JSON.stringify(drain)).not.toContain(deployment.name);
  });
});

describe('what the JSON references exists, every provider is pinned, and every azapi body passes azapi\'s validation and our rules', () => {
  test.each([
    ['defaults', {}],
    ['existing workspace', { workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID }],
    ['existing neighbours', { resourceGroupName: 'rg-ml', keyVaultId: id('Microsoft.KeyVault', 'vaults', 'kv-one'), storageAccountId: STORAGE_ID }],
    ['azureml model, public, key auth', { model: ModelArtifact.fromUri('azureml://registries/azureml/models/m/versions/1'), access: { network: NetworkAccess.PUBLIC, auth: AuthMode.KEY } }],
    ['autoscaled triton on GPUs, token auth', {
      serving: ServingContainer.triton({ image: 'contosoacr.azurecr.io/triton:24.08', environment: { A: '$${x}' } }), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A100_80GB, count: 2 }),
      scaling: { minReplicas: 2, maxReplicas: 8, target: ScalingTarget.invocationsPerReplicaPerMinute(300) }, access: { auth: AuthMode.TOKEN }, endpointName: `a${'b'.repeat(31)}`,
    }],
  ])('%s', (_, props) => {
    const { json } = synth(props);
    expect(danglingReferences(json)).toEqual([]);
    expect(validateAzapiStack(json)).toEqual([]);
    const used = new Set([...Object.keys(json.resource), ...Object.keys(json.data ?? {})].map(type => type.split('_')[0]));
    for (const provider of used) {
      expect(json.terraform.required_providers[provider]).toEqual({ source: expect.stringMatching(/\S/), version: expect.stringMatching(/\d/) });
      expect(json.provider[provider]).toBeDefined();
    }
    expect(json.terraform.required_providers.azapi).toEqual({ source: 'Azure/azapi', version: '~> 2.5' });
  });
});

describe('providers: the user\'s own azurerm is used', () => {
  test('declared before the deployment: no second configuration', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'mine');
    new AzurermProvider(stack, 'azurerm', { features: [{}], storageUseAzuread: true, subscriptionId: 'sub-from-user' });
    new AzureMlModelEndpoint(stack, 'Fraud', BASE);
    const json = JSON.parse(Testing.synth(stack));
    expect(json.provider.azurerm).toEqual([{ features: [{}], storage_use_azuread: true, subscription_id: 'sub-from-user' }]);
  });

  test('without storageUseAzuread, a local model is refused (shared keys are off)', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'mine');
    new AzurermProvider(stack, 'azurerm', { features: [{}] });
    expect(refusal(() => new AzureMlModelEndpoint(stack, 'Fraud', BASE)).allowed).toMatch(/storageUseAzuread: true/);
  });

  test('declared after the deployment: the stack\'s validation names the conflict', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'late');
    new AzureMlModelEndpoint(stack, 'Fraud', BASE);
    new AzurermProvider(stack, 'azurerm', { features: [{}], storageUseAzuread: true });
    expect(stack.node.validate().join('\n')).toMatch(/declare your own azurerm provider before the first ModelDeployment/);
  });
});

describe('refusals: field, value, what is allowed, and the target', () => {
  test.each<[string, Partial<typeof BASE>, string, RegExp]>([
    ['canary', { rollout: Rollout.canary() }, 'rollout', /Rollout\.allAtOnce\(\).*canary and linear/],
    ['linear', { rollout: Rollout.linear() }, 'rollout', /blue\/green/],
    ['bake time', { rollout: Rollout.allAtOnce({ bakeMinutes: 5 }) }, 'rollout.bakeMinutes', /^0/],
    ['capture', { monitoring: { capture: { samplingPercent: 10 } } }, 'monitoring.capture', /data collector/],
    ['preset without image', { serving: ServingContainer.sklearn() }, 'serving.image', /no Azure-managed image for sklearn/],
    ['a route without a letter', { serving: ServingContainer.custom({ image: 'mcr.microsoft.com/x/y:1', healthPath: '/' }) }, 'serving.healthPath', /letter, digit or underscore/],
    ['an ACR image without its registry', { containerRegistryId: undefined }, 'containerRegistryId', /contosoacr\.azurecr\.io.*AcrPull/],
    ['another registry', { containerRegistryId: id('Microsoft.ContainerRegistry', 'registries', 'otheracr') }, 'containerRegistryId', /contosoacr/],
    ['an S3 model', { model: ModelArtifact.fromUri('s3://models/fraud/') }, 'model.uri', /azureml:\/\//],
    ['a .tar.gz blob', { model: ModelArtifact.fromUri('https://contosomodels.blob.core.windows.net/models/model.tar.gz'), storageAccountId: STORAGE_ID }, 'model.uri', /does not unpack/],
    ['zero replicas', { scaling: { minReplicas: 0, maxReplicas: 1 } }, 'scaling.minReplicas', /cannot scale to zero/],
    ['more instances than a deployment holds', { scaling: { minReplicas: 1, maxReplicas: 51 } }, 'scaling.maxReplicas', /at most 50 instances/],
    ['a location', { location: 'West Europe' }, 'location', /westeurope/],
    ['a workspace id', { workspaceId: '/subscriptions/x/workspaces/y' }, 'workspaceId', /Microsoft\.MachineLearningServices\/workspaces/],
    ['a key without its vault', { encryptionKeyId: 'https://kv-keys.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef' }, 'encryptionKeyVaultId', /set together with encryptionKeyId/],
    ['a key that is not a versioned key URL', { encryptionKeyId: 'https://kv-keys.vault.azure.net/keys/k', encryptionKeyVaultId: id('Microsoft.KeyVault', 'vaults', 'kv-keys') }, 'encryptionKeyId', /VERSION/],
    ['an action group id', { alarmActionGroupId: 'ag-1' }, 'alarmActionGroupId', /actionGroups/],
    ['a container name', { modelContainerName: 'Models_1' }, 'modelContainerName', /lower-case/],
  ])('%s', (_, props, field, allowed) => {
    const e = refusal(() => synth(props));
    expect(e.field).toBe(field);
    expect(e.target).toBe('azureMl');
    expect(e.allowed).toMatch(allowed);
    expect(e.message).toMatch(/^azureMl target: invalid /);
  });

  test('several problems are reported at once', () => {
    const e = refusal(() => synth({ rollout: Rollout.canary(), scaling: { minReplicas: 0, maxReplicas: 60 }, location: 'nowhere land', endpointName: 'x'.repeat(40) }));
    expect(e.message).toMatch(/and 4 more/);
    for (const field of ['location', 'endpointName', 'scaling.minReplicas', 'scaling.maxReplicas', 'rollout']) expect(e.message).toContain(`invalid ${field}:`);
  });
});

describe('autoscale', () => {
  test('fixed capacity (min = max): no autoscale setting, Terraform owns the capacity', () => {
    const { json, endpoint } = synth({ scaling: { minReplicas: 2, maxReplicas: 2 } });
    expect(json.resource.azurerm_monitor_autoscale_setting).toBeUndefined();
    expect(endpoint.autoscale).toBeUndefined();
    expect(azapi(json, 'deployments').lifecycle).toEqual({ create_before_destroy: true });
  });

  test('min < max: an autoscale setting on the deployment, and Terraform ignores the capacity it changes', () => {
    const { json } = synth({ scaling: { minReplicas: 2, maxReplicas: 6, scaleInCooldownSeconds: 600, scaleOutCooldownSeconds: 30 } });
    const deployment = azapi(json, 'deployments');
    const address = addressOf(json, deployment);
    expect(deployment.lifecycle).toEqual({ create_before_destroy: true, ignore_changes: ['body.sku.capacity'] });
    expect(deployment.body.sku.capacity).toBe(2);
    const autoscale = only(json, 'azurerm_monitor_autoscale_setting');
    expect(autoscale.target_resource_id).toBe(`\${${address}.id}`);
    expect(autoscale.profile[0].capacity).toEqual({ default: 2, minimum: 2, maximum: 6 });
    const [out, inward] = autoscale.profile[0].rule;
    expect(out.metric_trigger).toMatchObject({ metric_name: 'CpuUtilizationPercentage', metric_resource_id: `\${${address}.id}`, operator: 'GreaterThan', threshold: 70 });
    expect(out.scale_action).toEqual({ direction: 'Increase', type: 'ChangeCount', value: 1, cooldown: 'PT1M' });
    expect(inward.metric_trigger).toMatchObject({ operator: 'LessThan', threshold: 35 });
    expect(inward.scale_action.cooldown).toBe('PT10M');
    expect(danglingReferences(json)).toEqual([]);
  });

  test('GPU compute tracks GPU utilisation; requests per replica read the endpoint\'s RequestsPerMinute for this deployment, per instance', () => {
    const gpu = only(synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), scaling: { minReplicas: 1, maxReplicas: 3 } }).json, 'azurerm_monitor_autoscale_setting');
    expect(gpu.profile[0].rule[0].metric_trigger.metric_name).toBe('GpuUtilizationPercentage');
    const { json } = synth({ scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.invocationsPerReplicaPerMinute(600) } });
    const trigger = only(json, 'azurerm_monitor_autoscale_setting').profile[0].rule[0].metric_trigger;
    expect(trigger).toMatchObject({
      metric_name: 'RequestsPerMinute', metric_resource_id: `\${${addressOf(json, azapi(json, 'onlineEndpoints'))}.id}`, divide_by_instance_count: true, threshold: 600,
      dimensions: [{ name: 'deployment', operator: 'Equals', values: [azapi(json, 'deployments').name] }],
    });
  });
});

describe('alarms', () => {
  const ACTION_GROUP = id('Microsoft.Insights', 'actionGroups', 'oncall');

  test('p99 latency (metric alert) and 5xx rate (log alert on the traffic log) notify the action group', () => {
    const { json } = synth({ alarmActionGroupId: ACTION_GROUP, monitoring: { latencyP99Ms: 800, errorRatePercent: 2, evaluationMinutes: 3 } });
    const endpoint = `\${${addressOf(json, azapi(json, 'onlineEndpoints'))}.id}`;
    const latency = only(json, 'azurerm_monitor_metric_alert');
    expect(latency.scopes).toEqual([endpoint]);
    expect(latency.criteria).toEqual([{ metric_namespace: 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints', metric_name: 'RequestLatency_P99', aggregation: 'Average', operator: 'GreaterThan', threshold: 800 }]);
    expect(latency.window_size).toBe('PT5M');
    expect(latency.action).toEqual([{ action_group_id: ACTION_GROUP }]);
    const diagnostics = only(json, 'azurerm_monitor_diagnostic_setting');
    expect(diagnostics.target_resource_id).toBe(endpoint);
    expect(diagnostics.log_analytics_workspace_id).toBe(`\${${addressOf(json, only(json, 'azurerm_log_analytics_workspace'))}.id}`);
    const errors = only(json, 'azurerm_monitor_scheduled_query_rules_alert_v2');
    expect(errors.criteria[0]).toMatchObject({ metric_measure_column: 'errorRatePercent', operator: 'GreaterThan', threshold: 2, failing_periods: { number_of_evaluation_periods: 3, minimum_failing_periods_to_trigger_alert: 3 } });
    expect(errors.criteria[0].query).toContain('startswith "5"');
    expect(errors.action).toEqual({ action_groups: [ACTION_GROUP] });
    expect(errors.depends_on).toEqual([addressOf(json, diagnostics)]);
    expect(danglingReferences(json)).toEqual([]);
  });

  test('alarms: false creates none; an existing workspace gets the latency alert and a warning about the error rate', () => {
    const { json } = synth({ monitoring: { alarms: false } });
    expect(json.resource.azurerm_monitor_metric_alert).toBeUndefined();
    expect(json.resource.azurerm_monitor_scheduled_query_rules_alert_v2).toBeUndefined();
    const existing = synth({ workspaceId: WORKSPACE_ID, storageAccountId: STORAGE_ID });
    expect(only(existing.json, 'azurerm_monitor_metric_alert').resource_group_name).toBe('rg-shared');
    expect(existing.json.resource.azurerm_monitor_scheduled_query_rules_alert_v2).toBeUndefined();
    const warnings = existing.endpoint.node.metadata.filter(m => m.type === '@cdktf/warn').map(m => String(m.data));
    expect(warnings.join('\n')).toMatch(/no 5xx error-rate alert/);
  });
});

describe('grantInvoke', () => {
  test.each([
    [AuthMode.IAM, 'score/action'],
    [AuthMode.TOKEN, 'token/action'],
    [AuthMode.KEY, 'listKeys/action'],
  ])('auth %s: one custom role with only %s, assigned on this endpoint', (auth, action) => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'grants');
    const endpoint = new AzureMlModelEndpoint(stack, 'Fraud', { ...BASE, access: { auth } });
    endpoint.grantInvoke('11111111-1111-1111-1111-111111111111');
    endpoint.grantInvoke('22222222-2222-2222-2222-222222222222');
    const json = JSON.parse(Testing.synth(stack));
    const role = only(json, 'azurerm_role_definition');
    expect(role.permissions).toEqual([{ actions: [`Microsoft.MachineLearningServices/workspaces/onlineEndpoints/${action}`] }]);
    const grants = Object.values<any>(json.resource.azurerm_role_assignment).filter(r => r.role_definition_id);
    expect(grants.map(g => g.principal_id).sort()).toEqual(['11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222']);
    for (const g of grants) {
      expect(g.scope).toBe(`\${${addressOf(json, azapi(json, 'onlineEndpoints'))}.id}`);
      expect(g.role_definition_id).toBe(`\${${addressOf(json, role)}.role_definition_resource_id}`);
    }
    expect(danglingReferences(json)).toEqual([]);
  });

  test('a principal id that is not a GUID is refused', () => {
    const { endpoint } = synth();
    const e = refusal(() => endpoint.grantInvoke('alice@contoso.com'));
    expect(e).toMatchObject({ field: 'grantInvoke.principalId', target: 'azureMl' });
  });
});

describe('through the facade', () => {
  test('DeploymentTarget.azureMl builds an AzureMlModelEndpoint in a TerraformStack', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'facade');
    const d = new ModelDeployment(stack, 'Fraud', { ...specOf(BASE), target: DeploymentTarget.azureMl({ location: 'westeurope', containerRegistryId: REGISTRY_ID }) });
    expect(d.targetName).toBe('azureMl');
    expect(AzureMlModelEndpoint.of(d).endpointName).toBe(d.endpointName);
    expect(d.endpointUrl).toMatch(/^\$\{TfToken\[/);
  });

  test('a misspelt option is refused when the factory is called, suggesting the right one', () => {
    const e = refusal(() => DeploymentTarget.azureMl({ location: 'westeurope', instancetype: 'Standard_DS3_v2' } as never));
    expect(e.field).toBe('DeploymentTarget.azureMl({...}).instancetype');
    expect(e.allowed).toMatch(/did you mean instanceType\?/);
    expect(e.target).toBe('azureMl');
    expect(refusal(() => DeploymentTarget.azureMl({ location: 'westeurope', endpointName: 'x' } as never)).allowed).toMatch(/part of the spec/);
  });

  test('inside an aws-cdk-lib Stack it is refused, naming the stack it needs', () => {
    const stack = new CdkStack(new CdkApp(), 'Cdk');
    const e = refusal(() => new ModelDeployment(stack, 'Fraud', { ...specOf(BASE), target: DeploymentTarget.azureMl({ location: 'westeurope' }) }));
    expect(e.field).toBe('target');
    expect(e.allowed).toMatch(/azureMl must be placed inside a cdktf TerraformStack/);
  });
});

function specOf(props: typeof BASE) {
  const { location: _l, containerRegistryId: _c, ...spec } = props;
  return spec;
}
