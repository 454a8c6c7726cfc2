/**
 * The contract branch's items end to end (issue 6, item 16): a deployment shipped as an OCI
 * archive (`podman save --format oci-archive`) with a RELATIVE apiKeyFile, the way the README
 * writes it, on one real SSH test host with rootful podman, nginx and the real terraform. The
 * host loads the OCI archive and checks it against the image id the synth read from it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { modelServerImage } from './support/image';
import { MODEL_V1 } from './support/models';
import { OnPremE2e, expectOk, outputOf } from './support/on-prem-app';

jest.setTimeout(600_000);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onprem-contract-project-'));
const KEY = 'contract-e2e-key-' + Math.random().toString(36).slice(2);
const cwd = process.cwd();
let e: OnPremE2e;
let ociArchive = '';

beforeAll(async () => {
  // The OCI archive, from the same cached image the other suites ship as a docker-archive.
  const image = await modelServerImage({ mode: 'ok' });
  const storage = ['--root', path.join(work, 'storage'), '--runroot', path.join(work, 'run')];
  execFileSync('podman', [...storage, 'load', '-q', '-i', image.archivePath], { stdio: 'ignore' });
  ociArchive = path.join(work, 'image.oci.tar');
  execFileSync('podman', [...storage, 'save', '-q', '--format', 'oci-archive', '-o', ociArchive, image.imageRef], { stdio: 'ignore' });
  execFileSync('podman', [...storage, 'rmi', '-a', '-f'], { stdio: 'ignore' });
  const listing = execFileSync('tar', ['-tf', ociArchive], { encoding: 'utf8' }).split('\n');
  expect(listing).toEqual(expect.arrayContaining(['index.json', 'oci-layout']));
  expect(listing).not.toContain('manifest.json');

  // A project directory with the key file beside the app, named relatively as in the README.
  fs.mkdirSync(path.join(work, 'secrets'));
  fs.writeFileSync(path.join(work, 'secrets', 'api-keys'), `${KEY}\n`, { mode: 0o600 });
  process.chdir(work);
  e = await OnPremE2e.start({ model: MODEL_V1, targetOverride: { imageArchive: ociArchive, apiKeyFile: './secrets/api-keys' } },
    { hosts: 1, stack: 'onprem-contract' });
});

afterAll(async () => {
  process.chdir(cwd);
  await e?.dispose();
  fs.rmSync(work, { recursive: true, force: true });
});

test('an OCI archive with a relative apiKeyFile deploys: the host loads it, checks its id, and serves with the key from that file', async () => {
  const apply = await e.tf.apply();
  expectOk(apply);
  expect(outputOf(apply)).toMatch(/image \S+ loaded \(id [0-9a-f]{12}\)/);
  await e.expectServing(MODEL_V1, KEY);
  expect((await e.post(e.hosts[0], { instances: [[1, 1, 1]] }, { 'x-api-key': 'wrong-key-0123456789' })).status).toBe(401);
});
