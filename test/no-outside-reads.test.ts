/**
 * The project uses only files in its repository: a clone anywhere must build and pass its tests.
 * Nothing may refer to the workspace's `shared` folder beside the checkout, neither as a path string
 * (dot-dot, slash, shared) nor as path segments (path.join with '..' then the folder name).
 */
import * as fs from 'fs';
import * as path from 'path';

const REPO_ROOT = path.join(__dirname, '..');
const SCANNED = ['lib', 'test', 'scripts', 'bin', 'examples', 'bench', '.ci', 'package.json', 'jest.config.js', 'tsconfig.json', 'tsconfig.build.json'];
// Caches and installed packages are not the project's own files.
const SKIPPED_DIRS = new Set(['node_modules', '.cache', 'cdk.out', 'cdktf.out', 'dist']);
const BINARY = /\.(onnx|bin|tar|gz|tgz|zip|png|jpg)$/i;

// Built from parts so that this file does not match its own patterns.
const UP = '\\.\\.';
const NAME = 'shared';
const OUTSIDE_REFERENCES = [
  // a path string: up one or more levels, then the folder (either slash)
  new RegExp(`${UP}[\\\\/]+${NAME}(?![\\w-])`),
  // path segments: '..' followed by the folder's name as the next argument
  new RegExp(`['"\`]${UP}['"\`]\\s*,\\s*['"\`]${NAME}['"\`]`),
];

function filesUnder(entry: string): string[] {
  const full = path.join(REPO_ROOT, entry);
  if (!fs.existsSync(full)) return [];
  const stat = fs.lstatSync(full);
  if (stat.isSymbolicLink()) return [];
  if (stat.isFile()) return BINARY.test(entry) ? [] : [entry];
  if (!stat.isDirectory() || SKIPPED_DIRS.has(path.basename(entry))) return [];
  return fs.readdirSync(full).flatMap((name) => filesUnder(path.join(entry, name)));
}

describe('no reads outside the repository', () => {
  test('no file under lib, test, scripts, bin, examples, bench or the CI and build config refers to the shared folder beside the checkout', () => {
    const files = SCANNED.flatMap(filesUnder);
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files) {
      fs.readFileSync(path.join(REPO_ROOT, file), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (OUTSIDE_REFERENCES.some((re) => re.test(line))) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  test('the patterns catch both spellings', () => {
    const hits = (line: string) => OUTSIDE_REFERENCES.some((re) => re.test(line));
    expect(hits(`const dir = path.join(ROOT, '..', '${NAME}', 'data');`)).toBe(true);
    expect(hits(`fs.readFileSync('../../${NAME}/data/x.json')`)).toBe(true);
    expect(hits(`// see ..\\${NAME}\\README.md`)).toBe(true);
    expect(hits(`/** Options ${NAME} by every serving preset. */`)).toBe(false);
    expect(hits(`import { x } from '../${NAME}-things';`)).toBe(false);
  });
});
