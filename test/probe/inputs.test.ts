import { endpointFromArguments, endpointFromOutputs } from '../../lib/probe/endpoint';
import { ProbeInputError } from '../../lib/probe/errors';
import { PROBE_MAX_JSON_BYTES, parseRequests } from '../../lib/probe/requests';

describe('requests file', () => {
  test('JSON Lines and a JSON array give the same samples: bodies serialized once, expected responses optional', () => {
    const items = [
      { name: 'cat', request: { instances: [[1, 2]] }, expectedResponse: { label: 'cat' }, relativeTolerance: 0.1 },
      { request: [1, 2, 3] },
    ];
    for (const text of [items.map(i => JSON.stringify(i)).join('\n') + '\n', JSON.stringify(items, null, 2)]) {
      const samples = parseRequests(text, 'r');
      expect(samples.map(s => s.name)).toEqual(['cat', 'sample-2']);
      expect(samples[0].body.toString()).toBe('{"instances":[[1,2]]}');
      expect(samples[0].expected).toMatchObject({ name: 'cat', expectedResponse: { label: 'cat' }, relativeTolerance: 0.1, absoluteTolerance: 0 });
      expect(samples[1].body.toString()).toBe('[1,2,3]');
      expect(samples[1].expected).toBeUndefined();
    }
  });

  test('an expected response of null is an expectation (only a missing one is optional)', () => {
    expect(parseRequests('{"request":{},"expectedResponse":null}', 'r')[0].expected).toMatchObject({ expectedResponse: null });
  });

  test('a request over the spec\'s 16 KiB sample limit is sent: the probe has its own, larger limit', () => {
    const big = JSON.stringify({ request: { x: 'a'.repeat(1_000_000) } });
    const [, sample] = parseRequests(`{"request":{}}\n${big}`, 'r.jsonl');
    expect(sample.body.length).toBe(1_000_008);
    expect(PROBE_MAX_JSON_BYTES).toBe(64 * 1024 * 1024);
  });

  test('blank lines are skipped; their numbers still count', () => {
    expect(() => parseRequests('\n{"request":{}}\n\n{"request":"x"}\n', 'r.jsonl')).toThrow(/invalid r\.jsonl:4\.request: "x"/);
  });
});

describe('outputs file', () => {
  const cdkSageMaker = {
    VisionStack: {
      ResnetEndpointEndpointName1A2B3C4D: 'resnet-prod',
      ResnetEndpointInvokeUrl5E6F7A8B: 'https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/resnet-prod/invocations',
      SomethingElse: 'x',
    },
  };
  const tfOnPrem = {
    Linear_HostUrls_9372CA24: { value: { h1: 'http://10.0.0.1:8443/invocations', h2: 'http://10.0.0.2:8443/invocations' }, type: ['object', {}], sensitive: false },
    Linear_Versions_0A1B2C3D: { value: { h1: 'v1', h2: 'v1' }, type: ['object', {}], sensitive: false },
  };

  test('cdk --outputs-file: SageMaker\'s invoke URL, name and region', () => {
    expect(endpointFromOutputs(cdkSageMaker, 'o.json', {})).toEqual({
      target: 'sageMaker', url: 'https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/resnet-prod/invocations', endpoint: 'resnet-prod', region: 'eu-west-1',
    });
  });

  test('terraform output -json: on-prem, the first host unless --host says', () => {
    expect(endpointFromOutputs(tfOnPrem, 'o.json', {})).toEqual({ target: 'onPrem', url: 'http://10.0.0.1:8443/invocations', endpoint: 'Linear on h1' });
    expect(endpointFromOutputs(tfOnPrem, 'o.json', { host: 'h2' }).url).toBe('http://10.0.0.2:8443/invocations');
    expect(() => endpointFromOutputs(tfOnPrem, 'o.json', { host: 'h3' })).toThrow('outputs file o.json: no host "h3" in Linear HostUrls; the hosts are h1, h2');
  });

  test('terraform output -json: Azure ML\'s scoring URI; Vertex AI\'s predict URL becomes rawPredict', () => {
    const azure = { Model_ScoringUri_11111111: { value: 'https://ep.westeurope.inference.ml.azure.com/score', type: 'string' }, Model_EndpointName_22222222: { value: 'ep', type: 'string' } };
    expect(endpointFromOutputs(azure, 'o', {})).toEqual({ target: 'azureMl', url: 'https://ep.westeurope.inference.ml.azure.com/score', endpoint: 'ep' });
    const vertex = { M_PredictUrl_33333333: { value: 'https://1.europe-west4-1.prediction.vertexai.goog/v1/projects/p/locations/europe-west4/endpoints/1:predict', type: 'string' } };
    expect(endpointFromOutputs(vertex, 'o', {})).toMatchObject({ target: 'vertexAi', endpoint: '1', url: expect.stringMatching(/endpoints\/1:rawPredict$/) });
  });

  test('several endpoints: a clear choice is asked for, by construct path or endpoint name', () => {
    const two = { ...cdkSageMaker.VisionStack, OtherEndpointEndpointNameAAAAAAAA: 'other', OtherEndpointInvokeUrlBBBBBBBB: 'https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/other/invocations' };
    expect(() => endpointFromOutputs({ S: two }, 'o.json', {})).toThrow('outputs file o.json has 2 endpoints: S/ResnetEndpoint (resnet-prod), S/OtherEndpoint (other); choose one with --endpoint (and --stack)');
    expect(endpointFromOutputs({ S: two }, 'o.json', { endpoint: 'other' })).toMatchObject({ endpoint: 'other', region: 'us-east-1' });
    expect(endpointFromOutputs({ S: two }, 'o.json', { endpoint: 'Resnet' })).toMatchObject({ endpoint: 'resnet-prod' });
    expect(() => endpointFromOutputs({ S: two }, 'o.json', { endpoint: 'nope' })).toThrow(/has no endpoint "nope"; it has S\/ResnetEndpoint \(resnet-prod\), S\/OtherEndpoint \(other\)/);
    expect(() => endpointFromOutputs({ S: two }, 'o.json', { stack: 'T' })).toThrow('outputs file o.json has no stack "T"; it has "S"');
  });

  test('a file with no endpoint outputs says what it looked for', () => {
    expect(() => endpointFromOutputs({ S: { Foo: 'x' } }, 'o.json', {})).toThrow(new ProbeInputError('outputs file o.json has no model endpoint outputs (InvokeUrl, ScoringUri, PredictUrl or HostUrls)'));
    expect(() => endpointFromOutputs([1], 'o.json', {})).toThrow(/expected a JSON object/);
  });
});

test('explicit arguments: a SageMaker endpoint by name and region builds the invoke URL', () => {
  expect(endpointFromArguments('sagemaker', undefined, 'my-ep', 'eu-central-1')).toEqual({
    target: 'sageMaker', url: 'https://runtime.sagemaker.eu-central-1.amazonaws.com/endpoints/my-ep/invocations', endpoint: 'my-ep', region: 'eu-central-1',
  });
  expect(() => endpointFromArguments('on-prem', 'ftp://x', undefined, undefined)).toThrow('invalid --url: "ftp://x". Allowed: an http:// or https:// URL');
});
