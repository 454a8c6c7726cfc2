/**
 * The seam between the facade and the targets (issue 7, item 10): targets import what they
 * implement from a leaf file that names no target, never the facade's factories (which name every
 * target: an import loop); and the spec imports no IaC engine and no target.
 */
import * as fs from 'fs';
import * as path from 'path';

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
