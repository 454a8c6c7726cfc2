/**
 * What a contributor and a user of the package expect of the repository itself: a licence file that
 * matches package.json, a changelog, a lint that CI runs, and a build that ships no source maps.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const pkg = JSON.parse(read('package.json'));

describe('repository hygiene', () => {
  test('LICENSE holds the full Apache License 2.0 text that package.json names', () => {
    expect(pkg.license).toBe('Apache-2.0');
    const license = read('LICENSE');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(license).toContain('TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    // npm always packs LICENSE; the files list must not need to name it.
    expect(fs.existsSync(path.join(ROOT, 'LICENSE'))).toBe(true);
  });

  test('CHANGELOG.md follows Keep a Changelog: Unreleased first, then released versions with their dates', () => {
    const changelog = read('CHANGELOG.md');
    expect(changelog).toMatch(/keepachangelog\.com/);
    const versions = [...changelog.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(versions[0]).toBe('[Unreleased]');
    for (const v of versions.slice(1)) expect(v).toMatch(/^\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}$/);
  });

  test('npm run lint runs ESLint on the whole repository, failing on warnings, and CI runs it before the tests', () => {
    expect(pkg.scripts.lint).toBe('eslint . --max-warnings 0');
    expect(fs.existsSync(path.join(ROOT, 'eslint.config.mjs'))).toBe(true);
    const ci = read('.ci/run').split('\n').map((l) => l.trim());
    const lint = ci.indexOf('npm run lint');
    expect(lint).toBeGreaterThanOrEqual(0);
    expect(lint).toBeLessThan(ci.indexOf('npm test'));
  });

  test('the build (tsconfig.build.json) emits no source maps and embeds no sources', () => {
    const parsed = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.build.json'), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    });
    expect(parsed?.errors).toEqual([]);
    const o = parsed!.options;
    expect([o.sourceMap, o.inlineSourceMap, o.inlineSources, o.declarationMap].map(Boolean)).toEqual([false, false, false, false]);
    // And no map could be packed by mistake.
    expect(pkg.files.filter((f: string) => /\.map$|\*\*\/\*$/.test(f))).toEqual([]);
  });
});
