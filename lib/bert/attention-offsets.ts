/** Does a model read word order? The attention each head gives to the tokens at fixed offsets from each query. */
import * as tf from '@tensorflow/tfjs';
import type { Bert } from './model';
import { pretrainingRecipe, recipeSequences } from '../fisher/samples';
import { loadTokenizer } from './tokenizer';

/** One head's mean attention at each offset. */
export interface HeadOffsets {
  layer: number;
  head: number;
  /** Mean attention from a query to the key `offsets[k]` positions away, over every query that has all offsets in range. */
  mass: number[];
}

/** Mean attention at each offset for every head of one layer's probabilities [B][heads][T][T]. */
export function offsetMass(
  probs: readonly (readonly (readonly (readonly number[])[])[])[],
  offsets: readonly number[],
): number[][] {
  const lo = Math.max(0, -Math.min(...offsets));
  return (probs[0] ?? []).map((_, h) =>
    offsets.map((o) => {
      let sum = 0;
      let n = 0;
      for (const seq of probs) {
        const T = seq[h].length;
        const hi = T - Math.max(0, Math.max(...offsets));
        for (let i = lo; i < hi; i++) {
          sum += seq[h][i][i + o];
          n++;
        }
      }
      if (n === 0)
        throw new Error(
          `sequences of ${probs[0]?.[0]?.length ?? 0} tokens are too short for offsets ${offsets.join(', ')}`,
        );
      return sum / n;
    }),
  );
}

/** Every head's attention by offset on full-length sequences (no padding); uniform attention gives 1/T at each. */
export function attentionByOffset(
  model: Bert,
  sequences: readonly (readonly number[])[],
  offsets: readonly number[],
): { tokens: number; heads: HeadOffsets[] } {
  if (sequences.length === 0) throw new Error('attention by offset: no sequences');
  const T = sequences[0].length;
  if (sequences.some((s) => s.length !== T))
    throw new Error('attention by offset: the sequences must have one length (no padding)');
  const layers = model.attentions({ input_ids: sequences.map((s) => [...s]) });
  const heads = layers.flatMap((a, layer) =>
    offsetMass(a.arraySync() as number[][][][], offsets).map((mass, head) => ({ layer, head, mass })),
  );
  tf.dispose(layers);
  return { tokens: T, heads };
}

/** The first `n` full-length sequences of the held-out split of a model's pretraining corpus (its pretrain-report.json recipe). */
export function heldOutSequences(modelDir: string, n: number): number[][] {
  const recipe = pretrainingRecipe(modelDir);
  const full = recipeSequences(loadTokenizer(modelDir), recipe, 'heldOut').filter((s) => s.length === recipe.maxLength);
  if (full.length === 0)
    throw new Error(
      `${modelDir}: the held-out split of ${recipe.corpus} has no sequence of ${recipe.maxLength} tokens`,
    );
  return full.slice(0, n);
}
