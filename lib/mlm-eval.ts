/** Held-out masked-LM metrics (loss, masked-token accuracy) of a model, and the unigram-frequency baseline. */
import * as tf from '@tensorflow/tfjs';
import type { Bert } from './bert/model';
import { collate, IGNORE_INDEX, MaskedExample } from './mlm-data';

export interface MlmMetrics {
  /** Mean cross-entropy (nats) over masked positions. */
  loss: number;
  /** Share of masked positions whose most probable token is the original one. */
  accuracy: number;
  maskedTokens: number;
}

/** Masked-LM loss and accuracy of `model` (evaluation mode) on pre-masked examples. */
export function evaluateMlm(model: Bert, examples: readonly MaskedExample[], padId: number, batchSize = 64): MlmMetrics {
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
export function unigramBaseline(trainSequences: readonly (readonly number[])[], examples: readonly MaskedExample[], vocabSize: number, specialIds: ReadonlySet<number>): MlmMetrics {
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
