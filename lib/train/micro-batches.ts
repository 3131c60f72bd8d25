/** Gradient accumulation: the parts of a batch, each weighted by its share of the loss's normalizer, and their gradients' sum. */
import * as tf from '@tensorflow/tfjs';

/**
 * Part `index` of `count` contiguous, nearly equal parts of `items` (the parts of any count tile the items in order,
 * so parts of parts compose) with its `weight`: its share of Σ size(item), the normalizer of a mean loss (sequences
 * by default; masked tokens for a masked-LM loss). A part left empty by fewer items than parts is the first item at
 * weight 0, so that it adds exact zeros.
 */
export function batchPart<T>(
  items: readonly T[],
  index: number,
  count: number,
  size: (item: T) => number = () => 1,
): { part: T[]; weight: number } {
  const at = (i: number) => Math.floor((i * items.length) / count);
  const part = items.slice(at(index), at(index + 1));
  if (part.length === 0) return { part: items.slice(0, 1), weight: 0 };
  const total = items.reduce((n, x) => n + size(x), 0);
  return { part, weight: part.reduce((n, x) => n + size(x), 0) / total };
}

/** `total` + `grads`, element-wise by name (the first micro-batch's gradients when `total` is null); disposes both. */
export function addGradients(
  total: Map<string, tf.Tensor> | null,
  grads: Map<string, tf.Tensor>,
): Map<string, tf.Tensor> {
  if (!total) return grads;
  const sum = new Map([...total].map(([name, g]) => [name, tf.add(g, grads.get(name)!)]));
  tf.dispose([...total.values(), ...grads.values()]);
  return sum;
}
