import { sha256Hex } from '../../common/naming';
import * as fs from 'fs';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { GPU_FACTS } from '../../spec/instance-catalog';
import { ResolvedModelDeploymentSpec } from '../../spec/spec';
import { ResolvedVerification } from '../../spec/verification';
import { Problems, checkInteger, checkKnownKeys } from '../../spec/check';
import { allowedClientCidrs } from './client-networks';
import { LINUX_CAPABILITIES, RUNTIME_ARG_ALLOWED, RUNTIME_ARG_PATTERN, contractKey, contractViolations } from './host-contract';
import { ContainerRuntime, OnPremHost, OnPremTargetOptions, OnPremTlsOptions } from './options';

/**
 * Pure functions that turn the spec and the options into what each host receives: the
 * `deploy.env` the host script reads, the container's env file, and the version id that decides
 * whether a host redeploys. No engine here, so all of it is unit-testable.
 */

import { TARGET } from './name';

const ADDRESS = /^[A-Za-z0-9.:[\]-]{1,253}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+$/;
/** A public key line that passes HOST_KEY, for messages and docs. */
export const EXAMPLE_HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
const DEFAULT_DEPLOY_ROOT = contractKey('MD_DIR').default;

// Records over the interfaces' keys: a prop added to or removed from them without an entry here fails to compile.
const HOST_KEYS: Record<keyof OnPremHost, true> = {
  name: true, address: true, port: true, user: true, privateKeyPath: true, hostKey: true, insecureSkipHostKeyCheck: true,
  labels: true, deployRoot: true, scriptPath: true, runtimeArgs: true,
};
const TLS_KEYS: Record<keyof OnPremTlsOptions, true> = { certificatePath: true, keyPath: true };

/** Checks that a value is an object of known keys; returns it, or undefined (recorded) when it is not. */
export function knownObject(problems: Problems, field: string, value: unknown, known: readonly string[]): Record<string, unknown> | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    problems.add(field, value, 'an object');
    return undefined;
  }
  const object = value as Record<string, unknown>;
  return problems.check(() => checkKnownKeys(field, object, known, TARGET)) ? object : undefined;
}

function optionalType(problems: Problems, field: string, value: unknown, type: 'string' | 'number' | 'boolean'): void {
  if (value !== undefined && typeof value !== type) problems.add(field, value, type === 'boolean' ? 'true or false' : `a ${type}`);
}

/** The option types and keys at every depth, before anything reads them. */
export function checkOptionShapes(problems: Problems, options: OnPremTargetOptions): void {
  for (const f of ['apiKeyFile', 'imageArchive', 'proxyBindAddress', 'modelMountPath'] as const) optionalType(problems, f, options[f], 'string');
  for (const f of ['apiKeyRevision', 'proxyPort', 'slotPortBase', 'connectTimeoutSeconds'] as const) optionalType(problems, f, options[f], 'number');
  optionalType(problems, 'readOnlyRootFilesystem', options.readOnlyRootFilesystem, 'boolean');
  checkCapabilities(problems, options.containerCapabilities);
  const cidrs: unknown = options.allowedClientCidrs;
  if (cidrs !== undefined && !(Array.isArray(cidrs) && cidrs.every(c => typeof c === 'string'))) {
    problems.add('allowedClientCidrs', cidrs, 'an array of CIDR strings, e.g. [\'10.20.0.0/16\']');
  }
  if (options.tls !== undefined) {
    const tls = knownObject(problems, 'tls', options.tls, Object.keys(TLS_KEYS));
    for (const f of ['certificatePath', 'keyPath'] as const) {
      if (tls && typeof tls[f] !== 'string') problems.add(`tls.${f}`, tls[f], 'a path on the hosts (a string)');
    }
  }
  if (!Array.isArray(options.hosts) || options.hosts.length === 0) {
    problems.add('hosts', options.hosts, 'one or more hosts: [{ name, address, user, hostKey }]');
    return;
  }
  options.hosts.forEach((h, i) => {
    const field = `hosts[${i}]`;
    const host = knownObject(problems, field, h, Object.keys(HOST_KEYS));
    if (!host) return;
    for (const f of ['name', 'address', 'user'] as const) if (typeof host[f] !== 'string') problems.add(`${field}.${f}`, host[f], 'a string');
    for (const f of ['privateKeyPath', 'hostKey', 'deployRoot', 'scriptPath'] as const) optionalType(problems, `${field}.${f}`, host[f], 'string');
    optionalType(problems, `${field}.port`, host.port, 'number');
    optionalType(problems, `${field}.insecureSkipHostKeyCheck`, host.insecureSkipHostKeyCheck, 'boolean');
    if (host.runtimeArgs !== undefined && !(Array.isArray(host.runtimeArgs) && host.runtimeArgs.every(a => typeof a === 'string'))) {
      problems.add(`${field}.runtimeArgs`, host.runtimeArgs, 'an array of strings, e.g. [\'--root\', \'/data/containers\']');
    }
    if (host.labels !== undefined) {
      const labels = host.labels;
      if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
        problems.add(`${field}.labels`, labels, 'an object of string values');
      } else {
        for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
          if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/.test(key) || typeof value !== 'string' || value.length > 256) {
            problems.add(`${field}.labels`, { [key]: value }, 'keys of letters, digits and . _ / - (at most 63), string values of at most 256 characters');
          }
        }
      }
    }
  });
}

/** `containerCapabilities`, per entry (the host contract's MD_CAP_ADD pattern checks the joined list again). */
function checkCapabilities(problems: Problems, caps: unknown): void {
  if (caps === undefined) return;
  if (!Array.isArray(caps) || !caps.every(c => typeof c === 'string')) {
    problems.add('containerCapabilities', caps, 'a list of capability names, e.g. [\'NET_BIND_SERVICE\']');
    return;
  }
  caps.forEach((cap: string, i) => {
    const field = `containerCapabilities[${i}]`;
    if (cap.startsWith('CAP_') && (LINUX_CAPABILITIES as readonly string[]).includes(cap.slice(4))) {
      problems.add(field, cap, `${cap.slice(4)}: capability names without the CAP_ prefix`);
    } else if (!(LINUX_CAPABILITIES as readonly string[]).includes(cap)) {
      problems.add(field, cap, `one of the Linux capability names (capabilities(7), without CAP_): ${LINUX_CAPABILITIES.join(', ')}`);
    } else if (caps.indexOf(cap) !== i) {
      problems.add(field, cap, 'each capability once');
    }
  });
}

/** One host with everything resolved: how many replicas it runs and where its deployment lives. */
export interface HostPlan {
  readonly host: OnPremHost;
  /** The host's index in `hosts`, for messages. */
  readonly index: number;
  readonly replicas: number;
  readonly port: number;
  readonly deployRoot: string;
  readonly deploymentDir: string;
  readonly runtimeArgs: string[];
}

/**
 * Spreads the replicas over the hosts (the first hosts take the remainder) and checks what the
 * host contract does not (SSH fields, labels, duplicates). Expects checkOptionShapes to have passed.
 */
export function planHosts(problems: Problems, deployment: string, replicas: number, options: OnPremTargetOptions): HostPlan[] {
  const hosts = options.hosts;
  if (replicas < hosts.length) {
    problems.add('scaling.minReplicas', replicas, `at least the number of hosts (${hosts.length}): every host serves at least one replica`);
  }
  const names = new Set<string>();
  const endpoints = new Map<string, number>();
  return hosts.map((host, i) => {
    const field = `hosts[${i}]`;
    if (names.has(host.name)) problems.add(`${field}.name`, host.name, 'a name no other host has');
    names.add(host.name);
    if (!ADDRESS.test(host.address)) problems.add(`${field}.address`, host.address, 'an IP address or DNS name');
    if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(host.user)) problems.add(`${field}.user`, host.user, 'a POSIX user name');
    const port = host.port ?? 22;
    problems.check(() => checkInteger(`${field}.port`, port, 1, 65535, TARGET));
    const endpoint = `${host.address.toLowerCase()}:${port}`;
    if (endpoints.has(endpoint)) {
      problems.add(`${field}.address`, `${host.address}:${port}`, `an address and SSH port no other host has (hosts[${endpoints.get(endpoint)}] has it): two entries for one host would share its deployment directory`);
    }
    endpoints.set(endpoint, i);
    if (host.hostKey === undefined && host.insecureSkipHostKeyCheck !== true) {
      problems.add(`${field}.hostKey`, undefined,
        `the host's public key, e.g. "${EXAMPLE_HOST_KEY}" (ssh-keyscan, checked out of band), or insecureSkipHostKeyCheck: true for a throw-away lab host`);
    }
    if (host.hostKey !== undefined && !HOST_KEY.test(host.hostKey.trim())) {
      problems.add(`${field}.hostKey`, host.hostKey, `a public key line "TYPE BASE64" as ssh-keyscan prints it without the host name, e.g. "${EXAMPLE_HOST_KEY}"`);
    }
    if (host.scriptPath !== undefined && (!/^\/[A-Za-z0-9._/%-]*$/.test(host.scriptPath) || host.scriptPath.includes('..'))) {
      problems.add(`${field}.scriptPath`, host.scriptPath, 'an absolute path of letters, digits and . _ - / %');
    }
    const runtimeArgs = host.runtimeArgs ?? [];
    runtimeArgs.forEach((arg, j) => {
      if (!new RegExp(RUNTIME_ARG_PATTERN).test(arg)) problems.add(`${field}.runtimeArgs[${j}]`, arg, RUNTIME_ARG_ALLOWED);
    });
    const deployRoot = host.deployRoot ?? DEFAULT_DEPLOY_ROOT;
    const share = Math.floor(replicas / hosts.length) + (i < replicas % hosts.length ? 1 : 0);
    return { host, index: i, replicas: share, port, deployRoot, deploymentDir: `${deployRoot.replace(/\/+$/, '')}/${deployment}`, runtimeArgs };
  });
}

/**
 * Checks one host's deploy.env values against the host contract, recording each violation
 * under the field the user wrote (with the host's index) and the value as the user wrote it.
 */
export function checkHostContract(problems: Problems, values: HostDeployValues, plan: HostPlan, userValues: { readonly [key: string]: unknown }): void {
  for (const v of contractViolations(values)) {
    const field = v.field.replace('hosts[]', `hosts[${plan.index}]`);
    const value = v.key === 'MD_DIR' ? plan.deployRoot : v.key === 'MD_RUNTIME_ARGS' ? plan.runtimeArgs : v.key in userValues ? userValues[v.key] : values[v.key];
    problems.add(field, value, v.allowed);
  }
}

const dflt = (key: string) => contractKey(key).default;

/**
 * Where Terraform puts the scripts it runs on a host: a directory in the SSH user's home (remote-exec
 * resolves a relative path from there), one per deployment (OWNER) and directory, so no two share it.
 */
export function remoteScriptDir(deployment: string, deploymentDir: string, owner: string): string {
  return `.model-deploy-${deployment}-${sha256Hex(`${owner}\n${deploymentDir}`).slice(0, 8)}`;
}

/** The values of `deploy.env`, minus the version id (which is their hash). */
export interface HostDeployValues {
  readonly [key: string]: string;
}

/** Everything a host's deployment depends on, as the MD_* variables the host script reads. */
export function hostDeployValues(spec: ResolvedModelDeploymentSpec, options: OnPremTargetOptions, plan: HostPlan, deployment: string, artifactSha256: string): HostDeployValues {
  const compute = spec.compute;
  const gpu = compute.kind === ComputeKind.GPU ? GPU_FACTS[compute.gpu!] : undefined;
  return {
    MD_DEPLOYMENT: deployment,
    MD_HOST: plan.host.name,
    MD_DIR: plan.deploymentDir,
    MD_RUNTIME: options.runtime ?? ContainerRuntime.DOCKER,
    MD_RUNTIME_ARGS: plan.runtimeArgs.join(' '),
    MD_IMAGE: spec.serving.image!,
    MD_ARTIFACT_SHA256: artifactSha256,
    MD_MODEL_MOUNT: options.modelMountPath ?? dflt('MD_MODEL_MOUNT'),
    MD_CONTAINER_PORT: String(spec.serving.port),
    MD_HEALTH_PATH: spec.serving.healthPath,
    MD_STARTUP_TIMEOUT: String(spec.serving.startupTimeoutSeconds),
    MD_REPLICAS: String(plan.replicas),
    MD_SLOT_PORT_BASE: String(options.slotPortBase ?? dflt('MD_SLOT_PORT_BASE')),
    MD_PROXY_PORT: String(options.proxyPort ?? dflt('MD_PROXY_PORT')),
    MD_PROXY_BIND: options.proxyBindAddress ?? dflt('MD_PROXY_BIND'),
    MD_ALLOWED_CLIENTS: allowedClientCidrs(spec.network, options).join(','),
    MD_TLS_CERT: options.tls?.certificatePath ?? '',
    MD_TLS_KEY: options.tls?.keyPath ?? '',
    MD_GPUS_PER_REPLICA: String(compute.gpuCount),
    MD_GPU_NAMES: gpu ? gpu.nvidiaSmiNames.join('|') : '',
    MD_GPU_MIN_MEMORY_MIB: gpu ? String(gpu.minReportedMemoryMiB) : '0',
    // CPU compute states what a replica needs, which becomes its limit; GPU compute states GPUs,
    // and a GPU server gets the host's CPUs and memory.
    MD_CPUS: compute.kind === ComputeKind.CPU ? String(compute.vcpus) : '',
    MD_MEMORY: compute.kind === ComputeKind.CPU ? `${Math.ceil(compute.memoryGiB * 1024)}m` : '',
    MD_MIN_FREE_DISK_MIB: dflt('MD_MIN_FREE_DISK_MIB'),
    MD_CAP_ADD: (options.containerCapabilities ?? []).join(','),
    MD_READ_ONLY_ROOT: options.readOnlyRootFilesystem === true ? '1' : dflt('MD_READ_ONLY_ROOT'),
    // Only with verification (optional keys): without it, deploy.env and the version are as before.
    ...(spec.verification === undefined ? {} : {
      MD_VERIFY_SAMPLES: String(spec.verification.samples.length),
      // The samples file's hash: the version id changes with the samples (a new set is a new version to verify).
      MD_VERIFY_SHA256: sha256Hex(renderSamplesFile(spec.verification)),
      MD_VERIFY_BUDGET_MS: String(spec.verification.latencyBudgetMs),
      MD_VERIFY_PATH: spec.serving.predictPath,
    }),
  };
}

/**
 * samples.tsv, the verification samples the host sends to each new replica: one line per sample,
 * its name, absolute and relative tolerance, request JSON and expected JSON, separated by tabs.
 * Compact JSON holds no tab or line break (JSON.stringify escapes them), so no escaping is needed.
 */
export function renderSamplesFile(verification: ResolvedVerification): string {
  return verification.samples.map(s => [s.name, String(s.absoluteTolerance), String(s.relativeTolerance), s.requestJson, s.expectedJson].join('\t') + '\n').join('');
}

/**
 * The version id: a hash of everything that must redeploy when it changes (the values and the
 * container environment). It is what `triggers_replace` tracks. The API keys are not part of it:
 * they change with a proxy reload (the `-keys` resource), never with new containers.
 */
export function versionId(values: HostDeployValues, containerEnv: string): string {
  const canonical = JSON.stringify({ values: Object.keys(values).sort().map(k => [k, values[k]]), containerEnv });
  return 'v' + sha256Hex(canonical).slice(0, 12);
}

/** `deploy.env`: one `NAME='value'` line per variable. Values never contain a single quote. */
export function renderDeployEnv(values: HostDeployValues): string {
  return Object.keys(values).map(key => {
    const value = values[key];
    if (/['\n\r\\]/.test(value)) {
      throw new ModelDeploymentValidationError(key, value, 'a value without quotes, backslashes or line breaks', TARGET);
    }
    return `${key}='${value}'\n`;
  }).join('');
}

/** The container's env file (docker/podman `--env-file`): `NAME=value` lines. */
export function renderContainerEnv(environment: { readonly [name: string]: string }): string {
  return Object.keys(environment).sort().map(name => {
    const value = environment[name];
    if (/[\n\r]/.test(value)) {
      throw new ModelDeploymentValidationError(`serving.environment.${name}`, value, 'a value without line breaks (env files hold one variable per line)', TARGET);
    }
    return `${name}=${value}\n`;
  }).join('');
}

/** The largest JSON member (manifest, index) read from an image archive. */
const MAX_JSON_MEMBER = 4 * 1024 * 1024;

/**
 * The image id recorded in an image archive, reading only tar headers and small JSON members:
 * a docker-archive (`docker save`, `podman save`) names the config blob in manifest.json; an
 * OCI archive (`podman save --format oci-archive`) points from index.json to a manifest blob
 * that names the config. The config's sha256 is the image id. Docker loads only
 * docker-archives, so an OCI-only archive is refused for the docker runtime.
 */
export function readImageArchiveId(archivePath: string, runtime: ContainerRuntime = ContainerRuntime.DOCKER): string {
  const allowed = 'an image archive: docker save / podman save output (docker-archive), or for podman hosts an OCI archive (podman save --format oci-archive)';
  const fail = (why: string) => new ModelDeploymentValidationError('imageArchive', archivePath, `${allowed}; ${why}`, TARGET);
  let fd: number;
  try {
    fd = fs.openSync(archivePath, 'r');
    if (!fs.fstatSync(fd).isFile()) {
      fs.closeSync(fd);
      throw fail('this is not a regular file');
    }
  } catch (e) {
    if (e instanceof ModelDeploymentValidationError) throw e;
    throw fail((e as Error).message);
  }
  try {
    const members = tarMembers(fd, fs.fstatSync(fd).size, fail);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed archive JSON, each field checked where it is read
    const json = (name: string): any => {
      const m = members.get(name);
      if (!m) throw fail(`no ${name} in the archive`);
      if (m.size > MAX_JSON_MEMBER) throw fail(`${name} is ${m.size} bytes, more than a manifest can be`);
      const buf = Buffer.alloc(m.size);
      fs.readSync(fd, buf, 0, m.size, m.offset);
      try {
        return JSON.parse(buf.toString('utf8'));
      } catch (e) {
        throw fail(`${name} is not JSON (${(e as Error).message})`);
      }
    };
    const digest = (value: unknown) => typeof value === 'string' ? /^sha256:([a-f0-9]{64})$/.exec(value)?.[1] : undefined;
    if (members.has('manifest.json')) {
      const manifest = json('manifest.json');
      const config: unknown = Array.isArray(manifest) ? manifest[0]?.Config : undefined;
      const match = typeof config === 'string' ? /([a-f0-9]{64})(\.json)?$/.exec(config) : null;
      if (!match) throw fail('manifest.json names no config blob');
      return `sha256:${match[1]}`;
    }
    if (members.has('index.json') && members.has('oci-layout')) {
      if (runtime === ContainerRuntime.DOCKER) {
        throw fail('this is an OCI archive without manifest.json, which docker load does not read: save it with docker save (or podman save --format docker-archive), or use runtime PODMAN');
      }
      const index = json('index.json');
      const manifestDigest = digest(Array.isArray(index?.manifests) ? index.manifests[0]?.digest : undefined);
      if (!manifestDigest) throw fail('index.json names no manifest (manifests[0].digest)');
      const configDigest = digest(json(`blobs/sha256/${manifestDigest}`)?.config?.digest);
      if (!configDigest) throw fail(`manifest blob ${manifestDigest.slice(0, 12)} names no config (config.digest)`);
      return `sha256:${configDigest}`;
    }
    throw fail('neither manifest.json (docker-archive) nor index.json and oci-layout (OCI archive) in it');
  } finally {
    fs.closeSync(fd);
  }
}

/** The members of a tar file by name (./ dropped): where each one's data starts and its size. */
function tarMembers(fd: number, fileSize: number, fail: (why: string) => Error): Map<string, { offset: number; size: number }> {
  const members = new Map<string, { offset: number; size: number }>();
  const header = Buffer.alloc(512);
  let offset = 0;
  let longName: string | undefined;
  let paxName: string | undefined;
  let paxSize: number | undefined;
  const text = (from: number, to: number) => header.toString('utf8', from, to).replace(/\0.*$/s, '');
  const readBody = (at: number, size: number): string => {
    if (size > MAX_JSON_MEMBER) throw fail(`a tar header extension of ${size} bytes`);
    const buf = Buffer.alloc(size);
    fs.readSync(fd, buf, 0, size, at);
    return buf.toString('utf8');
  };
  for (;;) {
    if (fs.readSync(fd, header, 0, 512, offset) < 512 || header.every(b => b === 0)) break;
    let size: number;
    if (header[124] & 0x80) {
      // GNU base-256 size (members over 8 GiB): big-endian in the remaining bytes.
      size = 0;
      for (let i = 125; i < 136; i++) size = size * 256 + header[i];
    } else {
      const field = text(124, 136).trim();
      if (!/^[0-7]*$/.test(field)) throw fail(`a tar header at byte ${offset} has the size field ${JSON.stringify(field)}, which is not octal: not a tar archive, or a damaged one`);
      size = field === '' ? 0 : parseInt(field, 8);
    }
    if (paxSize !== undefined) size = paxSize;
    const body = offset + 512;
    if (!Number.isSafeInteger(size) || body + size > fileSize) {
      throw fail(`a tar member at byte ${offset} claims ${size} bytes, past the end of the ${fileSize}-byte file: a truncated or damaged archive`);
    }
    const type = String.fromCharCode(header[156]);
    const prefix = text(345, 500);
    const name = (longName ?? paxName ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100))).replace(/^\.\//, '');
    longName = undefined;
    if (type === 'L') {
      longName = readBody(body, size).replace(/\0.*$/s, '');
    } else if (type === 'x') {
      for (const record of readBody(body, size).split('\n')) {
        const m = /^\d+ (path|size)=(.*)$/s.exec(record);
        if (m?.[1] === 'path') paxName = m[2];
        if (m?.[1] === 'size' && /^\d+$/.test(m[2])) paxSize = Number(m[2]);
      }
    } else {
      paxName = undefined;
      paxSize = undefined;
      if (type === '0' || type === '\0') members.set(name, { offset: body, size });
    }
    offset = body + Math.ceil(size / 512) * 512;
  }
  return members;
}
