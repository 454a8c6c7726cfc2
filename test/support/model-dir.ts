import * as fs from 'fs';
import * as path from 'path';

/** A model directory under `parent`: the fixture's weights (or `weights`) and a config.json. */
export function modelDir(parent: string, fixture: string, name: string, weights?: string): string {
  const dir = path.join(parent, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(fixture, 'weights.bin'), path.join(dir, 'weights.bin'));
  if (weights !== undefined) fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
  fs.writeFileSync(path.join(dir, 'config.json'), '{"layers":1}\n');
  return dir;
}
