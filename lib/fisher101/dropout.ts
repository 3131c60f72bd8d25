/**
 * Dropout on the inputs of a logistic regression and Wager, Wang & Liang's (2013) quadratic approximation:
 * E[dropout loss] ≈ loss + ½ Σ_j δ_j/(1 − δ_j) · F_jj · β_j², with F the model's Fisher at β.
 */
import { Rng } from '../util/random';
import { diagonal, dot, Matrix, Vector } from './linalg';
import { Dataset, logisticFisher, softplus } from './logistic';
import { mean, sampleVariance } from '../util/stats';

/** A Monte Carlo estimate with its standard error. */
export interface Estimate {
  mean: number;
  standardError: number;
}

/** The variance δ/(1 − δ) of inverted-dropout noise ξ/(1 − δ), ξ ~ Bernoulli(1 − δ) (and of Gaussian dropout N(1, δ/(1 − δ))). */
export function dropoutNoiseVariance(rate: number): number {
  return rate / (1 - rate);
}

/** One example's loss log(1 + e^η) − yη at the linear predictor η. */
function exampleLoss(eta: number, y: number): number {
  return softplus(eta) - y * eta;
}

/** The exact mean loss under Bernoulli dropout of feature j with rate δ_j (kept features scaled by 1/(1 − δ_j)), summing over all 2^d masks. */
export function bernoulliDropoutLoss(data: Dataset, beta: Vector, rates: Vector): number {
  const d = beta.length;
  let total = 0;
  data.x.forEach((row, i) => {
    for (let mask = 0; mask < 1 << d; mask++) {
      let probability = 1;
      let eta = 0;
      for (let j = 0; j < d; j++) {
        const kept = (mask >> j) & 1;
        probability *= kept ? 1 - rates[j] : rates[j];
        if (kept) eta += (row[j] * beta[j]) / (1 - rates[j]);
      }
      if (probability > 0) total += probability * exampleLoss(eta, data.y[i]);
    }
  });
  return total / data.x.length;
}

/** A Monte Carlo estimate of `bernoulliDropoutLoss`: the mean over `draws` passes over the data, each with fresh random masks. */
export function bernoulliDropoutLossMonteCarlo(
  data: Dataset,
  beta: Vector,
  rates: Vector,
  draws: number,
  rng: Rng,
): Estimate {
  const passes = Array.from({ length: draws }, () => {
    let s = 0;
    data.x.forEach((row, i) => {
      let eta = 0;
      row.forEach((v, j) => {
        if (rng.next() >= rates[j]) eta += (v * beta[j]) / (1 - rates[j]);
      });
      s += exampleLoss(eta, data.y[i]);
    });
    return s / data.x.length;
  });
  return { mean: mean(passes), standardError: Math.sqrt(sampleVariance(passes) / draws) };
}

/** Quadrature nodes z and weights φ(z)·h on [−10, 10] (trapezoid rule, spectrally accurate for smooth integrands). */
const NORMAL_QUADRATURE = (() => {
  const h = 0.05;
  return Array.from({ length: 401 }, (_, k) => {
    const z = -10 + k * h;
    return { z, w: (h * Math.exp((-z * z) / 2)) / Math.sqrt(2 * Math.PI) };
  });
})();

/** The exact mean loss under Gaussian dropout x_j(1 + ε_j), ε_j ~ N(0, δ_j/(1 − δ_j)): the noisy η is N(xᵀβ, Σ_j δ_j/(1−δ_j) x_j²β_j²). */
export function gaussianDropoutLoss(data: Dataset, beta: Vector, rates: Vector): number {
  let total = 0;
  data.x.forEach((row, i) => {
    const eta = dot(row, beta);
    const sd = Math.sqrt(row.reduce((s, v, j) => s + dropoutNoiseVariance(rates[j]) * (v * beta[j]) ** 2, 0));
    for (const { z, w } of NORMAL_QUADRATURE) total += w * exampleLoss(eta + sd * z, data.y[i]);
  });
  return total / data.x.length;
}

/** Wager et al.'s weight on each β_j², ½ · δ_j/(1 − δ_j) · F_jj, with F the true Fisher (= Hessian) of the mean loss at β. */
export function dropoutPenaltyWeights(x: Matrix, beta: Vector, rates: Vector): Vector {
  return diagonal(logisticFisher(x, beta)).map((f, j) => 0.5 * dropoutNoiseVariance(rates[j]) * f);
}

/** Wager et al.'s quadratic dropout penalty ½ Σ_j δ_j/(1 − δ_j) · F_jj · β_j²; it does not depend on the labels. */
export function dropoutPenalty(x: Matrix, beta: Vector, rates: Vector): number {
  return dropoutPenaltyWeights(x, beta, rates).reduce((s, w, j) => s + w * beta[j] ** 2, 0);
}
