import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdkApp } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { App as TfApp, Testing } from 'cdktf';
import { IMAGES, onAzureMl, onPrem, onSageMaker, onVertexAi, spec } from '../examples/one-spec-four-targets';

/** The example's samples, as every target must carry them: request and expected response, compact JSON. */
const SAMPLES = spec.verification!.samples.map(s => ({ name: s.name, request: JSON.stringify(s.request), expected: JSON.stringify(s.expectedResponse) }));

let outdir: string;
let home: string;
const realHome = process.env.HOME;
beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'one-spec-'));
  // The on-prem synth reads the example's key file (~/.config/model-deploy/fraud-scorer-api-keys).
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'one-spec-home-'));
  fs.mkdirSync(path.join(home, '.config', 'model-deploy'), { recursive: true });
  fs.writeFileSync(path.join(home, '.config', 'model-deploy', 'fraud-scorer-api-keys'), 'placeholder-key-0123456789\n');
  process.env.HOME = home;
});
afterAll(() => {
  process.env.HOME = realHome;
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.rmSync(home, { recursive: true, force: true });
});

/** The samples as Azure ML's and Vertex AI's checks carry them (base64, so jsonencode cannot grow them). */
const travelled = (samples: any[]) => samples.map(s => ({
  name: s.name, request: Buffer.from(s.requestBase64, 'base64').toString('utf8'), expected: Buffer.from(s.expectedBase64, 'base64').toString('utf8'),
}));

const tf = (build: (app: TfApp) => unknown) => JSON.parse(Testing.synth(build(new TfApp({ outdir })) as never));
const ofType = (json: any, type: string): any[] => Object.values(json.resource?.[type] ?? {});

describe('one spec, four targets (examples/one-spec-four-targets.ts)', () => {
  test('SageMaker: one NVIDIA T4 per instance (ml.g4dn.xlarge), 2 instances, the routes, and the samples gate the update', () => {
    const sm = Template.fromStack(onSageMaker(new CdkApp({ outdir })));
    const variant = Object.values(sm.findResources('AWS::SageMaker::EndpointConfig'))[0].Properties.ProductionVariants[0];
    expect(variant).toMatchObject({ InstanceType: 'ml.g4dn.xlarge', InitialInstanceCount: 2 });
    const container = Object.values(sm.findResources('AWS::SageMaker::Model'))[0].Properties.PrimaryContainer;
    expect(container.Image).toBe(IMAGES.sageMaker);
    expect(container.Environment).toMatchObject({ LOG_LEVEL: 'info' });
    sm.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'fraud-scorer' });
    const check = Object.values(sm.findResources('Custom::SageMakerVerification'))[0].Properties;
    expect(JSON.parse(check.Samples).map((s: any) => ({ name: s.name, request: s.requestJson, expected: JSON.stringify(s.expectedResponse) }))).toEqual(SAMPLES);
    expect(check.LatencyBudgetMs).toBe(2000);
  });

  test('Azure ML: one T4 per instance (Standard_NC4as_T4_v3), 2 instances, the image from the team registry, the routes, the samples', () => {
    const json = tf(onAzureMl);
    const byName = (part: string) => Object.entries<any>(json.resource.azapi_resource).find(([k]) => k.includes(part))![1];
    const deployment = byName('_Endpoint_Deployment_');
    expect(deployment.body.properties.instanceType).toBe('Standard_NC4as_T4_v3');
    expect(deployment.body.sku.capacity).toBe(2);
    expect(deployment.body.properties.environmentVariables).toMatchObject({ LOG_LEVEL: 'info' });
    const environment = JSON.stringify(byName('_Endpoint_EnvironmentVersion_').body);
    expect(environment).toContain(IMAGES.azureMl);
    expect(environment).toContain('/ping');
    expect(environment).toContain('/invocations');
    const check = ofType(json, 'terraform_data').find(r => r.input?.verification).input.verification;
    expect(travelled(check.samples)).toEqual(SAMPLES);
    expect(check.latencyBudgetMs).toBe(2000);
  });

  test('Vertex AI: one NVIDIA_TESLA_T4 (n1-standard-4), 2 replicas, the routes and port, and the samples', () => {
    const json = tf(onVertexAi);
    const request = ofType(json, 'terraform_data').find(r => r.input?.deployment).input;
    expect(request.deployment.machineSpec).toEqual({ machineType: 'n1-standard-4', acceleratorType: 'NVIDIA_TESLA_T4', acceleratorCount: 1 });
    expect(request.deployment).toMatchObject({ minReplicaCount: 2, maxReplicaCount: 2 });
    expect(request.model.container).toMatchObject({ imageUri: IMAGES.vertexAi, port: 8080, healthRoute: '/ping', predictRoute: '/invocations', env: { LOG_LEVEL: 'info' } });
    expect(travelled(request.verification.samples)).toEqual(SAMPLES);
  });

  test('on-prem: a T4 per replica, 2 replicas over 2 hosts, the routes and port, TLS, and the samples', () => {
    const json = tf(onPrem);
    const deployments = Object.entries<any>(json.resource.terraform_data).filter(([k]) => k.includes('-deployment_')).map(([, v]) => v);
    expect(deployments).toHaveLength(2);
    for (const d of deployments) {
      const file = (suffix: string) => d.provisioner.find((p: any) => p.file?.destination.endsWith(suffix)).file.content as string;
      const env = file('/deploy.env');
      expect(env).toContain(`MD_IMAGE='${IMAGES.sageMaker}'`);
      expect(env).toMatch(/MD_GPU_NAMES='[^']*\bT4\b/);
      expect(env).toContain("MD_GPUS_PER_REPLICA='1'");
      expect(env).toContain("MD_REPLICAS='1'"); // 2 replicas over 2 hosts
      expect(env).toContain("MD_CONTAINER_PORT='8080'");
      expect(env).toContain("MD_HEALTH_PATH='/ping'");
      expect(env).toContain("MD_VERIFY_PATH='/invocations'");
      expect(env).toContain("MD_DEPLOYMENT='fraud-scorer'");
      expect(env).toMatch(/MD_TLS_CERT='\/etc\/ssl\//);
      const samples = file('/samples.tsv').trim().split('\n').map(l => l.split('\t'));
      expect(samples.map(([name, , , request, expected]) => ({ name, request, expected }))).toEqual(SAMPLES);
    }
  });
});
