/** Notebook 01's hand-sized models: closed forms against finite differences, exact sums and Monte Carlo with stated tolerances. */
import { expect } from 'chai';
import { Rng } from '../lib/util/random';
import {
  bernoulliFisher,
  bernoulliLogLikelihood,
  bernoulliScore,
  bernoulliSquaredScoreVariance,
  sampleBernoulli,
} from '../lib/fisher101/bernoulli';
import { bernoulliMleSpread, logisticMleSpread } from '../lib/fisher101/cramer-rao';
import {
  bernoulliDropoutLoss,
  bernoulliDropoutLossMonteCarlo,
  dropoutPenalty,
  dropoutPenaltyWeights,
  dropoutNoiseVariance,
  gaussianDropoutLoss,
} from '../lib/fisher101/dropout';
import {
  coinConvergence,
  coinFisherCurve,
  CRAMER_RAO_SERIES,
  cramerRaoStudy,
  dropoutPenaltyAccuracy,
  fisherAlongDiagonal,
  gaussianConvergence,
  guidedPenaltyWeights,
  logisticProblem,
} from '../lib/fisher101/experiments';
import { finiteDifferenceGradient, finiteDifferenceHessian } from '../lib/fisher101/finite-differences';
import {
  coinConvergenceSpec,
  coinFisherCurveSpec,
  cramerRaoSpec,
  dropoutPenaltySpec,
  fisherAlongDiagonalSpec,
  gaussianConvergenceSpec,
  penaltyWeightsSpec,
} from '../lib/fisher101/plots';
import { renderVegaLite } from '../lib/notebook/plot';
import { gaussianFisher, gaussianScore } from '../lib/fisher101/gaussian';
import { diagonal, dot, inverse, Matrix, maxAbsDifference, solve, Vector } from '../lib/fisher101/linalg';
import {
  Dataset,
  expectedEmpiricalFisher,
  fitLogistic,
  logisticEmpiricalFisher,
  logisticFisher,
  logisticGradient,
  logisticHessian,
  logisticLoss,
  separates,
  sigmoid,
  simulateFeatures,
  simulateLabels,
  softplus,
} from '../lib/fisher101/logistic';
import { logSpacedCounts, runningMeans } from '../lib/fisher101/statistics';
import { mean, sampleVariance } from '../lib/util/stats';

// Monte Carlo checks allow 4 standard errors: a correct implementation fails one of them with probability ≈ 6e-5.
const Z = 4;

const SCALES = [2, 1, 0.5];
const THETA_STAR = [1, -1, 2];
const DIRECTION = [1, 1, 1].map((v) => v / Math.sqrt(3));

/** A logistic-regression dataset of n examples simulated from θ*. */
function logisticData(n: number, seed: number, thetaStar = THETA_STAR, scales = SCALES): Dataset {
  const rng = new Rng(seed);
  const x = simulateFeatures(n, scales, rng);
  return { x, y: simulateLabels(x, thetaStar, rng) };
}

/** Entry-wise mean and standard error of a list of equally shaped matrices. */
function matrixMeanAndError(ms: Matrix[]): { mean: Matrix; error: Matrix } {
  const at = (j: number, k: number) => ms.map((m) => m[j][k]);
  const d = ms[0].length;
  const grid = (f: (v: number[]) => number) =>
    Array.from({ length: d }, (_, j) => Array.from({ length: d }, (__, k) => f(at(j, k))));
  return { mean: grid(mean), error: grid((v) => Math.sqrt(sampleVariance(v) / v.length)) };
}

describe('fisher101: linear algebra and statistics helpers', () => {
  it('solve and inverse: A·A⁻¹ = I and A·solve(A, b) = b for a matrix needing a pivot', () => {
    const A = [
      [0, 2, 1],
      [1, 1, 0],
      [3, 0, 1],
    ];
    const Ainv = inverse(A);
    const product = A.map((row) =>
      Ainv[0].map((_, k) =>
        dot(
          row,
          Ainv.map((r) => r[k]),
        ),
      ),
    );
    expect(
      maxAbsDifference(product, [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ]),
    ).to.be.below(1e-14);
    const x = solve(A, [1, 2, 3]);
    expect(A.map((row) => dot(row, x))).to.satisfy((b: number[]) =>
      b.every((v, i) => Math.abs(v - [1, 2, 3][i]) < 1e-14),
    );
    expect(() =>
      solve(
        [
          [1, 2],
          [2, 4],
        ],
        [1, 1],
      ),
    ).to.throw(/singular/);
  });

  it('running means, sample variance and log-spaced counts by hand', () => {
    expect(runningMeans([1, 2, 3, 6], [1, 2, 4])).to.deep.equal([1, 1.5, 3]);
    expect(sampleVariance([1, 2, 3, 6])).to.be.closeTo(14 / 3, 1e-15);
    expect(logSpacedCounts(10, 1000, 3)).to.deep.equal([10, 100, 1000]);
  });
});

describe('fisher101: Bernoulli and Gaussian', () => {
  it('the Bernoulli score is the derivative of the log-likelihood, has mean 0, and E[score²] = 1/(θ(1−θ))', () => {
    for (const theta of [0.05, 0.3, 0.5, 0.9]) {
      for (const x of [0, 1]) {
        const fd = (bernoulliLogLikelihood(x, theta + 1e-6) - bernoulliLogLikelihood(x, theta - 1e-6)) / 2e-6;
        expect(bernoulliScore(x, theta)).to.be.closeTo(fd, 1e-6 * Math.abs(fd) + 1e-8);
      }
      const expectation = (f: (x: number) => number) => theta * f(1) + (1 - theta) * f(0);
      expect(expectation((x) => bernoulliScore(x, theta))).to.be.closeTo(0, 1e-12);
      expect(expectation((x) => bernoulliScore(x, theta) ** 2)).to.be.closeTo(
        bernoulliFisher(theta),
        1e-9 * bernoulliFisher(theta),
      );
      const fourth = expectation((x) => bernoulliScore(x, theta) ** 4);
      expect(bernoulliSquaredScoreVariance(theta)).to.be.closeTo(fourth - bernoulliFisher(theta) ** 2, 1e-9 * fourth);
    }
    expect(bernoulliFisher(0.2)).to.be.closeTo(6.25, 1e-12);
  });

  it('the Bernoulli empirical Fisher of 20 000 samples is within 4 standard errors of 1/(θ(1−θ))', () => {
    const theta = 0.2;
    const n = 20000;
    const xs = sampleBernoulli(n, theta, new Rng(1));
    const empirical = mean(xs.map((x) => bernoulliScore(x, theta) ** 2));
    const se = Math.sqrt(bernoulliSquaredScoreVariance(theta) / n);
    expect(Math.abs(empirical - bernoulliFisher(theta))).to.be.below(Z * se);
    expect(se).to.be.closeTo(0.0663, 1e-4); // √(87.9 / 20 000): 4 SE ≈ 4% of I = 6.25
  });

  it('the Gaussian scores are the derivatives of log N(x; μ, σ²)', () => {
    const logDensity = ([mu, sigma]: Vector, x: number) =>
      -Math.log(sigma) - 0.5 * Math.log(2 * Math.PI) - (x - mu) ** 2 / (2 * sigma * sigma);
    for (const x of [-1.3, 0.4, 3]) {
      const fd = finiteDifferenceGradient((p) => logDensity(p, x), [0.5, 2]);
      const s = gaussianScore(x, 0.5, 2);
      expect(Math.abs(s[0] - fd[0]) + Math.abs(s[1] - fd[1])).to.be.below(1e-8);
    }
  });

  it('the Gaussian empirical Fisher of 100 000 samples matches diag(1/σ², 2/σ²) within 4 standard errors per entry', () => {
    // Per-sample variances with z = (x − μ)/σ: s_μ² → 2/σ⁴, s_σ² → E(z²−1)⁴ − 4 = 56/σ⁴, s_μ s_σ → E z²(z²−1)² = 10/σ⁴.
    const [mu, sigma, n] = [1, 2, 100000];
    const rng = new Rng(2);
    const scores = Array.from({ length: n }, () => gaussianScore(mu + sigma * rng.normal(), mu, sigma));
    const F = gaussianFisher(sigma);
    const perSampleVariance = [
      [2, 10],
      [10, 56],
    ].map((row) => row.map((v) => v / sigma ** 4));
    for (const [j, k] of [
      [0, 0],
      [1, 1],
      [0, 1],
    ]) {
      const empirical = mean(scores.map((s) => s[j] * s[k]));
      expect(Math.abs(empirical - F[j][k])).to.be.below(Z * Math.sqrt(perSampleVariance[j][k] / n));
    }
  });
});

describe('fisher101: logistic regression', () => {
  const data = logisticData(2000, 3);

  it('softplus and sigmoid are stable and consistent: softplus′ = sigmoid', () => {
    expect(softplus(800)).to.equal(800);
    expect(softplus(-800)).to.equal(0);
    expect(sigmoid(-800)).to.equal(0);
    for (const z of [-30, -2, 0, 0.7, 25])
      expect(sigmoid(z)).to.be.closeTo((softplus(z + 1e-6) - softplus(z - 1e-6)) / 2e-6, 1e-8);
  });

  it('the analytic gradient matches finite differences of the loss', () => {
    for (const theta of [
      [0, 0, 0],
      [0.5, -2, 1],
    ]) {
      const fd = finiteDifferenceGradient((t) => logisticLoss(data, t), theta);
      expect(Math.max(...logisticGradient(data, theta).map((g, j) => Math.abs(g - fd[j])))).to.be.below(1e-8);
    }
  });

  it("Newton's MLE is a stationary point by finite differences and a minimum, near θ*", () => {
    const fit = fitLogistic(data);
    expect(fit.converged).to.equal(true);
    expect(fit.iterations).to.be.below(15);
    const fd = finiteDifferenceGradient((t) => logisticLoss(data, t), fit.theta);
    expect(Math.max(...fd.map(Math.abs))).to.be.below(1e-8);
    const loss = logisticLoss(data, fit.theta);
    for (const [j, h] of [
      [0, 0.01],
      [1, -0.01],
      [2, 0.01],
    ]) {
      const moved = [...fit.theta];
      moved[j] += h;
      expect(logisticLoss(data, moved)).to.be.above(loss);
    }
    // θ̂ − θ* is O(1/√n): within 5 standard deviations from the inverse Fisher.
    const cov = inverse(logisticFisher(data.x, fit.theta));
    fit.theta.forEach((t, j) => expect(Math.abs(t - THETA_STAR[j])).to.be.below(5 * Math.sqrt(cov[j][j] / 2000)));
  });

  it('separable data have no MLE: the fit is reported unconverged although the gradient vanishes', () => {
    const separable = {
      x: [
        [1, 0.5],
        [2, -1],
        [-1, 0.3],
        [-2, 1],
      ],
      y: [1, 1, 0, 0],
    };
    const fit = fitLogistic(separable);
    expect(fit.converged).to.equal(false);
    expect(separates(separable, fit.theta)).to.equal(true);
    expect(logisticLoss(separable, fit.theta)).to.be.below(1e-8);
    expect(separates(data, fitLogistic(data).theta)).to.equal(false);
  });

  it('the analytic Hessian matches finite differences of the loss to 1e-6, at the MLE and far from it', () => {
    const fit = fitLogistic(data);
    for (const theta of [fit.theta, THETA_STAR.map((t, j) => t + 3 * DIRECTION[j])]) {
      const fd = finiteDifferenceHessian((t) => logisticLoss(data, t), theta);
      expect(maxAbsDifference(logisticHessian(data.x, theta), fd)).to.be.below(1e-6);
    }
  });

  it('the true Fisher (expectation over the model labels) equals the Hessian at every θ (canonical link)', () => {
    for (const t of [-3, 0, 2]) {
      const theta = THETA_STAR.map((v, j) => v + t * DIRECTION[j]);
      expect(maxAbsDifference(logisticFisher(data.x, theta), logisticHessian(data.x, theta))).to.be.below(1e-14);
    }
  });

  it('true and empirical Fisher agree in expectation at θ* (400 label draws, 4 SE per entry) and differ far away', () => {
    const x = data.x.slice(0, 300);
    const rng = new Rng(4);
    const far = THETA_STAR.map((v, j) => v + 3 * DIRECTION[j]);
    const draws = (theta: Vector) =>
      Array.from({ length: 400 }, () => logisticEmpiricalFisher({ x, y: simulateLabels(x, THETA_STAR, rng) }, theta));
    const atStar = matrixMeanAndError(draws(THETA_STAR));
    const trueStar = logisticFisher(x, THETA_STAR);
    trueStar.forEach((row, j) =>
      row.forEach((f, k) => expect(Math.abs(atStar.mean[j][k] - f)).to.be.at.most(Z * atStar.error[j][k])),
    );
    const atFar = matrixMeanAndError(draws(far));
    const trueFar = logisticFisher(x, far);
    const expected = expectedEmpiricalFisher(x, far, THETA_STAR);
    for (let j = 0; j < 3; j++) {
      expect(Math.abs(atFar.mean[j][j] - expected[j][j])).to.be.at.most(Z * atFar.error[j][j]);
      expect(atFar.mean[j][j] - trueFar[j][j]).to.be.above(20 * atFar.error[j][j]);
      expect(atFar.mean[j][j] / trueFar[j][j]).to.be.above(1.5);
    }
    expect(maxAbsDifference(expectedEmpiricalFisher(x, THETA_STAR, THETA_STAR), trueStar)).to.be.below(1e-15);
  });
});

describe('fisher101: Cramér–Rao', () => {
  it('the Bernoulli MLE variance matches θ(1−θ)/n = 1/(n I(θ)) within 4 standard errors (4000 datasets of 400)', () => {
    const [theta, n, R] = [0.3, 400, 4000];
    const spread = bernoulliMleSpread(theta, n, R, new Rng(5));
    const bound = 1 / (n * bernoulliFisher(theta));
    expect(Math.abs(spread.variance[0] - bound)).to.be.below(Z * bound * Math.sqrt(2 / (R - 1)));
  });

  it('the logistic MLE variance per coefficient is within −15%…+20% of [I⁻¹]_jj / n (1500 datasets of 1000), above the naive 1/(n I_jj)', () => {
    const [n, R] = [1000, 1500];
    const spread = logisticMleSpread(THETA_STAR, SCALES, n, R, new Rng(6));
    expect(spread.failed).to.equal(0);
    // The per-example Fisher of the random design, E_x[p(1−p) x xᵀ], from 200 000 draws of x (relative error < 1%).
    const I = logisticFisher(simulateFeatures(200000, SCALES, new Rng(7)), THETA_STAR);
    const Iinv = inverse(I);
    // 4 SE of a variance from 1500 draws is 4·√(2/1499) ≈ 14.6%; the MLE's small-sample excess (≈ +4% at n = 1000) widens the upper side.
    for (let j = 0; j < 3; j++) {
      expect(spread.variance[j] / (Iinv[j][j] / n)).to.be.within(0.85, 1.2);
      expect(Iinv[j][j]).to.be.above(1 / I[j][j]);
    }
  });
});

describe('fisher101: dropout as a Fisher-weighted L2 penalty (Wager et al. 2013)', () => {
  const data = logisticData(300, 8, [0.8, -1, 1.5, 0.3], [2, 1, 0.5, 1]);
  const beta = fitLogistic(data).theta;
  const uniform = (rate: number) => beta.map(() => rate);

  it('the Monte Carlo dropout loss agrees with the exact sum over all 2^d masks within 4 SE', () => {
    for (const rates of [uniform(0.1), [0.3, 0, 0.1, 0.05]]) {
      const mc = bernoulliDropoutLossMonteCarlo(data, beta, rates, 400, new Rng(9));
      expect(Math.abs(mc.mean - bernoulliDropoutLoss(data, beta, rates))).to.be.below(Z * mc.standardError);
    }
    expect(bernoulliDropoutLoss(data, beta, uniform(0))).to.be.closeTo(logisticLoss(data, beta), 1e-15);
  });

  it('the penalty weights are ½·δ/(1−δ)·F_jj with F_jj = (1/n) Σ p(1−p) x_ij²', () => {
    const F = beta.map((_, j) =>
      mean(
        data.x.map((row) => {
          const p = sigmoid(dot(row, beta));
          return p * (1 - p) * row[j] ** 2;
        }),
      ),
    );
    const weights = dropoutPenaltyWeights(data.x, beta, uniform(0.2));
    weights.forEach((w, j) => expect(w).to.be.closeTo(0.5 * 0.25 * F[j], 1e-15));
    expect(dropoutNoiseVariance(0.2)).to.be.closeTo(0.25, 1e-15);
  });

  it("Gaussian dropout: the quadratic penalty's relative error shrinks in proportion to δ (below 2e-3 at δ = 0.01)", () => {
    const loss = logisticLoss(data, beta);
    const relativeError = (rate: number) => {
      const excess = gaussianDropoutLoss(data, beta, uniform(rate)) - loss;
      return Math.abs(dropoutPenalty(data.x, beta, uniform(rate)) - excess) / excess;
    };
    const errors = [0.1, 0.03, 0.01, 0.003].map(relativeError);
    for (let i = 1; i < errors.length; i++) expect(errors[i]).to.be.below(errors[i - 1] / 2);
    expect(errors[2]).to.be.below(2e-3);
  });

  it("Bernoulli dropout: as δ → 0 the excess loss / δ tends to Σ_j [A(η − x_jβ_j) − A(η) + A′(η)x_jβ_j], not to the quadratic's ½A″Σ x_j²β_j²", () => {
    // Rare but large noise: at small δ one feature at a time is dropped, moving η by x_jβ_j, which does not shrink with δ.
    const limit = (b: Vector) =>
      mean(
        data.x.map((row) => {
          const eta = dot(row, b);
          return row.reduce((s, v, j) => s + softplus(eta - v * b[j]) - softplus(eta) + sigmoid(eta) * v * b[j], 0);
        }),
      );
    const quadraticLimit = (b: Vector) => dropoutPenalty(data.x, b, uniform(1e-4)) / dropoutNoiseVariance(1e-4);
    const rate = 1e-4;
    const ratioAt = (b: Vector) => (bernoulliDropoutLoss(data, b, uniform(rate)) - logisticLoss(data, b)) / rate;
    expect(ratioAt(beta)).to.be.closeTo(limit(beta), 2e-3 * limit(beta));
    const gapAt = (b: Vector) => Math.abs(quadraticLimit(b) / limit(b) - 1);
    expect(gapAt(beta)).to.be.above(0.05);
    // The gap is controlled by the size of x_jβ_j: a quarter of β shrinks it at least 3-fold.
    expect(gapAt(beta.map((v) => v / 4))).to.be.below(gapAt(beta) / 3);
  });

  it('neither the quadratic penalty nor the exact excess loss depends on the labels (the y-term is linear in x̃)', () => {
    const flipped = { x: data.x, y: data.y.map((y) => 1 - y) };
    const rates = uniform(0.1);
    expect(dropoutPenalty(flipped.x, beta, rates)).to.equal(dropoutPenalty(data.x, beta, rates));
    // For the GLM the y-term is linear in x̃ and unbiased, so the exact excess is label-free too.
    const excess = (d: Dataset) => bernoulliDropoutLoss(d, beta, rates) - logisticLoss(d, beta);
    expect(excess(flipped)).to.be.closeTo(excess(data), 1e-12);
    expect(diagonal(logisticFisher(data.x, beta)).every((f) => f > 0)).to.equal(true);
  });
});

/** A Cramér–Rao study small enough for a test: notebook 01's models with few sizes and datasets. */
const CRAMER_RAO_SMALL = {
  coinTheta: 0.2,
  coinSizes: [10],
  coinDatasets: 20,
  thetaStar: [1, -1, 2],
  featureScales: [2, 1, 0.5],
  logitSizes: [100],
  logitDatasets: 10,
};

describe("notebook 01's experiments and charts", () => {
  it('the coin converges: the streams end within 3 standard errors of I(θ) = 6.25, and the band is centred on it', () => {
    const c = coinConvergence(0.2, 20_000, [1, 2]);
    expect(c.closedForm[0].series).to.equal('I(θ) = 1/(θ(1−θ)) = 6.25');
    expect(c.final).to.have.length(2);
    for (const v of c.final) expect(Math.abs(v - 6.25)).to.be.below(1.5 * c.finalTwoSe);
    expect(c.band.every((b) => Math.abs((b.lo + b.hi) / 2 - 6.25) < 1e-9)).to.equal(true);
    expect(c.running.filter((r) => r.series.endsWith('1')).map((r) => r.n)).to.deep.equal(c.closedForm.map((r) => r.n));
  });

  it('guided rates fall linearly with the rank of the Fisher diagonal: 0.1 at the lowest F_jj, 0 at the highest', () => {
    const p = logisticProblem([0.8, -1, 1.5, 0.3], [2, 1, 0.5, 1], 400, new Rng(50));
    const g = guidedPenaltyWeights(p);
    const fisher = diagonal(logisticFisher(p.data.x, p.fit.theta));
    const guided = g.schedules[1][1];
    const lowest = fisher.indexOf(Math.min(...fisher));
    const highest = fisher.indexOf(Math.max(...fisher));
    expect(guided[lowest]).to.be.closeTo(0.1, 1e-12);
    expect(guided[highest]).to.be.closeTo(0, 1e-12);
    const ascending = [...guided].sort((a, b) => a - b);
    [0, 0.1 / 3, 0.2 / 3, 0.1].forEach((v, i) => expect(ascending[i]).to.be.closeTo(v, 1e-12));
    expect(g.weights).to.have.length(8);
    // The penalty under guided rates is smaller than under uniform 0.1: no rate exceeds 0.1.
    expect(g.totals[1].penalty).to.be.below(g.totals[0].penalty);
  });

  it('the Cramér–Rao study gives one variance and one bound per coin size, a variance and two bounds per logistic size', () => {
    const { rows, summary } = cramerRaoStudy(
      { ...CRAMER_RAO_SMALL, coinSizes: [10, 100], coinDatasets: 50, logitSizes: [200], logitDatasets: 20 },
      new Rng(40),
    );
    expect(rows).to.have.length(2 * 2 + 3);
    const bounds = rows.filter((r) => r.series === CRAMER_RAO_SERIES[0]).map((r) => r.bound as number);
    expect(bounds).to.have.length(2);
    expect(bounds[0]).to.be.closeTo(1 / (10 * 6.25), 1e-12);
    expect(bounds[1]).to.be.closeTo(1 / (100 * 6.25), 1e-12);
    expect(summary).to.have.length(1);
    expect(Object.keys(summary[0])).to.include('mean θ̂₁ (θ*₁ = 1)');
  });

  it('every chart renders', async () => {
    const c = coinConvergence(0.2, 2_000, [1]);
    const curve = coinFisherCurve(200, new Rng(10));
    const gauss = gaussianConvergence(1, 2, 2_000, new Rng(20));
    const logit = logisticProblem([1, -1, 2], [2, 1, 0.5], 200, new Rng(30));
    const drop = logisticProblem([0.8, -1, 1.5, 0.3], [2, 1, 0.5, 1], 200, new Rng(50));
    const accuracy = dropoutPenaltyAccuracy(drop, 20, new Rng(51));
    const guided = guidedPenaltyWeights(drop);
    const cr = cramerRaoStudy(CRAMER_RAO_SMALL, new Rng(40));
    const specs = [
      coinConvergenceSpec(c, 0.2),
      coinFisherCurveSpec(curve.estimates, curve.curve, 200),
      gaussianConvergenceSpec(gauss.running, gauss.closedForm, 1, 2),
      fisherAlongDiagonalSpec(fisherAlongDiagonal(logit)),
      cramerRaoSpec(cr.rows, 20, 10),
      dropoutPenaltySpec(accuracy.excess, accuracy.relativeError),
      penaltyWeightsSpec(guided.weights, guided.schedules),
    ];
    for (const spec of specs) expect((await renderVegaLite(spec)).svg).to.match(/^<svg/);
  });
});
