/**
 * The committed model fixtures (test/e2e/fixtures/model-v{1,2}/model.onnx, made by
 * scripts/e2e/make-linear-onnx.js): y = x·W + b, input 'x' float32 [N,3], output 'y' float32 [N,2].
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const E2E_DIR = path.resolve(__dirname, '..');
export const FIXTURES_DIR = path.join(E2E_DIR, 'fixtures');
/** gitignored: onnxruntime-node, built image archives, scratch */
export const CACHE_DIR = path.join(E2E_DIR, '.cache');
export const REPO_ROOT = path.resolve(E2E_DIR, '..', '..');

export interface LinearModelFixture {
  readonly name: string;
  /** directory holding model.onnx: what a container mounts at /opt/ml/model */
  readonly dir: string;
  readonly file: string;
  readonly W: readonly (readonly number[])[];
  readonly b: readonly number[];
  /** first 12 hex chars of the file's sha256: the server's modelVersion when MODEL_VERSION is not set */
  readonly version: string;
  readonly sha256: string;
}

function fixture(name: string, W: number[][], b: number[]): LinearModelFixture {
  const dir = path.join(FIXTURES_DIR, name);
  const file = path.join(dir, 'model.onnx');
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { name, dir, file, W, b, sha256, version: sha256.slice(0, 12) };
}

export const MODEL_V1 = fixture('model-v1', [[1, 2], [3, 4], [5, 6]], [0.5, -0.5]);
export const MODEL_V2 = fixture('model-v2', [[2, 4], [6, 8], [10, 12]], [1, 1]);

/** y = x·W + b in float32 arithmetic, as the served model computes it (exact for small integers and halves) */
export function predict(model: LinearModelFixture, x: readonly number[]): number[] {
  return model.b.map((bj, j) => {
    let acc = 0;
    for (let i = 0; i < x.length; i++) acc = Math.fround(acc + Math.fround(Math.fround(x[i]) * Math.fround(model.W[i][j])));
    return Math.fround(acc + Math.fround(bj));
  });
}
