/**
 * The offline stand-in for azapi's plan-time body validation (test/support/azure): known-good bodies
 * of the four resource types an online deployment uses pass; each wrong shape seen in public
 * samples, and each rule the type data leaves open, is caught with a message naming the path.
 */
import { TerraformResource, TerraformStack, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { findResourceType } from '../support/azure/arm-types';
import { validateAzapiBody, validateAzapiStack, validateOwnRules } from '../support/azure/azapi-validator';

const NS = 'Microsoft.MachineLearningServices/workspaces';
const MODEL = `${NS}/models/versions@2024-10-01`;
const ENVIRONMENT = `${NS}/environments/versions@2024-10-01`;
const ENDPOINT = `${NS}/onlineEndpoints@2024-10-01`;
const DEPLOYMENT = `${NS}/onlineEndpoints/deployments@2024-10-01`;
const WORKSPACE_ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';

const modelBody = () => ({
  properties: { modelType: 'custom_model', modelUri: 'azureml://datastores/workspaceblobstore/paths/models/linear/1', description: 'linear model' },
});
const environmentBody = () => ({
  properties: {
    image: 'nvcr.io/nvidia/tritonserver:24.08-py3',
    osType: 'Linux',
    inferenceConfig: {
      livenessRoute: { path: '/v2/health/live', port: 8000 },
      readinessRoute: { path: '/v2/health/ready', port: 8000 },
      scoringRoute: { path: '/v2/models/linear/infer', port: 8000 },
    },
  },
});
const endpointBody = () => ({ properties: { authMode: 'Key', publicNetworkAccess: 'Disabled', description: 'linear model endpoint' } });
const probe = () => ({ initialDelay: 'PT10S', period: 'PT10S', timeout: 'PT2S', failureThreshold: 30, successThreshold: 1 });
const deploymentBody = (): any => ({
  sku: { name: 'Default', capacity: 3 },
  properties: {
    endpointComputeType: 'Managed',
    model: `${WORKSPACE_ID}/models/linear/versions/1`,
    environmentId: `${WORKSPACE_ID}/environments/triton/versions/1`,
    instanceType: 'Standard_DS3_v2',
    scaleSettings: { scaleType: 'Default' },
    requestSettings: { maxConcurrentRequestsPerInstance: 1, requestTimeout: 'PT5S', maxQueueWait: 'PT0.5S' },
    livenessProbe: probe(),
    readinessProbe: probe(),
    startupProbe: probe(),
    environmentVariables: { OMP_NUM_THREADS: '1' },
    appInsightsEnabled: true,
    egressPublicNetworkAccess: 'Disabled',
  },
});

/** azapi's errors and ours for one body: what validateAzapiStack reports for an azapi_resource. */
const allErrors = (type: string, body: unknown, extras: { name?: string; location?: string } = {}) =>
  [...validateAzapiBody(type, body, extras), ...validateOwnRules(type, body, extras)];

describe('type data', () => {
  test('the four resource types are there, at 2024-10-01, and nothing else by that lookup', () => {
    for (const type of [MODEL, ENVIRONMENT, ENDPOINT, DEPLOYMENT]) expect(findResourceType(type)?.name).toBe(type);
    expect(findResourceType(ENDPOINT.toLowerCase())?.name).toBe(ENDPOINT);
    expect(findResourceType(`${NS}/onlineEndpoints@2023-10-01`)).toBeUndefined();
  });
});

describe('known-good bodies pass azapi and our rules', () => {
  test.each([
    ['model version', MODEL, modelBody(), { name: '1' }],
    ['environment version', ENVIRONMENT, environmentBody(), { name: '1' }],
    ['online endpoint', ENDPOINT, endpointBody(), { name: 'linear-endpoint', location: 'westeurope' }],
    ['online deployment', DEPLOYMENT, deploymentBody(), { name: 'blue', location: 'westeurope' }],
  ])('%s', (_, type, body, extras) => {
    expect(allErrors(type, body, extras)).toEqual([]);
  });

  test('a TargetUtilization deployment and a Kubernetes one pass too', () => {
    const body = deploymentBody();
    body.properties.scaleSettings = { scaleType: 'TargetUtilization', minInstances: 1, maxInstances: 4, pollingInterval: 'PT1M', targetUtilizationPercentage: 70 };
    expect(allErrors(DEPLOYMENT, body)).toEqual([]);
    body.properties.endpointComputeType = 'Kubernetes';
    body.properties.containerResourceRequirements = { containerResourceLimits: { cpu: '2', memory: '4Gi', gpu: '1' } };
    expect(allErrors(DEPLOYMENT, body)).toEqual([]);
  });

  test('references Terraform only knows at apply (cdktf tokens) are skipped, as azapi skips unknown values', () => {
    const body = deploymentBody();
    body.properties.model = '${azapi_resource.model.id}';
    body.sku.capacity = '${var.instances}';
    expect(allErrors(DEPLOYMENT, body, { name: '${var.deployment_name}' })).toEqual([]);
  });
});

describe('wrong shapes from public samples, caught by the azapi port', () => {
  test('instanceCount in properties: unknown key (the count is sku.capacity)', () => {
    const body = deploymentBody();
    body.properties.instanceCount = 3;
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual([
      // The Managed element defines only the discriminator; the base properties are not offered.
      '`properties.instanceCount` is not expected here. Do you mean `properties.endpointComputeType`? ',
    ]);
  });

  test('model as {name, version}: it must be the model version id, a string', () => {
    const body = deploymentBody();
    body.properties.model = { name: 'linear', version: '1' };
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual(['`properties.model` is invalid, expect `string` but got `basetypes.ObjectValue`']);
  });

  test('requestTimeoutMs: unknown key, with the right one suggested', () => {
    const body = deploymentBody();
    body.properties.requestSettings = { requestTimeoutMs: 5000 };
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual([
      '`properties.requestSettings.requestTimeoutMs` is not expected here. Do you mean `properties.requestSettings.requestTimeout`? ',
    ]);
  });

  test('a string port in scoringRoute', () => {
    const body: any = environmentBody();
    body.properties.inferenceConfig.scoringRoute.port = '8000';
    expect(validateAzapiBody(ENVIRONMENT, body)).toEqual([
      '`properties.inferenceConfig.scoringRoute.port` is invalid, expect `integer` but got `basetypes.StringValue`',
    ]);
  });

  test('an unknown key elsewhere: modelUrl on a model version', () => {
    const body: any = modelBody();
    body.properties.modelUrl = body.properties.modelUri;
    expect(validateAzapiBody(MODEL, body)).toEqual(['`properties.modelUrl` is not expected here. Do you mean `properties.modelUri`? ']);
  });

  test('read-only keys: provisioningState and scoringUri on an endpoint', () => {
    const body: any = endpointBody();
    body.properties.provisioningState = 'Succeeded';
    body.properties.scoringUri = 'https://linear-endpoint.westeurope.inference.ml.azure.com/score';
    expect(validateAzapiBody(ENDPOINT, body)).toEqual([
      "`properties.provisioningState` is not expected here, it's read only",
      "`properties.scoringUri` is not expected here, it's read only",
    ]);
  });

  test('missing required fields: authMode on an endpoint, sku.name, a route without its port', () => {
    expect(validateAzapiBody(ENDPOINT, { properties: { description: 'x' }, sku: { capacity: 1 } })).toEqual([
      '`properties.authMode` is required, but no definition was found',
      '`sku.name` is required, but no definition was found',
    ]);
    // An environment version needs no image in the type data (a build context would do); a route needs both.
    expect(validateAzapiBody(ENVIRONMENT, { properties: { inferenceConfig: { scoringRoute: { path: '/score' } } } })).toEqual([
      '`properties.inferenceConfig.scoringRoute.port` is required, but no definition was found',
    ]);
  });

  test('the discriminator: missing, or a value with no element', () => {
    const body = deploymentBody();
    delete body.properties.endpointComputeType;
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual(['`properties.endpointComputeType` is required, but no definition was found']);
    body.properties.endpointComputeType = 'AzureMLCompute';
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual([
      expect.stringMatching(/^`properties\.endpointComputeType`'s value `AzureMLCompute` is invalid\. The supported values are \[Kubernetes, Managed\]/),
    ]);
  });

  test('patterns, closed unions and arrays of the type data', () => {
    const env: any = environmentBody();
    env.properties.inferenceConfig.scoringRoute.path = '/';
    expect(validateAzapiBody(ENVIRONMENT, env)).toEqual(['`properties.inferenceConfig.scoringRoute.path` is invalid, string does not match pattern [a-zA-Z0-9_]']);
    expect(validateAzapiBody(ENDPOINT, { ...endpointBody(), sku: { name: 'Default', tier: 'Gold' } })).toEqual([
      expect.stringMatching(/^`sku\.tier`'s value `Gold` is invalid\. The supported values are \[Free, Basic, Standard, Premium\]/),
    ]);
    expect(validateAzapiBody(ENDPOINT, endpointBody(), { name: '-endpoint' })).toEqual([
      '`name` is invalid, string does not match pattern ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{0,254}$',
    ]);
  });

  test('like azapi: name, location, tags and identity are merged in; a missing location or tags is not reported', () => {
    expect(validateAzapiBody(ENDPOINT, endpointBody(), {
      name: 'linear-endpoint', location: 'westeurope', tags: { team: 'ml' }, identity: { type: 'UserAssigned', identity_ids: ['/subscriptions/0/x'] },
    })).toEqual([]);
    // A model version has no location: an azapi_resource with one is refused.
    expect(validateAzapiBody(MODEL, modelBody(), { location: 'westeurope' })).toEqual([expect.stringMatching(/^`location` is not expected here\./)]);
    expect(validateAzapiBody(ENDPOINT, { ...endpointBody(), location: 'westeurope' }, { location: 'westeurope' })).toEqual([
      'can\'t specify both the argument "location" and "location" in the argument "body"',
    ]);
  });

  test('a body written as a JSON string, an unknown type, another API version', () => {
    expect(validateAzapiBody(ENDPOINT, JSON.stringify(endpointBody()))).toEqual([expect.stringMatching(/^`body`: The value must not be a string/)]);
    expect(validateAzapiBody(`${NS}/onlineEndpointz@2024-10-01`, {})).toEqual([expect.stringMatching(/resource type .*onlineEndpointz can't be found/)]);
    expect(validateAzapiBody(`${NS}/onlineEndpoints@2023-10-01`, {})).toEqual([expect.stringMatching(/api-version is invalid\.\n The supported versions are \[2024-10-01\]/)]);
    expect(validateAzapiBody(`${NS}/onlineEndpoints`, {})).toEqual([expect.stringMatching(/it should be like `ResourceProvider\/resourceTypes@ApiVersion`$/)]);
  });

  test('what azapi lets through: open enums, any number for an integer, any value for a boolean', () => {
    const body = deploymentBody();
    body.properties.egressPublicNetworkAccess = 'Off';
    body.properties.livenessProbe.failureThreshold = 1.5;
    body.properties.requestSettings.requestTimeout = '5s';
    body.properties.appInsightsEnabled = 'yes';
    expect(validateAzapiBody(DEPLOYMENT, body)).toEqual([]);
  });
});

describe('our rules, for what the type data leaves open', () => {
  test('authMode "Keys": not one of Key, AMLToken, AADToken', () => {
    const body = { properties: { ...endpointBody().properties, authMode: 'Keys' } };
    expect(validateAzapiBody(ENDPOINT, body)).toEqual([]);
    expect(validateOwnRules(ENDPOINT, body)).toEqual(["`properties.authMode`'s value `Keys` is not one of [Key, AMLToken, AADToken]"]);
  });

  test('closed values elsewhere: osType, modelType, sku.name, egressPublicNetworkAccess', () => {
    const env: any = environmentBody();
    env.properties.osType = 'linux';
    expect(validateOwnRules(ENVIRONMENT, env)).toEqual(["`properties.osType`'s value `linux` is not one of [Linux, Windows]"]);
    expect(validateOwnRules(MODEL, { properties: { modelType: 'pytorch' } })).toEqual([expect.stringContaining('`properties.modelType`')]);
    const deployment = deploymentBody();
    deployment.sku.name = 'Standard_DS3_v2';
    deployment.properties.egressPublicNetworkAccess = 'Off';
    expect(validateOwnRules(DEPLOYMENT, deployment)).toEqual([
      "`properties.egressPublicNetworkAccess`'s value `Off` is not one of [Enabled, Disabled]",
      "`sku.name`'s value `Standard_DS3_v2` is not one of [Default]",
    ]);
  });

  test('requestTimeout "5s": not an ISO-8601 duration (PT5S is)', () => {
    const body = deploymentBody();
    body.properties.requestSettings.requestTimeout = '5s';
    body.properties.readinessProbe.period = 10;
    expect(validateOwnRules(DEPLOYMENT, body)).toEqual([
      '`properties.requestSettings.requestTimeout` is "5s", not an ISO-8601 duration such as "PT5S"',
      '`properties.readinessProbe.period` is 10, not an ISO-8601 duration such as "PT5S"',
    ]);
  });

  test('a non-integer failureThreshold, sku.capacity or maxConcurrentRequestsPerInstance', () => {
    const body = deploymentBody();
    body.properties.livenessProbe.failureThreshold = 1.5;
    body.sku.capacity = 2.5;
    body.properties.requestSettings.maxConcurrentRequestsPerInstance = 0.5;
    expect(validateOwnRules(DEPLOYMENT, body)).toEqual([
      '`sku.capacity` is 2.5, not an integer',
      '`properties.requestSettings.maxConcurrentRequestsPerInstance` is 0.5, not an integer',
      '`properties.livenessProbe.failureThreshold` is 1.5, not an integer',
    ]);
  });

  test('a boolean that is not one', () => {
    const body = deploymentBody();
    body.properties.appInsightsEnabled = 'true';
    expect(validateOwnRules(DEPLOYMENT, body)).toEqual(['`properties.appInsightsEnabled` is "true", not a boolean']);
  });

  test('endpoint names: over 32 characters, or a digit first (both pass azapi)', () => {
    const long = `e${'x'.repeat(32)}`;
    const rule = /^`name` `.*` is not a valid online endpoint name: 3 to 32 characters, a letter first/;
    for (const name of [long, '1-endpoint', 'ab', 'endpoint-', 'my_endpoint']) {
      expect(validateOwnRules(ENDPOINT, endpointBody(), { name })).toEqual([expect.stringMatching(rule)]);
    }
    expect(validateAzapiBody(ENDPOINT, endpointBody(), { name: long })).toEqual([]);
    expect(validateOwnRules(ENDPOINT, endpointBody(), { name: 'a'.repeat(32) })).toEqual([]);
    expect(validateOwnRules(DEPLOYMENT, deploymentBody(), { name: '2nd' })).toEqual([expect.stringContaining('not a valid online deployment name')]);
  });
});

/** A small synthesized stack: model, environment, endpoint, two deployments, a traffic update. */
function stack(traffic: Record<string, unknown>, mirrorTraffic?: Record<string, unknown>): any {
  const deployment = (name: string) => ({
    type: DEPLOYMENT, name, parent_id: '${azapi_resource.endpoint.id}', location: 'westeurope', body: deploymentBody(),
  });
  return {
    resource: {
      azapi_resource: {
        model: { type: MODEL, name: '1', parent_id: `${WORKSPACE_ID}/models/linear`, body: modelBody() },
        environment: { type: ENVIRONMENT, name: '1', parent_id: `${WORKSPACE_ID}/environments/triton`, body: environmentBody() },
        endpoint: {
          type: ENDPOINT, name: 'linear-endpoint', parent_id: WORKSPACE_ID, location: 'westeurope',
          identity: [{ type: 'SystemAssigned' }], body: endpointBody(), '//': { metadata: { path: 'stack/endpoint' } },
        },
        blue: deployment('blue'),
        green: deployment('green'),
      },
      azapi_update_resource: {
        traffic: {
          type: ENDPOINT, resource_id: '${azapi_resource.endpoint.id}', depends_on: ['azapi_resource.blue', 'azapi_resource.green'],
          body: { properties: { traffic, ...(mirrorTraffic ? { mirrorTraffic } : {}) } },
        },
      },
    },
  };
}

describe('validateAzapiStack', () => {
  test('a good stack has no errors; keys may be literal names or references to the deployments', () => {
    expect(validateAzapiStack(stack({ blue: 90, green: 10 }))).toEqual([]);
    expect(validateAzapiStack(stack({ '${azapi_resource.blue.name}': 100 }, { green: 20 }))).toEqual([]);
    expect(validateAzapiStack(stack({}))).toEqual([]);
  });

  test('traffic summing to 90', () => {
    expect(validateAzapiStack(stack({ blue: 80, green: 10 }))).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.traffic` sums to 90, not 100',
    ]);
  });

  test('traffic naming a deployment the stack does not create, or a fraction', () => {
    expect(validateAzapiStack(stack({ blue: 50, red: 50 }))).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.traffic.red` names a deployment this stack does not create under the endpoint (it creates: blue, green)',
    ]);
    expect(validateAzapiStack(stack({ '${azapi_resource.model.name}': 100 }))).toEqual([expect.stringContaining('`properties.traffic.${azapi_resource.model.name}` names a deployment')]);
    expect(validateAzapiStack(stack({ blue: 99.5, green: 0.5 }))).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.traffic.blue` is 99.5, not a whole percentage',
      'azapi_update_resource.traffic: [own rule] `properties.traffic.green` is 0.5, not a whole percentage',
    ]);
  });

  test('mirror traffic over 50, or to two deployments', () => {
    expect(validateAzapiStack(stack({ blue: 100 }, { green: 60 }))).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.mirrorTraffic` sums to 60, more than 50',
    ]);
    expect(validateAzapiStack(stack({ blue: 100 }, { blue: 10, green: 10 }))).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.mirrorTraffic` mirrors to more than one deployment',
    ]);
  });

  test('azapi does not check update bodies before apply (and drops unknown keys then): our check of them does', () => {
    const tf = stack({ blue: 100 });
    tf.resource.azapi_update_resource.traffic.body = { properties: { trafic: { blue: 100 }, provisioningState: 'Succeeded' } };
    expect(validateAzapiStack(tf)).toEqual([
      'azapi_update_resource.traffic: [own rule] `properties.trafic` is not expected here. Do you mean `properties.traffic`? ',
      "azapi_update_resource.traffic: [own rule] `properties.provisioningState` is not expected here, it's read only",
    ]);
    tf.resource.azapi_update_resource.traffic.body = JSON.stringify({ properties: { traffic: { blue: 100 } } });
    expect(validateAzapiStack(tf)).toEqual([expect.stringMatching(/^azapi_update_resource\.traffic: `body`: The value must not be a string/)]);
  });

  test('every error of every resource, prefixed with its address', () => {
    const tf = stack({ blue: 80, green: 10 });
    const { azapi_resource: r } = tf.resource;
    r.endpoint.name = '1-linear-endpoint';
    r.endpoint.body.properties.authMode = 'Keys';
    r.endpoint.body.properties.traffic = { blue: 100 };
    r.blue.body.properties.instanceCount = 2;
    r.green.body.properties.requestSettings.requestTimeout = '5s';
    r.environment.body.properties.inferenceConfig.scoringRoute.port = '8000';
    r.model.location = 'westeurope';
    expect(validateAzapiStack(tf)).toEqual([
      'azapi_resource.model: `location` is not expected here. Do you mean `id`? ',
      'azapi_resource.environment: `properties.inferenceConfig.scoringRoute.port` is invalid, expect `integer` but got `basetypes.StringValue`',
      'azapi_resource.endpoint: [own rule] `name` `1-linear-endpoint` is not a valid online endpoint name: 3 to 32 characters, a letter first, then letters, digits and hyphens, not ending in a hyphen',
      "azapi_resource.endpoint: [own rule] `properties.authMode`'s value `Keys` is not one of [Key, AMLToken, AADToken]",
      expect.stringMatching(/^azapi_resource\.endpoint: \[own rule\] `properties\.traffic` and `properties\.mirrorTraffic` can only name deployments that exist/),
      'azapi_resource.blue: `properties.instanceCount` is not expected here. Do you mean `properties.endpointComputeType`? ',
      'azapi_resource.green: [own rule] `properties.requestSettings.requestTimeout` is "5s", not an ISO-8601 duration such as "PT5S"',
      'azapi_update_resource.traffic: [own rule] `properties.traffic` sums to 90, not 100',
    ]);
  });

  test('turning azapi\'s check off is refused, and a type with no vendored data is said so', () => {
    const tf = stack({ blue: 100 });
    tf.resource.azapi_resource.model.schema_validation_enabled = false;
    tf.resource.azapi_resource.storage = { type: 'Microsoft.Storage/storageAccounts@2023-05-01', name: 'sa', parent_id: '/x', body: {} };
    expect(validateAzapiStack(tf)).toEqual([
      "azapi_resource.model: [own rule] schema_validation_enabled = false turns azapi's body check off",
      'azapi_resource.storage: no type data here for Microsoft.Storage/storageAccounts: scripts/data/azure-ml-arm-types holds Microsoft.MachineLearningServices only',
    ]);
  });

  test('it reads what cdktf synthesizes: body keys as written, references as tokens, identity as a list', () => {
    /** The least azapi_resource a cdktf stack can hold; the target's own bindings live in lib. */
    class AzapiResource extends TerraformResource {
      constructor(scope: Construct, id: string, private readonly config: Record<string, unknown>) {
        super(scope, id, { terraformResourceType: 'azapi_resource' });
      }
      protected synthesizeAttributes() { return this.config; }
    }
    const tfStack = new TerraformStack(Testing.app(), 'azure-ml');
    const endpoint = new AzapiResource(tfStack, 'endpoint', {
      type: ENDPOINT, name: 'linear-endpoint', parent_id: WORKSPACE_ID, location: 'westeurope',
      identity: [{ type: 'SystemAssigned' }], body: endpointBody(),
    });
    const body = deploymentBody();
    body.properties.requestSettings = { requestTimeoutMs: 5000 };
    new AzapiResource(tfStack, 'blue', { type: DEPLOYMENT, name: 'blue', parent_id: endpoint.getStringAttribute('id'), location: 'westeurope', body });
    expect(validateAzapiStack(JSON.parse(Testing.synth(tfStack)))).toEqual([
      'azapi_resource.blue: `properties.requestSettings.requestTimeoutMs` is not expected here. Do you mean `properties.requestSettings.requestTimeout`? ',
    ]);
  });
});

describe('azapi_resource_action: a PUT to the resource itself is held to the type like a create', () => {
  const withAction = (body: unknown) => {
    const json = stack({ blue: 100 });
    json.resource.azapi_resource_action = { drain: { type: ENDPOINT, resource_id: '${azapi_resource.endpoint.id}', method: 'PUT', when: 'destroy', body } };
    return json;
  };
  const whole = (properties: object) => ({ location: 'westeurope', identity: { type: 'SystemAssigned' }, properties: { ...endpointBody().properties, ...properties } });

  test('the whole endpoint with no traffic passes', () => {
    expect(validateAzapiStack(withAction(whole({ traffic: {} })))).toEqual([]);
  });

  test('a wrong shape, a missing required field and traffic naming no deployment are caught, with the address', () => {
    const { authMode: _, ...noAuth } = endpointBody().properties as Record<string, unknown>;
    expect(validateAzapiStack(withAction({ location: 'westeurope', properties: { ...noAuth, traffic: {} } }))).toEqual([
      expect.stringMatching(/^azapi_resource_action\.drain: \[own rule\] .*authMode/),
    ]);
    expect(validateAzapiStack(withAction(whole({ traffic: { red: 100 } })))).toEqual([
      expect.stringMatching(/^azapi_resource_action\.drain: \[own rule\] `properties\.traffic\.red` names a deployment/),
    ]);
    expect(validateAzapiStack(withAction(whole({ traffic: {}, trafic: {} })))).toEqual([
      expect.stringMatching(/^azapi_resource_action\.drain: \[own rule\] .*trafic/),
    ]);
  });
});
