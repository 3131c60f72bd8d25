/** Held-out masked-LM metrics (loss, masked-token accuracy) of a model, and the unigram-frequency baseline. */
import * as tf from '@tensorflow/tfjs';
import type { Bert } from '../bert/model';
import { microBatchSize } from '../train/memory-budget';
import { collate, IGNORE_INDEX, MaskedExample } from './mlm-data';

export interface MlmMetrics {
  /** Mean cross-entropy (nats) over masked positions. */
  loss: number;
  /** Share of masked positions whose most probable token is the original one. */
  accuracy: number;
  maskedTokens: number;
}

/** Masked-LM loss and accuracy of `model` (evaluation mode) on pre-masked examples, in batches of 64 or as many as fit in memory. */
export function evaluateMlm(
  model: Bert,
  examples: readonly MaskedExample[],
  padId: number,
  batchSize?: number,
): MlmMetrics {
  batchSize ??= microBatchSize(
    {
      config: model.config,
      kind: 'eval',
      batch: 64,
      seqLen: Math.max(...examples.map((e) => e.input_ids.length)),
      maskedPerSequence: Math.max(...examples.map((e) => e.labels.filter((y) => y !== IGNORE_INDEX).length)),
    },
    { batchFlag: '--eval-examples' },
  );
  let nll = 0;
  let correct = 0;
  let count = 0;
  for (let i = 0; i < examples.length; i += batchSize) {
    const { batch, labels } = collate(examples.slice(i, i + batchSize), padId);
    const [sumNll, hits, n] = tf.tidy(() => {
      const { logits, targets } = model.maskedLmLogits(batch, labels);
      const t = tf.tensor1d(targets, 'int32');
      const logp = tf.logSoftmax(logits);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(t, logits.shape[1])), 1);
      const hit = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), t), 'float32'));
      return [tf.neg(tf.sum(picked)).dataSync()[0], hit.dataSync()[0], targets.length];
    });
    nll += sumNll;
    correct += hits;
    count += n;
  }
  if (count === 0) throw new Error('evaluateMlm: no masked positions in the examples');
  return { loss: nll / count, accuracy: correct / count, maskedTokens: count };
}

/**
 * The baseline that ignores context: predict every masked token from its unigram frequency in the training
 * sequences (add-one smoothing over the vocabulary, special tokens excluded); accuracy is that of always
 * guessing the most frequent token.
 */
export function unigramBaseline(
  trainSequences: readonly (readonly number[])[],
  examples: readonly MaskedExample[],
  vocabSize: number,
  specialIds: ReadonlySet<number>,
): MlmMetrics {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const id of specialIds) counts[id] = 0;
  for (const seq of trainSequences) for (const id of seq) if (!specialIds.has(id)) counts[id] += 1;
  let total = 0;
  let best = 0;
  for (let id = 0; id < vocabSize; id++) {
    total += counts[id];
    if (counts[id] > counts[best]) best = id;
  }
  let nll = 0;
  let correct = 0;
  let count = 0;
  for (const ex of examples) {
    for (const y of ex.labels) {
      if (y === IGNORE_INDEX) continue;
      nll -= Math.log(Math.max(counts[y], 1) / total);
      if (y === best) correct += 1;
      count += 1;
    }
  }
  return { loss: nll / count, accuracy: correct / count, maskedTokens: count };
}

/**
 * Masked-LM loss and accuracy of a neighbour-bigram model: the mean of P(w | token to the left) and P(w | token to
 * the right), each from training-sequence bigram counts interpolated (weight `lambda`) with the add-one unigram of
 * `unigramBaseline`; a side whose context never occurs in training (such as [MASK]) falls back to the unigram.
 * What a model that reads only its two neighbours can do: a contextual model should beat it.
 */
export function neighbourBigramBaseline(
  trainSequences: readonly (readonly number[])[],
  examples: readonly MaskedExample[],
  vocabSize: number,
  specialIds: ReadonlySet<number>,
  lambda = 0.7,
): MlmMetrics {
  const counts = new Float64Array(vocabSize).fill(1);
  for (const id of specialIds) counts[id] = 0;
  const left = new Map<number, Map<number, number>>(); // context on the left → following token → count
  const right = new Map<number, Map<number, number>>(); // context on the right → preceding token → count
  const add = (m: Map<number, Map<number, number>>, ctx: number, w: number) => {
    const row = m.get(ctx) ?? m.set(ctx, new Map()).get(ctx)!;
    row.set(w, (row.get(w) ?? 0) + 1);
  };
  for (const seq of trainSequences) {
    seq.forEach((w, i) => {
      if (specialIds.has(w)) return;
      counts[w] += 1;
      if (i > 0) add(left, seq[i - 1], w);
      if (i + 1 < seq.length) add(right, seq[i + 1], w);
    });
  }
  const total = counts.reduce((a, b) => a + b, 0);
  let best = 0;
  for (let id = 0; id < vocabSize; id++) if (counts[id] > counts[best]) best = id;
  const totals = (m: Map<number, Map<number, number>>) =>
    new Map([...m].map(([ctx, row]) => [ctx, [...row.values()].reduce((a, b) => a + b, 0)]));
  const leftTotal = totals(left);
  const rightTotal = totals(right);
  let nll = 0;
  let correct = 0;
  let count = 0;
  for (const ex of examples) {
    ex.labels.forEach((y, i) => {
      if (y === IGNORE_INDEX) return;
      const sides = [
        i > 0 ? { row: left.get(ex.input_ids[i - 1]), n: leftTotal.get(ex.input_ids[i - 1]) ?? 0 } : null,
        i + 1 < ex.input_ids.length
          ? { row: right.get(ex.input_ids[i + 1]), n: rightTotal.get(ex.input_ids[i + 1]) ?? 0 }
          : null,
      ].filter((x): x is { row: Map<number, number> | undefined; n: number } => x !== null);
      const p = (w: number) => {
        const unigram = Math.max(counts[w], 1) / total;
        if (sides.length === 0) return unigram;
        return (
          sides.reduce(
            (a, sd) => a + (sd.n > 0 ? lambda * ((sd.row!.get(w) ?? 0) / sd.n) + (1 - lambda) * unigram : unigram),
            0,
          ) / sides.length
        );
      };
      nll -= Math.log(p(y));
      const candidates = new Set([best, ...sides.flatMap((sd) => (sd.row ? [...sd.row.keys()] : []))]);
      let guess = best;
      for (const w of candidates) if (p(w) > p(guess)) guess = w;
      if (guess === y) correct += 1;
      count += 1;
    });
  }
  return { loss: nll / count, accuracy: correct / count, maskedTokens: count };
}
