/**
 * Relative links and #anchors in markdown files: every `[text](target)` and `<a href>` that is not a
 * URL must name an existing file, and its `#anchor` a heading of that file (GitHub's slugs: lower
 * case, punctuation other than `-` and `_` dropped, spaces to `-`, repeats numbered `-1`, `-2`...).
 */
import * as fs from 'fs';
import * as path from 'path';

/** The anchors GitHub gives a markdown text's headings. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    if (fence) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const text = m[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  return anchors;
}

/** The link targets of a markdown text, outside code fences and code spans. */
export function linkTargets(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let fence = false;
  markdown.split('\n').forEach((raw, i) => {
    if (/^\s*(```|~~~)/.test(raw)) { fence = !fence; return; }
    if (fence) return;
    const line = raw.replace(/`[^`]*`/g, '');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], line: i + 1 });
    for (const m of line.matchAll(/<a\s[^>]*href="([^"]+)"/g)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}

/** Broken relative links and anchors of one markdown file, as `file:line: target (why)`. */
export function brokenLinks(file: string, root: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const problems: string[] = [];
  const where = path.relative(root, file);
  for (const { target, line } of linkTargets(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:...
    const [filePart, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved = filePart === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(filePart));
    if (!fs.existsSync(resolved)) {
      problems.push(`${where}:${line}: ${target} (no file ${path.relative(root, resolved)})`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md')) {
      if (!headingAnchors(fs.readFileSync(resolved, 'utf8')).has(decodeURIComponent(anchor))) {
        problems.push(`${where}:${line}: ${target} (no heading #${anchor} in ${path.relative(root, resolved)})`);
      }
    }
  }
  return problems;
}

/** README.md and every markdown file under docs/ (docs/api, TypeDoc's output, excluded). */
export function documentationFiles(root: string): string[] {
  const files = [path.join(root, 'README.md')];
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && full !== path.join(root, 'docs', 'api')) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.md')) files.push(full);
    }
  };
  walk(path.join(root, 'docs'));
  return files.sort();
}
