/**
 * A program this package runs through Terraform's local-exec, transpiled from its sources for a test
 * with TypeScript's transpileModule (about 0.3 s), into a temp dir with the package's layout
 * (dist/<path under lib/>.js), so that every run is plain `node` (no ts-node per child). Type
 * checking is `tsc --noEmit`'s job, as for all tests.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LIB = path.join(REPO_ROOT, 'lib');

/** Transpiles `entry` (relative to lib/) and every relative import it reaches into `<dir>/dist`; returns the entry's .js path. */
export function transpileProgram(dir: string, entry: string): string {
  const seen = new Set<string>();
  const visit = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const source = fs.readFileSync(path.join(LIB, rel), 'utf8');
    const out = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }, fileName: rel });
    const target = path.join(dir, 'dist', rel.replace(/\.ts$/, '.js'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
    for (const m of out.outputText.matchAll(/require\("(\.\.?\/[^"]+)"\)/g)) visit(path.posix.join(path.posix.dirname(rel), `${m[1]}.ts`));
  };
  visit(entry);
  return path.join(dir, 'dist', entry.replace(/\.ts$/, '.js'));
}

