/**
 * The public API compiles with jsii (the compiler behind the Python, Java, .NET and Go bindings), and
 * jsii-pacmak turns the assembly into a Python package: `npm run jsii` (scripts/jsii.js) must succeed,
 * warnings included. What the bindings hold is checked against the TypeScript API itself: every
 * class, interface and enum that an entry point exports is in the assembly, in the submodule of its
 * entry point, and every export that is not (functions, constants, type aliases, what carries
 * `@jsii ignore`) is named in docs/jsii.md, so nothing leaves the bindings unrecorded. The generated
 * Python compiles and declares a class for every type of the assembly, in the module of its submodule.
 *
 * Loading the package from Python needs the `jsii` Python runtime, which only PyPI has (not reachable
 * here, and not packaged by Debian): docs/jsii.md says what CI would need for that last step.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const STAGE = path.join(ROOT, '.jsii-build');
const PYTHON_SRC = path.join(STAGE, 'dist', 'python', 'src', 'cdk_model_deployment');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const inCi = process.env.CI === 'true';

/** The npm entry points ('./sagemaker' → 'sagemaker') and the jsii submodule each becomes ('azure-ml' → 'azureMl'). */
const TARGET_ENTRIES: string[] = Object.keys(pkg.exports).filter((k) => k !== '.' && k !== './package.json').map((k) => k.slice(2));
const submoduleOf = (entry: string) => entry.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
const pythonModuleOf = (entry: string) => entry.replace(/-/g, '_');

/** The names docs/jsii.md lists as left out of the bindings: `name` (root) or `submodule.name`. */
function documentedOmissions(): Set<string> {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'jsii.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith('What the bindings leave out'));
  if (!section) throw new Error('docs/jsii.md has no "## What the bindings leave out" section');
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const lead = /^- ((?:`[\w.]+`(?:, )?)+)/.exec(line);
    if (lead) for (const m of lead[1].matchAll(/`([\w.]+)`/g)) names.add(m[1]);
  }
  return names;
}

/**
 * Every export of the jsii entry (lib/jsii.ts: the package root, terraform_data and the four targets
 * as submodules), by its jsii name, with whether jsii can bind its kind at all (class, interface, enum).
 */
function typeScriptExports(): Map<string, { bindable: boolean; ignored: boolean }> {
  // Only the library's own files, unresolved imports and no lib: binding them is enough to follow the
  // exports (2 s, where a full program with aws-cdk-lib's declarations takes 10 to 30).
  const sources = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
  const program = ts.createProgram(sources(path.join(ROOT, 'lib')), {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, noResolve: true, noLib: true, types: [], noEmit: true,
  });
  const checker = program.getTypeChecker();
  const moduleSymbol = (file: string) => checker.getSymbolAtLocation(program.getSourceFile(path.join(ROOT, file))!)!;
  const resolve = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const out = new Map<string, { bindable: boolean; ignored: boolean }>();
  const add = (prefix: string, moduleSym: ts.Symbol) => {
    for (const exported of checker.getExportsOfModule(moduleSym)) {
      const decl = resolve(exported).declarations?.[0];
      if (!decl || ts.isNamespaceExport(decl) || ts.isSourceFile(decl)) continue; // the submodules themselves
      const bindable = ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl) || ts.isEnumDeclaration(decl);
      const ignored = ts.getJSDocTags(decl).some((t) => t.tagName.text === 'jsii' && /^ignore\b/.test(String(t.comment ?? '').trim()));
      out.set(prefix + exported.name, { bindable, ignored });
    }
  };
  add('', moduleSymbol('lib/jsii.ts'));
  for (const entry of TARGET_ENTRIES) add(`${submoduleOf(entry)}.`, moduleSymbol(`lib/targets/${entry}/index.ts`));
  return out;
}

let jsiiRun: { status: number | null; output: string; seconds: number };

beforeAll(() => {
  const started = Date.now();
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'jsii.js')], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
  jsiiRun = { status: run.status, output: `${run.stdout}\n${run.stderr}`, seconds: (Date.now() - started) / 1000 };
}, 300_000);

describe('jsii bindings', () => {
  test('npm run jsii compiles the public API with jsii and generates the Python package, without errors or warnings', () => {
    expect(pkg.scripts.jsii).toBe('node scripts/jsii.js');
    if (jsiiRun.status !== 0) throw new Error(`scripts/jsii.js exited ${jsiiRun.status}:\n${jsiiRun.output.slice(-6000)}`);
    expect(jsiiRun.output).toMatch(/Errors: 0 \| Warnings: 0/);
    expect(fs.existsSync(path.join(STAGE, '.jsii'))).toBe(true);
    // The package itself is untouched: its root stays lib/index.ts (engine-free), built by tsc into dist/.
    expect(pkg.types).toBe('dist/index.d.ts');
    expect(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')).toMatch(/"exclude": \[[^\]]*"lib\/jsii\.ts"/);
  });

  test('each npm entry point is a jsii submodule, and every class, interface and enum it exports is in the assembly, or documented as left out', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(STAGE, '.jsii'), 'utf8'));
    expect(assembly.name).toBe('cdk-model-deployment');
    expect(assembly.targets.python).toEqual({ module: 'cdk_model_deployment', distName: 'cdk-model-deployment' });
    expect(Object.keys(assembly.submodules).sort()).toEqual(TARGET_ENTRIES.map((e) => `cdk-model-deployment.${submoduleOf(e)}`).sort());

    const inAssembly = new Set(Object.keys(assembly.types).map((fqn) => fqn.slice('cdk-model-deployment.'.length)));
    const omitted = documentedOmissions();
    const exported = typeScriptExports();
    const problems: string[] = [];
    for (const [name, { bindable, ignored }] of exported) {
      const bound = inAssembly.has(name);
      if (bindable && !ignored && !bound) problems.push(`${name}: exported, bindable, but not in the assembly`);
      if (bound && omitted.has(name)) problems.push(`${name}: in the assembly, but docs/jsii.md lists it as left out`);
      if (!bound && !omitted.has(name)) problems.push(`${name}: not in the bindings, and not listed in docs/jsii.md`);
      if (ignored && bound) problems.push(`${name}: carries @jsii ignore but is in the assembly`);
    }
    for (const name of inAssembly) if (!exported.has(name)) problems.push(`${name}: in the assembly but exported by no entry point`);
    for (const name of omitted) if (!exported.has(name)) problems.push(`${name}: listed in docs/jsii.md but no longer exported`);
    expect(problems).toEqual([]);
    // What a Python user starts from: the spec, the facade and each target's construct.
    for (const name of ['Compute', 'ServingContainer', 'Rollout', 'ModelArtifact', 'ModelDeployment', 'DeploymentTarget',
      'sagemaker.SageMakerModelEndpoint', 'azureMl.AzureMlModelEndpoint', 'vertexAi.VertexAiModelEndpoint', 'onPrem.OnPremModelEndpoint']) {
      expect(inAssembly).toContain(name);
    }
  });

  test('the spec classes keep their TypeScript names and factories in the assembly (Compute.gpu() and its gpuKind)', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(STAGE, '.jsii'), 'utf8'));
    const compute = assembly.types['cdk-model-deployment.Compute'];
    expect(compute.methods.filter((m: { static?: boolean }) => m.static).map((m: { name: string }) => m.name).sort()).toEqual(['cpu', 'gpu']);
    expect(compute.properties.map((p: { name: string }) => p.name).sort()).toEqual(['gpuCount', 'gpuKind', 'kind', 'memoryGiB', 'vcpus']);
    const custom = assembly.types['cdk-model-deployment.CustomServingOptions'];
    expect(custom.interfaces).toEqual(['cdk-model-deployment.CommonServingOptions']);
    expect(custom.properties.find((p: { name: string }) => p.name === 'image').optional).toBeUndefined(); // required
  });

  test('the generated Python compiles and declares a class for every type, in the module of its submodule', () => {
    const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
    if (python.error || python.status !== 0) {
      if (inCi) throw new Error('python3 is missing: scripts/e2e/install-deps.sh installs it');
      console.warn('python3 not found: the generated Python sources were not compiled');
      return;
    }
    const assembly = JSON.parse(fs.readFileSync(path.join(STAGE, '.jsii'), 'utf8'));
    const modules = ['', ...TARGET_ENTRIES.map(pythonModuleOf)];
    const files = modules.map((m) => path.join(PYTHON_SRC, m, '__init__.py'));
    // Compile each module (to bytecode, in memory) and list its top-level classes: nothing is imported,
    // so the jsii runtime the modules import is not needed.
    const script = [
      'import ast, json, sys',
      'out = {}',
      'for f in sys.argv[1:]:',
      '    source = open(f, encoding="utf-8").read()',
      '    compile(source, f, "exec")',
      '    tree = ast.parse(source, f)',
      '    out[f] = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]',
      'print(json.dumps(out))',
    ].join('\n');
    const classes: Record<string, string[]> = JSON.parse(execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' }));
    const problems: string[] = [];
    for (const fqn of Object.keys(assembly.types)) {
      const parts = fqn.split('.').slice(1);
      const entry = parts.length === 2 ? TARGET_ENTRIES.find((e) => submoduleOf(e) === parts[0])! : '';
      const file = path.join(PYTHON_SRC, pythonModuleOf(entry), '__init__.py');
      if (!classes[file].includes(parts[parts.length - 1])) problems.push(`${fqn}: no class in ${path.relative(STAGE, file)}`);
    }
    expect(problems).toEqual([]);
    // The package bundles the assembly the jsii runtime loads, and names the Python packages of its peers.
    const bundled = fs.readdirSync(path.join(PYTHON_SRC, '_jsii'));
    expect(bundled).toContain(`cdk-model-deployment@${pkg.version}.jsii.tgz`);
    const setup = fs.readFileSync(path.join(STAGE, 'dist', 'python', 'setup.py'), 'utf8');
    for (const dist of ['aws-cdk-lib', 'cdktf', 'constructs', 'cdktf-cdktf-provider-azurerm', 'cdktf-cdktf-provider-google', 'jsii']) {
      expect(setup).toContain(`"${dist}>=`);
    }
  });
});
