/**
 * Transpiles lib/**\/*.ts, bench/child.ts, bench/raw-azure.ts and bench/raw-vertex.ts (the hand-written stacks the
 * child compares with) to plain JavaScript under bench/.build/ (same layout: bench/.build/lib,
 * bench/.build/bench/child.js), with the project's tsconfig compiler options and
 * no type checking. The JS children then measure what a consumer of the published package pays
 * (main: lib/index.js), without ts-node transpiling our sources on every require.
 */
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const BUILD_DIR = path.join(ROOT, 'bench', '.build');

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(full));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Returns the number of files written and the ms it took. */
export function buildJs(): { files: number; ms: number } {
  const start = performance.now();
  const ts = require('typescript') as typeof import('typescript');
  const configPath = path.join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT);
  const compilerOptions = { ...parsed.options, noEmit: false, declaration: false, outDir: undefined };

  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  const sources = [...listTs(path.join(ROOT, 'lib')), ...['child.ts', 'raw-azure.ts', 'raw-vertex.ts'].map(f => path.join(ROOT, 'bench', f))];
  for (const file of sources) {
    const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions, fileName: file });
    const target = path.join(BUILD_DIR, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, out.outputText);
  }
  return { files: sources.length, ms: performance.now() - start };
}
