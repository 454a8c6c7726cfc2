import * as crypto from 'crypto';
import * as fs from 'fs';
import { ComputeKind } from '../../spec/compute';
import { ModelDeploymentValidationError } from '../../spec/errors';
import { GPU_FACTS } from '../../spec/instance-catalog';
import { ResolvedModelDeploymentSpec } from '../../spec/spec';
import { ContainerRuntime, OnPremHost, OnPremTargetOptions } from './options';

/**
 * Pure functions that turn the spec and the options into what each host receives: the
 * `deploy.env` the host script reads, the container's env file, and the version id that decides
 * whether a host redeploys. No engine here, so all of it is unit-testable.
 */

export const TARGET = 'onPrem';

/**
 * Replicas one host may run. Replica r of colour c listens on `slotPortBase + c * MAX_REPLICAS_PER_HOST + r`,
 * so a host reserves the fixed range [slotPortBase, slotPortBase + SLOT_PORTS_PER_HOST - 1] and a new
 * version never takes a port the running one holds, whatever the two replica counts (the host
 * script's `slot_port` uses the same constant).
 */
export const MAX_REPLICAS_PER_HOST = 64;
export const SLOT_PORTS_PER_HOST = 2 * MAX_REPLICAS_PER_HOST;

const HOST_NAME = /^[a-z0-9](-?[a-z0-9]){0,30}$/;
const SAFE_PATH = /^\/[A-Za-z0-9._\/-]*$/;
const SAFE_ARG = /^[A-Za-z0-9._\/=:,@+-]+$/;
const ADDRESS = /^[A-Za-z0-9.:\[\]-]{1,253}$/;
const HOST_KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com) [A-Za-z0-9+/=]+$/;

/** One host with everything resolved: how many replicas it runs and where its deployment lives. */
export interface HostPlan {
  readonly host: OnPremHost;
  readonly replicas: number;
  readonly port: number;
  readonly deploymentDir: string;
  readonly runtimeArgs: string[];
}

/** Validates the hosts and spreads the replicas over them (the first hosts take the remainder). */
export function planHosts(deployment: string, replicas: number, options: OnPremTargetOptions): HostPlan[] {
  const hosts = options.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new ModelDeploymentValidationError('hosts', hosts, 'one or more hosts: [{ name, address, user, hostKey }]', TARGET);
  }
  if (replicas < hosts.length) {
    throw new ModelDeploymentValidationError('scaling.minReplicas', replicas,
      `at least the number of hosts (${hosts.length}): every host serves at least one replica`, TARGET);
  }
  const names = new Set<string>();
  return hosts.map((host, i) => {
    const field = `hosts[${i}]`;
    if (typeof host?.name !== 'string' || !HOST_NAME.test(host.name)) {
      throw new ModelDeploymentValidationError(`${field}.name`, host?.name, 'lower-case letters, digits and single hyphens, at most 31 characters', TARGET);
    }
    if (names.has(host.name)) throw new ModelDeploymentValidationError(`${field}.name`, host.name, 'a name no other host has', TARGET);
    names.add(host.name);
    if (typeof host.address !== 'string' || !ADDRESS.test(host.address)) {
      throw new ModelDeploymentValidationError(`${field}.address`, host.address, 'an IP address or DNS name', TARGET);
    }
    if (typeof host.user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(host.user)) {
      throw new ModelDeploymentValidationError(`${field}.user`, host.user, 'a POSIX user name', TARGET);
    }
    const port = host.port ?? 22;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ModelDeploymentValidationError(`${field}.port`, port, 'an integer from 1 to 65535', TARGET);
    }
    if (host.hostKey === undefined && host.insecureSkipHostKeyCheck !== true) {
      throw new ModelDeploymentValidationError(`${field}.hostKey`, undefined,
        'the host\'s public key, e.g. "ssh-ed25519 AAAA..." (ssh-keyscan, checked out of band), or insecureSkipHostKeyCheck: true for a throw-away lab host', TARGET);
    }
    if (host.hostKey !== undefined && (typeof host.hostKey !== 'string' || !HOST_KEY.test(host.hostKey.trim()))) {
      throw new ModelDeploymentValidationError(`${field}.hostKey`, host.hostKey, 'a public key line "TYPE BASE64", e.g. "ssh-ed25519 AAAA..."', TARGET);
    }
    if (host.scriptPath !== undefined && (!/^\/[A-Za-z0-9._\/%-]*$/.test(host.scriptPath) || host.scriptPath.includes('..'))) {
      throw new ModelDeploymentValidationError(`${field}.scriptPath`, host.scriptPath, 'an absolute path of letters, digits and . _ - / %', TARGET);
    }
    const root = host.deployRoot ?? '/opt/model-deployments';
    if (!SAFE_PATH.test(root) || root.includes('..')) {
      throw new ModelDeploymentValidationError(`${field}.deployRoot`, root, 'an absolute path of letters, digits, ".", "_", "-" and "/"', TARGET);
    }
    const runtimeArgs = host.runtimeArgs ?? [];
    runtimeArgs.forEach((arg, j) => {
      if (typeof arg !== 'string' || !SAFE_ARG.test(arg)) {
        throw new ModelDeploymentValidationError(`${field}.runtimeArgs[${j}]`, arg, 'an argument of letters, digits and . _ / = : , @ + -', TARGET);
      }
    });
    for (const [key, value] of Object.entries(host.labels ?? {})) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,62}$/.test(key) || typeof value !== 'string' || value.length > 256) {
        throw new ModelDeploymentValidationError(`${field}.labels`, { [key]: value }, 'keys of letters, digits and . _ / - (at most 63), string values of at most 256 characters', TARGET);
      }
    }
    const share = Math.floor(replicas / hosts.length) + (i < replicas % hosts.length ? 1 : 0);
    if (share > MAX_REPLICAS_PER_HOST) {
      throw new ModelDeploymentValidationError('scaling.minReplicas', replicas,
        `at most ${MAX_REPLICAS_PER_HOST} replicas per host (${hosts.length} host(s) here would run ${share} each): add hosts`, TARGET);
    }
    return { host, replicas: share, port, deploymentDir: `${root.replace(/\/+$/, '')}/${deployment}`, runtimeArgs };
  });
}

/**
 * Where Terraform puts the scripts it runs on a host: a directory in the SSH user's home (remote-exec
 * resolves a relative path from there), one per deployment (OWNER) and directory, so no two share it.
 */
export function remoteScriptDir(deployment: string, deploymentDir: string, owner: string): string {
  return `.model-deploy-${deployment}-${crypto.createHash('sha256').update(`${owner}\n${deploymentDir}`).digest('hex').slice(0, 8)}`;
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
    MD_MODEL_MOUNT: options.modelMountPath ?? '/opt/ml/model',
    MD_CONTAINER_PORT: String(spec.serving.port),
    MD_HEALTH_PATH: spec.serving.healthPath,
    MD_STARTUP_TIMEOUT: String(spec.serving.startupTimeoutSeconds),
    MD_REPLICAS: String(plan.replicas),
    MD_SLOT_PORT_BASE: String(options.slotPortBase ?? 18000),
    MD_PROXY_PORT: String(options.proxyPort ?? 8443),
    MD_PROXY_BIND: options.proxyBindAddress ?? '0.0.0.0',
    MD_TLS_CERT: options.tls?.certificatePath ?? '',
    MD_TLS_KEY: options.tls?.keyPath ?? '',
    MD_GPUS_PER_REPLICA: String(compute.gpuCount),
    MD_GPU_NAMES: gpu ? gpu.nvidiaSmiNames.join('|') : '',
    MD_GPU_MIN_MEMORY_MIB: gpu ? String(gpu.minReportedMemoryMiB) : '0',
    // CPU compute states what a replica needs, which becomes its limit; GPU compute states GPUs,
    // and a GPU server gets the host's CPUs and memory.
    MD_CPUS: compute.kind === ComputeKind.CPU ? String(compute.vcpus) : '',
    MD_MEMORY: compute.kind === ComputeKind.CPU ? `${Math.ceil(compute.memoryGiB * 1024)}m` : '',
    MD_MIN_FREE_DISK_MIB: '1024',
  };
}

/**
 * The version id: a hash of everything that must redeploy when it changes (the values, the
 * container environment and the key revision). It is what `triggers_replace` tracks.
 */
export function versionId(values: HostDeployValues, containerEnv: string, apiKeyRevision: number): string {
  const canonical = JSON.stringify({ values: Object.keys(values).sort().map(k => [k, values[k]]), containerEnv, apiKeyRevision });
  return 'v' + crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 12);
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

/**
 * The image id recorded in a `docker save` / `podman save` archive: its manifest names the
 * config blob, whose sha256 is the image id. Reads only tar headers and the manifest.
 */
export function readImageArchiveId(archivePath: string): string {
  const fail = (why: string) => new ModelDeploymentValidationError('imageArchive', archivePath, `a docker-archive tarball (docker save / podman save): ${why}`, TARGET);
  let fd: number;
  try {
    fd = fs.openSync(archivePath, 'r');
  } catch (e) {
    throw fail((e as Error).message);
  }
  try {
    const header = Buffer.alloc(512);
    let offset = 0;
    let longName: string | undefined;
    for (;;) {
      if (fs.readSync(fd, header, 0, 512, offset) < 512 || header.every(b => b === 0)) break;
      const name = longName ?? header.toString('utf8', 0, 100).replace(/\0.*$/s, '');
      const prefix = header.toString('utf8', 345, 500).replace(/\0.*$/s, '');
      const size = parseInt(header.toString('utf8', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      const type = String.fromCharCode(header[156]);
      const body = offset + 512;
      longName = undefined;
      if (type === 'L') {
        const buf = Buffer.alloc(size);
        fs.readSync(fd, buf, 0, size, body);
        longName = buf.toString('utf8').replace(/\0.*$/s, '');
      } else if ((prefix ? `${prefix}/${name}` : name).replace(/^\.\//, '') === 'manifest.json') {
        const buf = Buffer.alloc(size);
        fs.readSync(fd, buf, 0, size, body);
        const manifest = JSON.parse(buf.toString('utf8'));
        const config: unknown = Array.isArray(manifest) ? manifest[0]?.Config : undefined;
        const match = typeof config === 'string' ? /([a-f0-9]{64})(\.json)?$/.exec(config) : null;
        if (!match) throw fail('manifest.json names no config blob');
        return `sha256:${match[1]}`;
      }
      offset = body + Math.ceil(size / 512) * 512;
    }
    throw fail('no manifest.json in the archive');
  } finally {
    fs.closeSync(fd);
  }
}
