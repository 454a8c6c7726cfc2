import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ModelArtifact, NetworkAccess, Rollout, ServingContainer } from '../../lib';
import { checkSamples, verificationFailedMessage } from '../../lib/common/sample-check';
import { VERIFICATION_LIMITS, VerificationProps, responseMismatch } from '../../lib/spec/verification';
import { SageMakerModelEndpoint, SageMakerModelEndpointProps } from '../../lib/targets/sagemaker';
import { MAX_VERIFICATION_EVENT_BYTES, verificationCode } from '../../lib/targets/sagemaker/verification';
import { nagFindings } from '../support/nag';
import { expectRefusal } from '../support/refusal';

const ENV = { account: '111111111111', region: 'us-east-1' };
const RUNTIME_VPCE = 'vpce-0123456789abcdef0';
const ROLE_ARN = 'arn:aws:iam::111111111111:role/platform/lambda-in-vpc';
const VERIFICATION: VerificationProps = {
  samples: [{ name: 'one', request: { instances: [[1, 2]] }, expectedResponse: { predictions: [3] }, absoluteTolerance: 0.5 }],
};

/** One endpoint (PRIVATE through RUNTIME_VPCE unless props say otherwise) whose verification function runs in an imported VPC. */
function synth(props: Partial<SageMakerModelEndpointProps> = {}, options: { role?: boolean } = {}) {
  const stack = new Stack(new App(), 'S', { env: ENV });
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a', 'us-east-1b'], privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
    privateSubnetRouteTableIds: ['rtb-0123456789abcdef0', 'rtb-0123456789abcdef1'],
  });
  const role = options.role ? iam.Role.fromRoleArn(stack, 'Role', ROLE_ARN, { mutable: false }) : undefined;
  const endpoint = new SageMakerModelEndpoint(stack, 'Ep', {
    model: ModelArtifact.fromUri('s3://models/fraud/v1/model.tar.gz'),
    serving: ServingContainer.xgboost(),
    ...(props.serverless || props.access?.network === NetworkAccess.PUBLIC ? {} : { invokeVpcEndpointIds: [RUNTIME_VPCE] }),
    verification: VERIFICATION,
    verificationFunction: { vpc, role },
    ...props,
  });
  return { stack, endpoint, template: Template.fromStack(stack), json: Template.fromStack(stack).toJSON() };
}

function resources(json: any, type: string): [string, any][] {
  return Object.entries<any>(json.Resources).filter(([, r]) => r.Type === type);
}

function one(json: any, type: string): [string, any] {
  const found = resources(json, type);
  expect(found).toHaveLength(1);
  return found[0];
}

function functionPolicy(json: any): any[] {
  const [, policy] = resources(json, 'AWS::IAM::ManagedPolicy').find(([id]) => id.includes('Verification'))!;
  return policy.Properties.PolicyDocument.Statement;
}

describe('the check runs after every endpoint update', () => {
  const { json } = synth();
  const [endpointId] = one(json, 'AWS::SageMaker::Endpoint');
  const [configId] = one(json, 'AWS::SageMaker::EndpointConfig');
  const [, check] = one(json, 'Custom::SageMakerVerification');

  test('the custom resource depends on the endpoint and names its endpoint config', () => {
    expect(check.DependsOn).toContain(endpointId);
    expect(check.Properties.EndpointName).toEqual({ 'Fn::GetAtt': [endpointId, 'EndpointName'] });
    expect(check.Properties.EndpointConfigName).toEqual({ 'Fn::GetAtt': [configId, 'EndpointConfigName'] });
    const [functionId] = one(json, 'AWS::Lambda::Function');
    expect(check.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [functionId, 'Arn'] });
  });

  test('a new model means a new endpoint config name, so new properties and a new check; new samples too', () => {
    // The endpoint config has no fixed name: CloudFormation replaces it, under a new generated name, whenever it changes.
    expect(json.Resources[configId].Properties.EndpointConfigName).toBeUndefined();
    const other = synth({ model: ModelArtifact.fromUri('s3://models/fraud/v2/model.tar.gz') }).json;
    const [, otherModel] = one(other, 'AWS::SageMaker::Model');
    const [, model] = one(json, 'AWS::SageMaker::Model');
    expect(otherModel.Properties).not.toEqual(model.Properties);
    // The new model is a new CfnModel (replaced: new name), which the config references: a new config, a new name.
    expect(json.Resources[configId].Properties.ProductionVariants[0].ModelName).toEqual({ 'Fn::GetAtt': [expect.any(String), 'ModelName'] });

    const newSamples = synth({ verification: { samples: [{ ...VERIFICATION.samples[0], expectedResponse: { predictions: [4] } }] } }).json;
    const [, otherCheck] = one(newSamples, 'Custom::SageMakerVerification');
    expect(otherCheck.Properties.Samples).not.toEqual(check.Properties.Samples);
    expect(JSON.parse(otherCheck.Properties.Samples)[0].expectedResponse).toEqual({ predictions: [4] });
  });

  test('the samples travel as the handler reads them: the request exactly as sent, the expected value, the tolerances', () => {
    expect(JSON.parse(check.Properties.Samples)).toEqual([
      { name: 'one', requestJson: '{"instances":[[1,2]]}', expectedResponse: { predictions: [3] }, absoluteTolerance: 0.5, relativeTolerance: 0 },
    ]);
    expect(check.Properties.LatencyBudgetMs).toBe(VERIFICATION_LIMITS.defaultLatencyBudgetMs);
  });

  test('CloudFormation waits for the function\'s time and a minute, not an hour; nothing disables rollback', () => {
    const [, fn] = one(json, 'AWS::Lambda::Function');
    // One sample: min(budget 5 s, 60 s) + 5 s, plus 45 s to start and answer.
    expect(fn.Properties.Timeout).toBe(55);
    expect(check.Properties.ServiceTimeout).toBe('115');
    const root = path.join(__dirname, '..', '..');
    const cdkJson = JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8'));
    expect(cdkJson.rollback).toBeUndefined();
    expect(JSON.stringify(cdkJson)).not.toMatch(/no-rollback|"rollback"\s*:\s*false/);
    expect(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).not.toMatch(/no-rollback|--rollback[= ]false/);
  });

  test('ten samples with the longest budget still fit in Lambda\'s 15 minutes', () => {
    const samples = Array.from({ length: VERIFICATION_LIMITS.maxSamples }, (_, i) => ({ name: `s${i}`, request: { i }, expectedResponse: i }));
    const { json: big } = synth({ verification: { samples, latencyBudgetMs: VERIFICATION_LIMITS.maxLatencyBudgetMs } });
    const [, fn] = one(big, 'AWS::Lambda::Function');
    expect(fn.Properties.Timeout).toBe(10 * 65 + 45);
    expect(fn.Properties.Timeout).toBeLessThanOrEqual(900);
  });
});

describe('least privilege and the compliance packs', () => {
  test('the function may call InvokeEndpoint on this endpoint only, through the runtime VPC endpoint (PRIVATE)', () => {
    const { json } = synth({}, { role: true });
    const [endpointId] = one(json, 'AWS::SageMaker::Endpoint');
    const statements = functionPolicy(json);
    const sagemakerStatements = statements.filter(s => [s.Action].flat().some((a: string) => a.startsWith('sagemaker:')));
    expect(sagemakerStatements).toEqual([{
      Sid: 'InvokeOwnEndpoint', Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: { Ref: endpointId },
      Condition: { StringEquals: { 'aws:SourceVpce': [RUNTIME_VPCE] } },
    }]);
    expect(statements.map(s => s.Sid)).toEqual(['InvokeOwnEndpoint', 'WriteOwnLogs', 'SendToOwnDeadLetterQueue', 'EncryptDeadLetters']);
    // The endpoint's key, only through SQS (the dead-letter queue).
    expect(statements[3].Condition).toEqual({ StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } });
    // No wildcard anywhere: every resource is a reference to this stack's own resources.
    expect(JSON.stringify(statements)).not.toContain('*');
    expect(nagFindings(synth({}, { role: true }).stack)).toEqual([]);
  });

  test('PUBLIC: the same grant without the VPC endpoint condition', () => {
    const { json } = synth({ access: { network: NetworkAccess.PUBLIC } }, { role: true });
    expect(functionPolicy(json)[0]).toEqual(expect.objectContaining({ Sid: 'InvokeOwnEndpoint', Action: 'sagemaker:InvokeEndpoint' }));
    expect(functionPolicy(json)[0].Condition).toBeUndefined();
  });

  test('the function: latest Node.js runtime, in the VPC, one at a time, an encrypted dead-letter queue and log group, no AWS-managed or inline policy', () => {
    const { json } = synth({}, { role: true });
    const [, fn] = one(json, 'AWS::Lambda::Function');
    const [queueId, queue] = one(json, 'AWS::SQS::Queue');
    const [logsId, logGroup] = resources(json, 'AWS::Logs::LogGroup').find(([id]) => id.includes('Verification'))!;
    const [keyId] = one(json, 'AWS::KMS::Key');
    expect(fn.Properties).toMatchObject({
      Runtime: lambda.Runtime.NODEJS_LATEST.name, Handler: 'index.handler', Role: ROLE_ARN, ReservedConcurrentExecutions: 1,
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [queueId, 'Arn'] } },
      VpcConfig: { SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'] },
      LoggingConfig: { LogGroup: { Ref: logsId } },
    });
    expect(fn.Properties.Environment).toBeUndefined();
    expect(queue.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(logGroup.Properties).toMatchObject({ KmsKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] }, RetentionInDays: 365 });
    // CloudWatch Logs may use the key for this log group only.
    const keyStatement = json.Resources[keyId].Properties.KeyPolicy.Statement.find((s: any) => s.Sid === 'Allow-logs-Verification');
    expect(JSON.stringify(keyStatement.Condition)).toContain(`:log-group:${logGroup.Properties.LogGroupName}`);
    expect(resources(json, 'AWS::IAM::Policy')).toEqual([]);
    expect(resources(json, 'AWS::Lambda::Permission')).toEqual([]);
    // The function's security group: no inbound rule, outbound HTTPS only.
    const [, group] = resources(json, 'AWS::EC2::SecurityGroup').find(([id]) => id.includes('Verification'))!;
    expect(group.Properties.SecurityGroupIngress).toBeUndefined();
    expect(group.Properties.SecurityGroupEgress).toEqual([expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
  });

  test('a new role: its own policy adds the network-interface permissions, which AWS allows only with wildcards (AwsSolutions-IAM5, nothing else)', () => {
    const { json, stack } = synth();
    const [roleId, role] = resources(json, 'AWS::IAM::Role').find(([id]) => id.includes('Verification'))!;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    expect(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'lambda.amazonaws.com' });
    const statements = functionPolicy(json);
    expect(statements.filter(s => JSON.stringify(s.Resource).includes('*')).map(s => [s.Sid, s.Resource])).toEqual([
      ['CreateOwnNetworkInterfaces', expect.arrayContaining([{ 'Fn::Join': ['', expect.arrayContaining([':network-interface/*'])] }])],
      ['ManageOwnNetworkInterfaces', { 'Fn::Join': ['', expect.arrayContaining([':network-interface/*'])] }],
      ['DescribeNetworkInterfaces', '*'],
    ]);
    expect(json.Resources[roleId]).toBeDefined();
    expect(nagFindings(stack)).toEqual([expect.stringMatching(/^AwsSolutions-IAM5\[Resource::\*\] on S\/Ep\/Verification\/Policy\/Resource$/),
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface\/\*\] on S\/Ep\/Verification\/Policy/)].sort());
  });

  test('serverless (always PUBLIC): verification works the same, zero findings with the platform role', () => {
    const { json, stack } = synth({ serverless: {}, access: { network: NetworkAccess.PUBLIC } }, { role: true });
    one(json, 'Custom::SageMakerVerification');
    expect(functionPolicy(json)[0].Condition).toBeUndefined();
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('without verification nothing changes', () => {
  test('no function, no custom resource, no queue, one log group; the endpoint\'s key policy and log group as before', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    const endpoint = new SageMakerModelEndpoint(stack, 'Ep', {
      model: ModelArtifact.fromUri('s3://models/fraud/v1/model.tar.gz'), serving: ServingContainer.xgboost(), invokeVpcEndpointIds: [RUNTIME_VPCE],
    });
    const json = Template.fromStack(stack).toJSON();
    for (const type of ['AWS::Lambda::Function', 'Custom::SageMakerVerification', 'AWS::SQS::Queue', 'AWS::CloudFormation::CustomResource']) {
      expect(resources(json, type)).toEqual([]);
    }
    expect(endpoint.verificationCheck).toBeUndefined();
    expect(endpoint.verificationFunction).toBeUndefined();
    const [, logGroup] = one(json, 'AWS::Logs::LogGroup');
    expect(logGroup.Properties.LogGroupName).toBe(`/aws/sagemaker/Endpoints/${endpoint.endpointName}`);
    const [, key] = one(json, 'AWS::KMS::Key');
    expect(key.Properties.KeyPolicy.Statement.map((s: any) => s.Sid).filter(Boolean)).toEqual(['Allow-logs', 'Allow-cloudwatch']);
  });
});

describe('refusals', () => {
  test('async inference: InvokeEndpoint cannot check it', () => {
    expectRefusal(() => synth({ asyncInference: {} }), 'verification', { target: 'sageMaker', allowed: 'asynchronous endpoint cannot be invoked synchronously' });
  });

  test('no VPC for the function: named, with what to add', () => {
    expectRefusal(() => synth({ verificationFunction: {} }), 'verificationFunction.vpc', { target: 'sageMaker', allowed: 'require Lambda functions in a VPC' });
  });

  test('the endpoint\'s own vpc is used when the function has none', () => {
    const stack = new Stack(new App(), 'S', { env: ENV });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0', availabilityZones: ['us-east-1a'], privateSubnetIds: ['subnet-0123456789abcdef9'], privateSubnetRouteTableIds: ['rtb-0123456789abcdef9'] });
    new SageMakerModelEndpoint(stack, 'Ep', {
      model: ModelArtifact.fromUri('s3://models/m/model.tar.gz'), serving: ServingContainer.xgboost(), invokeVpcEndpointIds: [RUNTIME_VPCE], vpc, verification: VERIFICATION,
    });
    const [, fn] = one(Template.fromStack(stack).toJSON(), 'AWS::Lambda::Function');
    expect(fn.Properties.VpcConfig.SubnetIds).toEqual(['subnet-0123456789abcdef9']);
  });

  test('verificationFunction without verification', () => {
    expectRefusal(() => synth({ verification: undefined }), 'verificationFunction', { target: 'sageMaker', allowed: 'only together with' });
  });

  test('samples within the spec\'s limits whose CloudFormation request would exceed Lambda\'s event limit', () => {
    // Backslashes double at each of the two escapings on the way to the function.
    const samples = [0, 1].map(i => ({ name: `s${i}`, request: { a: '\\'.repeat(8000) }, expectedResponse: i }));
    const error = expectRefusal(() => synth({ verification: { samples } }), 'verification.samples', { target: 'sageMaker', allowed: `${MAX_VERIFICATION_EVENT_BYTES}-byte event limit` });
    expect(error.value).toMatch(/^"\d+ bytes in CloudFormation's update request"$/);
    expect(Number(/^"(\d+)/.exec(error.value)![1])).toBeGreaterThan(MAX_VERIFICATION_EVENT_BYTES);
    // Ordinary samples at the spec's limit fit.
    const plain = [0, 1].map(i => ({ name: `s${i}`, request: { a: 'x'.repeat(8000) }, expectedResponse: i }));
    expect(() => synth({ verification: { samples: plain } })).not.toThrow();
  });

  test('a canary rollout with verification: the check runs after the whole blue/green update', () => {
    const { json } = synth({ scaling: { minReplicas: 2, maxReplicas: 2 }, rollout: Rollout.canary({ percent: 50, bakeMinutes: 5 }) });
    const [endpointId, endpoint] = one(json, 'AWS::SageMaker::Endpoint');
    expect(endpoint.Properties.DeploymentConfig.BlueGreenUpdatePolicy).toBeDefined();
    expect(one(json, 'Custom::SageMakerVerification')[1].DependsOn).toContain(endpointId);
  });
});

describe('the function\'s code', () => {
  test('embeds the one sample checker\'s source, byte for byte, and is the same on every synth (stable asset hash)', () => {
    const code = verificationCode();
    for (const fn of [responseMismatch, checkSamples, verificationFailedMessage]) expect(code).toContain(fn.toString());
    expect(verificationCode()).toBe(code);
    const key = (json: any) => one(json, 'AWS::Lambda::Function')[1].Properties.Code.S3Key;
    expect(key(synth().json)).toBe(key(synth({ verification: { samples: [{ request: [1], expectedResponse: 2 }] } }).json));
  });

  test('compiles, and needs nothing but Node.js and the SDK the Lambda runtime provides', () => {
    const code = verificationCode();
    expect(() => new Function('exports', 'require', code)).not.toThrow();
    expect([...code.matchAll(/require\('([^']+)'\)/g)].map(m => m[1]).sort()).toEqual(['@aws-sdk/client-sagemaker-runtime', 'crypto', 'http', 'https']);
  });
});
