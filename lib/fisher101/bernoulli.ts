/** One coin, Bernoulli(θ): log-likelihood, score, Fisher information in closed form, and simulation. */
import { Rng } from '../util/random';

/** The log-likelihood of one observation x ∈ {0, 1}: x log θ + (1 − x) log(1 − θ). */
export function bernoulliLogLikelihood(x: number, theta: number): number {
  return x * Math.log(theta) + (1 - x) * Math.log(1 - theta);
}

/** The score d/dθ log p(x | θ) = x/θ − (1 − x)/(1 − θ) = (x − θ)/(θ(1 − θ)). */
export function bernoulliScore(x: number, theta: number): number {
  return x / theta - (1 - x) / (1 - theta);
}

/** The Fisher information of one observation, E[score²] = 1/(θ(1 − θ)). */
export function bernoulliFisher(theta: number): number {
  return 1 / (theta * (1 - theta));
}

/** The variance of one squared score (so the empirical Fisher of n samples has variance this / n): 1/θ³ + 1/(1 − θ)³ − I(θ)². */
export function bernoulliSquaredScoreVariance(theta: number): number {
  return 1 / theta ** 3 + 1 / (1 - theta) ** 3 - bernoulliFisher(theta) ** 2;
}

/** n independent Bernoulli(θ) observations (0 or 1). */
export function sampleBernoulli(n: number, theta: number, rng: Rng): number[] {
  return Array.from({ length: n }, () => (rng.next() < theta ? 1 : 0));
}
