/**
 * Jest setup (setupFilesAfterEnv): removes, after each test file, the `cdktf.outdir.*` directories
 * that cdktf's `Testing.app()` and `Testing.fullSynth()` made for it in the temp directory.
 *
 * cdktf makes one per call with `fs.mkdtempSync` and never removes it
 * (node_modules/cdktf/lib/testing/index.js); a full `npm test` made hundreds, and across runs on one
 * machine they piled up in /tmp by the hundred thousand. The directories are recorded as they are
 * made (only those with cdktf's prefix) and removed once the file's tests are done, so a test can
 * still read its synth output.
 */
// The module object itself (not a namespace copy), so that cdktf sees the wrapper.
import fs = require('fs');
import * as path from 'path';

const CDKTF_PREFIX = 'cdktf.outdir.';
const made: string[] = [];
const mkdtempSync = fs.mkdtempSync;

// Core modules are one object per worker: cdktf's `fs` is this one.
(fs as { mkdtempSync: typeof fs.mkdtempSync }).mkdtempSync = ((prefix: string, options?: fs.EncodingOption) => {
  const dir = mkdtempSync(prefix, options);
  if (path.basename(prefix) === CDKTF_PREFIX) made.push(String(dir));
  return dir;
}) as typeof fs.mkdtempSync;

afterAll(() => {
  (fs as { mkdtempSync: typeof fs.mkdtempSync }).mkdtempSync = mkdtempSync;
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
