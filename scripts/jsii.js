#!/usr/bin/env node
// npm run jsii: compile the public API with jsii (the compiler behind the Python, Java, .NET and Go
// bindings) and generate the Python sources with jsii-pacmak. See docs/jsii.md.
//
// jsii reads the entry point from package.json "types" and compiles every file of the project; the
// package's "types" is dist/index.d.ts (the engine-free root, built by tsc for the npm package and the
// package tests). So the build runs in a staging folder, .jsii-build/ (gitignored): a copy of lib/, a
// package.json whose entry is lib/jsii.ts (the root plus the four targets as submodules), and a link to
// node_modules. Nothing is written to dist/ or lib/.
//
// Usage: node scripts/jsii.js [--no-pacmak]
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.join(__dirname, '..');
const stage = path.join(root, '.jsii-build');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// The engines and providers whose types the public API uses: jsii libraries themselves, which jsii
// reads (their .jsii assemblies) to type-check references. The other optional peers (SDKs used at
// apply time) appear in no public type.
const JSII_PEERS = ['aws-cdk-lib', 'constructs', 'cdktf', '@cdktf/provider-azurerm', '@cdktf/provider-google'];

function stagePackageJson() {
  // jsii wants each peer's lowest version to be the one it builds against (a devDependency at exactly
  // that version): the bindings state the installed versions as their floor.
  const installed = Object.fromEntries(JSII_PEERS.map(name => [name, installedVersion(name)]));
  const peers = Object.fromEntries(JSII_PEERS.map(name => [name, `^${installed[name]}`]));
  return {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    keywords: pkg.keywords,
    // jsii requires both; package.json has neither yet: placeholders, to be replaced before publishing.
    author: pkg.author ?? { name: 'cdk-model-deployment contributors', organization: true },
    repository: pkg.repository ?? { type: 'git', url: 'https://example.invalid/cdk-model-deployment.git' },
    main: 'lib/jsii.js',
    types: 'lib/jsii.d.ts',
    peerDependencies: peers,
    devDependencies: installed,
    // The targets come from the package's own "jsii" field; pacmak writes them under .jsii-build/dist/.
    jsii: { ...pkg.jsii, outdir: 'dist', tsconfig: 'tsconfig.jsii.json', validateTsconfig: 'strict' },
  };
}

function installedVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

// The repository's compiler options (ES2022: the code uses Error's `cause`), checked by jsii against its
// strict rule set; jsii's generated tsconfig would target ES2020.
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['es2022'],
    module: 'commonjs',
    declaration: true,
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmitOnError: true,
    resolveJsonModule: true,
    experimentalDecorators: true,
    isolatedModules: true,
    types: ['node'],
  },
  include: ['lib/**/*.ts'],
};

function run(bin, args) {
  execFileSync(process.execPath, [path.join(root, 'node_modules', bin), ...args], {
    cwd: stage,
    stdio: 'inherit',
    env: { ...process.env, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: '1' },
  });
}

fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage);
fs.cpSync(path.join(root, 'lib'), path.join(stage, 'lib'), { recursive: true });
fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(stagePackageJson(), null, 2) + '\n');
fs.copyFileSync(path.join(root, 'README.md'), path.join(stage, 'README.md'));
fs.writeFileSync(path.join(stage, 'tsconfig.jsii.json'), JSON.stringify(TSCONFIG, null, 2) + '\n');

try {
  // Warnings fail the build too, but for names that are reserved words in Go (`type`, `select`): we
  // generate no Go, and renaming them would break every TypeScript user.
  run('jsii/bin/jsii', ['--fail-on-warnings', '--silence-warnings', 'reserved-word']);
  if (!process.argv.includes('--no-pacmak')) {
    run('jsii-pacmak/bin/jsii-pacmak', ['--code-only', '--target', 'python', '--outdir', 'dist']);
  }
} catch (err) {
  console.error(`jsii: ${err.status !== undefined ? `exit ${err.status}` : err.message} (staging folder: .jsii-build/)`);
  process.exit(1);
}
