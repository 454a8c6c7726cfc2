/**
 * The host contract: every `deploy.env` key the host script reads, defined once. The synth
 * validation (host-config.ts, endpoint.ts) checks values against these definitions, and
 * scripts/generate-host-contract.ts writes the same definitions into the host script
 * (`# BEGIN GENERATED HOST CONTRACT` in host/modeldeploy.sh), so the two cannot drift.
 *
 * Patterns must mean the same to a JavaScript RegExp and to bash's `[[ =~ ]]` (POSIX ERE), so
 * they keep to a common subset: anchored with ^...$, no backslash at all (a literal special
 * character goes in a bracket: `[.]`, `[|]`), no `.` wildcard, no `]` inside a bracket.
 */
import { VERIFICATION_LIMITS } from '../../spec/verification';

/** Replicas one host may run; replica r of colour c listens on slotPortBase + c * 64 + r. */
export const MAX_REPLICAS_PER_HOST = 64;
/** The loopback ports a host reserves from slotPortBase: two colours of MAX_REPLICAS_PER_HOST. */
export const SLOT_PORTS_PER_HOST = 2 * MAX_REPLICAS_PER_HOST;
/** The longest deployment name (its directory on the hosts and its container names' prefix). */
export const MAX_DEPLOYMENT_NAME_LENGTH = 40;
/**
 * The proxy's own probe socket, under the deployment directory: the host script checks each new
 * version through it. A Unix socket path holds at most 107 bytes, which bounds the directory.
 */
export const PROBE_SOCKET = 'proxy/probe.sock';
/** The longest deployment directory (deployRoot + / + name): its probe socket path must fit 107 bytes. */
export const MAX_DEPLOYMENT_DIR_LENGTH = 107 - PROBE_SOCKET.length - 1;

const COMPONENT = '([A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][A-Za-z0-9_+-][A-Za-z0-9._+-]*|[.][.][A-Za-z0-9._+-]+)';
/** An absolute path of safe characters without `.` or `..` components; not `/`. */
export const SAFE_PATH_PATTERN = `^(/${COMPONENT})+$`;
const SAFE_PATH_ALLOWED = 'an absolute path other than / of letters, digits and . _ + - (no spaces, no "." or ".." components)';
/** One global argument of the container runtime. */
export const RUNTIME_ARG_PATTERN = '^[A-Za-z0-9._/=:,@+-]+$';
export const RUNTIME_ARG_ALLOWED = 'an argument of letters, digits and . _ / = : , @ + -';
export const IMAGE_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$';
const UINT = '^(0|[1-9][0-9]{0,8})$';
const OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
const IPV4 = `${OCTET}([.]${OCTET}){3}`;
const H = '[0-9A-Fa-f]{1,4}';
const IPV6 = [
  `(${H}:){7}${H}`, `(${H}:){1,7}:`, `(${H}:){1,6}:${H}`, `(${H}:){1,5}(:${H}){1,2}`, `(${H}:){1,4}(:${H}){1,3}`,
  `(${H}:){1,3}(:${H}){1,4}`, `(${H}:){1,2}(:${H}){1,5}`, `${H}:(:${H}){1,6}`, `:((:${H}){1,7}|:)`,
].join('|');
/** Linux capabilities (capabilities(7)) a container may get back, without the CAP_ prefix. */
export const LINUX_CAPABILITIES = [
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN', 'DAC_OVERRIDE',
  'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN',
  'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID',
  'SETPCAP', 'SETUID', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT', 'SYS_PTRACE',
  'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'SYSLOG', 'WAKE_ALARM',
] as const;
const CAPABILITY = `(${LINUX_CAPABILITIES.join('|')})`;
/** One IPv4 or IPv6 CIDR, address/prefix length (the addresses as MD_PROXY_BIND takes them). */
export const CIDR_PATTERN = `((${IPV4})/(3[0-2]|[12][0-9]|[0-9])|(${IPV6})/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))`;
/**
 * The client address ranges access.network PRIVATE admits: loopback, RFC 1918, carrier-grade NAT
 * (RFC 6598), link-local and unique local addresses (RFC 4193).
 */
export const PRIVATE_CLIENT_CIDRS: readonly string[] = [
  '127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '169.254.0.0/16', 'fe80::/10', 'fc00::/7',
];
/** What access.network PUBLIC admits unless allowedClientCidrs narrows it: every address. */
export const PUBLIC_CLIENT_CIDRS: readonly string[] = ['0.0.0.0/0', '::/0'];
/** The most entries allowedClientCidrs may have. */
export const MAX_CLIENT_CIDRS = 64;
const GPU_NAME = '[A-Za-z0-9 ._()/+-]+';
const URL_PATH = '/[A-Za-z0-9._~/%?&=+:-]*';
/** The file beside deploy.env that holds a version's verification samples (host-config.ts renderSamplesFile). */
export const SAMPLES_FILE = 'samples.tsv';

/** One deploy.env key: a pattern, and for integers a range or for some strings a maximum length. */
export interface HostContractKey {
  /** The deploy.env variable. */
  readonly key: string;
  /** The spec or option field it comes from, as the user writes it (`hosts[]` for the host's index). */
  readonly field: string;
  /** An anchored pattern valid both as a JavaScript RegExp and as a bash ERE. */
  readonly pattern: string;
  /** For integers: the inclusive range (the pattern then only admits plain decimal numbers). */
  readonly range?: readonly [number, number];
  /** For strings: the most characters (the pattern's characters are all ASCII, so bytes too). */
  readonly maxLength?: number;
  /** The value when the user sets nothing ('' where the construct always computes it). */
  readonly default: string;
  /** What is allowed, for error messages on both sides. */
  readonly allowed: string;
  /**
   * Written only when the spec uses it (verification): a config without it means the default, so
   * deploy.env, and the version id, of a deployment that does not use it are as before it existed.
   */
  readonly optional?: boolean;
}

function integer(key: string, field: string, min: number, max: number, dflt: string, allowed?: string): HostContractKey {
  return { key, field, pattern: UINT, range: [min, max], default: dflt, allowed: allowed ?? `an integer from ${min} to ${max}` };
}

/** The deploy.env keys, in the order the construct writes them and the script checks them. */
export const HOST_CONTRACT: readonly HostContractKey[] = [
  { key: 'MD_DEPLOYMENT', field: 'endpointName', pattern: `^[a-z0-9][a-z0-9-]{0,${MAX_DEPLOYMENT_NAME_LENGTH - 1}}$`, default: '',
    allowed: `1 to ${MAX_DEPLOYMENT_NAME_LENGTH} characters of a-z, 0-9 and -, starting with a letter or digit (on-prem hosts name directories and containers after it)` },
  { key: 'MD_VERSION', field: 'version', pattern: '^v[0-9a-f]{12}$', default: '', allowed: 'v followed by 12 lower-case hex digits' },
  { key: 'MD_HOST', field: 'hosts[].name', pattern: '^[a-z0-9](-?[a-z0-9]){0,30}$', default: '',
    allowed: 'lower-case letters, digits and single hyphens, at most 31 characters' },
  { key: 'MD_DIR', field: 'hosts[].deployRoot', pattern: `^(/${COMPONENT}){2,}$`, maxLength: MAX_DEPLOYMENT_DIR_LENGTH, default: '/opt/model-deployments',
    allowed: `${SAFE_PATH_ALLOWED}, at most ${MAX_DEPLOYMENT_DIR_LENGTH} characters with the deployment name (the proxy's probe socket path must fit a Unix socket address)` },
  { key: 'MD_RUNTIME', field: 'runtime', pattern: '^(docker|podman)$', default: 'docker', allowed: 'docker or podman' },
  { key: 'MD_RUNTIME_ARGS', field: 'hosts[].runtimeArgs', pattern: '^([A-Za-z0-9._/=:,@+-]+( [A-Za-z0-9._/=:,@+-]+)*)?$', default: '',
    allowed: 'arguments of letters, digits and . _ / = : , @ + -' },
  { key: 'MD_IMAGE', field: 'serving.image', pattern: IMAGE_PATTERN, default: '',
    allowed: 'an image reference of letters, digits and . _ / : @ -, at most 255 characters' },
  { key: 'MD_ARTIFACT_SHA256', field: 'model', pattern: '^[0-9a-f]{64}$', default: '', allowed: '64 lower-case hex digits' },
  { key: 'MD_MODEL_MOUNT', field: 'modelMountPath', pattern: SAFE_PATH_PATTERN, default: '/opt/ml/model', allowed: SAFE_PATH_ALLOWED },
  integer('MD_CONTAINER_PORT', 'serving.port', 1, 65535, '8080'),
  { key: 'MD_HEALTH_PATH', field: 'serving.healthPath', pattern: `^${URL_PATH}$`, default: '/ping',
    allowed: 'a URL path starting with / of letters, digits and . _ ~ / % ? & = + : -' },
  integer('MD_STARTUP_TIMEOUT', 'serving.startupTimeoutSeconds', 1, 86400, '600'),
  integer('MD_REPLICAS', 'scaling.minReplicas', 1, MAX_REPLICAS_PER_HOST, '1',
    `1 to ${MAX_REPLICAS_PER_HOST} replicas per host (at most ${MAX_REPLICAS_PER_HOST} x the number of hosts)`),
  integer('MD_SLOT_PORT_BASE', 'slotPortBase', 1024, 65536 - SLOT_PORTS_PER_HOST, '18000',
    `an integer from 1024 to ${65536 - SLOT_PORTS_PER_HOST} (a host reserves ${SLOT_PORTS_PER_HOST} ports from it)`),
  integer('MD_PROXY_PORT', 'proxyPort', 1, 65535, '8443'),
  { key: 'MD_PROXY_BIND', field: 'proxyBindAddress', pattern: `^(${IPV4}|${IPV6})$`, default: '0.0.0.0',
    allowed: 'an IPv4 or IPv6 address without brackets (0.0.0.0 for every IPv4 interface)' },
  { key: 'MD_ALLOWED_CLIENTS', field: 'allowedClientCidrs', pattern: `^${CIDR_PATTERN}(,${CIDR_PATTERN})*$`, default: PRIVATE_CLIENT_CIDRS.join(','),
    allowed: 'IPv4 or IPv6 CIDRs (address/prefix length, such as 10.20.0.0/16 or fd00::/8), separated by commas' },
  { key: 'MD_TLS_CERT', field: 'tls.certificatePath', pattern: `^((/${COMPONENT})+)?$`, default: '', allowed: `empty or ${SAFE_PATH_ALLOWED}` },
  { key: 'MD_TLS_KEY', field: 'tls.keyPath', pattern: `^((/${COMPONENT})+)?$`, default: '', allowed: `empty or ${SAFE_PATH_ALLOWED}` },
  integer('MD_GPUS_PER_REPLICA', 'compute.count', 0, 16, '0'),
  { key: 'MD_GPU_NAMES', field: 'compute.gpu', pattern: `^(${GPU_NAME}([|]${GPU_NAME})*)?$`, default: '',
    allowed: 'GPU names as nvidia-smi prints them, separated by |' },
  integer('MD_GPU_MIN_MEMORY_MIB', 'compute.gpu', 0, 10_000_000, '0'),
  { key: 'MD_CPUS', field: 'compute.vcpus', pattern: '^([0-9]{1,4}([.][0-9]{1,3})?)?$', default: '',
    allowed: 'empty or a number of CPUs with at most 3 decimals, such as 2 or 0.5' },
  { key: 'MD_MEMORY', field: 'compute.memoryGiB', pattern: '^([1-9][0-9]{0,12}[bkmgBKMG]?)?$', default: '',
    allowed: 'empty or a size such as 4g or 512m' },
  integer('MD_MIN_FREE_DISK_MIB', 'minFreeDiskMiB', 0, 10_000_000, '1024'),
  { key: 'MD_CAP_ADD', field: 'containerCapabilities', pattern: `^(${CAPABILITY}(,${CAPABILITY})*)?$`, default: '',
    allowed: 'Linux capability names without the CAP_ prefix (e.g. NET_BIND_SERVICE), separated by commas' },
  { key: 'MD_READ_ONLY_ROOT', field: 'readOnlyRootFilesystem', pattern: '^[01]$', default: '0', allowed: '0 or 1' },
  { ...integer('MD_VERIFY_SAMPLES', 'verification.samples', 0, VERIFICATION_LIMITS.maxSamples, '0'), optional: true },
  { key: 'MD_VERIFY_SHA256', field: 'verification.samples', pattern: '^([0-9a-f]{64})?$', default: '', optional: true,
    allowed: `empty, or the sha256 of ${SAMPLES_FILE} (64 lower-case hex digits)` },
  { ...integer('MD_VERIFY_BUDGET_MS', 'verification.latencyBudgetMs', 1, VERIFICATION_LIMITS.maxLatencyBudgetMs, String(VERIFICATION_LIMITS.defaultLatencyBudgetMs)), optional: true },
  { key: 'MD_VERIFY_PATH', field: 'serving.predictPath', pattern: `^(${URL_PATH})?$`, default: '', optional: true,
    allowed: 'a URL path starting with / of letters, digits and . _ ~ / % ? & = + : - (where the samples are sent)' },
];

/** Rules between keys. Each kind has one implementation per side (here and in the generator). */
export type HostContractRule =
  | { readonly kind: 'endsWith'; readonly key: string; readonly suffixKey: string; readonly field: string; readonly allowed: string }
  | { readonly kind: 'outsideRange'; readonly key: string; readonly baseKey: string; readonly width: number; readonly field: string; readonly allowed: string }
  | { readonly kind: 'together'; readonly key: string; readonly otherKey: string; readonly field: string; readonly allowed: string }
  | { readonly kind: 'requiredWhenPositive'; readonly key: string; readonly whenKey: string; readonly field: string; readonly allowed: string };

export const HOST_CONTRACT_RULES: readonly HostContractRule[] = [
  { kind: 'endsWith', key: 'MD_DIR', suffixKey: 'MD_DEPLOYMENT', field: 'hosts[].deployRoot', allowed: 'MD_DIR is the deploy root followed by /<deployment name>' },
  { kind: 'outsideRange', key: 'MD_PROXY_PORT', baseKey: 'MD_SLOT_PORT_BASE', width: SLOT_PORTS_PER_HOST, field: 'proxyPort',
    allowed: `a port outside the slot ports slotPortBase to slotPortBase + ${SLOT_PORTS_PER_HOST - 1}` },
  { kind: 'together', key: 'MD_TLS_CERT', otherKey: 'MD_TLS_KEY', field: 'tls', allowed: 'both certificatePath and keyPath (TLS), or no tls (plain HTTP)' },
  { kind: 'requiredWhenPositive', key: 'MD_GPU_NAMES', whenKey: 'MD_GPUS_PER_REPLICA', field: 'compute.gpu', allowed: 'the GPU names to look for when a replica needs GPUs' },
  { kind: 'requiredWhenPositive', key: 'MD_VERIFY_SHA256', whenKey: 'MD_VERIFY_SAMPLES', field: 'verification.samples', allowed: `the sha256 of ${SAMPLES_FILE} when there are samples` },
  { kind: 'requiredWhenPositive', key: 'MD_VERIFY_PATH', whenKey: 'MD_VERIFY_SAMPLES', field: 'serving.predictPath', allowed: 'the path the samples are sent to when there are samples' },
];

/** API keys (one per line of apiKeyFile): what nginx can match exactly and safely. */
export const API_KEY = {
  minLength: 16,
  maxLength: 1024,
  /** Printable ASCII except quotes, backslash, ;, {, }, $, # and backtick. */
  charsetPattern: '^([A-Za-z0-9!%&()*+,./:<=>?@^_|~-]|[[]|])+$',
  charsetAllowed: 'only letters, digits and printable ASCII other than quotes, backslash, ;, {, }, $, # and backtick (no spaces, no other characters)',
  firstCharPattern: '^[^~]',
  firstCharAllowed: 'a first character other than ~ (nginx would read the key as a regular expression)',
} as const;

const CONTRACT_BY_KEY = new Map(HOST_CONTRACT.map(k => [k.key, k]));
const COMPILED = new Map(HOST_CONTRACT.map(k => [k.key, new RegExp(k.pattern)]));

export function contractKey(key: string): HostContractKey {
  const entry = CONTRACT_BY_KEY.get(key);
  // Internal invariant: callers pass the contract's own key constants, never user input.
  if (!entry) throw new Error(`no deploy.env key ${key} in the host contract`);
  return entry;
}

/** Whether one value passes its key's own rule (the script's contract_value_ok). */
export function contractValueOk(key: string, value: string): boolean {
  const entry = contractKey(key);
  if (!COMPILED.get(key)!.test(value)) return false;
  if (entry.maxLength !== undefined && value.length > entry.maxLength) return false;
  return entry.range === undefined || (Number(value) >= entry.range[0] && Number(value) <= entry.range[1]);
}

/** One broken rule: the contract key, the field as the user writes it, and what is allowed. */
export interface ContractViolation {
  readonly key: string;
  readonly field: string;
  readonly allowed: string;
}

/**
 * Every violation in a full set of deploy.env values: each key's own rule, then the rules
 * between keys (only where the keys they read are valid, as on the host).
 */
export function contractViolations(given: { readonly [key: string]: string }): ContractViolation[] {
  const values = withOptionalDefaults(given);
  const out: ContractViolation[] = [];
  const bad = new Set<string>();
  for (const entry of HOST_CONTRACT) {
    const value = values[entry.key];
    if (value === undefined || !contractValueOk(entry.key, value)) {
      out.push({ key: entry.key, field: entry.field, allowed: entry.allowed });
      bad.add(entry.key);
    }
  }
  for (const rule of HOST_CONTRACT_RULES) {
    const other = rule.kind === 'endsWith' ? rule.suffixKey : rule.kind === 'outsideRange' ? rule.baseKey : rule.kind === 'together' ? rule.otherKey : rule.whenKey;
    if (bad.has(rule.key) || bad.has(other)) continue;
    if (ruleHolds(rule, values[rule.key], values[other])) continue;
    const here = rule.kind === 'outsideRange' ? ` (here ${values[other]}-${Number(values[other]) + rule.width - 1})` : '';
    out.push({ key: rule.key, field: rule.field, allowed: rule.allowed + here });
  }
  return out;
}

/** The values with each optional key that is absent set to its default, as the host reads them. */
export function withOptionalDefaults(values: { readonly [key: string]: string }): { readonly [key: string]: string } {
  const out: { [key: string]: string } = { ...values };
  for (const entry of HOST_CONTRACT) if (entry.optional && out[entry.key] === undefined) out[entry.key] = entry.default;
  return out;
}

function ruleHolds(rule: HostContractRule, value: string, other: string): boolean {
  switch (rule.kind) {
    case 'endsWith': return value.endsWith(`/${other}`);
    case 'outsideRange': return Number(value) < Number(other) || Number(value) > Number(other) + rule.width - 1;
    case 'together': return (value === '') === (other === '');
    case 'requiredWhenPositive': return Number(other) === 0 || value !== '';
  }
}

/** The rule an API key breaks, or undefined. Never echoes the key. */
export function apiKeyProblem(key: string): string | undefined {
  if (!new RegExp(API_KEY.charsetPattern).test(key)) return API_KEY.charsetAllowed;
  if (!new RegExp(API_KEY.firstCharPattern).test(key)) return API_KEY.firstCharAllowed;
  if (key.length < API_KEY.minLength || key.length > API_KEY.maxLength) return `${API_KEY.minLength} to ${API_KEY.maxLength} characters (this one has ${key.length})`;
  return undefined;
}

/** The lines of a key file the script reads as keys: CR stripped, blank and # lines skipped. */
export function apiKeyLines(text: string): Array<{ line: number; key: string }> {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l, i) => ({ line: i + 1, key: l.replace(/\r$/, '') })).filter(l => l.key !== '' && !l.key.startsWith('#'));
}
