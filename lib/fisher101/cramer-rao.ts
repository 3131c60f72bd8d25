/** The Cramér–Rao bound by simulation: the variance of maximum-likelihood estimates over many simulated datasets. */
import { Rng } from '../util/random';
import { sampleBernoulli } from './bernoulli';
import type { Vector } from './linalg';
import { fitLogistic, simulateFeatures, simulateLabels } from './logistic';
import { mean, sampleVariance } from '../util/stats';

/** Variances of an estimator over simulated datasets, and how many datasets gave an estimate. */
export interface MleSpread {
  /** Sample variance over the fitted datasets (one entry per parameter). */
  variance: Vector;
  /** Mean estimate over the fitted datasets (one entry per parameter). */
  mean: Vector;
  fitted: number;
  /** Datasets without an estimate: Newton's method did not converge, or the labels were separable (no finite MLE). */
  failed: number;
}

/** The spread of the Bernoulli MLE θ̂ = x̄ over `datasets` simulated datasets of n coin flips. */
export function bernoulliMleSpread(theta: number, n: number, datasets: number, rng: Rng): MleSpread {
  const estimates = Array.from({ length: datasets }, () => mean(sampleBernoulli(n, theta, rng)));
  return { variance: [sampleVariance(estimates)], mean: [mean(estimates)], fitted: datasets, failed: 0 };
}

/** The spread of the logistic-regression MLE over `datasets` simulated datasets of n examples (x_j ~ N(0, scales_j²), y from θ*). */
export function logisticMleSpread(thetaStar: Vector, scales: Vector, n: number, datasets: number, rng: Rng): MleSpread {
  const fits: Vector[] = [];
  let failed = 0;
  for (let r = 0; r < datasets; r++) {
    const x = simulateFeatures(n, scales, rng);
    const fit = fitLogistic({ x, y: simulateLabels(x, thetaStar, rng) });
    if (fit.converged) fits.push(fit.theta);
    else failed++;
  }
  const coordinate = (j: number) => fits.map((t) => t[j]);
  return {
    variance: thetaStar.map((_, j) => sampleVariance(coordinate(j))),
    mean: thetaStar.map((_, j) => mean(coordinate(j))),
    fitted: fits.length,
    failed,
  };
}
