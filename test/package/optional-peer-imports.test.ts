import { readFileSync } from 'fs';
import * as path from 'path';

// lib/targets/sagemaker/options.ts silences "cannot find module" on its aws-cdk-lib type imports, so
// that the root's declarations load without aws-cdk-lib (see test/package/consumer.test.ts). In this
// repository aws-cdk-lib is installed: each of those imports must resolve, or the comment would hide a
// misspelt module and turn its types into `any`.
test('every @ts-ignore\'d aws-cdk-lib import in the SageMaker options resolves', () => {
  const source = readFileSync(path.join(__dirname, '..', '..', 'lib', 'targets', 'sagemaker', 'options.ts'), 'utf8');
  const ignored = [...source.matchAll(/\/\*\* @ts-ignore[^\n]*\*\/\nimport type [^\n]* from '([^']+)';/g)].map((m) => m[1]);
  expect(ignored.length).toBeGreaterThan(0);
  for (const specifier of ignored) expect(() => require.resolve(specifier)).not.toThrow();
  // Every directive in the file is on such an import.
  expect(source.match(/^\/\*\* @ts-ignore/gm)!.length).toBe(ignored.length);
});
