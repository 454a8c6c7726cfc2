#!/usr/bin/env node
// `npm test` must work on a fresh checkout: install the locked dependencies when they are missing.
const { existsSync } = require('fs');
const { execSync } = require('child_process');
const path = require('path');
const root = path.join(__dirname, '..');
// Every declared dependency (a branch may have added one since the last install).
const { dependencies = {}, devDependencies = {} } = require(path.join(root, 'package.json'));
const missing = Object.keys({ ...dependencies, ...devDependencies }).find(name => !existsSync(path.join(root, 'node_modules', name, 'package.json')));
if (missing) {
  console.log(`node_modules missing or without ${missing}: running npm ci`);
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}
