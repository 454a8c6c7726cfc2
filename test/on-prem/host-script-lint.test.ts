import { spawnSync } from 'child_process';
import * as path from 'path';
import { requireE2eTools } from '../e2e/support/exec';

const SCRIPT = path.join(__dirname, '..', '..', 'lib', 'targets', 'on-prem', 'host', 'modeldeploy.sh');

test('the host script passes shellcheck with no finding', () => {
  requireE2eTools(['shellcheck']);
  const result = spawnSync('shellcheck', ['--severity=style', '--shell=bash', SCRIPT], { encoding: 'utf8' });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});

test('shellcheck does report problems (the check can fail)', () => {
  const result = spawnSync('shellcheck', ['--shell=bash', '-'], { input: 'x=$1\nrm -rf $x/*\n', encoding: 'utf8' });
  expect(result.status).not.toBe(0);
  expect(result.stdout).toContain('SC2086');
});
