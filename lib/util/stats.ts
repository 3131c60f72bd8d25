/**
 * Descriptive and test statistics in float64: mean, sample variance and standard deviation, median, ranks, Pearson
 * and Spearman correlation, the paired t-test and the Pitman–Morgan test of paired variances with exact p-values, and
 * Holm's correction for multiple tests.
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';

/** The mean of a list (NaN when it is empty). */
export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** The unbiased sample variance (divisor n − 1). */
export function sampleVariance(values: ArrayLike<number>): number {
  const m = mean(values);
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += (values[i] - m) ** 2;
  return sum / (values.length - 1);
}

/** Mean and sample standard deviation (divisor n − 1; 0 for a single value). */
export function meanStd(values: ArrayLike<number>): { mean: number; std: number } {
  return { mean: mean(values), std: values.length > 1 ? Math.sqrt(sampleVariance(values)) : 0 };
}

/** The median: the middle value, or the mean of the two middle values of an even count (NaN when empty). */
export function median(values: ArrayLike<number>): number {
  const s = Array.from(values).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** 1-based ranks, tied values sharing the mean of the ranks they span. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: values.length }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) out[order[k]] = rank;
    start = end;
  }
  return out;
}

/** Pearson correlation of two equally long lists of finite numbers; NaN when either is constant (as scipy). */
export function pearsonCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = checkPaired('pearsonCorrelation', x, y, ['x', 'y'], 1);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return sxx === 0 || syy === 0 ? NaN : Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** Spearman rank correlation (ties get their average rank); NaN when either list is constant (as scipy). */
export function spearmanCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPaired('spearmanCorrelation', x, y, ['x', 'y'], 1);
  return pearsonCorrelation(ranks(x), ranks(y));
}

/** A paired t-test of a − b: the mean difference, its standard error, t on n − 1 degrees of freedom and p-values. */
export interface PairedTTest {
  n: number;
  /** Mean of the differences a[i] − b[i]. */
  meanDiff: number;
  /** Sample standard deviation of the differences (divisor n − 1). */
  sdDiff: number;
  /** Standard error of the mean difference, sdDiff / √n. */
  se: number;
  /** meanDiff / se. */
  t: number;
  /** Degrees of freedom, n − 1. */
  df: number;
  /** P(|T| ≥ |t|): the mean difference is not 0. */
  pTwoSided: number;
  /** P(T ≥ t): a is greater than b. */
  pGreater: number;
  /** P(T ≤ t): a is less than b. */
  pLess: number;
}

/**
 * Student's paired t-test of a against b with exact p-values from the t distribution on n − 1 degrees of freedom.
 * When all differences are equal (sdDiff 0), t is +Infinity (p-values: two-sided 0, greater 0, less 1) or −Infinity
 * (0, 1, 0) for a non-zero difference, and NaN with NaN p-values when every difference is 0.
 */
export function pairedTTest(a: ArrayLike<number>, b: ArrayLike<number>): PairedTTest {
  const n = checkPaired('pairedTTest', a, b, ['a', 'b'], 2);
  const diffs = Array.from({ length: n }, (_, i) => a[i] - b[i]);
  const equal = diffs.every((d) => d === diffs[0]);
  const meanDiff = equal ? diffs[0] : mean(diffs);
  const sdDiff = equal ? 0 : Math.sqrt(sampleVariance(diffs));
  const se = sdDiff / Math.sqrt(n);
  const t = meanDiff / se;
  const df = n - 1;
  return {
    n,
    meanDiff,
    sdDiff,
    se,
    t,
    df,
    pTwoSided: Math.min(1, 2 * tCdf(-Math.abs(t), df)),
    pGreater: tCdf(-t, df),
    pLess: tCdf(t, df),
  };
}

/** The Pitman–Morgan test of whether two paired samples have the same variance. */
export interface PairedVarianceTest {
  n: number;
  /** Sample standard deviations of a and of b (divisor n − 1). */
  sdA: number;
  sdB: number;
  /** Pearson correlation of the sums a + b with the differences a − b: its sign is that of Var(a) − Var(b). */
  r: number;
  /** r √(n − 2) / √(1 − r²), on n − 2 degrees of freedom. */
  t: number;
  df: number;
  /** P(|T| ≥ |t|): the variances differ. */
  pTwoSided: number;
}

/**
 * The Pitman–Morgan test (Pitman 1939, Morgan 1939) of Var(a) = Var(b) for paired samples: Cov(a + b, a − b) =
 * Var(a) − Var(b), so the variances are equal exactly when the sums and differences are uncorrelated, which Student's
 * t on n − 2 degrees of freedom tests. When the sums or the differences are constant the variances are equal (t 0,
 * p 1); when they are perfectly correlated t is ±Infinity (p 0).
 */
export function pitmanMorganTest(a: ArrayLike<number>, b: ArrayLike<number>): PairedVarianceTest {
  const n = checkPaired('pitmanMorganTest', a, b, ['a', 'b'], 3);
  const sums = Array.from({ length: n }, (_, i) => a[i] + b[i]);
  const diffs = Array.from({ length: n }, (_, i) => a[i] - b[i]);
  const raw = pearsonCorrelation(sums, diffs);
  const r = Number.isNaN(raw) ? 0 : raw;
  const df = n - 2;
  const t = Math.abs(r) === 1 ? r * Infinity : (r * Math.sqrt(df)) / Math.sqrt(1 - r * r);
  return {
    n,
    sdA: Math.sqrt(sampleVariance(a)),
    sdB: Math.sqrt(sampleVariance(b)),
    r,
    t,
    df,
    pTwoSided: Math.min(1, 2 * tCdf(-Math.abs(t), df)),
  };
}

/** Holm's step-down adjustment of p-values for multiple tests, in input order (monotone in the p-values, at most 1). */
export function holm(pValues: readonly number[]): number[] {
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new Error(`holm: p-value ${i} is ${p}, not a probability in [0, 1]`);
  });
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((i, j) => pValues[i] - pValues[j]);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach((i, k) => {
    running = Math.max(running, Math.min(1, (m - k) * pValues[i]));
    adjusted[i] = running;
  });
  return adjusted;
}

/** The common length of two equally long lists of finite numbers, at least `min` long. */
function checkPaired(
  name: string,
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  [xName, yName]: [string, string],
  min: number,
): number {
  if (x.length !== y.length) throw new Error(`${name}: ${xName} has ${x.length} values but ${yName} has ${y.length}`);
  if (x.length < min) throw new Error(`${name}: needs at least ${min} pairs, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${name}: ${xName}[${i}] is ${x[i]}, not a finite number`);
    if (!Number.isFinite(y[i])) throw new Error(`${name}: ${yName}[${i}] is ${y[i]}, not a finite number`);
  }
  return x.length;
}
