import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { App as TfApp, TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import {
  Compute,
  DeploymentTarget,
  GpuKind,
  IacEngine,
  ModelArtifact,
  ModelDeployment,
  ModelDeploymentProps,
  ModelDeploymentValidationError,
  ServingContainer,
  NetworkAccess,
} from '../lib';
import { engineOf } from '../lib/common/engine';
import { SageMakerModelEndpoint } from '../lib/targets/sagemaker';

const ROOT = path.resolve(__dirname, '..');
const ENV = { account: '111111111111', region: 'us-east-1' };

let outdir: string;
beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'facade-test-'));
});
afterAll(() => {
  fs.rmSync(outdir, { recursive: true, force: true });
});

function newStack(): Stack {
  return new Stack(new App({ outdir }), 'S', { env: ENV });
}

function props(extra: Partial<ModelDeploymentProps> = {}): ModelDeploymentProps {
  return {
    model: ModelArtifact.fromUri('s3://my-models/churn/model.tar.gz'),
    serving: ServingContainer.sklearn(),
    // PRIVATE (the default) needs runtime VPC endpoints on SageMaker; the private path is tested in test/sagemaker.
    access: { network: NetworkAccess.PUBLIC },
    target: DeploymentTarget.sageMaker(),
    ...extra,
  };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, but nothing was thrown');
}

function validationError(fn: () => unknown): ModelDeploymentValidationError {
  const err = caught(fn);
  if (!(err instanceof ModelDeploymentValidationError)) {
    throw new Error(`expected ModelDeploymentValidationError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  }
  expect(err.message).toContain(err.field);
  expect(err.message).toContain(err.allowed);
  return err;
}

describe('ModelDeployment with DeploymentTarget.sageMaker()', () => {
  test('builds one SageMaker endpoint and exposes name, URL and target', () => {
    const stack = newStack();
    const deployment = new ModelDeployment(stack, 'Churn', props());
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::SageMaker::Endpoint', 1);
    template.resourceCountIs('AWS::SageMaker::EndpointConfig', 1);
    template.resourceCountIs('AWS::SageMaker::Model', 1);
    template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: deployment.endpointName });
    template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: Match.objectLike({ ModelDataUrl: 's3://my-models/churn/model.tar.gz' }),
      EnableNetworkIsolation: true,
    });
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.c5.large', InitialInstanceCount: 1, VariantName: 'AllTraffic' })],
    });

    expect(deployment.targetName).toBe('sageMaker');
    expect(deployment.endpointName).toMatch(/^[A-Za-z0-9-]{1,63}$/);
    expect(deployment.endpointName).toContain('Churn');
    expect(stack.resolve(deployment.endpointUrl)).toEqual({
      'Fn::Join': ['', ['https://runtime.sagemaker.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, `/endpoints/${deployment.endpointName}/invocations`]],
    });
  });

  test('the endpoint construct is the SageMakerModelEndpoint, and SageMakerModelEndpoint.of finds it', () => {
    const stack = newStack();
    const deployment = new ModelDeployment(stack, 'Dep', props());
    const endpoint = SageMakerModelEndpoint.of(deployment);
    expect(endpoint).toBeInstanceOf(SageMakerModelEndpoint);
    expect(endpoint).toBe(deployment.endpoint);
    expect(SageMakerModelEndpoint.of(endpoint)).toBe(endpoint);
    expect(SageMakerModelEndpoint.of(stack)).toBe(endpoint);
    expect(endpoint.endpointName).toBe(deployment.endpointName);
    expect(endpoint.endpointUrl).toBe(deployment.endpointUrl);
    expect(endpoint.targetName).toBe(deployment.targetName);
    expect(endpoint.node.scope).toBe(deployment);
  });

  test('SageMakerModelEndpoint.of a construct without one is refused naming target', () => {
    const stack = newStack();
    const other = new Construct(stack, 'Other');
    const err = validationError(() => SageMakerModelEndpoint.of(other));
    expect(err.field).toBe('target');
    expect(err.target).toBe('sageMaker');
    expect(err.value).toBe('"S/Other"');
  });

  test('the spec endpointName and target options reach the endpoint', () => {
    const stack = newStack();
    const deployment = new ModelDeployment(stack, 'Dep', props({
      endpointName: 'churn-prod',
      compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G }),
      serving: ServingContainer.torchServe(),
      target: DeploymentTarget.sageMaker({ instanceType: 'ml.g5.2xlarge', variantName: 'Blue' }),
    }));
    expect(deployment.endpointName).toBe('churn-prod');
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'churn-prod' });
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g5.2xlarge', VariantName: 'Blue' })],
    });
  });

  test('works below an intermediate construct inside the stack', () => {
    const stack = newStack();
    const group = new Construct(stack, 'Group');
    const deployment = new ModelDeployment(group, 'Dep', props());
    expect(SageMakerModelEndpoint.of(group)).toBe(deployment.endpoint);
    Template.fromStack(stack).resourceCountIs('AWS::SageMaker::Endpoint', 1);
  });

  test('two deployments in one stack get distinct endpoint names', () => {
    const stack = newStack();
    const a = new ModelDeployment(stack, 'A', props());
    const b = new ModelDeployment(stack, 'B', props());
    expect(a.endpointName).not.toBe(b.endpointName);
    Template.fromStack(stack).resourceCountIs('AWS::SageMaker::Endpoint', 2);
  });

  test('spec errors come through the facade as ModelDeploymentValidationError', () => {
    const err = validationError(() => new ModelDeployment(newStack(), 'Dep', { ...props(), computer: Compute.cpu() } as unknown as ModelDeploymentProps));
    expect(err.field).toBe('props.computer');
  });

  test('a misspelt SageMaker option is refused as an unknown prop', () => {
    const err = validationError(() => new ModelDeployment(newStack(), 'Dep', props({
      target: DeploymentTarget.sageMaker({ instanceTyp: 'ml.m5.large' } as never),
    })));
    expect(err.field).toBe('DeploymentTarget.sageMaker({...}).instanceTyp');
  });

  test('SageMaker target limits come through with the target set', () => {
    const err = validationError(() => new ModelDeployment(newStack(), 'Dep', props({ compute: Compute.gpu({ gpu: GpuKind.NVIDIA_A10G, count: 2 }) })));
    expect(err.field).toBe('compute.count');
    expect(err.target).toBe('sageMaker');
    expect(err.allowed).toContain('1, 4, 8');
  });
});

describe('ModelDeployment in the wrong place', () => {
  test('inside a cdktf TerraformStack it is refused, saying to use an aws-cdk-lib Stack and cdk deploy', () => {
    const tfApp = new TfApp({ outdir: path.join(outdir, 'cdktf.out') });
    const tfStack = new TerraformStack(tfApp, 'tf');
    expect(engineOf(tfStack)).toBe(IacEngine.CDKTF);
    const err = validationError(() => new ModelDeployment(tfStack, 'Dep', props()));
    expect(err.field).toBe('target');
    expect(err.target).toBe('sageMaker');
    expect(err.message).toContain('cdktf TerraformStack');
    expect(err.message).toContain('aws-cdk-lib Stack');
    expect(err.message).toContain('cdk deploy');
    expect(err.value).toContain('tf/Dep');
  });

  test('directly under an aws-cdk-lib App (no Stack) it is refused, saying there is no stack at all', () => {
    const app = new App({ outdir });
    expect(engineOf(app)).toBeUndefined();
    const err = validationError(() => new ModelDeployment(app, 'Dep', props()));
    expect(err.field).toBe('target');
    expect(err.message).toContain('no stack at all');
    expect(err.message).toContain('aws-cdk-lib Stack');
    expect(err.message).toContain('cdk deploy');
  });

  test('under a bare construct tree (no App, no Stack) it is refused the same way', () => {
    const root = new Construct(undefined as unknown as Construct, '');
    const err = validationError(() => new ModelDeployment(root, 'Dep', props()));
    expect(err.field).toBe('target');
    expect(err.message).toContain('no stack at all');
  });

  test.each([
    ['a plain object', { targetName: 'sageMaker', _bind: () => ({}) }],
    ['a string', 'sageMaker'],
    ['undefined', undefined],
    ['null', null],
  ])('a target that is not a DeploymentTarget (%s) is refused naming field target', (_label, target) => {
    const err = validationError(() => new ModelDeployment(newStack(), 'Dep', { ...props(), target } as unknown as ModelDeploymentProps));
    expect(err.field).toBe('target');
    expect(err.target).toBeUndefined();
    expect(err.allowed).toContain('DeploymentTarget');
  });

  test('no props at all is refused naming field target', () => {
    const err = validationError(() => new ModelDeployment(newStack(), 'Dep', undefined as unknown as ModelDeploymentProps));
    expect(err.field).toBe('target');
  });
});

describe('engine loading', () => {
  /** Requires `modulePath` in a fresh node process and returns the module files it loaded. */
  function loadedBy(modulePath: string): string[] {
    const script = `require(${JSON.stringify(modulePath)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)));`;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' },
      timeout: 60_000,
    });
    return (JSON.parse(out) as string[]).map(p => p.split(path.sep).join('/'));
  }

  const AWS_CDK_LIB = '/node_modules/aws-cdk-lib/';
  const CDKTF = '/node_modules/cdktf/';
  const CDKTF_PROVIDERS = '/node_modules/@cdktf/';
  const AZURERM = '/node_modules/@cdktf/provider-azurerm/';
  const GOOGLE = '/node_modules/@cdktf/provider-google/';
  /** Google's client libraries (the Vertex AI bridge's, loaded only by the bridge at apply time). */
  const GOOGLE_CLIENTS = /\/node_modules\/(@google-cloud|google-auth-library|google-gax)\//;
  const TARGET_DIRS = ['sagemaker', 'azure-ml', 'vertex-ai', 'on-prem'] as const;
  /** The library's own files, relative to the repository root. */
  const ours = (loaded: string[]) => loaded.filter(p => p.startsWith(`${ROOT.split(path.sep).join('/')}/`) && !p.includes('/node_modules/'))
    .map(p => p.slice(ROOT.length + 1));

  test('requiring the package root loads neither aws-cdk-lib nor cdktf, nor any target\'s engine code', () => {
    const loaded = loadedBy('./lib');
    // The check only means something if the library itself was loaded.
    expect(loaded.some(p => p.endsWith('/lib/index.ts'))).toBe(true);
    expect(loaded.some(p => p.endsWith('/lib/model-deployment.ts'))).toBe(true);
    expect(loaded.filter(p => p.includes(AWS_CDK_LIB))).toEqual([]);
    expect(loaded.filter(p => p.includes(CDKTF) || p.includes(CDKTF_PROVIDERS))).toEqual([]);
    // Of the targets' folders, only the option-key lists and names the factories check (no engine imports).
    expect(ours(loaded).filter(p => p.startsWith('lib/targets/')).filter(p => !/^lib\/targets\/[a-z-]+\/(name|options)\.ts$/.test(p))).toEqual([]);
    expect(ours(loaded).filter(p => p.startsWith('lib/probe/') || p.startsWith('lib/cli/'))).toEqual([]);
  });

  /**
   * What each entry point may load. `engine`: the engine it needs (and must load, or the check proves
   * nothing); `provider`: the provider bindings it needs, by deep path only (never the package index,
   * which loads every resource type).
   */
  const ENTRY_POINTS = [
    { entry: 'sagemaker', engine: AWS_CDK_LIB, provider: undefined, forbidden: [CDKTF, CDKTF_PROVIDERS] },
    { entry: 'azure-ml', engine: CDKTF, provider: AZURERM, forbidden: [AWS_CDK_LIB, GOOGLE] },
    { entry: 'vertex-ai', engine: CDKTF, provider: GOOGLE, forbidden: [AWS_CDK_LIB, AZURERM] },
    { entry: 'on-prem', engine: CDKTF, provider: undefined, forbidden: [AWS_CDK_LIB, CDKTF_PROVIDERS] },
  ];

  test.each(ENTRY_POINTS)('requiring cdk-model-deployment/$entry loads its own engine and provider only, and no other target', ({ entry, engine, provider, forbidden }) => {
    const loaded = loadedBy(`./lib/targets/${entry}`);
    // Sanity: the probe does see engines when they are loaded.
    expect(loaded.some(p => p.includes(engine))).toBe(true);
    for (const f of forbidden) expect(loaded.filter(p => p.includes(f))).toEqual([]);
    if (provider) {
      const bindings = loaded.filter(p => p.includes(provider));
      expect(bindings.length).toBeGreaterThan(0);
      // Deep paths only: lib/<resource>/index.js, never the package's lib/index.js (every resource type).
      expect(bindings.filter(p => !new RegExp(`${provider}lib/[a-z0-9-]+/index\\.js$`).test(p))).toEqual([]);
      expect(bindings.length).toBeLessThan(30);
    }
    // Google's clients are the bridge's (apply time), not the construct's.
    expect(loaded.filter(p => GOOGLE_CLIENTS.test(p))).toEqual([]);
    const own = ours(loaded);
    expect(own.some(p => p.startsWith(`lib/targets/${entry}/`))).toBe(true);
    for (const other of TARGET_DIRS.filter(t => t !== entry)) expect(own.filter(p => p.startsWith(`lib/targets/${other}/`))).toEqual([]);
    expect(own.filter(p => p.startsWith('lib/probe/') || p.startsWith('lib/cli/'))).toEqual([]);
  });

  test('the CLI loads no engine and no command until one runs', () => {
    const loaded = loadedBy('./lib/cli/main');
    expect(ours(loaded)).toEqual(['lib/cli/main.ts']);
    expect(loaded.filter(p => p.includes('/node_modules/') && !p.includes('/node_modules/ts-node/') && !/\/node_modules\/(@cspotcode|@jridgewell|typescript|make-error|yn|arg|v8-compile-cache-lib)\//.test(p))).toEqual([]);
  });
});

describe('a target\'s options are checked when its factory is called', () => {
  function refusal(fn: () => unknown): ModelDeploymentValidationError {
    try {
      fn();
    } catch (e) {
      if (e instanceof ModelDeploymentValidationError) return e;
      throw e;
    }
    throw new Error('expected a ModelDeploymentValidationError');
  }

  test('a misspelt option names the target\'s options object and the nearest option, not every spec key', () => {
    const e = refusal(() => DeploymentTarget.sageMaker({ instancetype: 'ml.m5.large' } as never));
    expect(e.target).toBe('sageMaker');
    expect(e.field).toBe('DeploymentTarget.sageMaker({...}).instancetype');
    expect(e.allowed).toMatch(/^no such sageMaker option \(did you mean instanceType\?\); its options: instanceType, /);
    expect(e.allowed).not.toMatch(/\bmodel\b|\bserving\b/);
    const onPrem = refusal(() => DeploymentTarget.onPrem({ hosts: [], apiKeyFile: 'k', proxyport: 1 } as never));
    expect(onPrem.field).toBe('DeploymentTarget.onPrem({...}).proxyport');
    expect(onPrem.allowed).toMatch(/did you mean proxyPort\?/);
  });

  test('a spec property inside the target options is refused: it would silently override the spec', () => {
    const e = refusal(() => DeploymentTarget.sageMaker({ endpointName: 'other' } as never));
    expect(e.field).toBe('DeploymentTarget.sageMaker({...}).endpointName');
    expect(e.allowed).toMatch(/part of the spec; set it beside target/);
    expect(refusal(() => DeploymentTarget.onPrem({ hosts: [], apiKeyFile: 'k', compute: Compute.cpu() } as never)).field)
      .toBe('DeploymentTarget.onPrem({...}).compute');
  });

  test('options that are not an object are refused; none at all is fine', () => {
    expect(refusal(() => DeploymentTarget.sageMaker('ml.m5.large' as never)).field).toBe('DeploymentTarget.sageMaker({...})');
    expect(() => DeploymentTarget.sageMaker(undefined)).not.toThrow();
    expect(() => DeploymentTarget.sageMaker(null as never)).not.toThrow();
  });
});
