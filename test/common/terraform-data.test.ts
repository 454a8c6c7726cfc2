// lib/common/terraform-data.ts: the targets' terraform_data. Same JSON as cdktf's DataResource, and no
// `terraform version` child process per instance at synth (so synth also works without terraform).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DataResource, TerraformStack, Testing } from 'cdktf';
import { TerraformData } from '../../lib/common/terraform-data';

const config = {
  input: { host: 'gpu01', nested: { list: [1, 'two'] } },
  triggersReplace: { version: 'v1' },
  lifecycle: { createBeforeDestroy: true },
  connection: { type: 'ssh' as const, host: '192.0.2.1', user: 'deploy' },
  provisioners: [
    { type: 'remote-exec' as const, inline: ['echo ${self.input.host}'] },
    { type: 'local-exec' as const, when: 'destroy' as const, command: 'echo gone', environment: { A: '${jsonencode(self.input)}' } },
  ],
};

function synth(build: (stack: TerraformStack) => void): any {
  const stack = new TerraformStack(Testing.app(), 's');
  build(stack);
  return JSON.parse(Testing.synth(stack));
}

test('writes what DataResource writes: input, triggers_replace, lifecycle, connection, provisioners, depends_on', () => {
  const strip = (r: any) => { const { '//': _, ...rest } = r; return rest; };
  const ours = synth(stack => {
    const first = new TerraformData(stack, 'first', {});
    new TerraformData(stack, 'd', { ...config, dependsOn: [first] });
  });
  const theirs = synth(stack => {
    const first = new DataResource(stack, 'first', {});
    new DataResource(stack, 'd', { ...config, dependsOn: [first] });
  });
  expect(strip(ours.resource.terraform_data.d)).toEqual(strip(theirs.resource.terraform_data.d));
  expect(strip(ours.resource.terraform_data.first)).toEqual(strip(theirs.resource.terraform_data.first));
  expect(ours.resource.terraform_data.d.input).toEqual(config.input);
  expect(ours.terraform?.required_providers ?? {}).toEqual(theirs.terraform?.required_providers ?? {});
});

test('no per-instance validation: nothing runs `terraform version`, so it validates without terraform (DataResource does not)', () => {
  // In a child process whose PATH has no terraform (jest's sandboxed process.env does not reach child_process).
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'no-terraform-'));
  try {
    const script = `
      const { App, DataResource, TerraformStack } = require('cdktf');
      const { TerraformData } = require('./lib/common/terraform-data');
      const stack = new TerraformStack(new App(), 's');
      const ours = new TerraformData(stack, 'ours', {});
      const theirs = new DataResource(stack, 'theirs', {});
      console.log(JSON.stringify({ ours: ours.node.validate(), theirs: theirs.node.validate() }));`;
    const run = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: path.join(__dirname, '..', '..'), env: { PATH: empty }, encoding: 'utf8', timeout: 60_000,
    });
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(result.ours).toEqual([]);
    expect(result.theirs).toEqual([expect.stringMatching(/terraform version failed/)]);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
}, 60_000);
