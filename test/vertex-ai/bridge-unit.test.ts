/**
 * The Vertex AI bridge's parts that need no server: where the package puts it, what its request
 * allows, how it checks a payload against the proto, and how it gives away the traffic of a model it
 * undeploys. (Against Vertex's protocol: bridge.test.ts.)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { protos } from '@google-cloud/aiplatform';
import { vertexBridgeRequestProblems } from '../../lib/targets/vertex-ai/bridge-request';
import { BridgeSetupError, TEST_API_ENDPOINT_ENV, connectionOptions } from '../../lib/targets/vertex-ai/bridge/client';
import { deployModelRequest, undeployModelRequest, uploadModelRequest } from '../../lib/targets/vertex-ai/bridge/payloads';
import { predictionHost, protoProblems } from '../../lib/targets/vertex-ai/bridge/steps';
import { vertexRequest } from '../support/vertex/requests';

const ROOT = path.join(__dirname, '..', '..');
const VERTEX = path.join(ROOT, 'lib', 'targets', 'vertex-ai');

describe('package layout', () => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.build.json'), {}, {
    ...ts.sys, onUnRecoverableConfigFileDiagnostic: d => { throw new Error(String(d.messageText)); },
  })!;
  const out = (file: string) => path.relative(ROOT, ts.getOutputFileNames(config, path.join(VERTEX, file), false).find(f => f.endsWith('.js'))!);

  test('`npm run build` emits the bridge as dist/targets/vertex-ai/bridge/main.js, where VERTEX_BRIDGE_MAIN points from the compiled bridge-request.js', () => {
    const bridgeFiles = fs.readdirSync(path.join(VERTEX, 'bridge')).filter(f => f.endsWith('.ts'));
    for (const f of bridgeFiles) expect(config.fileNames).toContain(path.join(VERTEX, 'bridge', f));
    expect(out('bridge/main.ts')).toBe(path.join('dist', 'targets', 'vertex-ai', 'bridge', 'main.js'));
    // bridge-request.ts: VERTEX_BRIDGE_MAIN = path.join(__dirname, 'bridge', 'main.js')
    expect(path.join(path.dirname(out('bridge-request.ts')), 'bridge', 'main.js')).toBe(out('bridge/main.ts'));
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.files).toContain('dist/**/*.js');
  });

  test('@google-cloud/aiplatform is an optional peer (^6: 7.x needs Node 22)', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.peerDependencies['@google-cloud/aiplatform']).toBe('^6.11.0');
    expect(pkg.peerDependenciesMeta['@google-cloud/aiplatform']).toEqual({ optional: true });
  });

  test('the optional peer is imported for types only, and only inside bridge/; nothing outside bridge/ imports it', () => {
    const files = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true })
      .flatMap(e => (e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    for (const file of files(path.join(ROOT, 'lib'))) {
      const source = fs.readFileSync(file, 'utf8');
      const rel = path.relative(ROOT, file);
      for (const m of source.matchAll(/^import (type )?[^;]*from '(@google-cloud\/aiplatform[^']*)';/gm)) {
        expect(`${rel}: ${m[0]}`).toMatch(/^lib\/targets\/vertex-ai\/bridge\/[^/]+: import type /);
      }
      if (!rel.startsWith('lib/targets/vertex-ai/bridge/')) expect(`${rel}: ${source.match(/from '\.\/bridge\/[^']*'/)?.[0] ?? 'no bridge import'}`).toBe(`${rel}: no bridge import`);
    }
  });
});

describe('request', () => {
  test('the test fixtures are valid requests', () => {
    expect(vertexBridgeRequestProblems(vertexRequest(1))).toEqual([]);
    expect(vertexBridgeRequestProblems(vertexRequest(2))).toEqual([]);
  });

  test('each wrong field is named', () => {
    const r = vertexRequest(1);
    const bad = {
      ...r, format: 1, project: 'P', owner: 'Not A Label',
      model: { ...r.model, modelId: '1abc', artifactUri: 's3://x', container: { ...r.model.container, port: 0, env: { A: '' } } },
      deployment: { ...r.deployment, minReplicaCount: 3, maxReplicaCount: 2, machineSpec: { machineType: 'g2-standard-8', acceleratorType: 'NVIDIA_L4' } },
    };
    expect(vertexBridgeRequestProblems(bad)).toEqual([
      'project: "P" is not a project id',
      'owner: "Not A Label" is not a label value (lowercase letters, digits, _ and -, at most 63)',
      'model.modelId: "1abc" is not a model id (up to 63 of [a-z0-9_-], not starting with a digit or hyphen)',
      'model.artifactUri: "s3://x" is not a gs:// URI',
      'model.container.port: must be an integer from 1 to 65535',
      'model.container.env.A: must not be empty (EnvVar.value is REQUIRED)',
      'deployment.maxReplicaCount: 2 is below minReplicaCount 3',
      'deployment.machineSpec: acceleratorType and acceleratorCount go together',
    ]);
    expect(vertexBridgeRequestProblems({ ...r, format: 2 })).toEqual([expect.stringMatching(/^format: is 2; this bridge reads format 1/)]);
  });
});

describe('payloads against the proto (the client checks nothing)', () => {
  test('the payloads of a valid request fit the proto exactly', () => {
    expect(protoProblems(protos, 'DeployModelRequest', deployModelRequest(vertexRequest(1)))).toEqual([]);
  });

  test('a misspelt field, a fraction in an int32 and an unknown enum number are caught', () => {
    const p = deployModelRequest(vertexRequest(1)) as any;
    p.deployedModel.dedicatedResources.minReplicaCount = 1.7;
    p.deployedModel.serviceAcount = 'x@y';
    p.deployedModel.dedicatedResources.machineSpec.acceleratorType = 99;
    expect(protoProblems(protos, 'DeployModelRequest', p)).toEqual([
      'deployedModel.dedicatedResources.machineSpec.acceleratorType: enum value expected',
      'deployedModel.dedicatedResources.minReplicaCount: expected 1.7, found 1',
      'deployedModel.serviceAcount: expected "x@y", found nothing',
    ]);
  });
});

describe('a customer-managed key (CMEK) on the Model', () => {
  const key = 'projects/ml-keys-0001/locations/europe-west4/keyRings/ml/cryptoKeys/models';
  const withKey = (kmsKeyName: string) => ({ ...vertexRequest(1), model: { ...vertexRequest(1).model, encryptionSpec: { kmsKeyName } } });

  test('the upload carries it as Model.encryption_spec, which fits the proto; without one, the upload has none', () => {
    expect(uploadModelRequest(withKey(key)).model!.encryptionSpec).toEqual({ kmsKeyName: key });
    expect(protoProblems(protos, 'UploadModelRequest', uploadModelRequest(withKey(key)))).toEqual([]);
    expect(uploadModelRequest(vertexRequest(1)).model!.encryptionSpec).toBeUndefined();
  });

  test('a key that is not a Cloud KMS key name is refused, named', () => {
    expect(vertexBridgeRequestProblems(withKey(key))).toEqual([]);
    expect(vertexBridgeRequestProblems(withKey('models'))).toEqual(['model.encryptionSpec.kmsKeyName: "models" is not a Cloud KMS key name']);
  });
});

describe('undeploying a model that has traffic', () => {
  const endpoint = (split: Record<string, number>, ids: string[]) => ({ name: 'projects/p/locations/l/endpoints/1', trafficSplit: split, deployedModels: ids.map(id => ({ id })) });

  test('without traffic, or the last one: no traffic_split', () => {
    expect(undeployModelRequest(endpoint({ 2: 100 }, ['1', '2']), '1')).toEqual({ endpoint: 'projects/p/locations/l/endpoints/1', deployedModelId: '1' });
    expect(undeployModelRequest(endpoint({ 1: 100 }, ['1']), '1').trafficSplit).toBeUndefined();
  });

  test('with traffic: the others get it in proportion, or evenly when they have none; always 100 in all', () => {
    expect(undeployModelRequest(endpoint({ 1: 40, 2: 30, 3: 30 }, ['1', '2', '3']), '1').trafficSplit).toEqual({ 2: 50, 3: 50 });
    expect(undeployModelRequest(endpoint({ 1: 100 }, ['1', '2', '3', '4']), '1').trafficSplit).toEqual({ 2: 34, 3: 33, 4: 33 });
  });
});

describe('connection', () => {
  test('the regional endpoint by default (TLS and Application Default Credentials: the client\'s defaults)', () => {
    expect(connectionOptions('europe-west4', {})).toEqual({ apiEndpoint: 'europe-west4-aiplatform.googleapis.com' });
  });

  test('the test-only seam takes a loopback host:port only', () => {
    const o = connectionOptions('europe-west4', { [TEST_API_ENDPOINT_ENV]: '127.0.0.1:4711' });
    expect({ ...o, sslCreds: typeof o.sslCreds }).toEqual({ apiEndpoint: '127.0.0.1', port: 4711, sslCreds: 'object' });
    for (const elsewhere of ['10.1.2.3:443', 'europe-west4-aiplatform.googleapis.com:443', '127.0.0.1']) {
      expect(() => connectionOptions('europe-west4', { [TEST_API_ENDPOINT_ENV]: elsewhere })).toThrow(BridgeSetupError);
    }
  });
});

describe('where the samples go (predictionHost)', () => {
  test('a dedicated endpoint: its own DNS name (Google refuses the shared regional domain for it)', () => {
    expect(predictionHost({ dedicatedEndpointEnabled: true, dedicatedEndpointDns: '4242.europe-west4-123.prediction.vertexai.goog' }, 'europe-west4'))
      .toEqual({ host: '4242.europe-west4-123.prediction.vertexai.goog', kind: 'dedicated endpoint' });
  });

  test('a Private Service Connect endpoint: the regional host, which must resolve to the consumer\'s PSC endpoint where apply runs', () => {
    expect(predictionHost({ privateServiceConnectConfig: { enablePrivateServiceConnect: true } }, 'europe-west4'))
      .toEqual({ host: 'europe-west4-aiplatform.googleapis.com', kind: 'Private Service Connect endpoint' });
  });

  test('a shared public endpoint (the target does not build one): the regional host', () => {
    expect(predictionHost({}, 'us-central1')).toEqual({ host: 'us-central1-aiplatform.googleapis.com', kind: 'shared endpoint' });
  });
});

describe('the request\'s samples', () => {
  const b64 = (t: string) => Buffer.from(t).toString('base64');
  const sample = { name: 's', requestBase64: b64('{"a":1}'), expectedBase64: b64('[1]'), absoluteTolerance: 0, relativeTolerance: 0.1 };

  test('samples of the right shape pass; each wrong field is named', () => {
    expect(vertexBridgeRequestProblems({ ...vertexRequest(1), verification: { latencyBudgetMs: 5000, samples: [sample] } })).toEqual([]);
    expect(vertexBridgeRequestProblems({ ...vertexRequest(1), verification: { latencyBudgetMs: 0, samples: [{ ...sample, requestBase64: b64('not json'), relativeTolerance: -1 }] } })).toEqual([
      'verification.latencyBudgetMs: must be an integer from 1 to 600000',
      'verification.samples[0].requestBase64: is not base64 of JSON',
      'verification.samples[0].relativeTolerance: must be a number of 0 or more',
    ]);
    expect(vertexBridgeRequestProblems({ ...vertexRequest(1), verification: { latencyBudgetMs: 1, samples: [] } })).toEqual(['verification.samples: must be a list of 1 to 10 samples']);
  });

  test('retire-all\'s request: the owner fields only', () => {
    const { format, project, location, endpointId, owner } = vertexRequest(1);
    expect(vertexBridgeRequestProblems({ format, project, location, endpointId, owner }, 'owner')).toEqual([]);
    expect(vertexBridgeRequestProblems({ format, project, location, endpointId, owner: 'Not A Label' }, 'owner')).toEqual(['owner: "Not A Label" is not a label value (lowercase letters, digits, _ and -, at most 63)']);
    expect(vertexBridgeRequestProblems({ format, project, location, endpointId, owner })).toContain('model: must be an object');
  });
});
