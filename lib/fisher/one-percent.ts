/** The paper's Fisher estimate of a model: 1% of its pretraining corpus's training split, seed 1, shipped or computed. */
import * as fs from 'fs';
import * as path from 'path';
import { loadMaskedLm } from '../bert/load';
import { estimateFisher, writeFisher } from './estimate';
import { corpusSamples, pretrainingRecipe } from './samples';
import { outputDir, projectRoot } from '../paths';
import { loadTokenizer } from '../bert/tokenizer';

/** The embedded model's shipped 1% Fisher (what `fisherlab fisher --fraction 0.01 --seed 1` writes). */
export function shippedFisherFile(): string {
  return path.join(projectRoot(), 'data', 'fisher', 'fisherlab-bert-l4-h128-1pct.safetensors');
}

/** Where the 1% Fisher of a model folder is computed: out/fisher/<folder name>-1pct.safetensors. */
export function computedFisherFile(modelDir: string): string {
  return path.join(outputDir(), 'fisher', `${path.basename(modelDir)}-1pct.safetensors`);
}

/** Computes the 1% Fisher of a model (resumable) into `computedFisherFile` unless it is there, and returns the file. */
export async function onePercentFisher(modelDir: string): Promise<string> {
  const file = computedFisherFile(modelDir);
  if (fs.existsSync(file)) return file;
  const model = loadMaskedLm(modelDir, 'fisher');
  try {
    const { examples, available } = corpusSamples(
      loadTokenizer(modelDir),
      pretrainingRecipe(modelDir),
      { fraction: 0.01 },
      1,
    );
    const result = await estimateFisher({
      model,
      examples,
      padId: model.config.pad_token_id,
      runDir: file.replace(/\.safetensors$/, ''),
    });
    writeFisher(file, result.fisher!, result.samples, {
      model: modelDir,
      selection: 'fraction 0.01',
      seed: '1',
      training_sequences: String(available),
    });
  } finally {
    model.dispose();
  }
  return file;
}
