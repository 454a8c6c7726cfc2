/**
 * Issue 6 findings that the synth now refuses, each test named after its finding: the host
 * contract's limits (13), misspelt keys at every depth (14), plain JavaScript errors (15),
 * relative paths, OCI archives and the host key example (16), shared host directories (10) and
 * the API key file (5); and issue 7, item 7: access.network on hosts (MD_ALLOWED_CLIENTS, PUBLIC
 * without tls, public networks with PRIVATE; the private ranges checked against node's own
 * net.BlockList). Only the public API is used.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as fc from 'fast-check';
import { TerraformStack, Testing } from 'cdktf';
import { ModelArtifact, ModelDeploymentValidationError, NetworkAccess, ServingContainer } from '../../lib';
import { ContainerRuntime, OnPremModelEndpoint, OnPremModelEndpointProps, OnPremTargetOptions } from '../../lib/targets/on-prem';

const FIXTURE = path.join(__dirname, '..', 'fixtures', 'linear-model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-findings-'));
const API_KEYS = path.join(tmp, 'api-keys');
fs.writeFileSync(API_KEYS, 'good-key-0123456789abcdef\n');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOmd7Ze0hR3x6nkd0oEvKVa5Zp7bIkFGU0f0d7bq4bXk';
const host = (name: string, extra: object = {}) => ({ name, address: `10.20.0.${Number(name.replace(/\D/g, '')) + 10}`, user: 'deploy', hostKey: HOST_KEY, ...extra });
const hosts: OnPremTargetOptions['hosts'] = [host('gpu01', { address: '10.20.0.11' }), host('gpu02', { address: '10.20.0.12' })];

function props(extra: Partial<OnPremModelEndpointProps> | object = {}): OnPremModelEndpointProps {
  return {
    model: ModelArtifact.fromLocalPath(FIXTURE),
    serving: ServingContainer.custom({ image: 'registry.internal/fraud-scorer:4.2.0' }),
    scaling: { minReplicas: 2 },
    hosts,
    apiKeyFile: API_KEYS,
    runtime: ContainerRuntime.PODMAN,
    ...extra,
  } as OnPremModelEndpointProps;
}

function synth(extra: Partial<OnPremModelEndpointProps> | object = {}, app = Testing.app()) {
  const stack = new TerraformStack(app, `s${app.node.children.length}`);
  const deployment = new OnPremModelEndpoint(stack, 'Fraud', props(extra));
  return { deployment, json: JSON.parse(Testing.synth(stack)) };
}

function refusal(fn: () => unknown): ModelDeploymentValidationError {
  let error: unknown;
  try { fn(); } catch (e) { error = e; }
  if (!(error instanceof ModelDeploymentValidationError)) throw new Error(`expected a ModelDeploymentValidationError, got ${String(error)}`);
  return error;
}

function expectRefusal(fn: () => unknown, field: string, allowed?: RegExp): ModelDeploymentValidationError {
  const e = refusal(fn);
  expect(e.field).toBe(field);
  expect(e.target).toBe('onPrem');
  if (allowed) expect(e.allowed).toMatch(allowed);
  expect(e.message).not.toMatch(/\bMD_[A-Z_]+/);
  return e;
}

describe('13: every host limit at synth, naming the spec field', () => {
  test('an endpointName of 41 to 63 characters is refused at synth (the host allows 40)', () => {
    expect(synth({ endpointName: 'a'.repeat(40) }).deployment.endpointName).toHaveLength(40);
    for (const n of [41, 63]) expectRefusal(() => synth({ endpointName: 'a'.repeat(n) }), 'endpointName', /1 to 40 characters/);
  });

  test('more than 64 replicas on a host is refused at synth', () => {
    expect(() => synth({ scaling: { minReplicas: 128 } })).not.toThrow();
    expectRefusal(() => synth({ scaling: { minReplicas: 129 } }), 'scaling.minReplicas', /1 to 64 replicas per host/);
  });

  test('a slot port range past 65535 is refused at synth', () => {
    expect(() => synth({ slotPortBase: 65408 })).not.toThrow();
    expectRefusal(() => synth({ slotPortBase: 65409 }), 'slotPortBase', /1024 to 65408/);
  });

  test('a proxyPort inside the slot range is refused at synth', () => {
    for (const p of [18000, 18127]) expectRefusal(() => synth({ proxyPort: p }), 'proxyPort', /outside the slot ports/);
    expect(() => synth({ proxyPort: 18128 })).not.toThrow();
  });

  test('a proxyBindAddress that is not an IP address is refused', () => {
    for (const a of ['localhost', '[::1]', '0.0.0.0 ', '256.1.1.1']) expectRefusal(() => synth({ proxyBindAddress: a }), 'proxyBindAddress', /IPv4 or IPv6/);
    expect(() => synth({ proxyBindAddress: '::1' })).not.toThrow();
  });

  test("a modelMountPath '/opt/ml/model:rw' (a mount option smuggled in) is refused", () => {
    for (const m of ['/opt/ml/model:rw', 'model', '/', '/opt/./ml', '/opt/../etc']) expectRefusal(() => synth({ modelMountPath: m }), 'modelMountPath');
  });

  test('TLS paths with an nginx directive or relative are refused, and TLS needs both files', () => {
    const keyPath = '/etc/tls/key.pem';
    expectRefusal(() => synth({ tls: { certificatePath: '/etc/c.pem; include /etc/shadow', keyPath } }), 'tls.certificatePath', /absolute path/);
    expectRefusal(() => synth({ tls: { certificatePath: 'certs/c.pem', keyPath } }), 'tls.certificatePath');
    expectRefusal(() => synth({ tls: { certificatePath: '/etc/tls/c.pem', keyPath: 'key.pem' } }), 'tls.keyPath');
    expectRefusal(() => synth({ tls: { certificatePath: '/etc/tls/c.pem', keyPath: '' } }), 'tls', /both certificatePath and keyPath/);
    expect(() => synth({ tls: { certificatePath: '/etc/tls/c.pem', keyPath } })).not.toThrow();
  });

  test("a healthPath '/$(id)' is refused naming serving.healthPath, not MD_HEALTH_PATH", () => {
    const e = expectRefusal(() => synth({ serving: ServingContainer.custom({ image: 'r/i:1', healthPath: '/$(id)' }) }), 'serving.healthPath');
    expect(e.value).toBe('"/$(id)"');
  });

  test("a deployRoot '/' is refused (the deployment would sit directly under /)", () => {
    for (const root of ['/', '//', 'opt/md', '/opt/../etc', '/opt/md x']) {
      expectRefusal(() => synth({ hosts: [host('gpu01', { deployRoot: root }), hosts[1]] }), 'hosts[0].deployRoot', /absolute path other than \//);
    }
    expect(() => synth({ hosts: [host('gpu01', { deployRoot: '/srv/md/' }), hosts[1]] })).not.toThrow();
  });

  test('a deployRoot so long that the proxy\'s probe socket path would not fit a Unix socket address (107 bytes) is refused', () => {
    // deployRoot + '/fraud' + '/proxy/probe.sock': 90 characters of directory at most.
    const root = (n: number) => `/srv/${'d'.repeat(n - '/srv/'.length - '/fraud'.length)}`;
    expect(() => synth({ endpointName: 'fraud', hosts: [host('gpu01', { deployRoot: root(90) }), hosts[1]] })).not.toThrow();
    expectRefusal(() => synth({ endpointName: 'fraud', hosts: [host('gpu01', { deployRoot: root(91) }), hosts[1]] }), 'hosts[0].deployRoot', /at most 90 characters with the deployment name/);
  });

  test('every refusal of one synth is collected: the error names them all', () => {
    const e = refusal(() => synth({ proxyBindAddress: 'x', modelMountPath: 'y', hosts: [host('gpu01', { deployRoot: '/' }), hosts[1]] }));
    for (const field of ['proxyBindAddress', 'modelMountPath', 'hosts[0].deployRoot']) expect(e.message).toContain(`invalid ${field}:`);
  });
});

describe('14: misspelt keys in nested objects are refused', () => {
  test.each([
    ['hosts[0].privateKeyPth', { hosts: [host('gpu01', { privateKeyPth: '~/.ssh/id' }), hosts[1]] }, /did you mean privateKeyPath/],
    ['hosts[0].deployroot', { hosts: [host('gpu01', { deployroot: '/srv' }), hosts[1]] }, /did you mean deployRoot/],
    ['tls.keyPassword', { tls: { certificatePath: '/c.pem', keyPath: '/k.pem', keyPassword: 'x' } }, /no such property/],
  ])('%s', (field, extra, allowed) => {
    expectRefusal(() => synth(extra), field, allowed);
  });

  test('a misspelt top-level option names the nearest one', () => {
    const e = refusal(() => synth({ proxyport: 9000 }));
    expect(e.field).toBe('props.proxyport');
    expect(e.allowed).toMatch(/did you mean proxyPort/);
  });
});

describe('15: plain JavaScript errors become ModelDeploymentValidationError', () => {
  test.each([
    ['runtimeArgs as a string', { hosts: [host('gpu01', { runtimeArgs: '--root /data' }), hosts[1]] }, 'hosts[0].runtimeArgs'],
    ['tls: null', { tls: null }, 'tls'],
    ['labels: null', { hosts: [host('gpu01', { labels: null }), hosts[1]] }, 'hosts[0].labels'],
    ['labels as a string', { hosts: [host('gpu01', { labels: 'team=a' }), hosts[1]] }, 'hosts[0].labels'],
    ['a null host entry', { hosts: [null, hosts[1]] }, 'hosts[0]'],
    ['hosts: null', { hosts: null }, 'hosts'],
    ['a host name that is a number', { hosts: [host('gpu01', { name: 7 }), hosts[1]] }, 'hosts[0].name'],
    ['proxyPort as a string', { proxyPort: '9000' }, 'proxyPort'],
  ])('%s', (_name, extra, field) => {
    expectRefusal(() => synth(extra), field);
  });

  function archive(name: string, members: Array<{ name: string; body: Buffer; sizeField?: string }>): string {
    const blocks: Buffer[] = [];
    for (const m of members) {
      const h = Buffer.alloc(512);
      h.write(m.name, 0);
      h.write('0000644\0', 100);
      h.write('0000000\0', 108);
      h.write('0000000\0', 116);
      h.write(m.sizeField ?? `${m.body.length.toString(8).padStart(11, '0')}\0`, 124);
      h.write('00000000000\0', 136);
      h.write('0', 156);
      h.write('ustar\0' + '00', 257);
      h.fill(' ', 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
      blocks.push(h, m.body, Buffer.alloc((512 - (m.body.length % 512)) % 512));
    }
    blocks.push(Buffer.alloc(1024));
    const file = path.join(tmp, name);
    fs.writeFileSync(file, Buffer.concat(blocks));
    return file;
  }

  test.each([
    ['a manifest that is not JSON', () => archive('bad-json.tar', [{ name: 'manifest.json', body: Buffer.from('{not json') }]), /manifest\.json is not JSON/],
    ['a huge size header', () => archive('huge.tar', [{ name: 'manifest.json', body: Buffer.from('[]'), sizeField: '77777777777\0' }]), /past the end/],
    ['a size header that is not octal', () => archive('notoctal.tar', [{ name: 'manifest.json', body: Buffer.from('[]'), sizeField: '00000000x9\0' }]), /not octal/],
    ['a path that is a directory (EISDIR)', () => tmp, /not a regular file/],
    ['a path that does not exist', () => path.join(tmp, 'missing.tar'), /ENOENT/],
  ])('an image archive with %s', (_name, make, allowed) => {
    expectRefusal(() => synth({ imageArchive: make() }), 'imageArchive', allowed);
  });
});

describe('16: paths resolved at synth, OCI archives, examples that pass', () => {
  test('relative apiKeyFile, privateKeyPath and imageArchive are resolved against the project directory (where cdktf runs the app)', () => {
    const project = fs.mkdtempSync(path.join(tmp, 'project-'));
    fs.mkdirSync(path.join(project, 'secrets'));
    fs.writeFileSync(path.join(project, 'secrets', 'api-keys'), 'good-key-0123456789abcdef\n');
    fs.writeFileSync(path.join(project, 'secrets', 'id'), 'key');
    const cwd = process.cwd();
    process.chdir(project);
    let json: any;
    try {
      json = synth({ apiKeyFile: './secrets/api-keys', hosts: [host('gpu01', { privateKeyPath: 'secrets/id' }), host('gpu02', { privateKeyPath: '~/.ssh/id' })] }).json;
    } finally {
      process.chdir(cwd);
    }
    const text = JSON.stringify(json);
    expect(text).toContain(`pathexpand(\\"${path.join(project, 'secrets', 'api-keys')}\\")`);
    expect(text).toContain(`file(pathexpand(\\"${path.join(project, 'secrets', 'id')}\\"))`);
    expect(text).toContain('file(pathexpand(\\"~/.ssh/id\\"))');
    expect(text).not.toContain('./secrets');
  });

  describe('image archives written by the real podman', () => {
    const haveRootPodman = spawnable('podman') && process.getuid?.() === 0;
    const dir = path.join(tmp, 'podman');
    let imageId = '';
    beforeAll(() => {
      if (!haveRootPodman) return;
      fs.mkdirSync(path.join(dir, 'root'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'root', 'hello'), 'hi\n');
      execFileSync('tar', ['-C', path.join(dir, 'root'), '-cf', path.join(dir, 'rootfs.tar'), '.']);
      imageId = execFileSync('podman', ['import', '-q', path.join(dir, 'rootfs.tar'), 'localhost/contract-probe:1'], { encoding: 'utf8' }).trim().replace(/^sha256:/, '');
      execFileSync('podman', ['save', '-q', '--format', 'oci-archive', '-o', path.join(dir, 'oci.tar'), 'localhost/contract-probe:1']);
      execFileSync('podman', ['save', '-q', '--format', 'docker-archive', '-o', path.join(dir, 'docker.tar'), 'localhost/contract-probe:1']);
      execFileSync('podman', ['rmi', '-f', 'localhost/contract-probe:1']);
    });

    (haveRootPodman ? test : test.skip)('an OCI archive (podman save --format oci-archive) is accepted for podman; its image id is the config digest', () => {
      const { json } = synth({ imageArchive: path.join(dir, 'oci.tar') });
      const install = JSON.stringify(json).match(/install-image [^"]*/)![0];
      expect(install).toContain(`'sha256:${imageId}'`);
      const docker = synth({ imageArchive: path.join(dir, 'docker.tar') });
      expect(JSON.stringify(docker.json).match(/install-image [^"]*/)![0]).toContain(`'sha256:${imageId}'`);
    });

    (haveRootPodman ? test : test.skip)('an OCI-only archive is refused for docker, saying what docker loads', () => {
      expectRefusal(() => synth({ imageArchive: path.join(dir, 'oci.tar'), runtime: ContainerRuntime.DOCKER }), 'imageArchive', /docker load does not read/);
    });
  });

  test('the host key example in the error is a key that passes our own validation', () => {
    const e = expectRefusal(() => synth({ hosts: [{ name: 'gpu01', address: '10.0.0.1', user: 'deploy' }] }), 'hosts[0].hostKey');
    const example = /e\.g\. "([^"]+)"/.exec(e.allowed)![1];
    expect(example).not.toContain('...');
    expect(() => synth({ hosts: [host('gpu01', { hostKey: example }), hosts[1]] })).not.toThrow();
    expectRefusal(() => synth({ hosts: [host('gpu01', { hostKey: 'ssh-ed25519 AAAA...' }), hosts[1]] }), 'hosts[0].hostKey', /AAAAC3NzaC1lZDI1NTE5/);
    // The README's example keys (real ed25519 public keys of throw-away key pairs) pass too.
    const readme = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN2YLx74sIHGQalA5gkv/NZE1+lBnqGmrrKcehJdguqI', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJbhEVQNmkK9M519cEmqfDNmAR/n+IMs6Cj2qN2E47Lx'];
    expect(() => synth({ hosts: [host('gpu01', { hostKey: readme[0] }), host('gpu02', { hostKey: readme[1] })] })).not.toThrow();
  });
});

describe('10: two deployments cannot share a host directory', () => {
  test('Vision and vision in one app, on the same host, are refused (case-insensitively)', () => {
    const app = Testing.app();
    synth({ endpointName: 'Vision' }, app);
    const e = expectRefusal(() => synth({ endpointName: 'vision' }, app), 'hosts[0]', /no other deployment uses/);
    expect(e.allowed).toContain('/Fraud');
    // Another app, another deploy root, or other hosts: no collision.
    expect(() => synth({ endpointName: 'vision' })).not.toThrow();
    expect(() => synth({ endpointName: 'vision', hosts: [host('gpu01', { address: '10.20.0.11', deployRoot: '/srv/md' }), host('gpu02', { address: '10.20.0.99' })] }, app)).not.toThrow();
  });

  test('the same host address and SSH port twice in one deployment is refused', () => {
    expectRefusal(() => synth({ hosts: [host('gpu01', { address: 'GPU.lab' }), host('gpu02', { address: 'gpu.lab' })] }), 'hosts[1].address', /no other host has/);
    expect(() => synth({ hosts: [host('gpu01', { address: 'gpu.lab' }), host('gpu02', { address: 'gpu.lab', port: 2222 })] })).not.toThrow();
  });
});

describe('5: the API key file at synth', () => {
  test('a missing apiKeyFile fails at synth naming apiKeyFile', () => {
    expectRefusal(() => synth({ apiKeyFile: path.join(tmp, 'no-such-file') }), 'apiKeyFile', /does not exist/);
  });

  test.each([
    ['too short', 'short-key', /16 to 1024 characters \(this one has 9\)/],
    ['a space', 'a key with spaces 0123', /no spaces/],
    ['a leading ~', '~abcdefghijklmnopq', /first character other than ~/],
    ['a quote', 'abc"defghijklmnopq', /other than quotes/],
  ])('a key with %s is refused with its line number and the rule, never the key', (_name, key, allowed) => {
    const file = path.join(tmp, `keys-${_name.replace(/\W/g, '')}`);
    fs.writeFileSync(file, `# comment\ngood-key-0123456789abcdef\n\n${key}\r\n`);
    const e = expectRefusal(() => synth({ apiKeyFile: file }), 'apiKeyFile', allowed);
    expect(e.value).toContain('line 4');
    expect(e.message).not.toContain(key);
  });

  test('a missing ~/ apiKeyFile is a synth warning, not a refusal: it names the home of whoever runs terraform', () => {
    const home = process.env.HOME;
    process.env.HOME = tmp;
    try {
      const { deployment } = synth({ apiKeyFile: '~/no-such-dir/api-keys' });
      const warnings = deployment.node.metadata.filter(m => m.type === '@cdktf/warn').map(m => String(m.data));
      expect(warnings.join('\n')).toMatch(/apiKeyFile ~\/no-such-dir\/api-keys does not exist on this machine/);
    } finally {
      process.env.HOME = home;
    }
  });

  test('a key file with no key is refused', () => {
    const file = path.join(tmp, 'keys-empty');
    fs.writeFileSync(file, '# only a comment\n\n');
    expectRefusal(() => synth({ apiKeyFile: file }), 'apiKeyFile', /at least one API key/);
  });
});

const TLS = { certificatePath: '/etc/tls/cert.pem', keyPath: '/etc/tls/key.pem' };
const PUBLIC = { access: { network: NetworkAccess.PUBLIC } };
const PRIVATE_RANGES = '127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,fe80::/10,fc00::/7';

/** The deploy.env the first host receives, as the host reads it. */
function deployEnv(extra: object = {}): Record<string, string> {
  const resources = Object.values(synth(extra).json.resource.terraform_data as Record<string, { provisioner?: Array<{ file?: { destination: string; content: string } }> }>);
  const file = resources.flatMap(r => r.provisioner ?? []).map(p => p.file).find(f => f?.destination.endsWith('/deploy.env'))!;
  return Object.fromEntries(file.content.trim().split('\n').map(l => /^(\w+)='(.*)'$/.exec(l)!.slice(1, 3)));
}

describe('issue 7, item 7: what the proxies answer (MD_ALLOWED_CLIENTS)', () => {
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

  test('changing only allowedClientCidrs is a new version on each host (a blue/green redeploy, like the other proxy settings); nothing else is replaced', () => {
    const before = synth().json.resource.terraform_data;
    const after = synth({ allowedClientCidrs: ['10.20.0.0/16'] }).json.resource.terraform_data;
    const changed = Object.keys(before).filter(k => JSON.stringify(before[k].triggers_replace) !== JSON.stringify(after[k].triggers_replace));
    expect(changed.map(k => /_(gpu0\d-\w+)_/.exec(k)![1]).sort()).toEqual(['gpu01-deployment', 'gpu02-deployment']);
  });
});

describe('issue 7, item 7: access.network refusals', () => {
  test('PUBLIC without tls, naming tls and why', () => {
    expectRefusal(() => synth(PUBLIC), 'tls', /API keys .* would cross networks in clear text/);
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
    expectRefusal(() => synth({ allowedClientCidrs: cidrs }), field, /inside the private ranges .* set access\.network to NetworkAccess\.PUBLIC/);
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
    expectRefusal(() => synth({ allowedClientCidrs: ['10.20.0.0/16', cidr] }), 'allowedClientCidrs[1]', /an IPv4 or IPv6 CIDR, address\/prefix length/);
  });

  test('a CIDR with host bits set, naming the network address it means', () => {
    expectRefusal(() => synth({ allowedClientCidrs: ['10.20.1.5/16'] }), 'allowedClientCidrs[0]', /network address of the range: 10\.20\.0\.0\/16 .*\/32/);
    expectRefusal(() => synth({ allowedClientCidrs: ['fd00:1::7/64'] }), 'allowedClientCidrs[0]', /network address of the range: fd00:1::\/64 .*\/128/);
    expect(() => synth({ allowedClientCidrs: ['10.20.0.0/16', '10.20.1.5/32', 'fd00:1::7/128'] })).not.toThrow();
  });

  test('an empty list, more than 64 networks, the same network twice, a list that is not an array of strings', () => {
    expectRefusal(() => synth({ allowedClientCidrs: [] }), 'allowedClientCidrs', /at least one CIDR; leave allowedClientCidrs out for the default \(the private ranges/);
    expectRefusal(() => synth({ ...PUBLIC, tls: TLS, allowedClientCidrs: [] }), 'allowedClientCidrs', /default \(every address\)/);
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${i}.0.0/16`);
    expect(() => synth({ allowedClientCidrs: many(64) })).not.toThrow();
    expectRefusal(() => synth({ allowedClientCidrs: many(65) }), 'allowedClientCidrs', /at most 64 CIDRs/);
    expectRefusal(() => synth({ allowedClientCidrs: ['10.20.0.0/16', 'fd00::/8', 'FD00:0::/8'] }), 'allowedClientCidrs[2]', /each network once \(allowedClientCidrs\[1\]/);
    expectRefusal(() => synth({ allowedClientCidrs: '10.0.0.0/8' }), 'allowedClientCidrs', /an array of CIDR strings/);
    expectRefusal(() => synth({ allowedClientCidrs: [10] }), 'allowedClientCidrs', /an array of CIDR strings/);
  });

  test('with PRIVATE, a public proxyBindAddress; every interface or a private address is fine, and anything with PUBLIC', () => {
    for (const bind of ['203.0.113.7', '8.8.8.8', '2001:db8::1', '172.32.0.1']) {
      expectRefusal(() => synth({ proxyBindAddress: bind }), 'proxyBindAddress', /0\.0\.0\.0, :: or an address inside the private ranges .* set access\.network to NetworkAccess\.PUBLIC/);
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

describe('issue 7, item 7: PRIVATE admits exactly the networks inside the private ranges (property, against node\'s net.BlockList)', () => {
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

function spawnable(cmd: string): boolean {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

