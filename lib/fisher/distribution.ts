/**
 * How the Fisher is spread over a model, as notebook 02 tabulates it: the share held by the top parameters, quantiles
 * of the per-parameter scores, which tensors hold the top scores, the highest tensors per layer, and matrices against
 * vectors in the lower and upper half of the tensor ranking.
 */
import { groupOf } from './aggregate';
import type { FisherTensors, TensorMean } from './aggregate';

/** For each percentage: the share of the total Fisher held by that top share of the sorted (ascending) scores. */
export function topShares(
  sorted: ArrayLike<number>,
  pcts: readonly number[] = [0.01, 0.1, 1, 10, 50],
): Array<{ 'top parameters': string; 'share of the total Fisher': number }> {
  let total = 0;
  for (let i = 0; i < sorted.length; i++) total += sorted[i];
  return pcts.map((pct) => {
    const k = Math.max(1, Math.round((sorted.length * pct) / 100));
    let s = 0;
    for (let i = sorted.length - k; i < sorted.length; i++) s += sorted[i];
    return { 'top parameters': `${pct}% (${k.toLocaleString('en-US')})`, 'share of the total Fisher': s / total };
  });
}

/** The score at quantile q of the sorted (ascending) scores: the value at rank ⌊q·n⌋. */
export function sortedQuantile(sorted: ArrayLike<number>, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Minimum, median, 99th percentile, maximum and max / median of the sorted (ascending) scores. */
export function scoreSpread(sorted: ArrayLike<number>): Record<string, number> {
  const median = sortedQuantile(sorted, 0.5);
  const max = sorted[sorted.length - 1];
  return {
    min: sorted[0],
    median,
    '99th percentile': sortedQuantile(sorted, 0.99),
    max,
    'max / median': max / median,
  };
}

/** The tensors holding parameters at or above the sorted scores' quantile q, most such parameters first. */
export function topHolders(
  fisher: FisherTensors,
  means: readonly TensorMean[],
  sorted: ArrayLike<number>,
  q = 0.999,
): Array<{ tensor: string; group: string; 'parameters in the top 0.1%': number; 'of its': number }> {
  const threshold = sortedQuantile(sorted, q);
  return means
    .map((t) => {
      let count = 0;
      for (const x of fisher.get(t.name)!.data) if (x >= threshold) count++;
      return { tensor: t.name, group: groupOf(t.name).group, 'parameters in the top 0.1%': count, 'of its': t.size };
    })
    .filter((r) => r['parameters in the top 0.1%'] > 0)
    .sort((a, b) => b['parameters in the top 0.1%'] - a['parameters in the top 0.1%']);
}

/** Per encoder layer: its two tensors of highest mean Fisher, named within the layer. */
export function layerLeaders(means: readonly TensorMean[]): Array<Record<string, string | number>> {
  const shortName = (name: string) => name.replace(/^bert\.encoder\.layer\.\d+\./, '');
  const layerCount = Math.max(...means.map((t) => groupOf(t.name).layer ?? -1)) + 1;
  return Array.from({ length: layerCount }, (_, layer) => {
    const [first, second] = means.filter((t) => groupOf(t.name).layer === layer).sort((a, b) => b.mean - a.mean);
    return {
      layer,
      'highest tensor': shortName(first.name),
      mean: first.mean,
      'second highest': shortName(second.name),
      'its mean': second.mean,
    };
  });
}

/** Weight matrices (2-D tensors) and vectors in the lower and upper half of the tensors in ascending order. */
export function halvesByShape(
  fisher: FisherTensors,
  ascending: readonly TensorMean[],
): { lower: { matrices: number; vectors: number }; upper: { matrices: number; vectors: number } } {
  const half = Math.floor(ascending.length / 2);
  const count = (ts: readonly TensorMean[]) => {
    const matrices = ts.filter((t) => fisher.get(t.name)!.shape.length === 2).length;
    return { matrices, vectors: ts.length - matrices };
  };
  return { lower: count(ascending.slice(0, half)), upper: count(ascending.slice(half)) };
}
