import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

describe('npm run synth says where it wrote', () => {
  test('the Terraform half (bin/terraform.ts) names its output directory and stacks, as cdk synth does for cdk.out/', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-out-'));
    // CDKTF_OUTDIR is how `cdktf synth` tells the app where to write; npm run synth leaves it unset (cdktf.out/).
    const result = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'ts-node', 'dist', 'bin.js'), '--transpile-only', 'bin/terraform.ts'], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, CDKTF_OUTDIR: out }, timeout: 120_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const stacks = ['model-deployment-on-prem', 'model-deployment-azure-ml', 'model-deployment-vertex-ai', 'fraud-scorer-azure-ml', 'fraud-scorer-vertex-ai', 'fraud-scorer-on-prem'];
    expect(result.stdout).toContain(`Successfully synthesized the Terraform stacks (${stacks.join(', ')}) to ${out}`);
    for (const stack of stacks) {
      expect(fs.existsSync(path.join(out, 'stacks', stack, 'cdk.tf.json'))).toBe(true);
    }
    fs.rmSync(out, { recursive: true, force: true });
  });
});
