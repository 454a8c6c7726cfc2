/**
 * The host contract (lib/targets/on-prem/host-contract.ts) against the host script's own checks:
 * the generated region is current, and the synth and the script accept and refuse exactly the
 * same values. The script side runs in one bash process per property (its hidden check-contract
 * subcommand), so thousands of values cost about a second.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as fc from 'fast-check';
import {
  API_KEY, HOST_CONTRACT, HOST_CONTRACT_RULES, MAX_REPLICAS_PER_HOST, SLOT_PORTS_PER_HOST, apiKeyProblem, contractValueOk, contractViolations,
} from '../../lib/targets/on-prem/host-contract';
import { HOST_SCRIPT, regenerate, renderHostContract } from '../../scripts/generate-host-contract';

const SCALE = Number(process.env.PROPERTY_RUNS_SCALE ?? '1');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'host-contract-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Record = { kind: 'value'; key: string; value: string } | { kind: 'apikey'; value: string } | { kind: 'config'; values: { [key: string]: string } };

/** Runs the script's check-contract over the records: one line per record, 'ok' or 'refused\tFIELD'. */
function scriptVerdicts(records: Record[]): string[] {
  const parts: string[] = [];
  for (const r of records) {
    if (r.kind === 'value') parts.push('value', r.key, r.value);
    else if (r.kind === 'apikey') parts.push('apikey', r.value);
    else parts.push('config', String(Object.keys(r.values).length), ...Object.entries(r.values).flat());
  }
  const file = path.join(tmp, `records-${process.hrtime.bigint()}`);
  fs.writeFileSync(file, Buffer.concat(parts.map(p => Buffer.from(`${p}\0`, 'utf8'))));
  const run = spawnSync('bash', [HOST_SCRIPT, 'check-contract', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { PATH: process.env.PATH, MD_HOST: 'test' } });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const lines = run.stdout.split('\n');
  lines.pop();
  expect(lines).toHaveLength(records.length);
  return lines;
}

const VALID: { [key: string]: string } = {
  MD_DEPLOYMENT: 'fraud-scorer', MD_VERSION: 'v1a2b3c4d5e6f', MD_HOST: 'gpu01', MD_DIR: '/opt/model-deployments/fraud-scorer',
  MD_RUNTIME: 'podman', MD_RUNTIME_ARGS: '', MD_IMAGE: 'localhost/onnx-server:1', MD_ARTIFACT_SHA256: 'ab'.repeat(32),
  MD_MODEL_MOUNT: '/opt/ml/model', MD_CONTAINER_PORT: '8080', MD_HEALTH_PATH: '/ping', MD_STARTUP_TIMEOUT: '600', MD_REPLICAS: '1',
  MD_SLOT_PORT_BASE: '18000', MD_PROXY_PORT: '8443', MD_PROXY_BIND: '0.0.0.0', MD_ALLOWED_CLIENTS: '10.0.0.0/8,fd00::/8', MD_TLS_CERT: '', MD_TLS_KEY: '', MD_GPUS_PER_REPLICA: '0',
  MD_GPU_NAMES: '', MD_GPU_MIN_MEMORY_MIB: '0', MD_CPUS: '', MD_MEMORY: '', MD_MIN_FREE_DISK_MIB: '1024', MD_CAP_ADD: '', MD_READ_ONLY_ROOT: '0',
};

/** Values that have broken, or nearly broken, a limit somewhere. */
const HOSTILE = [
  '', ' ', '/', '//', '/.', '/..', '/...', '/a/./b', '/a/../b', '/a//b', '/a/', 'a', 'relative/path', './x', '~/x', '/opt/ml/model:rw',
  '/etc/c.pem; include /etc/shadow', '/$(id)', '/`id`', '/${HOME}', '/%{x}', "/a'b", '/a"b', '/a\\b', '/a b', '/a\tb', '/a\nb', '/a\rb',
  '/é', '/\u00a0', '/a\u2028', '[::1]', '::1', '::', '::ffff:1.2.3.4', 'fe80::1%eth0', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3',
  '0.0.0.0', '127.0.0.1', '255.255.255.255', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.4 ', 'localhost',
  '0', '00', '007', '-1', '+1', '1e3', '0x10', ' 1', '1 ', '1.0', '65535', '65536', '65408', '65409', '1023', '1024', '86400', '86401',
  '64', '65', '16', '17', '999999999', '1000000000', '99999999999999999999', 'v1a2b3c4d5e6f', 'V1A2B3C4D5E6F', 'v1a2b3c4d5e6',
  'a'.repeat(39), 'a'.repeat(40), 'a'.repeat(41), 'a'.repeat(63), 'a-', '-a', 'a--b', 'A', 'vision', 'Vision', 'gpu01', 'gpu-01', 'gpu--01',
  'docker', 'podman', 'Docker', 'nerdctl', '--root /srv', '--root  /srv', ' --root', '--root /srv/*', 'NVIDIA A10G', 'Tesla T4|NVIDIA L4',
  'A|', '|A', 'A||B', '2', '0.5', '0.1234', '12345', '4g', '512m', '4 gigs', '0g', 'NET_BIND_SERVICE', 'NET_BIND_SERVICE,CHOWN',
  'CAP_CHOWN', 'chown', 'CHOWN,', ',CHOWN', 'ALL', '1', '01', 'true', 'ab'.repeat(32), 'AB'.repeat(32), 'ab'.repeat(31),
];
/** More of them, for every key but kept out of valuesFor (whose samples other tests rely on). */
const HOSTILE_TOO = [
  `/srv/${'a'.repeat(85)}`, `/srv/${'a'.repeat(86)}`, '10.0.0.0/8', '10.0.0.0/33', '10.0.0.0/08', '10.0.0.0 /8', '10.0.0.0/8,', ',10.0.0.0/8',
  '10.0.0.0/8,,fd00::/8', '10.0.0.0/8,fd00::/8', '10.0.0.0/8 fd00::/8', 'fd00::/8', 'fd00::/129', 'fd00::/0128', '::ffff:1.2.3.4/96', '0.0.0.0/0', '::/0',
  'fe80::/10%eth0', '[fd00::]/8',
];

const ALPHABET = 'aA0z9-_./:@|, ~%?&=+()[]{}$`\'"\\;#*!\t\n\r\u00e9\u2028';
/** Random values near the shape a key expects, and far from it. */
function valuesFor(key: string): fc.Arbitrary<string> {
  const entry = HOST_CONTRACT.find(k => k.key === key)!;
  const valid = fc.stringMatching(new RegExp(entry.pattern)).filter(v => !v.includes('\0'));
  const near = valid.chain(v => fc.tuple(fc.nat({ max: v.length }), fc.constantFrom(...ALPHABET.split('')), fc.constantFrom('insert', 'replace', 'delete'))
    .map(([i, c, op]) => op === 'insert' ? v.slice(0, i) + c + v.slice(i) : op === 'replace' ? v.slice(0, i) + c + v.slice(i + 1) : v.slice(0, i) + v.slice(i + 1)));
  const numbers = entry.range
    ? fc.oneof(fc.integer({ min: entry.range[0] - 3, max: entry.range[0] + 3 }), fc.integer({ min: entry.range[1] - 3, max: entry.range[1] + 3 }), fc.integer({ min: -10, max: 2_000_000_000 })).map(String)
    : fc.constant(entry.default);
  return fc.oneof(
    { arbitrary: valid, weight: 3 },
    { arbitrary: near, weight: 4 },
    { arbitrary: numbers, weight: 2 },
    { arbitrary: fc.constantFrom(...HOSTILE), weight: 2 },
    { arbitrary: fc.string({ unit: fc.constantFrom(...ALPHABET.split('')), maxLength: 40 }), weight: 2 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).filter(v => !v.includes('\0')), weight: 1 },
  );
}

describe('the generated region', () => {
  test('modeldeploy.sh holds exactly a fresh generation of the contract (npm run generate:host-contract)', () => {
    const script = fs.readFileSync(HOST_SCRIPT, 'utf8');
    expect(regenerate(script)).toBe(script);
    expect(script).toContain(renderHostContract());
  });

  test('every pattern keeps to the subset that JavaScript and bash ERE read alike: anchored, no backslash, no . wildcard', () => {
    const patterns = [...HOST_CONTRACT.map(k => k.pattern), API_KEY.charsetPattern, API_KEY.firstCharPattern];
    for (const p of patterns) {
      expect(p.startsWith('^')).toBe(true);
      expect(p.includes('\\')).toBe(false);
      // A dot outside a bracket would be a wildcard (and match a line break in ERE only).
      expect(p.replace(/\[[^\]]*\]/g, '')).not.toMatch(/\./);
      expect(() => new RegExp(p)).not.toThrow();
    }
    expect(HOST_CONTRACT.every(k => k.pattern.endsWith('$'))).toBe(true);
  });

  test('the script reads no deploy.env key the contract does not define (one key list)', () => {
    const script = fs.readFileSync(HOST_SCRIPT, 'utf8');
    const used = new Set(script.match(/\bMD_[A-Z0-9_]+/g));
    const hooks = ['MD_HOST', 'MD_CDI_SPEC_DIRS', 'MD_BOOT_HOOK_DIR', 'MD_NAME'];
    const unknown = [...used].filter(k => !HOST_CONTRACT.some(c => c.key === k) && !hooks.includes(k) && !/^MD_(DIR|RUNTIME|DEPLOYMENT|VERSION)$/.test(k));
    expect(unknown).toEqual([]);
  });
});

describe('synth and host agree (property)', () => {
  test(`on every single value of every key (${Math.round(1500 * SCALE)} random values per key, plus the hostile list)`, () => {
    const records: Array<{ key: string; value: string }> = [];
    for (const entry of HOST_CONTRACT) {
      for (const value of [...HOSTILE, ...HOSTILE_TOO]) records.push({ key: entry.key, value });
      for (const value of fc.sample(valuesFor(entry.key), { numRuns: Math.round(1500 * SCALE), seed: 6 })) records.push({ key: entry.key, value });
    }
    const verdicts = scriptVerdicts(records.map(r => ({ kind: 'value' as const, ...r })));
    const disagreements = records.map((r, i) => ({ ...r, synth: contractValueOk(r.key, r.value), host: verdicts[i] === 'ok' }))
      .filter(d => d.synth !== d.host);
    expect(disagreements).toEqual([]);
    // Both sides refuse as well as accept: the property is not vacuous.
    const accepted = records.filter((_, i) => verdicts[i] === 'ok').length;
    expect(accepted).toBeGreaterThan(records.length / 5);
    expect(accepted).toBeLessThan(records.length * 0.9);
    expect(records.length).toBeGreaterThan(10_000 * Math.min(SCALE, 1));
  });

  test('on whole configurations, the rules between keys included', () => {
    const mutated = fc.record({
      MD_REPLICAS: fc.integer({ min: 0, max: MAX_REPLICAS_PER_HOST + 2 }).map(String),
      MD_SLOT_PORT_BASE: fc.oneof(fc.integer({ min: 1000, max: 65535 }), fc.constantFrom(1024, 65536 - SLOT_PORTS_PER_HOST, 65537 - SLOT_PORTS_PER_HOST, 18000)).map(String),
      MD_PROXY_PORT: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 17990, max: 18140 })).map(String),
      MD_TLS_CERT: fc.constantFrom('', '/etc/tls/cert.pem', 'cert.pem'),
      MD_TLS_KEY: fc.constantFrom('', '/etc/tls/key.pem'),
      MD_GPUS_PER_REPLICA: fc.constantFrom('0', '1', '2'),
      MD_GPU_NAMES: fc.constantFrom('', 'NVIDIA L4', 'Tesla T4|NVIDIA L4'),
      MD_DEPLOYMENT: fc.constantFrom('fraud-scorer', 'vision', 'a'.repeat(40), 'a'.repeat(41)),
      MD_DIR: fc.constantFrom('/opt/model-deployments/fraud-scorer', '/opt/model-deployments/vision', '/fraud-scorer', '/srv/x/' + 'a'.repeat(40), '/opt/../fraud-scorer'),
      // Optional keys (verification): absent means the default on both sides.
      MD_VERIFY_SAMPLES: fc.constantFrom('0', '1', '1', '10', '10', '11', ''),
      MD_VERIFY_SHA256: fc.constantFrom('', 'ab'.repeat(32), 'ab'.repeat(32), 'AB'.repeat(32)),
      MD_VERIFY_BUDGET_MS: fc.constantFrom('1', '5000', '5000', '600000', '600001', '0'),
      MD_VERIFY_PATH: fc.constantFrom('', '/invocations', '/invocations', 'invocations', '/v1/models/m:predict'),
    }, { requiredKeys: [] });
    const configs = fc.sample(mutated, { numRuns: Math.round(1500 * SCALE), seed: 13 }).map(m => ({ ...VALID, ...m } as { [key: string]: string }));
    const verdicts = scriptVerdicts(configs.map(values => ({ kind: 'config' as const, values })));
    const disagreements = configs.map((values, i) => {
      const synth = contractViolations(values);
      return { values, synth: synth.map(v => v.field), host: verdicts[i] };
    }).filter(d => (d.synth.length === 0) !== (d.host === 'ok') || (d.host !== 'ok' && !d.synth.some(f => d.host.includes(`invalid ${f} `))));
    expect(disagreements.slice(0, 5)).toEqual([]);
    for (const rule of HOST_CONTRACT_RULES) {
      // Each rule between keys is exercised: some configuration is refused by it alone.
      expect(configs.some(values => contractViolations(values).map(v => `${v.key}:${v.field}`).join() === `${rule.key}:${rule.field}`)).toBe(true);
    }
  });

  test(`on API keys (${Math.round(3000 * SCALE)} random keys, lengths around 16 and 1024)`, () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map(c => String.fromCharCode(c)), minLength: 10, maxLength: 30 });
    const safe = fc.stringMatching(/^[A-Za-z0-9+/=._-]+$/);
    const keys = fc.sample(fc.oneof(
      printable,
      safe,
      fc.integer({ min: 12, max: 20 }).map(n => 'k'.repeat(n)),
      fc.integer({ min: 1020, max: 1028 }).map(n => 'K'.repeat(n)),
      fc.tuple(fc.constantFrom('~', '[', ']', '^', '-', '#', 'é', '\t', ' '), safe).map(([c, k]) => `${c}${k}0123456789abcdef`),
      fc.string({ unit: 'binary', maxLength: 30 }).filter(k => !k.includes('\0') && !/[\n\r]/.test(k)),
    ), { numRuns: Math.round(3000 * SCALE), seed: 42 });
    const verdicts = scriptVerdicts(keys.map(value => ({ kind: 'apikey' as const, value })));
    const disagreements = keys.map((k, i) => ({ k, synth: apiKeyProblem(k) ?? 'ok', host: verdicts[i] }))
      .filter(d => (d.synth === 'ok') !== (d.host === 'ok') || (d.host !== 'ok' && d.host !== `refused\t${d.synth}`));
    expect(disagreements).toEqual([]);
    expect(verdicts.filter(v => v === 'ok').length).toBeGreaterThan(keys.length / 5);
  });
});

describe('the contract itself', () => {
  test('proxyBindAddress: exactly the IPv4 and IPv6 addresses node reads as such (no brackets, no zone)', () => {
    const candidates = fc.sample(fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'.split('')), maxLength: 20 })), { numRuns: 3000, seed: 3 });
    for (const value of [...candidates, ...HOSTILE]) {
      const expected = net.isIPv4(value) || (net.isIPv6(value) && !value.includes('.') && !value.includes('%'));
      if (contractValueOk('MD_PROXY_BIND', value) !== expected) throw new Error(`proxyBindAddress ${JSON.stringify(value)}: contract ${!expected}, node ${expected}`);
    }
  });

  test('allowedClientCidrs: exactly the lists of address/prefix that node reads as such (prefix up to 32 or 128, no leading zero)', () => {
    const address = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'.split('')), maxLength: 16 }));
    const prefix = fc.oneof(fc.integer({ min: 0, max: 130 }).map(String), fc.constantFrom('', '08', '-1', '1.5', ' 8'));
    const lists = fc.array(fc.tuple(address, prefix).map(([a, p]) => `${a}/${p}`), { minLength: 1, maxLength: 3 }).map(l => l.join(','));
    for (const value of [...fc.sample(lists, { numRuns: 3000, seed: 5 }), ...HOSTILE_TOO]) {
      const expected = value.split(',').every(cidr => {
        const [a, p, ...rest] = cidr.split('/');
        const v4 = net.isIPv4(a);
        const v6 = net.isIPv6(a) && !a.includes('.') && !a.includes('%');
        return rest.length === 0 && (v4 || v6) && /^(0|[1-9][0-9]*)$/.test(p ?? '') && Number(p) <= (v4 ? 32 : 128);
      });
      if (contractValueOk('MD_ALLOWED_CLIENTS', value) !== expected) throw new Error(`allowedClientCidrs ${JSON.stringify(value)}: contract ${!expected}, node ${expected}`);
    }
  });

  test('a value with a NUL byte is refused for every key (bash could not even see it)', () => {
    for (const entry of HOST_CONTRACT) expect(contractValueOk(entry.key, `${entry.default}\0`)).toBe(false);
  });

  test('the slot range of a host fits below 65536 for every accepted slotPortBase', () => {
    expect(contractValueOk('MD_SLOT_PORT_BASE', String(65536 - SLOT_PORTS_PER_HOST))).toBe(true);
    expect(contractValueOk('MD_SLOT_PORT_BASE', String(65537 - SLOT_PORTS_PER_HOST))).toBe(false);
    expect(contractValueOk('MD_REPLICAS', String(MAX_REPLICAS_PER_HOST))).toBe(true);
    expect(contractValueOk('MD_REPLICAS', String(MAX_REPLICAS_PER_HOST + 1))).toBe(false);
  });
});

describe('the construct and the host agree on option values (property, through the real construct)', () => {
  // Imported here so that the contract tests above do not pay for cdktf.
  const { TerraformStack, Testing } = require('cdktf') as typeof import('cdktf');
  const { ModelArtifact, ModelDeploymentValidationError, NetworkAccess, ServingContainer } = require('../../lib') as typeof import('../../lib');
  const { ContainerRuntime, OnPremModelEndpoint } = require('../../lib/targets/on-prem') as typeof import('../../lib/targets/on-prem');
  const apiKeys = path.join(tmp, 'api-keys');
  fs.writeFileSync(apiKeys, 'good-key-0123456789abcdef\n');
  const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
  const NAME = 'fraud-scorer';
  const PUBLIC_TLS = { certificatePath: '/etc/tls/cert.pem', keyPath: '/etc/tls/key.pem' };

  /** A stack with one endpoint on one host, EXTRA props added; throws the construct's refusal. */
  function endpointStack(extra: object): InstanceType<typeof TerraformStack> {
    const stack = new TerraformStack(Testing.app(), 's');
    new OnPremModelEndpoint(stack, 'Fraud', {
      model: ModelArtifact.fromLocalPath(path.join(__dirname, '..', 'fixtures', 'linear-model')),
      serving: ServingContainer.custom({ image: 'r/i:1' }),
      scaling: { minReplicas: 1 },
      hosts: [{ name: 'gpu01', address: '10.0.0.1', user: 'deploy', hostKey: HOST_KEY }],
      apiKeyFile: apiKeys,
      runtime: ContainerRuntime.PODMAN,
      endpointName: NAME,
      ...extra,
    });
    return stack;
  }

  /** The deploy.env a stack's host receives, as the host reads it (Terraform's escapes undone). */
  function deployEnvOf(stack: InstanceType<typeof TerraformStack>): { [key: string]: string } {
    const json = JSON.parse(Testing.synth(stack));
    const deploy = Object.values(json.resource.terraform_data as object).flatMap((r: any) => r.provisioner ?? []).map((p: any) => p.file).find((x: any) => x?.destination?.endsWith('/deploy.env'));
    return Object.fromEntries((deploy.content as string).trim().split('\n').map(l => { const m = /^(\w+)='(.*)'$/.exec(l)!; return [m[1], m[2].replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')]; }));
  }

  /** Each option field, the deploy.env values it becomes, and random values for it. */
  const FIELDS: Array<{ field: string; key: string; props: (v: any) => object; env: (v: any) => { [key: string]: string }; values: fc.Arbitrary<unknown> }> = [
    { field: 'modelMountPath', key: 'MD_MODEL_MOUNT', props: v => ({ modelMountPath: v }), env: v => ({ MD_MODEL_MOUNT: v }), values: valuesFor('MD_MODEL_MOUNT') },
    // PUBLIC: with PRIVATE the synth refuses public addresses besides (test/on-prem/synth-findings.test.ts).
    { field: 'proxyBindAddress', key: 'MD_PROXY_BIND', props: v => ({ proxyBindAddress: v, access: { network: NetworkAccess.PUBLIC }, tls: PUBLIC_TLS }),
      env: v => ({ MD_PROXY_BIND: v, MD_TLS_CERT: PUBLIC_TLS.certificatePath, MD_TLS_KEY: PUBLIC_TLS.keyPath }), values: valuesFor('MD_PROXY_BIND') },
    { field: 'tls.certificatePath', key: 'MD_TLS_CERT', props: v => ({ tls: { certificatePath: v, keyPath: '/etc/tls/key.pem' } }), env: v => ({ MD_TLS_CERT: v, MD_TLS_KEY: '/etc/tls/key.pem' }), values: valuesFor('MD_TLS_CERT') },
    { field: 'serving.healthPath', key: 'MD_HEALTH_PATH', props: v => ({ serving: ServingContainer.custom({ image: 'r/i:1', healthPath: v }) }), env: v => ({ MD_HEALTH_PATH: v, MD_IMAGE: 'r/i:1' }), values: valuesFor('MD_HEALTH_PATH') },
    { field: 'proxyPort', key: 'MD_PROXY_PORT', props: v => ({ proxyPort: v }), env: v => ({ MD_PROXY_PORT: String(v) }), values: fc.oneof(fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 17995, max: 18130 })) },
    { field: 'slotPortBase', key: 'MD_SLOT_PORT_BASE', props: v => ({ slotPortBase: v }), env: v => ({ MD_SLOT_PORT_BASE: String(v) }), values: fc.oneof(fc.integer({ min: 1000, max: 66000 }), fc.integer({ min: 65400, max: 65420 }), fc.integer({ min: 8300, max: 8450 })) },
    { field: 'hosts[0].deployRoot', key: 'MD_DIR', props: v => ({ hosts: [{ name: 'gpu01', address: '10.0.0.1', user: 'deploy', hostKey: HOST_KEY, deployRoot: v }] }), env: v => ({ MD_DIR: `${v.replace(/\/+$/, '')}/${NAME}` }), values: valuesFor('MD_MODEL_MOUNT') },
    { field: 'endpointName', key: 'MD_DEPLOYMENT', props: v => ({ endpointName: v }), env: v => ({ MD_DEPLOYMENT: v.toLowerCase(), MD_DIR: `/opt/model-deployments/${v.toLowerCase()}` }), values: fc.oneof(fc.stringMatching(/^[A-Za-z](-?[A-Za-z0-9]){0,50}$/), valuesFor('MD_DEPLOYMENT')) },
  ];

  test('allowedClientCidrs: every list the construct accepts, the host accepts (the construct refuses more: host bits, private ranges, duplicates)', () => {
    const cidr = fc.oneof(
      { arbitrary: fc.constantFrom('10.0.0.0/8', '10.20.0.0/16', '192.168.7.9/32', 'fd00::/8', 'fe80::/10', '203.0.113.0/24', '2001:db8::/32', '0.0.0.0/0', '::/0'), weight: 4 },
      { arbitrary: valuesFor('MD_ALLOWED_CLIENTS').map(v => v.split(',')[0]), weight: 1 },
    );
    const cases = fc.sample(fc.tuple(fc.array(cidr, { minLength: 0, maxLength: 3 }), fc.boolean()), { numRuns: Math.round(200 * SCALE), seed: 8 });
    const accepted: Array<{ [key: string]: string }> = [];
    for (const [cidrs, isPublic] of cases) {
      let stack: InstanceType<typeof TerraformStack>;
      try {
        stack = endpointStack({ allowedClientCidrs: cidrs, ...(isPublic ? { access: { network: NetworkAccess.PUBLIC }, tls: PUBLIC_TLS } : {}) });
      } catch (e) {
        if (!(e instanceof ModelDeploymentValidationError)) throw e;
        expect(e.field).toMatch(/^allowedClientCidrs(\[\d+\])?$/);
        continue;
      }
      accepted.push({ ...VALID, MD_ALLOWED_CLIENTS: deployEnvOf(stack).MD_ALLOWED_CLIENTS });
    }
    const verdicts = scriptVerdicts(accepted.map(values => ({ kind: 'config' as const, values })));
    expect(accepted.filter((_, i) => verdicts[i] !== 'ok')).toEqual([]);
    expect(accepted.length).toBeGreaterThan(cases.length / 5);
    expect(accepted.length).toBeLessThan(cases.length * 0.9);
  });

  test.each(FIELDS.map(f => [f.field, f]))('%s', (_field, f) => {
    const samples = fc.sample(f.values, { numRuns: Math.round(120 * SCALE), seed: 21 });
    const accepted: Array<{ value: unknown; env: { [key: string]: string } }> = [];
    const refused: Array<{ value: unknown; env: { [key: string]: string } }> = [];
    for (const value of samples) {
      let stack: InstanceType<typeof TerraformStack>;
      try {
        stack = endpointStack(f.props(value));
      } catch (e) {
        if (!(e instanceof ModelDeploymentValidationError)) throw e;
        // The spec may refuse a value before the target sees it (it is stricter for some paths).
        if (e.target === undefined) continue;
        expect([f.field, ...HOST_CONTRACT_RULES.map(r => r.field)]).toContain(e.field);
        refused.push({ value, env: { ...VALID, ...f.env(value) } });
        continue;
      }
      accepted.push({ value, env: deployEnvOf(stack) });
    }
    const verdicts = scriptVerdicts([...accepted, ...refused].map(r => ({ kind: 'config' as const, values: r.env })));
    const wrong = [
      ...accepted.map((r, i) => ({ value: r.value, synth: 'ok', host: verdicts[i] })).filter(d => d.host !== 'ok'),
      ...refused.map((r, i) => ({ value: r.value, synth: 'refused', host: verdicts[accepted.length + i] })).filter(d => d.host === 'ok'),
    ];
    expect(wrong).toEqual([]);
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
  });
});
