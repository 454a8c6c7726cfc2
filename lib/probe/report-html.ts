import { ProbeResult } from './result';

/**
 * The probe's HTML report: one self-contained page (no script, no network, no external CSS or
 * font) with the run's summary, a latency histogram and latency over time, both drawn here as
 * inline SVG. Every string that comes from the result (endpoint names, mismatch lines, which
 * quote what a server answered) is HTML-escaped, and the page's Content-Security-Policy allows
 * no script at all, so a hostile response cannot run code in the reader's browser.
 *
 * Axes: counts are always linear (a bar's height is proportional to its count). A latency axis
 * turns logarithmic when the latencies drawn on it span more than LOG_SCALE_SPAN times (a few
 * huge outliers would otherwise crush every other bar or point into one pixel); the axis title
 * says so.
 */
export function renderHtmlReport(result: ProbeResult): string {
  const title = `Probe report: ${result.endpoint} (${result.target}), ${result.startedAt}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // No script may run, nothing may load: the page needs only its inline style and SVG.
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>Probe report: <span class="endpoint">${esc(result.endpoint)}</span></h1>`,
    `<p class="meta">target ${esc(result.target)} · started ${esc(result.startedAt)} · ${esc(requestedText(result))} at concurrency ${num(result.concurrency)}</p>`,
    partialBanner(result),
    '<div class="tables">',
    summaryTable(result),
    outcomesTable(result),
    '</div>',
    '<h2>Latency histogram</h2>',
    histogramSvg(result),
    '<h2>Latency over time</h2>',
    timelineSvg(result),
    accuracySection(result),
    '</body>',
    '</html>',
    '',
  ].filter(line => line !== '').join('\n');
}

/** The colours of the plots (the screenshot test looks for them). */
export const REPORT_COLOURS = {
  /** Histogram bars. */
  bar: '#1f77b4',
  /** Latency over time: a 2xx response. */
  ok: '#2ca02c',
  /** Latency over time: any other status, or a transport error. */
  failed: '#d62728',
} as const;

/** A latency axis becomes logarithmic when its largest value is more than this many times its smallest. */
export const LOG_SCALE_SPAN = 50;

const CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'";

const STYLE = [
  'body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}',
  'h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px}',
  '.endpoint{font-family:ui-monospace,monospace;word-break:break-all}',
  '.meta{color:#555;margin:0 0 12px}',
  '.partial{background:#fff3cd;border:1px solid #e0b000;padding:8px 12px;margin:8px 0}',
  '.tables{display:flex;gap:32px;flex-wrap:wrap;align-items:flex-start}',
  'table{border-collapse:collapse;font-size:14px}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}',
  'td.n{text-align:right;font-variant-numeric:tabular-nums}',
  '.note{color:#555;font-size:13px;margin:2px 0}',
  'svg{display:block}svg text{font-size:12px;fill:#333}',
  '.mismatches li{font-family:ui-monospace,monospace;font-size:13px;white-space:pre-wrap;word-break:break-all;margin:3px 0}',
].join('');

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(text: string): string {
  return String(text).replace(/[&<>"']/g, c => HTML_ENTITIES[c]);
}
const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

const NUMBER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
/** A number for people: grouped thousands, at most 2 decimals; a dash for a missing or non-finite one. */
function num(n: number | undefined, digits?: number): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return digits === undefined ? NUMBER.format(n) : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}
const pct = (fraction: number) => `${num(fraction * 100, 1)}%`;

function requestedText(r: ProbeResult): string {
  const parts: string[] = [];
  if (r.requested.count !== undefined) parts.push(`${num(r.requested.count)} requests`);
  if (r.requested.durationSeconds !== undefined) parts.push(`${num(r.requested.durationSeconds)} s`);
  return `asked for ${parts.length ? parts.join(' or ') : 'nothing'}`;
}

function partialBanner(r: ProbeResult): string {
  if (r.completed) return r.stopReason ? `<p class="note">Stopped: ${esc(r.stopReason)}</p>` : '';
  return `<div class="partial"><strong>Partial report:</strong> the run stopped early: ${esc(r.stopReason ?? 'no reason given')}</div>`;
}

function summaryTable(r: ProbeResult): string {
  const l = r.latencyMs;
  const rows: [string, string][] = [
    ['requests', num(r.requests)],
    ['duration', `${num(r.durationMs / 1000, 2)} s`],
    ['throughput', `${num(r.throughputPerSecond, 1)} /s`],
    ['error rate', pct(r.errorRate)],
    ['latency min', ms(l?.min)],
    ['latency p50', ms(l?.p50)],
    ['latency p90', ms(l?.p90)],
    ['latency p99', ms(l?.p99)],
    ['latency max', ms(l?.max)],
    ['latency mean', ms(l?.mean)],
  ];
  if (r.accuracy) rows.push(['accuracy', `${pct(r.accuracy.rate)} (${num(r.accuracy.correct)} of ${num(r.accuracy.checked)} checked)`]);
  return `<table class="summary"><tbody>${rows.map(([k, v]) => `<tr><th>${k}</th><td class="n">${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

const ms = (v: number | undefined) => v === undefined ? 'no responses' : `${num(v, v < 10 ? 2 : 1)} ms`;

function outcomesTable(r: ProbeResult): string {
  const entries = Object.entries(r.outcomes);
  // HTTP statuses in numeric order, then transport errors by name.
  entries.sort(([a], [b]) => {
    const na = /^\d+$/.test(a), nb = /^\d+$/.test(b);
    return na && nb ? Number(a) - Number(b) : na !== nb ? (na ? -1 : 1) : a.localeCompare(b);
  });
  const total = entries.reduce((s, [, n]) => s + n, 0);
  const body = entries.length === 0
    ? '<tr><td colspan="3">no requests</td></tr>'
    : entries.map(([k, n]) => `<tr><td>${esc(k)}</td><td class="n">${num(n)}</td><td class="n">${total ? pct(n / total) : ''}</td></tr>`).join('');
  return `<table class="outcomes"><thead><tr><th>outcome</th><th>requests</th><th>share</th></tr></thead><tbody>${body}</tbody></table>`;
}

function accuracySection(r: ProbeResult): string {
  if (!r.accuracy) return '';
  const a = r.accuracy;
  const head = `<h2>Accuracy</h2><p>${num(a.correct)} of ${num(a.checked)} checked responses matched the expected response (${pct(a.rate)}).</p>`;
  if (a.mismatches.length === 0) return head;
  return `${head}<p class="note">First mismatches:</p><ol class="mismatches">${a.mismatches.map(m => `<li>${esc(m)}</li>`).join('')}</ol>`;
}

// ---- plots ----

const W = 1000, H = 300;
const PAD = { left: 64, right: 20, top: 12, bottom: 46 };
const PLOT = { x0: PAD.left, x1: W - PAD.right, y0: H - PAD.bottom, y1: PAD.top };
/** About how many ticks a horizontal axis gets (a vertical one: 5). */
const X_TICKS = 8;

interface Axis {
  readonly log: boolean;
  readonly ticks: readonly number[];
  /** Value to pixel; values outside the domain are clamped to it. */
  px(v: number): number;
}

/**
 * A linear axis from lo to hi (widened to nice tick values, about `ticks` of them), or a log10 one
 * when lo > 0 and hi/lo exceeds LOG_SCALE_SPAN and allowLog is set.
 */
function axis(lo: number, hi: number, from: number, to: number, allowLog: boolean, ticks = 5): Axis {
  if (!(hi > lo)) hi = lo + (lo > 0 ? lo : 1);
  if (allowLog && lo > 0 && hi / lo > LOG_SCALE_SPAN) {
    const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    const logTicks: number[] = [];
    for (let e = a; e <= b; e++) logTicks.push(...(b - a <= 3 ? [1, 2, 5] : [1]).map(m => m * 10 ** e).filter(t => t <= 10 ** b));
    const l0 = a, l1 = b;
    return { log: true, ticks: logTicks, px: v => from + (to - from) * (Math.log10(clamp(v, 10 ** l0, 10 ** l1)) - l0) / (l1 - l0) };
  }
  const step = niceStep((hi - lo) / ticks);
  const start = Math.floor(lo / step) * step, end = Math.ceil(hi / step) * step;
  const linearTicks: number[] = [];
  for (let t = start; t <= end + step / 2; t += step) linearTicks.push(round(t, step));
  return { log: false, ticks: linearTicks, px: v => from + (to - from) * (clamp(v, start, end) - start) / (end - start) };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}
/** Rounds away floating-point dust (0.30000000000000004) to the step's precision. */
const round = (v: number, step: number) => Number(v.toFixed(Math.max(0, -Math.floor(Math.log10(step)) + 1)));
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const f1 = (v: number) => v.toFixed(1);

function frame(xAxis: Axis, yAxis: Axis, xTitle: string, yTitle: string, xLabel: (v: number) => string, yLabel: (v: number) => string): string {
  const parts: string[] = [];
  parts.push(`<line x1="${PLOT.x0}" y1="${PLOT.y0}" x2="${PLOT.x1}" y2="${PLOT.y0}" stroke="#444"/>`);
  parts.push(`<line x1="${PLOT.x0}" y1="${PLOT.y0}" x2="${PLOT.x0}" y2="${PLOT.y1}" stroke="#444"/>`);
  for (const t of yAxis.ticks) {
    const y = f1(yAxis.px(t));
    parts.push(`<line x1="${PLOT.x0}" y1="${y}" x2="${PLOT.x1}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${PLOT.x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(yLabel(t))}</text>`);
  }
  for (const t of xAxis.ticks) {
    const x = f1(xAxis.px(t));
    parts.push(`<line x1="${x}" y1="${PLOT.y0}" x2="${x}" y2="${PLOT.y0 + 5}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${PLOT.y0 + 18}" text-anchor="middle">${esc(xLabel(t))}</text>`);
  }
  parts.push(`<text x="${(PLOT.x0 + PLOT.x1) / 2}" y="${H - 6}" text-anchor="middle">${esc(xTitle)}</text>`);
  parts.push(`<text transform="translate(14 ${(PLOT.y0 + PLOT.y1) / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>`);
  return parts.join('');
}

const tickMs = (v: number) => num(v, v !== 0 && Math.abs(v) < 1 ? 2 : undefined);
const tickCount = (v: number) => num(v);
const tickSeconds = (v: number) => num(v);

const svgOpen = (cls: string, label: string) => `<svg class="${cls}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(label)}" xmlns="http://www.w3.org/2000/svg">`;
const noResponses = (cls: string) => `${svgOpen(cls, 'no responses')}<rect x="${PLOT.x0}" y="${PLOT.y1}" width="${PLOT.x1 - PLOT.x0}" height="${PLOT.y0 - PLOT.y1}" fill="#f6f6f6" stroke="#ccc"/><text x="${W / 2}" y="${H / 2}" text-anchor="middle" style="font-size:18px">no responses</text></svg>`;

function histogramSvg(r: ProbeResult): string {
  const buckets = r.histogram.filter(b => b.count > 0 && Number.isFinite(b.fromMs) && Number.isFinite(b.toMs));
  if (buckets.length === 0) return noResponses('histogram');
  const lo = buckets[0].fromMs, hi = buckets[buckets.length - 1].toMs;
  // A first bucket from 0 has no place on a log axis: it starts at a tenth of its upper edge there.
  const logLo = lo > 0 ? lo : buckets[0].toMs / 10;
  const x = axis(logLo > 0 && hi / logLo > LOG_SCALE_SPAN ? logLo : lo, hi, PLOT.x0, PLOT.x1, true, X_TICKS);
  const maxCount = Math.max(...buckets.map(b => b.count));
  const y = axis(0, maxCount, PLOT.y0, PLOT.y1, false);
  const bars = buckets.map(b => {
    const x0 = x.px(b.fromMs), x1 = x.px(b.toMs);
    // At least a pixel wide and high, so that a narrow bucket or a single request stays visible.
    const width = Math.max(1, x1 - x0 - 1);
    const top = Math.min(y.px(b.count), PLOT.y0 - 1);
    return `<rect class="bar" x="${f1(x0)}" y="${f1(top)}" width="${f1(width)}" height="${f1(PLOT.y0 - top)}" fill="${REPORT_COLOURS.bar}" data-count="${b.count}"><title>${esc(`${num(b.fromMs)}–${num(b.toMs)} ms: ${num(b.count)}`)}</title></rect>`;
  });
  const xTitle = `latency (ms${x.log ? ', logarithmic scale: the latencies span more than ' + LOG_SCALE_SPAN + 'x' : ''})`;
  return `${svgOpen('histogram', 'latency histogram')}${frame(x, y, xTitle, 'responses', tickMs, tickCount)}${bars.join('')}</svg>`;
}

function timelineSvg(r: ProbeResult): string {
  const points = r.timeline.filter(p => Number.isFinite(p.atMs) && Number.isFinite(p.latencyMs));
  if (points.length === 0) return noResponses('timeline');
  const endS = Math.max(r.durationMs, ...points.map(p => p.atMs)) / 1000;
  const x = axis(0, endS > 0 ? endS : 1, PLOT.x0, PLOT.x1, false, X_TICKS);
  const latencies = points.map(p => p.latencyMs);
  const minL = Math.min(...latencies), maxL = Math.max(...latencies);
  const logY = minL > 0 && maxL / minL > LOG_SCALE_SPAN;
  const y = axis(logY ? minL : 0, maxL, PLOT.y0, PLOT.y1, logY);
  const dot = (p: { atMs: number; latencyMs: number }, colour: string, radius: number) => `<circle cx="${f1(x.px(p.atMs / 1000))}" cy="${f1(y.px(p.latencyMs))}" r="${radius}" fill="${colour}"/>`;
  // Failed requests last and larger, so that they show on top of the others.
  const ok = points.filter(p => p.ok).map(p => dot(p, REPORT_COLOURS.ok, 2.5));
  const failed = points.filter(p => !p.ok).map(p => dot(p, REPORT_COLOURS.failed, 3.5));
  const yTitle = `latency (ms${y.log ? ', log scale' : ''})`;
  const legend = `<g class="legend"><circle cx="${PLOT.x1 - 170}" cy="${PLOT.y1 + 8}" r="4" fill="${REPORT_COLOURS.ok}"/><text x="${PLOT.x1 - 162}" y="${PLOT.y1 + 12}">2xx</text>`
    + `<circle cx="${PLOT.x1 - 110}" cy="${PLOT.y1 + 8}" r="4" fill="${REPORT_COLOURS.failed}"/><text x="${PLOT.x1 - 102}" y="${PLOT.y1 + 12}">failed</text></g>`;
  const note = points.length < r.requests ? `<p class="note">${num(points.length)} of ${num(r.requests)} requests plotted (evenly thinned).</p>` : '';
  return `${svgOpen('timeline', 'latency over time')}${frame(x, y, 'time since the first request (s)', yTitle, tickSeconds, tickMs)}`
    + `<g class="ok">${ok.join('')}</g><g class="failed">${failed.join('')}</g>${legend}</svg>${note}`;
}
