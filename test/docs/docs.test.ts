/**
 * The documentation checks CI runs: the generated references (docs/spec.md, each target page's
 * options) match the code, TypeDoc finds every export documented with no broken `{@link}`, and every
 * relative link and #anchor in README.md and docs/ resolves.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { regionFiles, REGIONS } from '../../scripts/generate-docs';
import { brokenLinks, documentationFiles, headingAnchors, linkTargets } from '../support/markdown-links';

const ROOT = path.join(__dirname, '..', '..');

/** TypeDoc runs in a child process from the start, beside the in-process generation (two cores). */
let typedoc: Promise<{ status: number | null; output: string }>;
beforeAll(() => {
  typedoc = new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'], { cwd: ROOT });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill(), 170_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output: output.replace(new RegExp(String.fromCharCode(27) + '\\[[0-9;]*m', 'g'), '') });
    });
  });
});

describe('documentation', () => {
  test('docs/spec.md and the target pages hold what `npm run docs:generate` writes from the code (every prop, every default)', () => {
    // regionFiles() throws, naming each one, on a prop without documentation or an optional prop without @default.
    const files = regionFiles();
    expect(files.map((f) => f.file).sort()).toEqual([...new Set(REGIONS.map((r) => r.file))].sort());
    for (const { file, current, fresh } of files) {
      if (fresh !== current) throw new Error(`${file} is stale: run npm run docs:generate`);
    }
    const spec = fs.readFileSync(path.join(ROOT, 'docs/spec.md'), 'utf8');
    // Spot checks that the reference carries the defaults written in the code.
    expect(spec).toMatch(/\| `latencyBudgetMs` \| `number` \| 5000 \|/);
    expect(spec).toMatch(/\| `network` \| \[NetworkAccess\]\(#networkaccess\) \| NetworkAccess\.PRIVATE \|/);
    expect(spec).toMatch(/\| `minReplicas` \| `number` \| 1 \|/);
  }, 120_000);

  test('TypeDoc: every export of the five entry points documented, no broken link, nothing referenced but not exported', async () => {
    const { status, output } = await typedoc;
    if (status !== 0 || /\[warning\]|\[error\]/.test(output)) throw new Error(`typedoc failed (status ${status}):\n${output}`);
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'typedoc.json'), 'utf8'));
    expect(config.validation).toEqual({ notExported: true, invalidLink: true, notDocumented: true });
    expect(config.treatWarningsAsErrors).toBe(true);
    expect(config.entryPoints).toEqual(['lib/index.ts', ...['sagemaker', 'azure-ml', 'vertex-ai', 'on-prem'].map((t) => `lib/targets/${t}/index.ts`)]);
  }, 180_000);

  test('every relative link and #anchor in README.md and docs/ resolves', () => {
    const files = documentationFiles(ROOT);
    // The check reads the links it should: README.md links to every page, and the pages back.
    const readmeLinks = linkTargets(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).map((l) => l.target);
    expect(readmeLinks).toEqual(expect.arrayContaining(['docs/spec.md', 'docs/targets/on-prem.md', '#which-target']));
    expect(files.map((f) => path.relative(ROOT, f))).toEqual(expect.arrayContaining([
      'README.md', 'docs/spec.md', 'docs/targets/sagemaker.md', 'docs/targets/azure-ml.md', 'docs/targets/vertex-ai.md', 'docs/targets/on-prem.md',
    ]));
    expect(files.flatMap((f) => brokenLinks(f, ROOT))).toEqual([]);
  });

  test('the link check finds a missing file, a missing heading, and accepts GitHub heading slugs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'md-links-'));
    try {
      fs.writeFileSync(path.join(dir, 'b.md'), '# The `on-prem` target (PRIVATE)\n\n## Which target?\n\n## Which target?\n```\n# not a heading\n```\n');
      fs.writeFileSync(path.join(dir, 'a.md'), [
        '[ok](b.md#the-on-prem-target-private) [ok](b.md#which-target) [ok](b.md#which-target-1) [ok](#top) [ok](https://example.com/x.md)',
        '[gone](c.md) [no anchor](b.md#not-a-heading) `[in code](d.md)`',
        '# Top',
      ].join('\n'));
      expect(brokenLinks(path.join(dir, 'a.md'), dir)).toEqual([
        'a.md:2: c.md (no file c.md)',
        'a.md:2: b.md#not-a-heading (no heading #not-a-heading in b.md)',
      ]);
      expect([...headingAnchors(fs.readFileSync(path.join(dir, 'b.md'), 'utf8'))]).toEqual(['the-on-prem-target-private', 'which-target', 'which-target-1']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
