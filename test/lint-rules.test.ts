// The repository's own lint rules that guard performance: a cdktf provider package is imported by
// deep path only (its root loads every binding, about 1.1 s and 430 MB each). ESLint runs in a child
// process: its flat config is an ES module, which jest's sandbox cannot import.
import { spawnSync } from 'child_process';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..');
const ESLINT = path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');

function lintErrors(code: string, file: string): string[] {
  const run = spawnSync(process.execPath, [ESLINT, '--format', 'json', '--stdin', '--stdin-filename', file], { cwd: ROOT, input: code, encoding: 'utf8' });
  const [result] = JSON.parse(run.stdout) as Array<{ messages: Array<{ severity: number; ruleId: string; message: string }> }>;
  return result.messages.filter(m => m.severity === 2).map(m => `${m.ruleId}: ${m.message}`);
}

describe('provider imports', () => {
  test.each([
    ['@cdktf/provider-azurerm', 'lib/targets/any/thing.ts'],
    ['@cdktf/provider-google', 'test/any.test.ts'],
  ])('%s by its root is an error (in %s)', (pkg, file) => {
    expect(lintErrors(`import { provider } from '${pkg}';\nexport const p = provider;\n`, file))
      .toEqual([expect.stringMatching(/^no-restricted-imports: .*deep path/)]);
  }, 60_000);

  test('a deep path is fine', () => {
    expect(lintErrors("import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';\nexport const r = ResourceGroup;\n", 'lib/targets/any/thing.ts')).toEqual([]);
  }, 60_000);
});
