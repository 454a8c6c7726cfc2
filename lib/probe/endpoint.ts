import * as fs from 'fs';
import { ProbeInputError } from './errors';

/** The targets, by the names the CLI takes and the names DeploymentTarget gives them (ProbeResult.target). */
export const TARGETS = { 'sagemaker': 'sageMaker', 'azure-ml': 'azureMl', 'vertex-ai': 'vertexAi', 'on-prem': 'onPrem' } as const;
export type TargetName = typeof TARGETS[keyof typeof TARGETS];

/** What to probe: where, on which target, and what authentication needs to know. */
export interface ProbeEndpoint {
  readonly target: TargetName;
  /** Where requests are POSTed. */
  readonly url: string;
  /** What the result and the table call it. */
  readonly endpoint: string;
  /** SageMaker's region (SigV4). */
  readonly region?: string;
}

/** What picks one endpoint among the outputs. */
export interface EndpointChoice {
  /** The stack (top-level key of a cdk/cdktf outputs file). */
  readonly stack?: string;
  /** The endpoint: its construct path prefix (`Linear`, `MyModelEndpoint`) or its endpoint name. */
  readonly endpoint?: string;
  /** On-prem: the host (default: the first). */
  readonly host?: string;
  /** SageMaker: the region when the URL does not say. */
  readonly region?: string;
}

/**
 * The outputs each target writes (see lib/targets/<target>/endpoint.ts), by the construct id of the
 * output: CDK names them `<Path><Id><HASH>`, cdktf `<Path>_<Id>_<HASH>`.
 */
const OUTPUT_ID = /^(.*?)_?(InvokeUrl|EndpointName|ScoringUri|DeploymentName|PredictUrl|EndpointId|DeployedModelId|HostUrls|Versions|Hosts)_?[0-9A-F]{8}$/;
const URL_OUTPUT: { readonly [id: string]: TargetName } = { InvokeUrl: 'sageMaker', ScoringUri: 'azureMl', PredictUrl: 'vertexAi', HostUrls: 'onPrem' };
const SAGEMAKER_HOST = /^runtime\.sagemaker\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

interface Candidate {
  readonly stack?: string;
  readonly prefix: string;
  readonly values: { [id: string]: unknown };
}

/**
 * Finds the endpoint in an outputs file: `cdk deploy --outputs-file` / `cdktf deploy --outputs-file`
 * (`{ Stack: { OutputKey: value } }`) or `terraform output -json` (`{ name: { value, type, sensitive } }`).
 */
export function endpointFromOutputsFile(file: string, choice: EndpointChoice): ProbeEndpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ProbeInputError(`cannot read the outputs file ${file}: ${code ?? (e as Error).message}`);
  }
  return endpointFromOutputs(parsed, file, choice);
}

export function endpointFromOutputs(parsed: unknown, label: string, choice: EndpointChoice): ProbeEndpoint {
  if (!isObject(parsed)) throw new ProbeInputError(`outputs file ${label}: expected a JSON object (cdk/cdktf --outputs-file, or terraform output -json)`);
  const entries = Object.entries(parsed);
  const terraform = entries.length > 0 && entries.every(([, v]) => isObject(v) && 'value' in v && ('type' in v || 'sensitive' in v));
  const stacks: [string | undefined, Record<string, unknown>][] = terraform
    ? [[undefined, Object.fromEntries(entries.map(([k, v]) => [k, (v as { value: unknown }).value]))]]
    : entries.filter(([stack, v]) => isObject(v) && (choice.stack === undefined || stack === choice.stack)).map(([stack, v]) => [stack, v as Record<string, unknown>]);
  if (choice.stack !== undefined && !terraform && stacks.length === 0) {
    throw new ProbeInputError(`outputs file ${label} has no stack ${JSON.stringify(choice.stack)}; it has ${entries.map(([k]) => JSON.stringify(k)).join(', ') || 'none'}`);
  }
  const groups = new Map<string, Candidate>();
  for (const [stack, outputs] of stacks) {
    for (const [key, value] of Object.entries(outputs)) {
      const m = OUTPUT_ID.exec(key);
      if (!m) continue;
      const id = `${stack ?? ''}\u0000${m[1]}`;
      const group = groups.get(id) ?? { stack, prefix: m[1], values: {} };
      group.values[m[2]] = value;
      groups.set(id, group);
    }
  }
  let candidates = [...groups.values()].filter(c => Object.keys(URL_OUTPUT).some(k => k in c.values));
  if (candidates.length === 0) {
    throw new ProbeInputError(`outputs file ${label} has no model endpoint outputs (InvokeUrl, ScoringUri, PredictUrl or HostUrls)${choice.stack ? ` in stack ${choice.stack}` : ''}`);
  }
  const nameOf = (c: Candidate): string => `${c.stack ? `${c.stack}/` : ''}${c.prefix}${typeof c.values.EndpointName === 'string' ? ` (${c.values.EndpointName})` : ''}`;
  if (choice.endpoint !== undefined) {
    const wanted = choice.endpoint;
    const exact = candidates.filter(c => c.prefix === wanted || c.values.EndpointName === wanted);
    candidates = exact.length > 0 ? exact : candidates.filter(c => c.prefix.startsWith(wanted));
    if (candidates.length === 0) {
      throw new ProbeInputError(`outputs file ${label} has no endpoint ${JSON.stringify(wanted)}; it has ${[...groups.values()].map(nameOf).join(', ')}`);
    }
  }
  if (candidates.length > 1) {
    throw new ProbeInputError(`outputs file ${label} has ${candidates.length} endpoints: ${candidates.map(nameOf).join(', ')}; choose one with --endpoint${terraform ? '' : ' (and --stack)'}`);
  }
  return fromCandidate(candidates[0], label, choice);
}

function fromCandidate(c: Candidate, label: string, choice: EndpointChoice): ProbeEndpoint {
  const target = Object.entries(URL_OUTPUT).find(([id]) => id in c.values)![1];
  const name = typeof c.values.EndpointName === 'string' ? c.values.EndpointName : c.prefix;
  const text = (id: string): string => {
    const v = c.values[id];
    if (typeof v !== 'string' || v === '') throw new ProbeInputError(`outputs file ${label}: ${c.prefix} ${id} is not a URL: ${JSON.stringify(v)}`);
    return v;
  };
  switch (target) {
    case 'sageMaker':
      return sageMakerEndpoint(text('InvokeUrl'), name, choice.region);
    case 'azureMl':
      return { target, url: checkUrl(text('ScoringUri'), 'ScoringUri'), endpoint: name };
    case 'vertexAi':
      return vertexEndpoint(text('PredictUrl'));
    case 'onPrem': {
      const hosts = c.values.HostUrls;
      if (!isObject(hosts) || Object.keys(hosts).length === 0) throw new ProbeInputError(`outputs file ${label}: ${c.prefix} HostUrls is not a map of host to URL`);
      const host = choice.host ?? Object.keys(hosts)[0];
      const url = hosts[host];
      if (typeof url !== 'string') {
        throw new ProbeInputError(`outputs file ${label}: no host ${JSON.stringify(host)} in ${c.prefix} HostUrls; the hosts are ${Object.keys(hosts).join(', ')}`);
      }
      return { target, url: checkUrl(url, 'HostUrls'), endpoint: `${c.prefix} on ${host}` };
    }
  }
}

/** An endpoint given on the command line: --target and --url, or for SageMaker --endpoint-name and a region. */
export function endpointFromArguments(target: string, url: string | undefined, endpointName: string | undefined, region: string | undefined): ProbeEndpoint {
  const name = (TARGETS as Record<string, TargetName>)[target];
  if (name === undefined) throw new ProbeInputError(`invalid --target ${JSON.stringify(target)}. Allowed: ${Object.keys(TARGETS).join(', ')}`);
  if (url === undefined) {
    if (name === 'sageMaker' && endpointName !== undefined) {
      const r = region ?? envRegion();
      if (r === undefined) throw new ProbeInputError('SageMaker needs a region: pass --region or set AWS_REGION');
      return sageMakerEndpoint(`https://runtime.sagemaker.${r}.${r.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'}/endpoints/${encodeURIComponent(endpointName)}/invocations`, endpointName, r);
    }
    throw new ProbeInputError(`--target ${target} needs --url URL${name === 'sageMaker' ? ' (or --endpoint-name NAME)' : ''}`);
  }
  checkUrl(url, '--url');
  if (name === 'sageMaker') return sageMakerEndpoint(url, endpointName ?? url, region);
  if (name === 'vertexAi') return vertexEndpoint(url);
  return { target: name, url, endpoint: endpointName ?? url };
}

function sageMakerEndpoint(url: string, name: string, region: string | undefined): ProbeEndpoint {
  const host = new URL(checkUrl(url, 'the SageMaker invoke URL')).hostname;
  const fromUrl = SAGEMAKER_HOST.exec(host)?.[1];
  const r = region ?? fromUrl ?? envRegion();
  if (r === undefined) throw new ProbeInputError(`SageMaker needs a region for SigV4: the URL ${url} does not say; pass --region or set AWS_REGION`);
  return { target: 'sageMaker', url, endpoint: name, region: r };
}

/** Vertex AI: the request file's bodies are the container's own, so they go to rawPredict, not predict. */
function vertexEndpoint(url: string): ProbeEndpoint {
  checkUrl(url, 'the Vertex AI predict URL');
  const raw = url.replace(/:predict$/, ':rawPredict');
  const id = /\/endpoints\/([^/:]+)/.exec(raw)?.[1];
  return { target: 'vertexAi', url: raw, endpoint: id ?? raw };
}

function checkUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ProbeInputError(`invalid ${what}: ${JSON.stringify(url)}. Allowed: an http:// or https:// URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ProbeInputError(`invalid ${what}: ${JSON.stringify(url)}. Allowed: an http:// or https:// URL`);
  }
  return url;
}

function envRegion(): string | undefined {
  return process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
