const t0 = process.hrtime.bigint();
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sm from '@aws-cdk/aws-sagemaker-alpha';
const t1 = process.hrtime.bigint();
const app = new App({ outdir: require('fs').mkdtempSync('/tmp/cdkout-') });
const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'us-east-1' } });
const bucket = s3.Bucket.fromBucketName(stack, 'Models', 'bench-models');
for (let i = 0; i < 25; i++) {
  const image = sm.ContainerImage.fromDlc('sagemaker-xgboost', '3.2-0', '683313688378');
  const model = new sm.Model(stack, 'Model'+i, { containers: [{ image, modelData: sm.ModelData.fromBucket(bucket, 'm'+i+'/model.tar.gz') }], networkIsolation: true });
  const config = new sm.EndpointConfig(stack, 'Config'+i, { instanceProductionVariants: [{ model, variantName: 'AllTraffic', instanceType: sm.InstanceType.M5_XLARGE, initialInstanceCount: 2 }] });
  const ep = new sm.Endpoint(stack, 'Endpoint'+i, { endpointConfig: config });
  ep.findInstanceProductionVariant('AllTraffic').autoScaleInstanceCount({ minCapacity: 2, maxCapacity: 4 }).scaleOnInvocations('Invocations', { maxRequestsPerSecond: 100/60, safetyFactor: 1 });
}
const asm = app.synth();
const t2 = process.hrtime.bigint();
console.log(Number(t1-t0)/1e6, Number(t2-t1)/1e6, Object.keys(asm.getStackByName('S').template.Resources).length, process.resourceUsage().maxRSS);
const r = asm.getStackByName('S').template.Resources; const types: any = {}; for (const k in r) types[r[k].Type]=(types[r[k].Type]||0)+1; console.log(types);
for (const t of ['AWS::SageMaker::Model','AWS::SageMaker::EndpointConfig','AWS::ApplicationAutoScaling::ScalingPolicy']) console.log(JSON.stringify(r[Object.keys(r).find(k=>r[k].Type===t)!].Properties));
