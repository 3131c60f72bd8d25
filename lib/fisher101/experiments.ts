/**
 * The simulations notebook 01 shows, each as the rows of its table or chart: the empirical Fisher of a coin and a
 * Gaussian converging, true against empirical Fisher for logistic regression, the Cramér–Rao bound, and dropout as a
 * Fisher-weighted penalty. The charts of these rows are in plots.ts.
 */
import { Rng } from '../util/random';
import {
  bernoulliFisher,
  bernoulliLogLikelihood,
  bernoulliScore,
  bernoulliSquaredScoreVariance,
  sampleBernoulli,
} from './bernoulli';
import { bernoulliMleSpread, logisticMleSpread } from './cramer-rao';
import {
  bernoulliDropoutLoss,
  bernoulliDropoutLossMonteCarlo,
  dropoutPenalty,
  dropoutPenaltyWeights,
  gaussianDropoutLoss,
} from './dropout';
import { finiteDifferenceGradient, finiteDifferenceHessian } from './finite-differences';
import { gaussianFisher, gaussianScore } from './gaussian';
import { diagonal, inverse, maxAbsDifference } from './linalg';
import type { Matrix, Vector } from './linalg';
import {
  expectedEmpiricalFisher,
  fitLogistic,
  logisticEmpiricalFisher,
  logisticFisher,
  logisticGradient,
  logisticHessian,
  logisticLoss,
  simulateFeatures,
  simulateLabels,
} from './logistic';
import type { Dataset, Fit } from './logistic';
import { mean, sampleVariance } from '../util/stats';
import { logSpacedCounts, runningMeans, varianceStandardError } from './statistics';

/** A table's rows, as showTable takes them. */
export type Rows = Array<Record<string, unknown>>;

/** The coin's two outcomes: likelihood, log-likelihood and the score in closed form and by central differences. */
export function bernoulliScoreTable(theta: number, h = 1e-6): Rows {
  return [0, 1].map((x) => ({
    x,
    'p(x | θ)': x ? theta : 1 - theta,
    'log p(x | θ)': bernoulliLogLikelihood(x, theta),
    'score (x − θ)/(θ(1 − θ))': bernoulliScore(x, theta),
    'd/dθ log p (finite difference)':
      (bernoulliLogLikelihood(x, theta + h) - bernoulliLogLikelihood(x, theta - h)) / (2 * h),
  }));
}

/** The coin's score moments over its two outcomes, E[s] and E[s²], and the closed-form Fisher. */
export function bernoulliScoreMoments(theta: number): { meanScore: number; meanSquaredScore: number; fisher: number } {
  const overCoin = (f: (x: number) => number) => theta * f(1) + (1 - theta) * f(0);
  return {
    meanScore: overCoin((x) => bernoulliScore(x, theta)),
    meanSquaredScore: overCoin((x) => bernoulliScore(x, theta) ** 2),
    fisher: bernoulliFisher(theta),
  };
}

/** The empirical Fisher of a coin as running means of squared scores over streams of flips, against I(θ). */
export interface CoinConvergence {
  /** Running means, one series per stream. */
  running: Array<{ n: number; value: number; series: string }>;
  /** I(θ) at every n. */
  closedForm: Array<{ n: number; value: number; series: string }>;
  /** I ± 2 standard errors of the mean of n squared scores. */
  band: Array<{ n: number; lo: number; hi: number }>;
  /** Each stream's estimate after all flips. */
  final: number[];
  /** Two standard errors after all flips. */
  finalTwoSe: number;
}

/** Running empirical Fisher of `flips` coin flips for each seed's stream, at 60 log-spaced counts. */
export function coinConvergence(theta: number, flips: number, seeds: readonly number[] = [1, 2, 3]): CoinConvergence {
  const counts = logSpacedCounts(10, flips, 60);
  const fisher = bernoulliFisher(theta);
  const running = seeds.flatMap((seed) => {
    const squaredScores = sampleBernoulli(flips, theta, new Rng(seed)).map((x) => bernoulliScore(x, theta) ** 2);
    return runningMeans(squaredScores, counts).map((value, i) => ({
      n: counts[i],
      value,
      series: `empirical Fisher, stream ${seed}`,
    }));
  });
  const twoSe = (n: number) => 2 * Math.sqrt(bernoulliSquaredScoreVariance(theta) / n);
  return {
    running,
    closedForm: counts.map((n) => ({ n, value: fisher, series: `I(θ) = 1/(θ(1−θ)) = ${Number(fisher.toFixed(6))}` })),
    band: counts.map((n) => ({ n, lo: fisher - twoSe(n), hi: fisher + twoSe(n) })),
    final: seeds.map((s) => running.filter((r) => r.series.endsWith(`${s}`)).at(-1)!.value),
    finalTwoSe: twoSe(flips),
  };
}

/** Empirical Fisher from `flips` flips at θ = 0.05, 0.10, …, 0.95 (± 2 SE), and the curve 1/(θ(1−θ)) over [0.02, 0.98]. */
export function coinFisherCurve(
  flips: number,
  rng: Rng,
): {
  estimates: Array<{ theta: number; estimate: number; lo: number; hi: number }>;
  curve: Array<{ theta: number; fisher: number }>;
} {
  const thetas = Array.from({ length: 19 }, (_, i) => Number((0.05 * (i + 1)).toFixed(2)));
  const estimates = thetas.map((t) => {
    const sq = sampleBernoulli(flips, t, rng).map((x) => bernoulliScore(x, t) ** 2);
    const m = mean(sq);
    const se = Math.sqrt(sampleVariance(sq) / flips);
    return { theta: t, estimate: m, lo: m - 2 * se, hi: m + 2 * se };
  });
  const curve = Array.from({ length: 193 }, (_, i) => 0.02 + (0.96 * i) / 192).map((theta) => ({
    theta,
    fisher: bernoulliFisher(theta),
  }));
  return { estimates, curve };
}

/** The empirical Fisher of N(μ, σ) in (μ, σ): running means of score products, closed forms, and a summary table. */
export function gaussianConvergence(
  mu: number,
  sigma: number,
  draws: number,
  rng: Rng,
): {
  running: Array<{ n: number; value: number; entry: string }>;
  closedForm: Array<{ entry: string; value: number }>;
  table: Rows;
} {
  const scores = Array.from({ length: draws }, () => gaussianScore(mu + sigma * rng.normal(), mu, sigma));
  const counts = logSpacedCounts(10, draws, 60);
  const fisher = gaussianFisher(sigma);
  const entries: Array<[string, number, number]> = [
    ['I_μμ = 1/σ²', 0, 0],
    ['I_σσ = 2/σ²', 1, 1],
    ['I_μσ = 0', 0, 1],
  ];
  const running = entries.flatMap(([entry, j, k]) =>
    runningMeans(
      scores.map((s) => s[j] * s[k]),
      counts,
    ).map((value, i) => ({ n: counts[i], value, entry })),
  );
  // Per-sample variances of the three products (from moments of z): 2/σ⁴, 56/σ⁴, 10/σ⁴.
  const productVariance = [
    [2, 10],
    [10, 56],
  ].map((row) => row.map((v) => v / sigma ** 4));
  return {
    running,
    closedForm: entries.map(([entry, j, k]) => ({ entry, value: fisher[j][k] })),
    table: entries.map(([entry, j, k]) => ({
      entry,
      'closed form': fisher[j][k],
      [`empirical (n = ${draws})`]: mean(scores.map((s) => s[j] * s[k])),
      'standard error': Math.sqrt(productVariance[j][k] / draws),
    })),
  };
}

/** A simulated logistic regression: features at the given scales, labels drawn from θ*, and its maximum-likelihood fit. */
export interface LogisticProblem {
  thetaStar: Vector;
  featureScales: Vector;
  data: Dataset;
  fit: Fit;
}

/** Simulates n examples (features, then labels, from one stream) and fits them by Newton's method. */
export function logisticProblem(thetaStar: Vector, featureScales: Vector, n: number, rng: Rng): LogisticProblem {
  const x = simulateFeatures(n, featureScales, rng);
  const data = { x, y: simulateLabels(x, thetaStar, rng) };
  return { thetaStar, featureScales, data, fit: fitLogistic(data) };
}

/** Per coefficient: θ*, the fit, and the gradient at the fit in closed form and by finite differences. */
export function logisticFitTable(p: LogisticProblem): Rows {
  const gradient = logisticGradient(p.data, p.fit.theta);
  const gradientFd = finiteDifferenceGradient((t) => logisticLoss(p.data, t), p.fit.theta);
  return p.thetaStar.map((t, j) => ({
    coefficient: `θ${j + 1}`,
    'feature scale': p.featureScales[j],
    'θ*': t,
    'θ̂ (Newton)': p.fit.theta[j],
    'gradient at θ̂': gradient[j],
    'gradient at θ̂ (finite differences)': gradientFd[j],
  }));
}

/** θ* + t·u for the unit diagonal direction u = (1, …, 1)/√d. */
export function alongDiagonal(thetaStar: Vector, t: number): Vector {
  const u = 1 / Math.sqrt(thetaStar.length);
  return thetaStar.map((v) => v + t * u);
}

/** At the fit and at θ* + 2u: the Hessian against finite differences, Fisher against Hessian, empirical against true Fisher. */
export function hessianFisherChecks(p: LogisticProblem): Rows {
  const lossAt = (t: Vector) => logisticLoss(p.data, t);
  const largest = (m: Matrix) => Math.max(...m.flat().map(Math.abs));
  const points: Array<[string, Vector]> = [
    ['θ̂ (the MLE)', p.fit.theta],
    ['θ* + 2u (far from it)', alongDiagonal(p.thetaStar, 2)],
  ];
  return points.map(([where, th]) => {
    const H = logisticHessian(p.data.x, th);
    const F = logisticFisher(p.data.x, th);
    return {
      'at θ =': where,
      'max |H − H_finite-diff|': maxAbsDifference(H, finiteDifferenceHessian(lossAt, th)),
      'max |F − H|': maxAbsDifference(F, H),
      'max |F̂ − F| / max |F|': maxAbsDifference(logisticEmpiricalFisher(p.data, th), F) / largest(F),
    };
  });
}

/** The three Fisher matrices compared along θ* + t·u, in the order the chart's legend lists them. */
export const FISHER_KINDS = [
  'true Fisher F(θ) = Hessian',
  'empirical Fisher F̂(θ), observed labels',
  'E[F̂(θ)], labels drawn from θ*',
];

/** The diagonals of the true, empirical and expected empirical Fisher along θ* + t·u, t from −3 to 3 in steps of 0.1. */
export function fisherAlongDiagonal(
  p: LogisticProblem,
): Array<{ t: number; value: number; kind: string; coefficient: string }> {
  const ts = Array.from({ length: 61 }, (_, i) => -3 + i * 0.1);
  return ts.flatMap((t) => {
    const th = alongDiagonal(p.thetaStar, t);
    const diagonals = [
      logisticFisher(p.data.x, th),
      logisticEmpiricalFisher(p.data, th),
      expectedEmpiricalFisher(p.data.x, th, p.thetaStar),
    ].map(diagonal);
    return diagonals.flatMap((dg, k) =>
      dg.map((value, j) => ({ t, value, kind: FISHER_KINDS[k], coefficient: `diagonal entry for θ${j + 1}` })),
    );
  });
}

/** At θ* and θ* + 2u: the trace of the true Fisher against the mean trace of the empirical one over label redraws. */
export function fisherTraceTable(p: LogisticProblem, labelDraws: number, rng: Rng): Rows {
  const trace = (m: Matrix) => diagonal(m).reduce((s, v) => s + v, 0);
  const x = p.data.x;
  return [0, 2].map((t) => {
    const th = alongDiagonal(p.thetaStar, t);
    const traces = Array.from({ length: labelDraws }, () =>
      trace(logisticEmpiricalFisher({ x, y: simulateLabels(x, p.thetaStar, rng) }, th)),
    );
    return {
      θ: t === 0 ? 'θ*' : 'θ* + 2u',
      'tr F (true Fisher)': trace(logisticFisher(x, th)),
      [`mean tr F̂ over ${labelDraws} label draws`]: mean(traces),
      'standard error': Math.sqrt(sampleVariance(traces) / labelDraws),
      'tr E[F̂] (closed form)': trace(expectedEmpiricalFisher(x, th, p.thetaStar)),
    };
  });
}

/** The series of the Cramér–Rao chart, in legend order. */
export const CRAMER_RAO_SERIES = [
  'Cramér–Rao bound 1/(n I)',
  'Cramér–Rao bound [I⁻¹]₁₁ / n',
  'naive 1/(n I₁₁) (others known)',
];

/** What the Cramér–Rao study simulates. */
export interface CramerRaoSettings {
  /** The coin's θ, its dataset sizes and simulated datasets per size. */
  coinTheta: number;
  coinSizes: number[];
  coinDatasets: number;
  /** The logistic regression's θ*, feature scales, dataset sizes and simulated datasets per size. */
  thetaStar: Vector;
  featureScales: Vector;
  logitSizes: number[];
  logitDatasets: number;
}

/** The variance of the MLE over simulated datasets (± 2 SE) against the Cramér–Rao bounds, for the coin and logistic θ₁. */
export function cramerRaoStudy(s: CramerRaoSettings, rng: Rng): { rows: Rows; summary: Rows } {
  const coinFisher = bernoulliFisher(s.coinTheta);
  const designFisher = logisticFisher(simulateFeatures(200_000, s.featureScales, new Rng(41)), s.thetaStar);
  const designInverse = inverse(designFisher);
  const rows: Rows = [];
  const summary: Rows = [];
  const coinPanel = `coin, θ = ${s.coinTheta}: Var(θ̂)`;
  for (const n of s.coinSizes) {
    const v = bernoulliMleSpread(s.coinTheta, n, s.coinDatasets, rng).variance[0];
    const se = varianceStandardError(v, s.coinDatasets);
    rows.push({ panel: coinPanel, n, variance: v, lo: v - 2 * se, hi: v + 2 * se });
    rows.push({ panel: coinPanel, n, bound: 1 / (n * coinFisher), series: CRAMER_RAO_SERIES[0] });
  }
  const logitPanel = 'logistic regression: Var(θ̂₁)';
  for (const n of s.logitSizes) {
    const spread = logisticMleSpread(s.thetaStar, s.featureScales, n, s.logitDatasets, rng);
    const v = spread.variance[0];
    const se = varianceStandardError(v, spread.fitted);
    const bound = designInverse[0][0] / n;
    rows.push({ panel: logitPanel, n, variance: v, lo: v - 2 * se, hi: v + 2 * se });
    rows.push({ panel: logitPanel, n, bound, series: CRAMER_RAO_SERIES[1] });
    rows.push({ panel: logitPanel, n, bound: 1 / (n * designFisher[0][0]), series: CRAMER_RAO_SERIES[2] });
    summary.push({
      n,
      'Var(θ̂₁) / bound': v / bound,
      [`mean θ̂₁ (θ*₁ = ${s.thetaStar[0]})`]: spread.mean[0],
      'failed fits': spread.failed,
      datasets: s.logitDatasets,
    });
  }
  return { rows, summary };
}

/** The same rate at every coefficient. */
export function uniformRates(beta: Vector, rate: number): Vector {
  return beta.map(() => rate);
}

/** Per coefficient of the fit: its Fisher diagonal, its weight in the dropout penalty at rate 0.1, and its share. */
export function dropoutPenaltyTable(p: LogisticProblem): Rows {
  const beta = p.fit.theta;
  const x = p.data.x;
  const fisher = diagonal(logisticFisher(x, beta));
  const weights = dropoutPenaltyWeights(x, beta, uniformRates(beta, 0.1));
  const total = dropoutPenalty(x, beta, uniformRates(beta, 0.1));
  return beta.map((b, j) => ({
    coefficient: `β${j + 1}`,
    'feature scale': p.featureScales[j],
    β̂: b,
    'Fisher diagonal F_jj': fisher[j],
    'weight ½·δ/(1−δ)·F_jj at δ = 0.1': weights[j],
    'penalty term weight·β̂²': weights[j] * b * b,
    'share of the penalty': (weights[j] * b * b) / total,
  }));
}

/** The series of the excess-loss panel, in legend order (the second drawn as points with error bars). */
export const EXCESS_SERIES = [
  'Bernoulli dropout, exact (16 masks)',
  'Bernoulli dropout, Monte Carlo ± 2 SE',
  'Gaussian dropout, exact (quadrature)',
  'quadratic penalty ½·δ/(1−δ)·Σ F_jj β_j²',
];

/** The series of the relative-error panel, in legend order. */
export const ERROR_SERIES = ['Bernoulli dropout at β̂', 'Bernoulli dropout at β̂/4', 'Gaussian dropout at β̂'];

/** Dropout's exact and Monte Carlo increase of the mean loss at the fit against the quadratic penalty, and the penalty's relative error. */
export function dropoutPenaltyAccuracy(
  p: LogisticProblem,
  draws: number,
  rng: Rng,
): {
  excess: Array<{ rate: number; excess: number; lo?: number; hi?: number; series: string }>;
  relativeError: Array<{ rate: number; error: number; series: string }>;
} {
  const { data } = p;
  const beta = p.fit.theta;
  const baseLoss = logisticLoss(data, beta);
  const rates = [0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];
  const excess = rates.flatMap((rate) => {
    const r = uniformRates(beta, rate);
    const mc = bernoulliDropoutLossMonteCarlo(data, beta, r, draws, rng);
    return [
      { rate, excess: bernoulliDropoutLoss(data, beta, r) - baseLoss, series: EXCESS_SERIES[0] },
      {
        rate,
        excess: mc.mean - baseLoss,
        lo: mc.mean - 2 * mc.standardError - baseLoss,
        hi: mc.mean + 2 * mc.standardError - baseLoss,
        series: EXCESS_SERIES[1],
      },
      { rate, excess: gaussianDropoutLoss(data, beta, r) - baseLoss, series: EXCESS_SERIES[2] },
      { rate, excess: dropoutPenalty(data.x, beta, r), series: EXCESS_SERIES[3] },
    ];
  });
  const errorRates = [0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5];
  const relativeError = errorRates.flatMap((rate) => {
    const r = uniformRates(beta, rate);
    const quarter = beta.map((b) => b / 4);
    const rel = (exact: number, base: number, b: Vector) =>
      (dropoutPenalty(data.x, b, r) - (exact - base)) / (exact - base);
    return [
      { rate, error: rel(bernoulliDropoutLoss(data, beta, r), baseLoss, beta), series: ERROR_SERIES[0] },
      {
        rate,
        error: rel(bernoulliDropoutLoss(data, quarter, r), logisticLoss(data, quarter), quarter),
        series: ERROR_SERIES[1],
      },
      { rate, error: rel(gaussianDropoutLoss(data, beta, r), baseLoss, beta), series: ERROR_SERIES[2] },
    ];
  });
  return { excess, relativeError };
}

/** A named set of per-coefficient dropout rates. */
export type RateSchedule = [name: string, rates: Vector];

/** Uniform (0.1) and guided (0.1 at the lowest F_jj to 0 at the highest) rates for the fit, with penalty weights and totals under each. */
export function guidedPenaltyWeights(p: LogisticProblem): {
  schedules: RateSchedule[];
  weights: Array<{ coefficient: string; weight: number; schedule: string; rate: number }>;
  totals: Array<{ schedule: string; exact: number; penalty: number }>;
} {
  const beta = p.fit.theta;
  const x = p.data.x;
  const fisher = diagonal(logisticFisher(x, beta));
  const ranks = fisher.map((f) => fisher.filter((g) => g < f).length);
  const guided = ranks.map((r) => 0.1 - (0.1 * r) / (fisher.length - 1));
  const schedules: RateSchedule[] = [
    ['uniform dropout: δ = 0.1', uniformRates(beta, 0.1)],
    ['guided dropout: δ_j from 0.1 (lowest F_jj) to 0 (highest)', guided],
  ];
  const baseLoss = logisticLoss(p.data, beta);
  return {
    schedules,
    weights: schedules.flatMap(([schedule, rates]) =>
      dropoutPenaltyWeights(x, beta, rates).map((w, j) => ({
        coefficient: `β${j + 1} (F_jj = ${fisher[j].toFixed(3)})`,
        weight: w,
        schedule,
        rate: rates[j],
      })),
    ),
    totals: schedules.map(([schedule, rates]) => ({
      schedule,
      exact: bernoulliDropoutLoss(p.data, beta, rates) - baseLoss,
      penalty: dropoutPenalty(x, beta, rates),
    })),
  };
}
