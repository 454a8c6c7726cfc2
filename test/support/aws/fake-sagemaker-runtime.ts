/**
 * A fake SageMaker Runtime on 127.0.0.1, standing in for the network boundary only: whatever calls
 * it (the AWS SDK, the verification function, the probe) signs with its real SigV4 code, and this
 * server checks the signature with its own, independent implementation of the algorithm
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html), against the
 * credentials it was given. A request with no signature, a wrong key, a wrong secret, a wrong
 * region or service, or a body that does not match the signed hash gets 403, as AWS answers.
 *
 * It serves `POST /endpoints/{EndpointName}/invocations` (InvokeEndpoint). `answer` plays the
 * model; a model status other than 2xx comes back as SageMaker's 424 ModelError.
 */
import * as crypto from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';

export interface FakeAwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** When set, requests must carry it as X-Amz-Security-Token (and sign it). */
  readonly sessionToken?: string;
}

export interface InvocationRecord {
  readonly endpointName: string;
  /** The `X-Amzn-SageMaker-Target-Variant` header, when sent. */
  readonly targetVariant?: string;
  readonly contentType?: string;
  readonly body: string;
  /** 'OK', or why the request was refused (signature checks). */
  readonly outcome: string;
}

export interface ModelAnswer {
  readonly status: number;
  readonly body: string;
  /** How long the model takes, in milliseconds. */
  readonly delayMs?: number;
}

export interface FakeSageMakerRuntimeOptions {
  readonly credentials: FakeAwsCredentials;
  readonly region: string;
  /** Plays the model behind each endpoint (and variant). */
  readonly answer: (request: { endpointName: string; targetVariant?: string; body: string }) => ModelAnswer | Promise<ModelAnswer>;
}

export interface FakeSageMakerRuntime {
  /** e.g. http://127.0.0.1:PORT, to give the SDK as its endpoint. */
  readonly url: string;
  readonly invocations: InvocationRecord[];
  close(): Promise<void>;
}

export async function startFakeSageMakerRuntime(options: FakeSageMakerRuntimeOptions): Promise<FakeSageMakerRuntime> {
  const invocations: InvocationRecord[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      void handle(req, Buffer.concat(chunks)).then(({ status, headers, body }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      }, (e: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake runtime error: ${e.message}`);
      });
    });
  });

  async function handle(req: http.IncomingMessage, raw: Buffer): Promise<{ status: number; headers?: Record<string, string>; body: string }> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/endpoints\/([^/]+)\/invocations$/.exec(url.pathname);
    const endpointName = match ? decodeURIComponent(match[1]) : '';
    const targetVariant = header(req, 'x-amzn-sagemaker-target-variant');
    const record = (outcome: string) => invocations.push({ endpointName, targetVariant, contentType: header(req, 'content-type'), body: raw.toString('utf8'), outcome });
    if (req.method !== 'POST' || !match) {
      record('unknown operation');
      return awsError(404, 'UnknownOperationException', `no such operation: ${req.method} ${url.pathname}`);
    }
    const refusal = signatureProblem(req, url, raw, options);
    if (refusal !== undefined) {
      record(refusal);
      return awsError(403, refusal.startsWith('missing') ? 'MissingAuthenticationTokenException' : 'InvalidSignatureException', refusal);
    }
    record('OK');
    const answer = await options.answer({ endpointName, targetVariant, body: raw.toString('utf8') });
    if (answer.delayMs) await new Promise(r => setTimeout(r, answer.delayMs));
    if (answer.status >= 200 && answer.status < 300) {
      return { status: answer.status, headers: { 'x-amzn-invoked-production-variant': targetVariant ?? 'AllTraffic' }, body: answer.body };
    }
    return awsError(424, 'ModelError', `Received client error (${answer.status}) from primary with message "${answer.body}".`,
      { OriginalStatusCode: answer.status, OriginalMessage: answer.body });
  }

  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    close: () => new Promise<void>(resolve => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function awsError(status: number, type: string, message: string, extra: Record<string, unknown> = {}) {
  return { status, headers: { 'x-amzn-errortype': type }, body: JSON.stringify({ message, ...extra }) };
}

/** Why the request's SigV4 signature is not valid for these credentials, or undefined when it is. */
export function signatureProblem(req: http.IncomingMessage, url: URL, body: Buffer, options: { credentials: FakeAwsCredentials; region: string }): string | undefined {
  const authorization = header(req, 'authorization');
  if (!authorization) return 'missing Authorization header';
  const parsed = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(authorization);
  if (!parsed) return `malformed Authorization header: ${authorization}`;
  const [, accessKeyId, day, region, service, signedHeaderList, signature] = parsed;
  if (accessKeyId !== options.credentials.accessKeyId) return `unknown access key ${accessKeyId}`;
  if (region !== options.region) return `signed for region ${region}, this is ${options.region}`;
  if (service !== 'sagemaker') return `signed for service ${service}, not sagemaker`;
  const amzDate = header(req, 'x-amz-date');
  if (!amzDate || !amzDate.startsWith(day)) return 'missing or inconsistent X-Amz-Date';
  const skewMs = Math.abs(Date.now() - Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')));
  if (!(skewMs < 5 * 60_000)) return `X-Amz-Date ${amzDate} is more than 5 minutes from now`;
  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) return `${required} is not signed`;
  }
  if (options.credentials.sessionToken !== undefined && header(req, 'x-amz-security-token') !== options.credentials.sessionToken) {
    return 'missing or wrong X-Amz-Security-Token';
  }
  const bodyHash = sha256(body);
  const claimedHash = header(req, 'x-amz-content-sha256');
  if (claimedHash !== undefined && claimedHash !== 'UNSIGNED-PAYLOAD' && claimedHash !== bodyHash) return 'the body does not match x-amz-content-sha256';
  const canonicalHeaders = signedHeaders.map(name => `${name}:${(header(req, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalQuery = [...url.searchParams.entries()]
    .map(([k, v]) => [encode(k), encode(v)])
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`).join('&');
  // Every service but S3 encodes each path segment a second time.
  const canonicalPath = url.pathname.split('/').map(segment => encode(segment)).join('/');
  const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaderList, claimedHash ?? bodyHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(Buffer.from(canonicalRequest))].join('\n');
  let key = hmac(`AWS4${options.credentials.secretAccessKey}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  const expected = crypto.createHmac('sha256', key).update(stringToSign).digest('hex');
  return expected === signature ? undefined : 'the signature does not match (wrong secret, or the request was changed after signing)';
}

function encode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}
