/**
 * What fisherlab ships in data/ and what a notebook needs to find it: the embedded model's name, the shipped paths,
 * and whether to run in full mode (recompute) or quick mode (read what is shipped).
 */
import * as path from 'path';
import { projectRoot } from './paths';

/** The name of the embedded model, the one fisherlab ships and uses by default. */
export const EMBEDDED_MODEL = 'fisherlab-bert-l4-h256';

/** Every path under data/ that fisherlab ships, relative to the project root. */
export const SHIPPED = {
  /** The embedded model's folder. */
  model: `data/models/${EMBEDDED_MODEL}`,
  /** Its 1% Fisher (what `fisherlab fisher --fraction 0.01 --seed 1` writes). */
  fisher: `data/fisher/${EMBEDDED_MODEL}-1pct.safetensors`,
  /** Its Fisher sub-sample stability study (`fisherlab fisher-stability`). */
  fisherStability: `data/fisher/${EMBEDDED_MODEL}-stability`,
  /** Its Figure 1 loss surfaces (`fisherlab landscape-figure1`). */
  landscape: `data/landscape/${EMBEDDED_MODEL}`,
  /** Its sweep results (`fisherlab sweep --design all`). */
  results: `data/results/${EMBEDDED_MODEL}`,
  /** The WordPiece vocabulary it was pretrained with. */
  vocab: 'data/vocab/brown-sotu-wordnet-glue-8k.txt',
} as const;

/** The absolute path of a shipped item. */
export function shippedPath(item: keyof typeof SHIPPED): string {
  return path.join(projectRoot(), SHIPPED[item]);
}

/** The folder of the model fisherlab ships and uses by default. */
export function defaultModelDir(): string {
  return shippedPath('model');
}

/** Whether notebooks and jobs run in full mode ($FISHERLAB_FULL=1) instead of quick mode. */
export function fullMode(): boolean {
  return ['1', 'true', 'yes'].includes((process.env.FISHERLAB_FULL ?? '').toLowerCase());
}
