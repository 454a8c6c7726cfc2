import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdkApp, Stack as CdkStack } from 'aws-cdk-lib';
import { TerraformStack, Testing } from 'cdktf';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import {
  AuthMode, Compute, DeploymentTarget, GpuKind, ModelArtifact, ModelDeployment, NetworkAccess, Rollout, ScalingTarget, ServingContainer,
} from '../../lib';
import { VERIFICATION_LIMITS } from '../../lib/spec/verification';
import { VERTEX_BRIDGE_REQUEST_ENV, vertexBridgeRequestProblems } from '../../lib/targets/vertex-ai/bridge-request';
import { VERTEX_AI_MACHINE_TYPES, VertexAiModelEndpoint } from '../../lib/targets/vertex-ai';
import { BASE, FIXTURE, IMAGE, KEY, PROJECT, addressOf, danglingReferences, only, refusal, request, synth, terraformData } from './support';
import { modelDir as copyModel } from '../support/model-dir';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vertex-synth-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A copy of the fixture model, with `weights.bin` replaced when `weights` is given. */
const modelDir = (name: string, weights?: string) => copyModel(tmp, FIXTURE, name, weights);

const ref = (json: any, resource: any, attribute: string) => `\${${addressOf(json, resource)}.${attribute}}`;

describe('secure by default', () => {
  const { json } = synth();

  test('bucket: uniform bucket-level access, public access prevention enforced, versioning, in the endpoint\'s region', () => {
    expect(only(json, 'google_storage_bucket')).toMatchObject({
      uniform_bucket_level_access: true, public_access_prevention: 'enforced', versioning: { enabled: true }, location: 'EUROPE-WEST4', project: PROJECT,
    });
    expect(only(json, 'google_storage_bucket').force_destroy).toBeUndefined();
  });

  test('the serving service account may read its own model prefix and nothing else', () => {
    const account = only(json, 'google_service_account');
    const grant = only(json, 'google_storage_bucket_iam_member');
    const prefix = request(json).model.artifactUri.replace(/^gs:\/\/[^/]+\//, '');
    expect(grant.role).toBe('roles/storage.objectViewer');
    expect(grant.member).toBe(`serviceAccount:${account.account_id}@${PROJECT}.iam.gserviceaccount.com`);
    expect(grant.condition.expression).toContain(`resource.name.startsWith("projects/_/buckets/${grant.bucket}/objects/${prefix}")`);
    expect(grant.condition.expression).toContain(`api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("${prefix}")`);
    // No other IAM grant at all: no project-level role, no bucket-wide read, no allUsers.
    const iam = Object.keys(json.resource).filter(t => /_iam_/.test(t));
    expect(iam).toEqual(['google_storage_bucket_iam_member']);
    expect(JSON.stringify(json)).not.toMatch(/allUsers|allAuthenticatedUsers/);
    expect(request(json).deployment.serviceAccount).toBe(grant.member.replace('serviceAccount:', ''));
  });

  test('PRIVATE (the default): Private Service Connect with IAM authorization, only the project allowed; no dedicated public endpoint', () => {
    const endpoint = only(json, 'google_vertex_ai_endpoint');
    expect(endpoint.private_service_connect_config).toEqual({ enable_private_service_connect: true, enable_secure_private_service_connect: true, project_allowlist: [PROJECT] });
    expect(endpoint.dedicated_endpoint_enabled).toBeUndefined();
    expect(endpoint.network).toBeUndefined();
  });

  test('PUBLIC: a dedicated endpoint, no PSC; the predict URL is on its own DNS name', () => {
    const { json: open, endpoint } = synth({ access: { network: NetworkAccess.PUBLIC } });
    const e = only(open, 'google_vertex_ai_endpoint');
    expect(e.dedicated_endpoint_enabled).toBe(true);
    expect(e.private_service_connect_config).toBeUndefined();
    expect(Object.values<any>(open.output).find(o => o.description.startsWith('POST')).value)
      .toBe(`https://${ref(open, e, 'dedicated_endpoint_dns')}/v1/projects/${PROJECT}/locations/europe-west4/endpoints/${endpoint.endpointId}:predict`);
  });

  test('privateServiceConnectProjects replaces the allow list', () => {
    const { json: psc } = synth({ privateServiceConnectProjects: ['ml-clients-01', '123456789012'] });
    expect(only(psc, 'google_vertex_ai_endpoint').private_service_connect_config.project_allowlist).toEqual(['ml-clients-01', '123456789012']);
  });

  test('the Vertex AI API is enabled and never disabled on destroy; no other API is touched', () => {
    expect(Object.values<any>(json.resource.google_project_service)).toEqual([{ project: PROJECT, service: 'aiplatform.googleapis.com', disable_on_destroy: false }]);
  });

  test('CMEK: endpoint and bucket encrypted with the key, which the Vertex AI and Cloud Storage service agents may use', () => {
    const { json: cmek } = synth({ encryptionKeyName: KEY });
    expect(only(cmek, 'google_vertex_ai_endpoint').encryption_spec).toEqual({ kms_key_name: KEY });
    expect(only(cmek, 'google_storage_bucket').encryption).toEqual({ default_kms_key_name: KEY });
    const grants = Object.values<any>(cmek.resource.google_kms_crypto_key_iam_member);
    expect(grants.map(g => [g.crypto_key_id, g.role])).toEqual([[KEY, 'roles/cloudkms.cryptoKeyEncrypterDecrypter'], [KEY, 'roles/cloudkms.cryptoKeyEncrypterDecrypter']]);
    const project = Object.keys(cmek.data.google_project)[0];
    const storage = Object.keys(cmek.data.google_storage_project_service_account)[0];
    expect(grants.map(g => g.member).sort()).toEqual([
      `serviceAccount:\${data.google_storage_project_service_account.${storage}.email_address}`,
      `serviceAccount:service-\${data.google_project.${project}.number}@gcp-sa-aiplatform.iam.gserviceaccount.com`,
    ].sort());
    // The bucket is created once its service agent may use the key.
    expect(only(cmek, 'google_storage_bucket').depends_on).toHaveLength(1);
    expect(danglingReferences(cmek)).toEqual([]);
  });
});

describe('machine types and accelerators, per GPU kind', () => {
  test.each([
    [GpuKind.NVIDIA_T4, 1, 'n1-standard-4', 'NVIDIA_TESLA_T4'],
    [GpuKind.NVIDIA_T4, 4, 'n1-standard-16', 'NVIDIA_TESLA_T4'],
    [GpuKind.NVIDIA_L4, 1, 'g2-standard-4', 'NVIDIA_L4'],
    [GpuKind.NVIDIA_L4, 2, 'g2-standard-24', 'NVIDIA_L4'],
    [GpuKind.NVIDIA_L4, 8, 'g2-standard-96', 'NVIDIA_L4'],
    [GpuKind.NVIDIA_A100_40GB, 2, 'a2-highgpu-2g', 'NVIDIA_TESLA_A100'],
    [GpuKind.NVIDIA_A100_80GB, 1, 'a2-ultragpu-1g', 'NVIDIA_A100_80GB'],
    [GpuKind.NVIDIA_H100_80GB, 8, 'a3-highgpu-8g', 'NVIDIA_H100_80GB'],
    [GpuKind.NVIDIA_H200_141GB, 8, 'a3-ultragpu-8g', 'NVIDIA_H200_141GB'],
  ])('%s x %i: %s with %s', (gpu, count, machineType, acceleratorType) => {
    const { json, endpoint } = synth({ compute: Compute.gpu({ gpu, count }) });
    expect(request(json).deployment.machineSpec).toEqual({ machineType, acceleratorType, acceleratorCount: count });
    expect(endpoint.machineType).toBe(machineType);
    expect(endpoint.acceleratorType).toBe(acceleratorType);
  });

  test('CPU compute: the smallest CPU machine that fits, no accelerator', () => {
    const { json } = synth({ compute: Compute.cpu({ vcpus: 4, memoryGiB: 20 }) });
    expect(request(json).deployment.machineSpec).toEqual({ machineType: 'e2-highmem-4' });
  });

  test('machineType picks among machines with the spec\'s GPUs', () => {
    const { json } = synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }), machineType: 'g2-standard-16' });
    expect(request(json).deployment.machineSpec).toEqual({ machineType: 'g2-standard-16', acceleratorType: 'NVIDIA_L4', acceleratorCount: 1 });
  });

  test.each<[string, Partial<typeof BASE>, string, RegExp]>([
    ['NVIDIA_L4 asked for, an N1 machine named', { compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }), machineType: 'n1-standard-8' }, 'machineType', /n1-standard-8 takes 1 x NVIDIA_TESLA_T4 or 2 x NVIDIA_TESLA_T4\): g2-standard-4/],
    ['a T4 asked for, a G2 machine named', { compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), machineType: 'g2-standard-8' }, 'machineType', /takes 1 x NVIDIA_L4/],
    ['3 L4 (no G2 machine takes 3)', { compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 3 }) }, 'compute.count', /1, 2, 4, 8/],
    ['2 L4 on g2-standard-8 (which takes 1)', { compute: Compute.gpu({ gpu: GpuKind.NVIDIA_L4, count: 2 }), machineType: 'g2-standard-8' }, 'machineType', /g2-standard-24/],
    ['an A10G (not on Vertex AI)', { compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }) }, 'compute.gpu', /NVIDIA_L4|nvidia-l4/],
    ['a GPU machine for CPU compute', { machineType: 'a2-highgpu-1g' }, 'machineType', /a CPU machine type/],
    ['a machine not in the table', { machineType: 'n2-standard-4' }, 'machineType', /e2-standard-2/],
  ])('refused: %s', (_, props, field, allowed) => {
    const e = refusal(() => synth(props));
    expect(e.field).toBe(field);
    expect(e.target).toBe('vertexAi');
    expect(e.allowed).toMatch(allowed);
  });

  test('every machine type in the table with its accelerators synthesizes', () => {
    for (const offer of VERTEX_AI_MACHINE_TYPES.filter(o => o.gpuCount > 0)) {
      const { json } = synth({ compute: Compute.gpu({ gpu: offer.gpu!, count: offer.gpuCount }), machineType: offer.name });
      expect(request(json).deployment.machineSpec).toEqual({ machineType: offer.name, acceleratorType: offer.acceleratorType, acceleratorCount: offer.gpuCount });
    }
  });
});

describe('replicas and autoscaling, in the bridge request', () => {
  test('fixed replicas: min = max, no autoscaling metric', () => {
    const d = request(synth({ scaling: { minReplicas: 3, maxReplicas: 3 } }).json).deployment;
    expect(d).toMatchObject({ minReplicaCount: 3, maxReplicaCount: 3, autoscalingMetricSpecs: [] });
  });

  test('GPU compute: accelerator duty cycle at the target (70% by default)', () => {
    const gpu = Compute.gpu({ gpu: GpuKind.NVIDIA_L4 });
    expect(request(synth({ compute: gpu, scaling: { minReplicas: 1, maxReplicas: 4 } }).json).deployment).toMatchObject({
      minReplicaCount: 1, maxReplicaCount: 4,
      autoscalingMetricSpecs: [{ metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 70 }],
    });
    expect(request(synth({ compute: gpu, scaling: { minReplicas: 2, maxReplicas: 5, target: ScalingTarget.gpuPercent(55) } }).json).deployment.autoscalingMetricSpecs)
      .toEqual([{ metricName: 'aiplatform.googleapis.com/prediction/online/accelerator/duty_cycle', target: 55 }]);
  });

  test('CPU compute (or cpuPercent on GPUs): CPU utilisation at the target', () => {
    expect(request(synth({ scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.cpuPercent(40) } }).json).deployment.autoscalingMetricSpecs)
      .toEqual([{ metricName: 'aiplatform.googleapis.com/prediction/online/cpu/utilization', target: 40 }]);
    expect(request(synth({ scaling: { minReplicas: 1, maxReplicas: 3 } }).json).deployment.autoscalingMetricSpecs)
      .toEqual([{ metricName: 'aiplatform.googleapis.com/prediction/online/cpu/utilization', target: 70 }]);
    expect(request(synth({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.cpuPercent(65) } }).json)
      .deployment.autoscalingMetricSpecs).toEqual([{ metricName: 'aiplatform.googleapis.com/prediction/online/cpu/utilization', target: 65 }]);
  });

  test.each<[string, Partial<typeof BASE>, string, RegExp]>([
    ['zero replicas', { scaling: { minReplicas: 0, maxReplicas: 2 } }, 'scaling.minReplicas', /at least 1/],
    ['too many replicas', { scaling: { minReplicas: 1, maxReplicas: 101 } }, 'scaling.maxReplicas', /at most 100/],
    ['requests per replica', { scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.invocationsPerReplicaPerMinute(100) } }, 'scaling.target', /accelerator duty cycle and CPU utilisation/],
    ['GPU utilisation on CPU compute', { scaling: { minReplicas: 1, maxReplicas: 3, target: ScalingTarget.gpuPercent(50) } }, 'scaling.target', /cpuPercent/],
  ])('refused: %s', (_, props, field, allowed) => {
    const e = refusal(() => synth(props));
    expect(e.field).toBe(field);
    expect(e.allowed).toMatch(allowed);
  });
});

describe('the model: content-addressed objects, a version per content', () => {
  test('same content, same object names, same version; a changed file, a new prefix and a new version', () => {
    const a = synth({ model: ModelArtifact.fromLocalPath(modelDir('a')) });
    const b = synth({ model: ModelArtifact.fromLocalPath(modelDir('b')) });
    const c = synth({ model: ModelArtifact.fromLocalPath(modelDir('c', 'new weights')) });
    const objects = (json: any) => { const o = only(json, 'google_storage_bucket_object'); return { name: o.name, keys: Object.keys(o.for_each) }; };
    const version = (json: any) => terraformData(json, 'Deployment').triggers_replace.version;
    expect(objects(a.json)).toEqual(objects(b.json));
    expect(version(a.json)).toBe(version(b.json));
    expect(request(a.json)).toEqual(request(b.json));
    expect(objects(a.json).keys).toEqual(['config.json', 'weights.bin']);
    expect(objects(c.json).name).not.toBe(objects(a.json).name);
    expect(version(c.json)).not.toBe(version(a.json));
    expect(request(c.json).model.modelId).not.toBe(request(a.json).model.modelId);
    expect(request(c.json).deployment.deployedModelId).not.toBe(request(a.json).deployment.deployedModelId);
    // The objects sit under <endpoint>/<sha256 of the content>/, which is the artifact URI.
    expect(objects(a.json).name).toMatch(/^vertex-fraud\/[0-9a-f]{64}\/\$\{each\.key\}$/);
    expect(request(a.json).model.artifactUri).toBe(`gs://${only(a.json, 'google_storage_bucket').name}/${objects(a.json).name.replace('${each.key}', '')}`);
  });

  test('ids follow Vertex AI\'s rules: 10-digit endpoint and deployed model ids, a model id of [a-z0-9-]', () => {
    const { json, endpoint } = synth();
    expect(endpoint.endpointId).toMatch(/^[1-9][0-9]{9}$/);
    expect(only(json, 'google_vertex_ai_endpoint').name).toBe(endpoint.endpointId);
    expect(endpoint.deployedModelId).toMatch(/^[1-9][0-9]{9}$/);
    expect(endpoint.modelId).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(synth({}, 'another').endpoint.endpointId).not.toBe(endpoint.endpointId);
    expect(synth({ endpointId: '42' }).endpoint.endpointId).toBe('42');
  });

  test('an existing bucket: nothing created around it, the objects go there', () => {
    const { json } = synth({ artifactBucket: 'gs://team-models' });
    expect(json.resource.google_storage_bucket).toBeUndefined();
    expect(only(json, 'google_storage_bucket_object').bucket).toBe('team-models');
    expect(request(json).model.artifactUri).toMatch(/^gs:\/\/team-models\/vertex-fraud\/[0-9a-f]{64}\/$/);
  });

  test('a gs:// prefix: nothing uploaded; the serving account reads that prefix', () => {
    const { json } = synth({ model: ModelArtifact.fromUri('gs://team-models/fraud/v7/') });
    expect(json.resource.google_storage_bucket_object).toBeUndefined();
    expect(json.resource.google_storage_bucket).toBeUndefined();
    expect(request(json).model.artifactUri).toBe('gs://team-models/fraud/v7/');
    expect(only(json, 'google_storage_bucket_iam_member').condition.expression).toContain('"projects/_/buckets/team-models/objects/fraud/v7/"');
  });

  test('an existing serving service account is used, and granted only the read', () => {
    const email = 'fraud-serving@ml-prod-4711.iam.gserviceaccount.com';
    const { json } = synth({ servingServiceAccountEmail: email });
    expect(json.resource.google_service_account).toBeUndefined();
    expect(request(json).deployment.serviceAccount).toBe(email);
    expect(only(json, 'google_storage_bucket_iam_member').member).toBe(`serviceAccount:${email}`);
  });
});

describe('the bridge\'s terraform_data', () => {
  const { json } = synth({ serving: ServingContainer.custom({ image: IMAGE, environment: { LOG_LEVEL: 'info' } }) });
  const data = terraformData(json, 'Deployment');

  test('input: the bridge request, which the bridge\'s own check accepts; replaced when the version changes; create before destroy', () => {
    expect(vertexBridgeRequestProblems(data.input)).toEqual([]);
    expect(Object.keys(data.triggers_replace)).toEqual(['version']);
    expect(data.lifecycle).toEqual({ create_before_destroy: true });
    expect(data.input.model.container).toEqual({ imageUri: IMAGE, predictRoute: '/invocations', healthRoute: '/ping', port: 8080, env: { LOG_LEVEL: 'info' } });
  });

  test('create and destroy run the bridge with the request from self.input; destroy reads nothing else', () => {
    const [create, destroy] = data.provisioner.map((p: any) => p['local-exec']);
    expect(create.when).toBeUndefined();
    expect(destroy.when).toBe('destroy');
    for (const step of [create, destroy]) {
      expect(step.environment).toEqual({ [VERTEX_BRIDGE_REQUEST_ENV]: '${jsonencode(self.input)}' });
      // Every reference in the step is to self.input (Terraform refuses others in a destroy step).
      const refs = [...JSON.stringify(step).matchAll(/(?<!\$)\$\{([^}]*)\}/g)].map(m => m[1]);
      expect(refs).toEqual(['jsonencode(self.input)']);
    }
    expect(create.command).toMatch(/^node ".*bridge[/\\]main\.js" create$/);
    expect(destroy.command).toMatch(/^node ".*bridge[/\\]main\.js" destroy$/);
  });

  test('no secret in the input: no key, token or password, only ids, names, the image and the plain environment', () => {
    const text = JSON.stringify(data.input);
    expect(text).not.toMatch(/token|secret|password|private_key|BEGIN/i);
    // Nothing in it is a reference either: the whole request is known at synth.
    expect(text).not.toMatch(/\$\{/);
  });

  test('it runs after the endpoint, the uploads and the serving account\'s grant', () => {
    const deps = data.depends_on as string[];
    for (const type of ['google_vertex_ai_endpoint', 'google_storage_bucket_object', 'google_storage_bucket_iam_member', 'google_service_account']) {
      expect(deps.some(d => d.startsWith(`${type}.`))).toBe(true);
    }
  });
});

describe('verification: the samples travel in the bridge request', () => {
  const samples = [
    { name: 'high', request: { instances: [[1200.5, '${var.secret}', '%{ if x }<&>']] }, expectedResponse: { predictions: [[0.91]], note: '${nope}' }, absoluteTolerance: 0.01 },
    { request: [1, 2], expectedResponse: [3] },
  ];
  const plain = synth();
  const checked = synth({ verification: { samples, latencyBudgetMs: 800 } });
  const decode = (b: string) => Buffer.from(b, 'base64').toString('utf8');

  test('the resolved samples, request and expected response as base64 of their compact JSON; the bridge\'s check accepts the request', () => {
    const r = request(checked.json);
    expect(vertexBridgeRequestProblems(r)).toEqual([]);
    expect(r.verification.latencyBudgetMs).toBe(800);
    expect(r.verification.samples.map((s: any) => [s.name, decode(s.requestBase64), decode(s.expectedBase64), s.absoluteTolerance, s.relativeTolerance])).toEqual([
      ['high', '{"instances":[[1200.5,"${var.secret}","%{ if x }<&>"]]}', '{"predictions":[[0.91]],"note":"${nope}"}', 0.01, 0],
      ['sample-2', '[1,2]', '[3]', 0, 0],
    ]);
    expect(request(plain.json).verification).toBeUndefined();
  });

  test('nothing of a sample reaches Terraform\'s template syntax: no ${ or %{ in the synthesized JSON that the user wrote', () => {
    const text = JSON.stringify(terraformData(checked.json, 'Deployment').input);
    expect(text).not.toMatch(/(?<![$%])[$%]\{/);
    expect(text).not.toContain('var.secret');
  });

  test('changed samples are a new version (the terraform_data is replaced and its create step checks them) of the same Model and deployed model', () => {
    const other = synth({ verification: { samples: [{ ...samples[0], expectedResponse: { predictions: [[0.5]] } }] } });
    const version = (json: any) => terraformData(json, 'Deployment').triggers_replace.version;
    expect(new Set([version(plain.json), version(checked.json), version(other.json)]).size).toBe(3);
    for (const json of [checked.json, other.json]) {
      expect(request(json).model.modelId).toBe(request(plain.json).model.modelId);
      expect(request(json).deployment.deployedModelId).toBe(request(plain.json).deployment.deployedModelId);
    }
  });

  test('the largest samples VERIFICATION_LIMITS allows, of the characters that escape worst, keep MD_VERTEX_REQUEST far below the 128 KiB a variable may have', () => {
    // 10 samples, 32 KiB of JSON in all (n "<" in the request, which jsonencode would write as six-byte
    // \u003c, and n quotes in the expected response: 3n + 8 bytes of JSON a sample).
    const n = Math.floor((VERIFICATION_LIMITS.maxTotalJsonBytes / VERIFICATION_LIMITS.maxSamples - 8) / 3);
    const worst = Array.from({ length: VERIFICATION_LIMITS.maxSamples }, (_, i) => ({ name: `s${i}`, request: ['<'.repeat(n)], expectedResponse: ['"'.repeat(n)] }));
    expect(VERIFICATION_LIMITS.maxTotalJsonBytes - VERIFICATION_LIMITS.maxSamples * (3 * n + 8)).toBeLessThan(40);
    const r = request(synth({ verification: { samples: worst } }).json);
    const goEscaped = JSON.stringify(r).replace(/[<>&]/g, '\\u003c');
    expect(Buffer.byteLength(goEscaped)).toBeLessThan(64 * 1024);
  });
});

describe('retirement: a destroy after a failed update leaves nothing deployed', () => {
  const { json } = synth();
  const retirement = terraformData(json, 'Retirement');
  const deployment = terraformData(json, 'Deployment');

  test('only the endpoint and the owner, which a new version does not change; the bridge\'s owner check accepts it', () => {
    const r = request(json);
    expect(retirement.input).toEqual({ format: r.format, project: r.project, location: r.location, endpointId: r.endpointId, owner: r.owner });
    expect(retirement.triggers_replace).toEqual(retirement.input);
    expect(vertexBridgeRequestProblems(retirement.input, 'owner')).toEqual([]);
    const next = synth({ model: ModelArtifact.fromLocalPath(modelDir('retire', 'new weights')) }).json;
    expect(terraformData(next, 'Retirement')).toEqual(retirement);
    expect(request(next).model.modelId).not.toBe(r.model.modelId);
  });

  test('no create step (nothing can taint it); its destroy step runs bridge retire-all with self.input, after the deployment\'s', () => {
    expect(retirement.provisioner).toHaveLength(1);
    const step = retirement.provisioner[0]['local-exec'];
    expect(step.when).toBe('destroy');
    expect(step.command).toMatch(/^node ".*bridge[/\\]main\.js" retire-all$/);
    expect(step.environment).toEqual({ [VERTEX_BRIDGE_REQUEST_ENV]: '${jsonencode(self.input)}' });
    const deploymentAddress = Object.entries(json.resource.terraform_data).find(([, v]) => v === deployment)![0];
    expect(retirement.depends_on).toEqual([`terraform_data.${deploymentAddress}`]);
  });
});

describe('serving: prebuilt containers and Artifact Registry images', () => {
  test.each([
    ['sklearn', ServingContainer.sklearn(), Compute.cpu(), 'europe-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest'],
    ['xgboost', ServingContainer.xgboost(), Compute.cpu(), 'europe-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest'],
    ['TF Serving on CPU', ServingContainer.tfServing(), Compute.cpu(), 'europe-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest'],
    ['TF Serving on GPU', ServingContainer.tfServing(), Compute.gpu({ gpu: GpuKind.NVIDIA_T4 }), 'europe-docker.pkg.dev/vertex-ai/prediction/tf2-gpu.2-15:latest'],
    ['TorchServe on GPU', ServingContainer.torchServe(), Compute.gpu({ gpu: GpuKind.NVIDIA_L4 }), 'europe-docker.pkg.dev/vertex-ai/prediction/pytorch-gpu.2-4:latest'],
  ])('%s: Vertex AI\'s prebuilt image, on Vertex\'s default routes for the deployed model', (_, serving, compute, image) => {
    const r = request(synth({ serving, compute }).json);
    const base = `/v1/endpoints/${r.endpointId}/deployedModels/${r.deployment.deployedModelId}`;
    expect(r.model.container).toEqual({ imageUri: image, predictRoute: `${base}:predict`, healthRoute: base, port: 8080 });
  });

  test('the image\'s multi-region follows the location', () => {
    expect(request(synth({ serving: ServingContainer.sklearn(), location: 'us-central1' }).json).model.container.imageUri).toMatch(/^us-docker\.pkg\.dev\//);
    expect(request(synth({ serving: ServingContainer.sklearn(), location: 'asia-southeast1' }).json).model.container.imageUri).toMatch(/^asia-docker\.pkg\.dev\//);
  });

  test.each<[string, Partial<typeof BASE>, string, RegExp]>([
    ['Triton without an image', { serving: ServingContainer.triton() }, 'serving.image', /image for triton on CPU compute: Vertex AI has no prebuilt prediction container/],
    ['vLLM without an image', { serving: ServingContainer.vllm({ modelId: 'm' }) }, 'serving.image', /vllm/],
    ['TorchServe on CPU without an image', { serving: ServingContainer.torchServe() }, 'serving.image', /torchserve on CPU/],
    ['an image outside Artifact Registry', { serving: ServingContainer.custom({ image: 'ghcr.io/org/model:1' }) }, 'serving.image', /Artifact Registry/],
    ['an ECR image', { serving: ServingContainer.custom({ image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1' }) }, 'serving.image', /REGION-docker\.pkg\.dev/],
    ['another framework version', { serving: ServingContainer.sklearn({ frameworkVersion: '1.3' }) }, 'serving.frameworkVersion', /1\.5/],
    ['an AIP_ variable', { serving: ServingContainer.custom({ image: IMAGE, environment: { AIP_HTTP_PORT: '1' } }) }, 'serving.environment', /AIP_/],
    ['an empty variable (found by the property tests: EnvVar.value is REQUIRED)', { serving: ServingContainer.custom({ image: IMAGE, environment: { MODE: '' } }) }, 'serving.environment.MODE', /non-empty/],
  ])('refused: %s', (_, props, field, allowed) => {
    const e = refusal(() => synth(props));
    expect(e.field).toBe(field);
    expect(e.allowed).toMatch(allowed);
  });
});

describe('monitoring', () => {
  test('alert policies: error rate (error_count / prediction_count) and p99 latency of this endpoint, to the notification channels', () => {
    const channel = `projects/${PROJECT}/notificationChannels/123`;
    const { json, endpoint } = synth({ monitoring: { errorRatePercent: 2, latencyP99Ms: 800, evaluationMinutes: 5 }, alertNotificationChannels: [channel] });
    const [errorRate, latency] = Object.values<any>(json.resource.google_monitoring_alert_policy).map(p => p.conditions[0].condition_threshold);
    expect(errorRate.filter).toContain(`resource.labels.endpoint_id = "${endpoint.endpointId}"`);
    expect(errorRate.filter).toContain('prediction/online/error_count');
    expect(errorRate.denominator_filter).toContain('prediction/online/prediction_count');
    expect(errorRate).toMatchObject({ comparison: 'COMPARISON_GT', threshold_value: 0.02, duration: '300s' });
    expect(latency.filter).toContain('prediction/online/prediction_latencies');
    expect(latency).toMatchObject({ threshold_value: 800, duration: '300s' });
    expect(latency.aggregations[0].cross_series_reducer).toBe('REDUCE_PERCENTILE_99');
    for (const p of Object.values<any>(json.resource.google_monitoring_alert_policy)) expect(p.notification_channels).toEqual([channel]);
  });

  test('alarms false: no alert policy', () => {
    expect(synth({ monitoring: { alarms: false } }).json.resource.google_monitoring_alert_policy).toBeUndefined();
  });

  test('capture: request-response logging to a dataset created in the region, at the sampling rate', () => {
    const { json } = synth({ monitoring: { capture: { samplingPercent: 25 } }, encryptionKeyName: KEY });
    const dataset = only(json, 'google_bigquery_dataset');
    expect(dataset).toMatchObject({ location: 'europe-west4', default_encryption_configuration: { kms_key_name: KEY }, delete_contents_on_destroy: false });
    expect(only(json, 'google_vertex_ai_endpoint').predict_request_response_logging_config).toEqual({
      enabled: true, sampling_rate: 0.25, bigquery_destination: { output_uri: `bq://${PROJECT}.${ref(json, dataset, 'dataset_id')}` },
    });
    expect(Object.keys(json.resource.google_kms_crypto_key_iam_member)).toHaveLength(3);
    expect(danglingReferences(json)).toEqual([]);
  });
});

describe('escaping: user strings arrive literally', () => {
  test('${ and %{ in environment values and file names are escaped, in the request and the objects', () => {
    const dir = path.join(tmp, 'odd-names');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'w${x}.bin'), 'w');
    const { json } = synth({
      model: ModelArtifact.fromLocalPath(dir),
      serving: ServingContainer.custom({ image: IMAGE, environment: { GREETING: 'hi ${name} %{if x}' } }),
    });
    expect(request(json).model.container.env.GREETING).toBe('hi $${name} %%{if x}');
    expect(Object.keys(only(json, 'google_storage_bucket_object').for_each)).toEqual(['w$${x}.bin']);
    expect(danglingReferences(json)).toEqual([]);
  });

  test('${ in a gs:// prefix is escaped where it is written', () => {
    const { json } = synth({ model: ModelArtifact.fromUri('gs://team-models/a${b}/') });
    expect(request(json).model.artifactUri).toBe('gs://team-models/a$${b}/');
    expect(only(json, 'google_storage_bucket_iam_member').condition.expression).toContain('objects/a$${b}/');
  });
});

describe('what the JSON references exists, and every provider is pinned', () => {
  test.each([
    ['defaults', {}],
    ['public, CMEK, capture, existing account', { access: { network: NetworkAccess.PUBLIC }, encryptionKeyName: KEY, monitoring: { capture: { samplingPercent: 5 } }, servingServiceAccountEmail: 'x-serving@ml-prod-4711.iam.gserviceaccount.com' }],
    ['gs:// model, GPUs, autoscaled', { model: ModelArtifact.fromUri('gs://team-models/fraud/'), compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A100_80GB, count: 2 }), scaling: { minReplicas: 2, maxReplicas: 6 } }],
  ])('%s', (_, props) => {
    const { json } = synth(props as never);
    expect(danglingReferences(json)).toEqual([]);
    const used = new Set([...Object.keys(json.resource), ...Object.keys(json.data ?? {})].map(type => type.split('_')[0]).filter(p => p !== 'terraform'));
    expect([...used]).toEqual(['google']);
    expect(json.terraform.required_providers.google).toEqual({ source: 'google', version: '6.50.0' });
    expect(json.provider.google).toEqual([{}]);
  });

  test('the user\'s own google provider is used, not a second one', () => {
    const stack = new TerraformStack(Testing.app(), 'mine');
    new GoogleProvider(stack, 'google', { project: 'from-user' });
    new VertexAiModelEndpoint(stack, 'Fraud', BASE);
    new VertexAiModelEndpoint(stack, 'Churn', BASE);
    const json = JSON.parse(Testing.synth(stack));
    expect(json.provider.google).toEqual([{ project: 'from-user' }]);
    // Two deployments in one project enable the API once.
    expect(Object.keys(json.resource.google_project_service)).toHaveLength(1);
    expect(Object.keys(json.resource.google_vertex_ai_endpoint)).toHaveLength(2);
  });
});

describe('refusals: field, value, what is allowed, and the target', () => {
  test.each<[string, Partial<typeof BASE>, string, RegExp]>([
    ['canary', { rollout: Rollout.canary() }, 'rollout', /Rollout\.allAtOnce\(\).*canary and linear traffic steps are not built/],
    ['linear', { rollout: Rollout.linear() }, 'rollout', /blue\/green/],
    ['bake time', { rollout: Rollout.allAtOnce({ bakeMinutes: 5 }) }, 'rollout.bakeMinutes', /^0/],
    ['KEY auth', { access: { auth: AuthMode.KEY } }, 'access.auth', /Google IAM/],
    ['TOKEN auth', { access: { auth: AuthMode.TOKEN } }, 'access.auth', /AuthMode\.IAM/],
    ['requests-only capture', { monitoring: { capture: { samplingPercent: 10, responses: false } } }, 'monitoring.capture', /both together/],
    ['an S3 model', { model: ModelArtifact.fromUri('s3://models/fraud/') }, 'model.uri', /Cloud Storage/],
    ['a single gs:// object', { model: ModelArtifact.fromUri('gs://team-models/fraud/model.joblib') }, 'model.uri', /directory/],
    ['a local .tar.gz', { model: ModelArtifact.fromLocalPath('/tmp/model.tar.gz') }, 'model.path', /does not unpack/],
    ['a project id', { project: 'My Project' }, 'project', /project id/],
    ['a location', { location: 'Europe West 4' }, 'location', /europe-west4/],
    ['an endpoint id with a leading zero', { endpointId: '0123' }, 'endpointId', /1 to 10 digits/],
    ['an 11-digit endpoint id', { endpointId: '12345678901' }, 'endpointId', /1 to 10 digits/],
    ['a key in another region', { encryptionKeyName: KEY.replace('europe-west4', 'us-central1') }, 'encryptionKeyName', /in europe-west4/],
    ['a key that is not a key name', { encryptionKeyName: 'models' }, 'encryptionKeyName', /cryptoKeys/],
    ['a bucket name', { artifactBucket: 'gs://Team_Models!' }, 'artifactBucket', /bucket/],
    ['a service account email', { servingServiceAccountEmail: 'alice@example.com' }, 'servingServiceAccountEmail', /iam\.gserviceaccount\.com/],
    ['PSC projects with PUBLIC', { access: { network: NetworkAccess.PUBLIC }, privateServiceConnectProjects: ['ml-clients-01'] }, 'privateServiceConnectProjects', /PUBLIC/],
    ['an empty PSC list', { privateServiceConnectProjects: [] }, 'privateServiceConnectProjects', /1 to 100/],
    ['a notification channel', { alertNotificationChannels: ['ops@example.com'] }, 'alertNotificationChannels', /notificationChannels/],
    ['channels without alarms', { monitoring: { alarms: false }, alertNotificationChannels: [`projects/${PROJECT}/notificationChannels/1`] }, 'alertNotificationChannels', /alarms/],
    ['a tag key that is no label', { tags: { Team: 'risk' } }, 'tags', /lower-case letter/],
    ['a tag value that is no label', { tags: { team: 'Risk Team' } }, 'tags.team', /label value/],
    ['the bridge\'s owner label as a tag', { tags: { cdk_model_deployment: 'x' } }, 'tags', /this target's own labels/],
  ])('%s', (_, props, field, allowed) => {
    const e = refusal(() => synth(props));
    expect(e.field).toBe(field);
    expect(e.target).toBe('vertexAi');
    expect(e.allowed).toMatch(allowed);
    expect(e.message).toMatch(/^vertexAi target: invalid /);
    expect(e.message).toContain(e.value);
  });

  test('several problems are reported at once', () => {
    const e = refusal(() => synth({ rollout: Rollout.canary(), scaling: { minReplicas: 0, maxReplicas: 200 }, location: 'nowhere', access: { auth: AuthMode.KEY } }));
    expect(e.message).toMatch(/and 4 more/);
    for (const field of ['location', 'access.auth', 'scaling.minReplicas', 'scaling.maxReplicas', 'rollout']) expect(e.message).toContain(`invalid ${field}:`);
  });
});

describe('grantInvoke', () => {
  test('roles/aiplatform.user on the project (endpoint-level IAM is google-beta only), one member per grant', () => {
    const stack = new TerraformStack(Testing.app(), 'grants');
    const endpoint = new VertexAiModelEndpoint(stack, 'Fraud', BASE);
    endpoint.grantInvoke('serviceAccount:scoring@ml-clients-01.iam.gserviceaccount.com');
    endpoint.grantInvoke('group:fraud-analysts@example.com', 'Analysts');
    const json = JSON.parse(Testing.synth(stack));
    expect(Object.values<any>(json.resource.google_project_iam_member).sort((a, b) => b.member.localeCompare(a.member))).toEqual([
      { project: PROJECT, role: 'roles/aiplatform.user', member: 'serviceAccount:scoring@ml-clients-01.iam.gserviceaccount.com' },
      { project: PROJECT, role: 'roles/aiplatform.user', member: 'group:fraud-analysts@example.com' },
    ]);
  });

  test('a member without its kind is refused', () => {
    const { endpoint } = synth();
    expect(refusal(() => endpoint.grantInvoke('alice@example.com'))).toMatchObject({ field: 'grantInvoke.member', target: 'vertexAi' });
  });
});

describe('through the facade', () => {
  const spec = () => { const { project: _p, location: _l, ...s } = BASE; return s; };

  test('DeploymentTarget.vertexAi builds a VertexAiModelEndpoint in a TerraformStack', () => {
    const stack = new TerraformStack(Testing.app(), 'facade');
    const d = new ModelDeployment(stack, 'Fraud', { ...spec(), target: DeploymentTarget.vertexAi({ project: PROJECT, location: 'europe-west4' }) });
    expect(d.targetName).toBe('vertexAi');
    expect(VertexAiModelEndpoint.of(d).endpointName).toBe(d.endpointName);
    expect(d.endpointUrl).toMatch(/^https:\/\/europe-west4-aiplatform\.googleapis\.com\/v1\/projects\/ml-prod-4711\/locations\/europe-west4\/endpoints\/[0-9]{10}:predict$/);
  });

  test('a misspelt option is refused when the factory is called, suggesting the right one', () => {
    const e = refusal(() => DeploymentTarget.vertexAi({ project: PROJECT, location: 'europe-west4', machinetype: 'g2-standard-4' } as never));
    expect(e.field).toBe('DeploymentTarget.vertexAi({...}).machinetype');
    expect(e.allowed).toMatch(/did you mean machineType\?/);
    expect(e.target).toBe('vertexAi');
    expect(refusal(() => DeploymentTarget.vertexAi({ project: PROJECT, location: 'europe-west4', endpointName: 'x' } as never)).allowed).toMatch(/part of the spec/);
  });

  test('inside an aws-cdk-lib Stack it is refused, naming the stack it needs', () => {
    const stack = new CdkStack(new CdkApp(), 'Cdk');
    const e = refusal(() => new ModelDeployment(stack, 'Fraud', { ...spec(), target: DeploymentTarget.vertexAi({ project: PROJECT, location: 'europe-west4' }) }));
    expect(e.field).toBe('target');
    expect(e.target).toBe('vertexAi');
    expect(e.allowed).toMatch(/vertexAi must be placed inside a cdktf TerraformStack/);
  });
});
