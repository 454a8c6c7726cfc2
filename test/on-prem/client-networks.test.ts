/**
 * access.network on hosts (issue 7, item 7): what each host's proxy answers (MD_ALLOWED_CLIENTS in
 * deploy.env), allowedClientCidrs, and the refusals at synth: PUBLIC without tls, public networks
 * or a public bind address with PRIVATE, malformed lists. Through the public API only; the
 * private ranges are checked against node's own net.BlockList.
 */
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as fc from 'fast-check';
import { TerraformStack, Testing } from 'cdktf';
import { ModelArtifact, ModelDeploymentValidationError, NetworkAccess, ServingContainer } from '../../lib';
import { ContainerRuntime, OnPremModelEndpoint, OnPremModelEndpointProps } from '../../lib/targets/on-prem';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-networks-'));
const API_KEYS = path.join(tmp, 'api-keys');
fs.writeFileSync(API_KEYS, 'good-key-0123456789abcdef\n');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
const TLS = { certificatePath: '/etc/tls/cert.pem', keyPath: '/etc/tls/key.pem' };
const PUBLIC = { access: { network: NetworkAccess.PUBLIC } };
const PRIVATE_RANGES = '127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,fe80::/10,fc00::/7';

function props(extra: object): OnPremModelEndpointProps {
  return {
    model: ModelArtifact.fromLocalPath(FIXTURE),
    serving: ServingContainer.custom({ image: 'registry.internal/fraud-scorer:4.2.0' }),
    hosts: [{ name: 'gpu01', address: '10.20.0.11', user: 'deploy', hostKey: HOST_KEY }],
    apiKeyFile: API_KEYS,
    runtime: ContainerRuntime.PODMAN,
    endpointName: 'fraud',
    ...extra,
  } as OnPremModelEndpointProps;
}

function synth(extra: object = {}) {
  const stack = new TerraformStack(Testing.app(), 'onprem');
  const endpoint = new OnPremModelEndpoint(stack, 'Fraud', props(extra));
  return { endpoint, json: JSON.parse(Testing.synth(stack)) };
}

/** The deploy.env the host receives, as the host reads it. */
function deployEnv(extra: object = {}): Record<string, string> {
  const resources = Object.values(synth(extra).json.resource.terraform_data as Record<string, { provisioner?: Array<{ file?: { destination: string; content: string } }> }>);
  const file = resources.flatMap(r => r.provisioner ?? []).map(p => p.file).find(f => f?.destination.endsWith('/deploy.env'))!;
  return Object.fromEntries(file.content.trim().split('\n').map(l => /^(\w+)='(.*)'$/.exec(l)!.slice(1, 3)));
}

function refusal(fn: () => unknown): ModelDeploymentValidationError {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  if (!(error instanceof ModelDeploymentValidationError)) throw new Error(`expected a ModelDeploymentValidationError, got ${String(error)}`);
  return error;
}

function expectRefusal(extra: object, field: string, allowed: RegExp): ModelDeploymentValidationError {
  const e = refusal(() => synth(extra));
  expect(e.field).toBe(field);
  expect(e.target).toBe('onPrem');
  expect(e.allowed).toMatch(allowed);
  expect(e.message).not.toMatch(/\bMD_[A-Z_]+/);
  return e;
}

describe('what the proxies answer (MD_ALLOWED_CLIENTS)', () => {
  test('PRIVATE by default: loopback, RFC 1918, CGNAT, link-local and ULA, nothing else', () => {
    expect(deployEnv().MD_ALLOWED_CLIENTS).toBe(PRIVATE_RANGES);
    expect(deployEnv({ access: { network: NetworkAccess.PRIVATE } }).MD_ALLOWED_CLIENTS).toBe(PRIVATE_RANGES);
  });

  test('allowedClientCidrs narrows PRIVATE to the networks given, in their order', () => {
    expect(deployEnv({ allowedClientCidrs: ['10.20.0.0/16', 'fd00:1::/64', '192.168.7.9/32'] }).MD_ALLOWED_CLIENTS).toBe('10.20.0.0/16,fd00:1::/64,192.168.7.9/32');
  });

  test('PUBLIC with tls: every address by default, or the CIDRs given (public ones too)', () => {
    expect(deployEnv({ ...PUBLIC, tls: TLS }).MD_ALLOWED_CLIENTS).toBe('0.0.0.0/0,::/0');
    expect(deployEnv({ ...PUBLIC, tls: TLS, allowedClientCidrs: ['203.0.113.0/24', '2001:db8::/32', '10.0.0.0/8'] }).MD_ALLOWED_CLIENTS)
      .toBe('203.0.113.0/24,2001:db8::/32,10.0.0.0/8');
  });

  test('changing only allowedClientCidrs is a new version (a blue/green redeploy, like the other proxy settings); nothing else is replaced', () => {
    const before = synth().json.resource.terraform_data;
    const after = synth({ allowedClientCidrs: ['10.20.0.0/16'] }).json.resource.terraform_data;
    const changed = Object.keys(before).filter(k => JSON.stringify(before[k].triggers_replace) !== JSON.stringify(after[k].triggers_replace));
    expect(changed).toEqual([expect.stringMatching(/_gpu01-deployment_/)]);
  });
});

describe('refused at synth', () => {
  test('PUBLIC without tls, naming tls and why', () => {
    expectRefusal(PUBLIC, 'tls', /API keys .* would cross networks in clear text/);
    expect(() => synth({ ...PUBLIC, tls: TLS })).not.toThrow();
  });

  test.each([
    ['a public network', ['10.20.0.0/16', '203.0.113.0/24'], 'allowedClientCidrs[1]'],
    ['everyone', ['0.0.0.0/0'], 'allowedClientCidrs[0]'],
    ['every IPv6 address', ['::/0'], 'allowedClientCidrs[0]'],
    ['a range that only starts private (10.0.0.0/7)', ['10.0.0.0/7'], 'allowedClientCidrs[0]'],
    ['just past 172.16.0.0/12', ['172.32.0.0/16'], 'allowedClientCidrs[0]'],
    ['IPv4-mapped IPv6', ['::ffff:0:0/96'], 'allowedClientCidrs[0]'],
  ])('with PRIVATE, %s, saying to set access.network PUBLIC', (_name, cidrs, field) => {
    expectRefusal({ allowedClientCidrs: cidrs }, field, /inside the private ranges .* set access\.network to NetworkAccess\.PUBLIC/);
    expect(() => synth({ ...PUBLIC, tls: TLS, allowedClientCidrs: cidrs })).not.toThrow();
  });

  test.each([
    ['a host name', 'intranet.lab'],
    ['an address without a prefix length', '10.0.0.1'],
    ['a prefix past 32', '10.0.0.0/33'],
    ['a prefix past 128', 'fd00::/129'],
    ['a zero-padded prefix', '10.0.0.0/08'],
    ['brackets', '[fd00::]/8'],
    ['a zone', 'fe80::/10%eth0'],
    ['two CIDRs in one entry', '10.0.0.0/8,192.168.0.0/16'],
    ['an nginx directive', '10.0.0.0/8; allow all'],
    ['a Terraform template', '${file("/etc/passwd")}'],
  ])('an entry with %s', (_name, cidr) => {
    expectRefusal({ allowedClientCidrs: ['10.20.0.0/16', cidr] }, 'allowedClientCidrs[1]', /an IPv4 or IPv6 CIDR, address\/prefix length/);
  });

  test('a CIDR with host bits set, naming the network address it means', () => {
    expectRefusal({ allowedClientCidrs: ['10.20.1.5/16'] }, 'allowedClientCidrs[0]', /network address of the range: 10\.20\.0\.0\/16 .*\/32/);
    expectRefusal({ allowedClientCidrs: ['fd00:1::7/64'] }, 'allowedClientCidrs[0]', /network address of the range: fd00:1::\/64 .*\/128/);
    expect(() => synth({ allowedClientCidrs: ['10.20.0.0/16', '10.20.1.5/32', 'fd00:1::7/128'] })).not.toThrow();
  });

  test('an empty list, more than 64 networks, the same network twice, a list that is not an array of strings', () => {
    expectRefusal({ allowedClientCidrs: [] }, 'allowedClientCidrs', /at least one CIDR; leave allowedClientCidrs out for the default \(the private ranges/);
    expectRefusal({ ...PUBLIC, tls: TLS, allowedClientCidrs: [] }, 'allowedClientCidrs', /default \(every address\)/);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`);
    expect(() => synth({ allowedClientCidrs: many(64) })).not.toThrow();
    expectRefusal({ allowedClientCidrs: many(65) }, 'allowedClientCidrs', /at most 64 CIDRs/);
    expectRefusal({ allowedClientCidrs: ['10.20.0.0/16', 'fd00::/8', 'FD00:0::/8'] }, 'allowedClientCidrs[2]', /each network once \(allowedClientCidrs\[1\]/);
    expectRefusal({ allowedClientCidrs: '10.0.0.0/8' }, 'allowedClientCidrs', /an array of CIDR strings/);
    expectRefusal({ allowedClientCidrs: [10] }, 'allowedClientCidrs', /an array of CIDR strings/);
  });

  test('with PRIVATE, a public proxyBindAddress; every interface or a private address is fine, and anything with PUBLIC', () => {
    for (const bind of ['203.0.113.7', '8.8.8.8', '2001:db8::1', '172.32.0.1']) {
      expectRefusal({ proxyBindAddress: bind }, 'proxyBindAddress', /0\.0\.0\.0, :: or an address inside the private ranges .* set access\.network to NetworkAccess\.PUBLIC/);
      expect(() => synth({ ...PUBLIC, tls: TLS, proxyBindAddress: bind })).not.toThrow();
    }
    for (const bind of ['0.0.0.0', '::', '127.0.0.1', '::1', '10.20.0.11', '192.168.1.2', '100.64.0.1', 'fd12:3456::1', 'fe80::1']) {
      expect(() => synth({ proxyBindAddress: bind })).not.toThrow();
    }
  });

  test('every refusal of one synth is collected', () => {
    const e = refusal(() => synth({ ...PUBLIC, proxyBindAddress: 'x', allowedClientCidrs: ['10.0.0.1/8', 'nope'] }));
    for (const field of ['tls', 'allowedClientCidrs[0]', 'allowedClientCidrs[1]', 'proxyBindAddress']) expect(e.message).toContain(`invalid ${field}:`);
  });
});

describe('PRIVATE admits exactly the networks inside the private ranges (property, against node\'s net.BlockList)', () => {
  const blockList = new net.BlockList();
  for (const cidr of PRIVATE_RANGES.split(',')) {
    const [address, prefix] = cidr.split('/');
    blockList.addSubnet(address, Number(prefix), net.isIPv6(address) ? 'ipv6' : 'ipv4');
  }
  const text = (v6: boolean, n: bigint) => v6
    ? Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':')
    : [24n, 16n, 8n, 0n].map(s => String((n >> s) & 255n)).join('.');
  const number = (address: string): bigint => {
    if (!address.includes(':')) return address.split('.').reduce((n, octet) => (n << 8n) | BigInt(octet), 0n);
    const [left, right] = address.split('::').map(half => (half ? half.split(':') : []));
    return [...left, ...Array(8 - left.length - right.length).fill('0'), ...right].reduce((n, group) => (n << 16n) | BigInt(`0x${group}`), 0n);
  };
  const ones = (n: number) => (1n << BigInt(n)) - 1n;
  /** A random network: anywhere, or around one of the private ranges (its prefix -3 to +8, random bits below it, or from 3 above it). */
  const networks = fc.record({
    around: fc.option(fc.constantFrom(...PRIVATE_RANGES.split(',')), { freq: 3 }),
    v6: fc.boolean(),
    random: fc.bigInt({ min: 0n, max: ones(128) }),
    step: fc.nat({ max: 128 }),
  }).map(({ around, v6: anyV6, random, step }) => {
    const [anchor, anchorPrefix] = around === null ? ['::', 0] : [around.split('/')[0], Number(around.split('/')[1])];
    const v6 = around === null ? anyV6 : net.isIPv6(anchor);
    const bits = v6 ? 128 : 32;
    const free = around === null ? bits : Math.min(bits, bits - anchorPrefix + (step % 2) * 3);
    const prefix = around === null ? step % (bits + 1) : Math.max(0, Math.min(bits, anchorPrefix - 3 + (step % 12)));
    const hostBits = ones(bits - prefix);
    const first = ((around === null ? 0n : number(anchor)) ^ (random & ones(free))) & ~hostBits & ones(bits);
    return { v6, first, last: first | hostBits, cidr: `${text(v6, first)}/${prefix}` };
  });

  test('400 random networks: accepted with PRIVATE exactly when their first and last address are private', () => {
    const samples = fc.sample(networks, { numRuns: 400, seed: 7 });
    let accepted = 0;
    for (const n of samples) {
      const type = n.v6 ? 'ipv6' : 'ipv4';
      const expected = blockList.check(text(n.v6, n.first), type) && blockList.check(text(n.v6, n.last), type);
      let ok = true;
      try { synth({ allowedClientCidrs: [n.cidr] }); } catch (e) {
        if (!(e instanceof ModelDeploymentValidationError)) throw e;
        expect(e.allowed).toMatch(/inside the private ranges/);
        ok = false;
      }
      if (ok !== expected) throw new Error(`${n.cidr}: synth ${ok ? 'accepts' : 'refuses'}, BlockList says ${expected ? 'private' : 'not private'}`);
      if (ok) accepted++;
    }
    expect(accepted).toBeGreaterThan(samples.length / 5);
    expect(accepted).toBeLessThan(samples.length * 0.8);
  });
});
