import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App as CdkApp } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { App as TfApp, Testing } from 'cdktf';
import { onPrem, onSageMaker } from '../examples/one-spec-two-targets';

test('one spec, two targets: the same model, image, GPU kind, replicas and name on SageMaker and on-prem', () => {
  const sm = Template.fromStack(onSageMaker(new CdkApp()));
  const variant = Object.values(sm.findResources('AWS::SageMaker::EndpointConfig'))[0].Properties.ProductionVariants[0];
  expect(variant).toMatchObject({ InstanceType: 'ml.g6.xlarge', InitialInstanceCount: 2 }); // NVIDIA L4 x1
  const model = Object.values(sm.findResources('AWS::SageMaker::Model'))[0].Properties.PrimaryContainer;
  expect(model.Image).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-scorer:4.2.0');
  expect(model.Environment).toEqual({ LOG_LEVEL: 'info' });
  sm.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'fraud-scorer' });

  // The on-prem synth reads the example's key file (~/.config/model-deploy/fraud-scorer-api-keys).
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'one-spec-home-'));
  fs.mkdirSync(path.join(home, '.config', 'model-deploy'), { recursive: true });
  fs.writeFileSync(path.join(home, '.config', 'model-deploy', 'fraud-scorer-api-keys'), 'placeholder-key-0123456789\n');
  const realHome = process.env.HOME;
  process.env.HOME = home;
  let stack;
  try { stack = onPrem(new TfApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'one-spec-')) })); } finally { process.env.HOME = realHome; }
  const json = JSON.parse(Testing.synth(stack));
  const deployments = Object.entries(json.resource.terraform_data).filter(([k]) => k.includes('-deployment_')).map(([, v]) => v as any);
  expect(deployments).toHaveLength(2);
  for (const d of deployments) {
    const file = d.provisioner.find((p: any) => p.file?.destination.endsWith('/deploy.env')).file.content;
    expect(file).toContain("MD_IMAGE='123456789012.dkr.ecr.eu-west-1.amazonaws.com/fraud-scorer:4.2.0'");
    expect(file).toContain("MD_GPU_NAMES='NVIDIA L4'");
    expect(file).toContain("MD_REPLICAS='1'"); // 2 replicas over 2 hosts
    expect(file).toContain("MD_DEPLOYMENT='fraud-scorer'");
  }
});
