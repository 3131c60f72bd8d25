/** Sample statistics used to compare simulations with closed forms. */

/** The running means of `values` after the first n of them, for each n in `counts` (ascending). */
export function runningMeans(values: number[], counts: number[]): number[] {
  const out: number[] = [];
  let sum = 0;
  let i = 0;
  for (const n of counts) {
    for (; i < n; i++) sum += values[i];
    out.push(sum / n);
  }
  return out;
}

/** Standard error of a sample variance from R draws of a normal quantity: variance · √(2/(R − 1)). */
export function varianceStandardError(variance: number, draws: number): number {
  return variance * Math.sqrt(2 / (draws - 1));
}

/** Counts spaced evenly on a log scale from `from` to `to` (integers, ascending, distinct). */
export function logSpacedCounts(from: number, to: number, steps: number): number[] {
  const counts = Array.from({ length: steps }, (_, i) => Math.round(from * (to / from) ** (i / (steps - 1))));
  return [...new Set(counts)];
}
