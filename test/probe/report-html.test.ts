import fc from 'fast-check';
import { LOG_SCALE_SPAN, REPORT_COLOURS, renderHtmlReport } from '../../lib/probe/report-html';
import { msBuckets, syntheticResult, timelineFor } from './synthetic-result';

/** The <svg class="NAME"> element of the page. */
function svg(html: string, name: 'histogram' | 'timeline'): string {
  const m = new RegExp(`<svg class="${name}"[\\s\\S]*?</svg>`).exec(html);
  if (!m) throw new Error(`no ${name} svg`);
  return m[0];
}

const attr = (tag: string, name: string) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  if (!m) throw new Error(`no ${name} in ${tag}`);
  return m[1];
};

function bars(html: string) {
  return [...svg(html, 'histogram').matchAll(/<rect class="bar"[^>]*>/g)].map(([tag]) => ({
    x: Number(attr(tag, 'x')), width: Number(attr(tag, 'width')), height: Number(attr(tag, 'height')),
    count: Number(attr(tag, 'data-count')), fill: attr(tag, 'fill'),
  }));
}

const circles = (html: string, colour: string) =>
  [...svg(html, 'timeline').matchAll(/<circle [^>]*>/g)].filter(([tag]) => attr(tag, 'fill') === colour && attr(tag, 'r') !== '4').length;

/** The element names of every tag in the page. */
const tagNames = (html: string) => new Set([...html.matchAll(/<\/?([a-zA-Z][\w:-]*)/g)].map(m => m[1].toLowerCase()));
const OUR_TAGS = ['html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'p', 'span', 'strong', 'div', 'table', 'thead', 'tbody', 'tr', 'th', 'td',
  'svg', 'g', 'line', 'rect', 'circle', 'text', 'ol', 'li'];

/** Attributes of the page's own tags (escaped text holds no `<`, so whatever matches here is markup). */
const tagAttributes = (html: string) => [...html.matchAll(/<[a-zA-Z][^<>]*>/g)].map(m => m[0]);

const HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">\'"&amp;${x}';

describe('renderHtmlReport', () => {
  const counts = [0, 10, 40, 80, 20, 0, 5, 0];
  const histogram = msBuckets(2, counts);
  const base = syntheticResult(histogram, timelineFor(histogram, 3, 10));

  test('one bar per non-empty bucket, in order, heights proportional to the counts', () => {
    const html = renderHtmlReport(base);
    const b = bars(html);
    expect(b.map(x => x.count)).toEqual(counts.filter(c => c > 0));
    expect(b.every(x => x.fill === REPORT_COLOURS.bar)).toBe(true);
    // Left to right in bucket order, not overlapping, each as wide as a 1 ms bucket (linear axis).
    for (let i = 1; i < b.length; i++) expect(b[i].x).toBeGreaterThan(b[i - 1].x + b[i - 1].width - 0.2);
    // The gap between the 20 and the 5 bar is the empty 7-8 ms bucket: one bucket's width.
    const slot = b[1].x - b[0].x;
    expect(b[4].x - b[3].x).toBeCloseTo(2 * slot, 0);
    // height / count is one constant (to the 0.1 px the SVG is written with).
    const perRequest = b[2].height / b[2].count;
    expect(perRequest).toBeGreaterThan(1);
    for (const x of b) expect(Math.abs(x.height - x.count * perRequest)).toBeLessThan(0.15);
    // The axis is linear and says ms.
    expect(svg(html, 'histogram')).toContain('latency (ms)');
  });

  test('the timeline has one dot per point, failed ones in their own colour, and a seconds axis', () => {
    const html = renderHtmlReport(base);
    const failed = base.timeline.filter(p => !p.ok).length;
    expect(failed).toBeGreaterThan(0);
    expect(circles(html, REPORT_COLOURS.ok)).toBe(base.timeline.length - failed);
    expect(circles(html, REPORT_COLOURS.failed)).toBe(failed);
    expect(svg(html, 'timeline')).toContain('time since the first request (s)');
  });

  test('the summary names target, endpoint, time, counts, percentiles and outcomes', () => {
    const html = renderHtmlReport({ ...base, accuracy: { checked: 150, correct: 148, rate: 148 / 150, mismatches: ['sample "a": wrong answer at $.y: expected 1, got 2'] } });
    expect(html).toMatch(/<title>Probe report: https:\/\/model\.example\.internal\/predict \(onPrem\), 2026-12-01T10:00:00\.000Z<\/title>/);
    for (const text of ['requests</th><td class="n">155', 'latency p50', 'latency p90', 'latency p99', 'latency max', 'error rate',
      '<td>200</td><td class="n">139', '<td>503</td><td class="n">16', 'accuracy', '98.7% (148 of 150 checked)', 'sample &quot;a&quot;: wrong answer at $.y']) {
      expect(html).toContain(text);
    }
    expect(html).not.toContain('Partial report');
  });

  test('every string from the result is escaped: a hostile mismatch, endpoint, target, outcome or stop reason adds no tag and no script', () => {
    const html = renderHtmlReport({
      ...base, target: HOSTILE, endpoint: HOSTILE, startedAt: HOSTILE, completed: false, stopReason: HOSTILE,
      outcomes: { [HOSTILE]: 3, 200: 1 },
      accuracy: { checked: 1, correct: 0, rate: 0, mismatches: [HOSTILE] },
    });
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(tagAttributes(html).filter(t => /\son\w+=/i.test(t))).toEqual([]);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;&#39;&quot;&amp;amp;${x}');
    expect([...tagNames(html)].filter(t => !OUR_TAGS.includes(t))).toEqual([]);
  });

  test('whatever strings the result holds, the page has only its own tags, no script, and loads nothing', () => {
    fc.assert(fc.property(fc.string(), fc.string(), fc.string(), fc.array(fc.string(), { maxLength: 3 }), (target, endpoint, reason, mismatches) => {
      const html = renderHtmlReport({
        ...base, target, endpoint, stopReason: reason, completed: false, outcomes: { [reason || 'x']: 1 },
        accuracy: { checked: 1, correct: 0, rate: 0, mismatches },
      });
      expect([...tagNames(html)].filter(t => !OUR_TAGS.includes(t))).toEqual([]);
      expect(tagAttributes(html).filter(t => /\s(src|href|on\w+)=|url\(/i.test(t))).toEqual([]);
      expect(html.slice(html.indexOf('<style>'), html.indexOf('</style>'))).not.toMatch(/url\(|@import/);
    }), { numRuns: 300 });
    // And the policy forbids script even if a tag got through.
    expect(renderHtmlReport(base)).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none';`);
  });

  test('zero responses: the numbers say so and both plots say "no responses"', () => {
    const html = renderHtmlReport(syntheticResult([], [], {
      completed: false, stopReason: 'endpoint unreachable: ECONNREFUSED', requests: 5, outcomes: { ECONNREFUSED: 5 }, errorRate: 1,
    }));
    expect(bars(html)).toEqual([]);
    expect(svg(html, 'histogram')).toContain('>no responses</text>');
    expect(svg(html, 'timeline')).toContain('>no responses</text>');
    expect(svg(html, 'timeline')).not.toMatch(/<circle/);
    expect(html).toContain('latency p99</th><td class="n">no responses');
    expect(html).toContain('<strong>Partial report:</strong> the run stopped early: endpoint unreachable: ECONNREFUSED');
    expect(html).toContain('error rate</th><td class="n">100.0%');
    // Buckets that are all empty are no responses either.
    expect(svg(renderHtmlReport(syntheticResult(msBuckets(1, [0, 0]), [])), 'histogram')).toContain('>no responses</text>');
  });

  test('one response: one full-height bar and one dot, no NaN anywhere', () => {
    const h = [{ fromMs: 7, toMs: 8, count: 1 }];
    const html = renderHtmlReport(syntheticResult(h, [{ atMs: 0, latencyMs: 7.5, ok: true }]));
    const [bar, ...more] = bars(html);
    expect(more).toEqual([]);
    expect(bar.height).toBeGreaterThan(200);
    expect(circles(html, REPORT_COLOURS.ok)).toBe(1);
    expect(html).not.toMatch(/NaN|Infinity|undefined/);
  });

  test('all errors: every dot is a failed one, the error rate is 100%', () => {
    const h = msBuckets(10, [3, 4]);
    const html = renderHtmlReport(syntheticResult(h, timelineFor(h, 1, 1)));
    expect(circles(html, REPORT_COLOURS.ok)).toBe(0);
    expect(circles(html, REPORT_COLOURS.failed)).toBe(7);
    expect(html).toContain('error rate</th><td class="n">100.0%');
    expect(bars(html).map(b => b.count)).toEqual([3, 4]);
  });

  test('huge outliers: the latency axes turn logarithmic and say so, and the fast bars stay wide', () => {
    const h = [{ fromMs: 0, toMs: 1, count: 500 }, { fromMs: 1, toMs: 2, count: 300 }, { fromMs: 2, toMs: 4, count: 50 }, { fromMs: 8000, toMs: 16000, count: 1 }];
    const timeline = [...timelineFor(h.slice(0, 3), 2), { atMs: 1500, latencyMs: 12000, ok: false }];
    const html = renderHtmlReport(syntheticResult(h, timeline));
    expect(svg(html, 'histogram')).toContain(`latency (ms, logarithmic scale: the latencies span more than ${LOG_SCALE_SPAN}x)`);
    expect(svg(html, 'timeline')).toContain('latency (ms, log scale)');
    const b = bars(html);
    expect(b.map(x => x.count)).toEqual([500, 300, 50, 1]);
    // On a linear axis the 1 ms buckets would be 1/16000 of the plot; on the log one they are wide.
    expect(b[1].width).toBeGreaterThan(30);
    // The single outlier stays visible: at least a pixel high.
    expect(b[3].height).toBeGreaterThanOrEqual(1);
    expect(html).not.toMatch(/NaN|Infinity/);
  });

  test('a thinned timeline says how many requests it shows', () => {
    const html = renderHtmlReport({ ...base, requests: 10000 });
    expect(html).toContain(`${base.timeline.length} of 10,000 requests plotted (evenly thinned)`);
  });
});
