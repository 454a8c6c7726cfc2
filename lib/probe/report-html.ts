import { ProbeResult } from './result';

/**
 * PLACEHOLDER so that the probe compiles until the report helper's version is merged (which
 * replaces this file): the result as escaped JSON in a page.
 */
export function renderHtmlReport(result: ProbeResult): string {
  const json = JSON.stringify(result, null, 2).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<!doctype html>\n<html><head><meta charset="utf-8"><title>Probe report</title></head><body><pre>${json}</pre></body></html>\n`;
}
