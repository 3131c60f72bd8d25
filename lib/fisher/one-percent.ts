/** The paper's Fisher estimate of a model: 1% of its pretraining corpus's training split, seed 1, shipped or computed. */
import * as fs from 'fs';
import * as path from 'path';
import { buildFisher } from './build';
import { outputDir } from '../paths';

/** Where the 1% Fisher of a model folder is computed: out/fisher/<folder name>-1pct.safetensors. */
export function computedFisherFile(modelDir: string): string {
  return path.join(outputDir(), 'fisher', `${path.basename(modelDir)}-1pct.safetensors`);
}

/** The 1% Fisher of a model folder (as `fisherlab fisher --fraction 0.01 --seed 1` computes it), computed into `computedFisherFile` unless it is there. */
export async function onePercentFisher(modelDir: string): Promise<string> {
  const file = computedFisherFile(modelDir);
  if (!fs.existsSync(file)) await buildFisher({ model: modelDir, output: file, size: { fraction: 0.01 }, seed: 1 });
  return file;
}
