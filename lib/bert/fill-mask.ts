/** Fill-mask: the masked-LM head's most probable tokens at each [MASK] of a text. */
import * as tf from '@tensorflow/tfjs';
import type { Bert } from './model';
import type { Tokenizer } from './tokenizer';

export interface MaskPrediction {
  /** Index of the [MASK] token in the encoded sequence (with [CLS] at 0). */
  position: number;
  candidates: Array<{ token: string; id: number; probability: number }>;
}

/** The top-k tokens and probabilities at every [MASK] in `text`, in evaluation mode. */
export function fillMask(model: Bert, tokenizer: Tokenizer, text: string, topK = 5): MaskPrediction[] {
  if (!model.parts.mlm) throw new Error('fill-mask needs a model with a masked-LM head (cls.predictions.*)');
  const enc = tokenizer.encode(text, undefined, { maxLength: model.config.max_position_embeddings });
  const positions = enc.input_ids.flatMap((id, i) => (id === tokenizer.maskId ? [i] : []));
  if (positions.length === 0) throw new Error(`no [MASK] token in "${text}"`);
  const probs = tf.tidy(() => {
    const out = model.forward({ input_ids: [enc.input_ids], token_type_ids: [enc.token_type_ids] });
    const logits = tf.gather(tf.reshape(out.mlmLogits!, [enc.input_ids.length, -1]), tf.tensor1d(positions, 'int32'));
    return tf.softmax(logits).arraySync() as number[][];
  });
  return positions.map((position, m) => {
    const order = probs[m]
      .map((p, id) => [p, id])
      .sort((a, b) => b[0] - a[0])
      .slice(0, topK);
    return {
      position,
      candidates: order.map(([probability, id]) => ({ token: tokenizer.idToToken(id), id, probability })),
    };
  });
}
