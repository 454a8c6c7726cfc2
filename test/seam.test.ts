/**
 * The seam between the facade and the targets (issue 7, item 10): targets import what they
 * implement from a leaf file that names no target, never the facade's factories (which name every
 * target: an import loop); the spec imports no IaC engine and no target, and holds no target's data
 * (issue 7, item 13: each target's instance table lives in its folder).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const LIB = path.resolve(__dirname, '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|require\()\s*['"]([^'"]+)['"]/g)].map(m => m[1]);
}

test('no target imports the facade or the factories; they implement lib/model-endpoint.ts', () => {
  const offenders = sources(path.join(LIB, 'targets')).flatMap(f =>
    imports(f).filter(i => /(^|\/)(deployment-target|model-deployment|index)$/.test(i) && path.resolve(path.dirname(f), i).startsWith(LIB) && !path.resolve(path.dirname(f), i).startsWith(path.join(LIB, 'targets')))
      .map(i => `${path.relative(LIB, f)} imports ${i}`));
  expect(offenders).toEqual([]);
  const leaf = imports(path.join(LIB, 'model-endpoint.ts'));
  expect(leaf).toEqual([]);
});

test('the spec imports no IaC engine, no provider and no target', () => {
  const offenders = sources(path.join(LIB, 'spec')).flatMap(f =>
    imports(f).filter(i => /^(aws-cdk-lib|cdktf|constructs|@cdktf\/)/.test(i) || i.includes('targets/') || i.includes('common/'))
      .map(i => `${path.relative(LIB, f)} imports ${i}`));
  expect(offenders).toEqual([]);
});

/** The identifiers and the string literals (template parts included) of a TypeScript file's code: no comments. */
function codeTokens(file: string): { identifiers: string[]; strings: string[] } {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const identifiers: string[] = [];
  const strings: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) identifiers.push(node.text);
    else if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) strings.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { identifiers, strings };
}

describe('the spec holds no target\'s data', () => {
  const TARGETS = path.join(LIB, 'targets');
  // Every target's name (lib/targets/<target>/name.ts), e.g. sageMaker, azureMl, vertexAi, onPrem.
  const targetNames = fs.readdirSync(TARGETS).filter(t => fs.existsSync(path.join(TARGETS, t, 'name.ts')))
    .map(t => (require(path.join(TARGETS, t, 'name.ts')) as { TARGET: string }).TARGET);
  // What a cloud calls its machines: SageMaker instance types, Azure VM sizes, Vertex AI machine types
  // and accelerator types.
  const SKU = [/^ml\.[a-z0-9]+\.[a-z0-9]+$/, /^Standard_[A-Za-z0-9_]+$/, /^[a-z][a-z0-9]*-(standard|highmem|highcpu|highgpu|megagpu|ultragpu|edgegpu)-\d+g?$/,
    /^(NVIDIA|TPU)_[A-Z0-9_]+$/];
  // Identifiers that name a target or its catalog. The spec may name clouds only where the concept is
  // the spec's own: ArtifactScheme's AZURE_BLOB and AZURE_ML say where a model is stored, which the
  // spec validates for every target.
  const TARGET_IDENTIFIER = /sage_?maker|vertex|azure|catalog_?platform|accelerator_?type/i;
  const ALLOWED_IDENTIFIERS: Record<string, string[]> = { 'artifact.ts': ['AZURE_BLOB', 'AZURE_ML'] };

  test('the target names are found, so the check below means something', () => {
    expect(targetNames).toEqual(expect.arrayContaining(['sageMaker', 'onPrem']));
  });

  test('no file under lib/spec has an instance type, SKU, machine or accelerator type, or a target\'s name in its code', () => {
    const offenders = sources(path.join(LIB, 'spec')).flatMap(f => {
      const { identifiers, strings } = codeTokens(f);
      const allowed = ALLOWED_IDENTIFIERS[path.basename(f)] ?? [];
      return [
        ...identifiers.filter(i => TARGET_IDENTIFIER.test(i) && !allowed.includes(i)).map(i => `identifier ${i}`),
        ...strings.filter(s => SKU.some(re => re.test(s))).map(s => `SKU ${JSON.stringify(s)}`),
        ...strings.filter(s => targetNames.includes(s)).map(s => `target name ${JSON.stringify(s)}`),
      ].map(what => `${path.relative(LIB, f)}: ${what}`);
    });
    expect([...new Set(offenders)]).toEqual([]);
  });

  test('the check finds target data where there is some: in each target\'s table', () => {
    const found = (file: string) => {
      const { strings } = codeTokens(path.join(TARGETS, file));
      return strings.filter(s => SKU.some(re => re.test(s))).length;
    };
    expect(found('sagemaker/instance-types.ts')).toBeGreaterThan(10);
    expect(found('azure-ml/instance-types.ts')).toBeGreaterThan(10);
    expect(found('vertex-ai/machine-types.ts')).toBeGreaterThan(10);
  });
});
