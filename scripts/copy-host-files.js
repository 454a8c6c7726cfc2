#!/usr/bin/env node
// tsc copies no shell scripts: put the on-prem host script next to the compiled target.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
fs.cpSync(path.join(root, 'lib/targets/on-prem/host'), path.join(root, 'dist/targets/on-prem/host'), { recursive: true });
