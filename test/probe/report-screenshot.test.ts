/**
 * The HTML report as a person sees it: rendered by headless Chromium (the system binary, run
 * directly: scripts/e2e/install-deps.sh installs Debian's chromium-headless-shell), screenshotted,
 * and the PNG decoded here to check that the plots are really drawn: one bar per non-empty bucket
 * in the bar colour with heights in the counts' proportions, and the timeline's dots, in their
 * two colours, below the histogram. The page and its screenshot stay in test-output/probe-report/
 * for a person to look at.
 *
 * Without a Chromium the test is skipped with a message, except with CI=true, where it fails.
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPORT_COLOURS, renderHtmlReport } from '../../lib/probe/report-html';
import { Rgba, decodePng } from '../support/png';
import { msBuckets, syntheticResult, timelineFor } from './synthetic-result';

const OUT_DIR = path.join(__dirname, '..', '..', 'test-output', 'probe-report');
const BROWSERS = ['chromium-headless-shell', 'chromium', 'chromium-browser'];
const WIDTH = 1200, HEIGHT = 1600;

const browser = BROWSERS.map(b => spawnSync('sh', ['-c', `command -v ${b}`], { encoding: 'utf8' }).stdout.trim()).find(Boolean);
const inCi = process.env.CI === 'true';
if (!browser && !inCi) {
  console.warn(`report-screenshot.test.ts skipped: no ${BROWSERS.join(', ')} on PATH (Debian: apt-get install chromium-headless-shell, or run scripts/e2e/install-deps.sh as root)`);
}

/** Runs the browser to screenshot `url`; kills it (its process group, by PID) after 45 s. */
async function screenshot(binary: string, url: string, png: string): Promise<void> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-report-chromium-'));
  try {
    const child = spawn(binary, [
      '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--force-device-scale-factor=1', '--no-first-run',
      `--user-data-dir=${profile}`, `--window-size=${WIDTH},${HEIGHT}`, `--screenshot=${png}`, url,
    ], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', d => { stderr = (stderr + d).slice(-4000); });
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 45_000);
    const code = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('exit', resolve); });
    clearTimeout(timer);
    if (code !== 0 || !fs.existsSync(png)) throw new Error(`${binary} exited ${code} without a screenshot:\n${stderr}`);
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const hex = (colour: string) => [1, 3, 5].map(i => parseInt(colour.slice(i, i + 2), 16));

/** Pixels of exactly this colour (anti-aliased edges are blends, so this counts shape interiors). */
function pixelsOf(img: Rgba, colour: string): { x: number; y: number }[] {
  const [r, g, b] = hex(colour);
  const found: { x: number; y: number }[] = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 4;
      if (img.data[p] === r && img.data[p + 1] === g && img.data[p + 2] === b) found.push({ x, y });
    }
  }
  return found;
}

/** Bars: runs of adjacent columns holding the colour; each bar's height is its tallest column. */
function barsOf(pixels: readonly { x: number; y: number }[]) {
  const columns = new Map<number, { n: number; top: number; bottom: number }>();
  for (const { x, y } of pixels) {
    const c = columns.get(x) ?? { n: 0, top: y, bottom: y };
    columns.set(x, { n: c.n + 1, top: Math.min(c.top, y), bottom: Math.max(c.bottom, y) });
  }
  const xs = [...columns.keys()].sort((a, b) => a - b);
  const bars: { from: number; to: number; height: number; bottom: number }[] = [];
  for (const x of xs) {
    const c = columns.get(x)!;
    const last = bars[bars.length - 1];
    if (last && last.to === x - 1) {
      last.to = x;
      last.height = Math.max(last.height, c.n);
      last.bottom = Math.max(last.bottom, c.bottom);
    } else {
      bars.push({ from: x, to: x, height: c.n, bottom: c.bottom });
    }
  }
  return bars;
}

(browser || inCi ? test : test.skip)('headless Chromium shows the histogram bars in proportion and the latency-over-time dots below them', async () => {
  if (!browser) throw new Error(`CI machine is not set up: no ${BROWSERS.join(', ')} on PATH; scripts/e2e/install-deps.sh installs chromium-headless-shell`);
  const counts = [0, 15, 45, 90, 60, 30, 0, 8];
  const histogram = msBuckets(3, counts);
  const result = syntheticResult(histogram, timelineFor(histogram, 4, 8), {
    accuracy: { checked: 200, correct: 199, rate: 0.995, mismatches: ['sample "x": wrong answer at $.y: expected 1, got <script>alert(1)</script>'] },
  });
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const page = path.join(OUT_DIR, 'report.html');
  const png = path.join(OUT_DIR, 'report.png');
  fs.writeFileSync(page, renderHtmlReport(result));
  fs.rmSync(png, { force: true });
  await screenshot(browser, `file://${page}`, png);
  const img = decodePng(fs.readFileSync(png));
  expect([img.width, img.height]).toEqual([WIDTH, HEIGHT]);

  // Histogram: one bar per non-empty bucket, left to right, standing on one baseline, heights in
  // the counts' proportions (within 2 px: edges are anti-aliased).
  const bars = barsOf(pixelsOf(img, REPORT_COLOURS.bar));
  const expected = counts.filter(c => c > 0);
  expect(bars).toHaveLength(expected.length);
  const perRequest = bars[expected.indexOf(90)].height / 90;
  expect(perRequest * 90).toBeGreaterThan(150);
  bars.forEach((bar, i) => expect(Math.abs(bar.height - expected[i] * perRequest)).toBeLessThanOrEqual(2));
  expect(new Set(bars.map(b => b.bottom)).size).toBe(1);
  // Bars are as wide as their 1 ms bucket (each about the same, well over a few pixels), and the
  // empty bucket before the last bar leaves a gap of one bucket.
  const widths = bars.map(b => b.to - b.from + 1);
  expect(Math.min(...widths)).toBeGreaterThan(50);
  expect(Math.max(...widths) - Math.min(...widths)).toBeLessThanOrEqual(2);
  const slot = bars[1].from - bars[0].from;
  expect(Math.abs(bars[5].from - bars[4].from - 2 * slot)).toBeLessThanOrEqual(2);

  // Latency over time: the dots of 2xx responses and of failed ones, all below the histogram.
  const histogramBottom = bars[0].bottom;
  const ok = pixelsOf(img, REPORT_COLOURS.ok);
  const failed = pixelsOf(img, REPORT_COLOURS.failed);
  const failedPoints = result.timeline.filter(p => !p.ok).length;
  // A dot of radius 2.5 has a few interior pixels of its exact colour; the legend adds a handful.
  expect(ok.length).toBeGreaterThan((result.timeline.length - failedPoints) * 2);
  expect(failed.length).toBeGreaterThan(failedPoints * 2);
  for (const p of [...ok, ...failed]) expect(p.y).toBeGreaterThan(histogramBottom + 30);
  // The dots spread over the plot's width (4 s of requests), not one clump.
  const okXs = ok.map(p => p.x);
  expect(Math.max(...okXs) - Math.min(...okXs)).toBeGreaterThan(700);

  console.log(`report screenshot: ${path.relative(process.cwd(), png)} (page: ${path.relative(process.cwd(), page)})`);
});
