import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { FakeSageMakerRuntime, startFakeSageMakerRuntime } from '../support/aws/fake-sagemaker-runtime';

// The fake is a test instrument: these tests prove it accepts what the real SDK signs and refuses
// what AWS would refuse, so that tests built on it can fail.
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token-1' };
let fake: FakeSageMakerRuntime;

beforeAll(async () => {
  fake = await startFakeSageMakerRuntime({
    credentials,
    region: 'eu-west-1',
    answer: ({ endpointName, targetVariant, body }) => (endpointName === 'broken'
      ? { status: 500, body: 'model crashed' }
      : { status: 200, body: JSON.stringify({ echo: JSON.parse(body), variant: targetVariant ?? null }) }),
  });
});
afterAll(() => fake.close());

function client(overrides: Partial<typeof credentials> = {}, region = 'eu-west-1') {
  return new SageMakerRuntimeClient({ region, endpoint: fake.url, credentials: { ...credentials, ...overrides }, maxAttempts: 1 });
}

test('the SDK signed request is accepted, body and target variant arrive', async () => {
  const out = await client().send(new InvokeEndpointCommand({ EndpointName: 'my-endpoint', TargetVariant: 'green', ContentType: 'application/json', Body: Buffer.from('{"x":[1,2]}') }));
  expect(JSON.parse(Buffer.from(out.Body!).toString())).toEqual({ echo: { x: [1, 2] }, variant: 'green' });
  expect(fake.invocations.at(-1)).toMatchObject({ endpointName: 'my-endpoint', targetVariant: 'green', contentType: 'application/json', outcome: 'OK' });
});

test.each<[string, Partial<typeof credentials>, string, RegExp]>([
  ['a wrong secret', { secretAccessKey: 'not-the-secret' }, 'eu-west-1', /signature does not match/],
  ['an unknown key', { accessKeyId: 'AKIDOTHER' }, 'eu-west-1', /unknown access key/],
  ['a missing session token', { sessionToken: undefined }, 'eu-west-1', /Security-Token/],
  ['another region', {}, 'us-east-1', /signed for region us-east-1/],
])('%s is refused with 403', async (_name, overrides, region, outcome) => {
  await expect(client(overrides, region).send(new InvokeEndpointCommand({ EndpointName: 'e', Body: Buffer.from('{}') }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  expect(fake.invocations.at(-1)?.outcome).toMatch(outcome);
});

test('a model error comes back as SageMaker\'s 424 ModelError with the original status', async () => {
  await expect(client().send(new InvokeEndpointCommand({ EndpointName: 'broken', Body: Buffer.from('{}') })))
    .rejects.toMatchObject({ name: 'ModelError', $metadata: { httpStatusCode: 424 }, OriginalStatusCode: 500 });
});
