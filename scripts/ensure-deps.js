#!/usr/bin/env node
// `npm test` must work on a fresh checkout: install the locked dependencies when they are missing.
const { existsSync } = require('fs');
const { execSync } = require('child_process');
const path = require('path');
const root = path.join(__dirname, '..');
// Every declared development dependency (a branch may have added one since the last install).
const { devDependencies } = require(path.join(root, 'package.json'));
if (Object.keys(devDependencies).some(name => !existsSync(path.join(root, 'node_modules', name, 'package.json')))) {
  console.log('node_modules missing: running npm ci');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
