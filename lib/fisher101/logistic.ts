/** Logistic regression p(y = 1 | x, θ) = σ(xᵀθ): simulation, loss, gradient, Hessian, true and empirical Fisher, Newton's MLE. */
import { Rng } from '../util/random';
import { addOuter, dot, Matrix, scale, solve, Vector, zeros } from './linalg';

/** Features (one row per example) and 0/1 labels. */
export interface Dataset {
  x: Matrix;
  y: number[];
}

/** The outcome of Newton's method. */
export interface Fit {
  theta: Vector;
  iterations: number;
  /** Whether a finite MLE was found: the gradient's largest entry fell below the tolerance and the data are not separable. */
  converged: boolean;
}

/** The logistic function 1/(1 + e^−z). */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** log(1 + e^z), the logistic model's log-partition function, computed without overflow. */
export function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** n feature rows with independent entries x_j ~ N(0, scales_j²). */
export function simulateFeatures(n: number, scales: Vector, rng: Rng): Matrix {
  return Array.from({ length: n }, () => scales.map((s) => s * rng.normal()));
}

/** Labels y_i ~ Bernoulli(σ(x_iᵀθ)) drawn from the model itself. */
export function simulateLabels(x: Matrix, theta: Vector, rng: Rng): number[] {
  return x.map((row) => (rng.next() < sigmoid(dot(row, theta)) ? 1 : 0));
}

/** The mean negative log-likelihood (1/n) Σ [log(1 + e^{η_i}) − y_i η_i], η_i = x_iᵀθ. */
export function logisticLoss(data: Dataset, theta: Vector): number {
  let s = 0;
  data.x.forEach((row, i) => {
    const eta = dot(row, theta);
    s += softplus(eta) - data.y[i] * eta;
  });
  return s / data.x.length;
}

/** The gradient of the mean negative log-likelihood, (1/n) Σ (p_i − y_i) x_i (minus the mean score). */
export function logisticGradient(data: Dataset, theta: Vector): Vector {
  const g = new Array<number>(theta.length).fill(0);
  data.x.forEach((row, i) => {
    const r = sigmoid(dot(row, theta)) - data.y[i];
    row.forEach((v, j) => (g[j] += r * v));
  });
  return g.map((v) => v / data.x.length);
}

/** The Hessian of the mean negative log-likelihood, (1/n) Σ p_i(1 − p_i) x_i x_iᵀ; the labels do not enter. */
export function logisticHessian(x: Matrix, theta: Vector): Matrix {
  const H = zeros(theta.length);
  for (const row of x) {
    const p = sigmoid(dot(row, theta));
    addOuter(H, row, p * (1 - p));
  }
  return scale(H, 1 / x.length);
}

/** The true Fisher (1/n) Σ_i E_{y ~ p(·|x_i, θ)}[s s ᵀ], the score s = (y − p)x averaged over the model's OWN labels y ∈ {0, 1}. */
export function logisticFisher(x: Matrix, theta: Vector): Matrix {
  const F = zeros(theta.length);
  for (const row of x) {
    const p = sigmoid(dot(row, theta));
    for (const [y, probability] of [
      [1, p],
      [0, 1 - p],
    ])
      addOuter(F, row, probability * (y - p) ** 2);
  }
  return scale(F, 1 / x.length);
}

/** The empirical Fisher (1/n) Σ s_i s_iᵀ with the OBSERVED labels: (1/n) Σ (y_i − p_i)² x_i x_iᵀ. */
export function logisticEmpiricalFisher(data: Dataset, theta: Vector): Matrix {
  const F = zeros(theta.length);
  data.x.forEach((row, i) => addOuter(F, row, (data.y[i] - sigmoid(dot(row, theta))) ** 2));
  return scale(F, 1 / data.x.length);
}

/**
 * The empirical Fisher at θ averaged over labels drawn from θ*: (1/n) Σ [p*(1 − p*) + (p* − p)²] x xᵀ,
 * since E(y − p)² = Var y + (E y − p)². It equals the true Fisher at θ = θ* and exceeds it by a bias term elsewhere.
 */
export function expectedEmpiricalFisher(x: Matrix, theta: Vector, thetaStar: Vector): Matrix {
  const F = zeros(theta.length);
  for (const row of x) {
    const p = sigmoid(dot(row, theta));
    const q = sigmoid(dot(row, thetaStar));
    addOuter(F, row, q * (1 - q) + (q - p) ** 2);
  }
  return scale(F, 1 / x.length);
}

/** Whether θ puts every example strictly on the side of its label: then the data are separable and no finite MLE exists. */
export function separates(data: Dataset, theta: Vector): boolean {
  return data.x.every((row, i) => (data.y[i] === 1 ? dot(row, theta) > 0 : dot(row, theta) < 0));
}

/**
 * The maximum-likelihood θ by Newton's method from 0, halving steps that would raise the loss. On separable data the
 * loss falls towards 0 as |θ| → ∞ and the gradient vanishes with it, so a small gradient there is reported unconverged.
 */
export function fitLogistic(data: Dataset, tolerance = 1e-10, maxIterations = 50): Fit {
  let theta = new Array<number>(data.x[0].length).fill(0);
  let loss = logisticLoss(data, theta);
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    const g = logisticGradient(data, theta);
    if (Math.max(...g.map(Math.abs)) < tolerance)
      return { theta, iterations: iteration - 1, converged: !separates(data, theta) };
    let step: Vector;
    try {
      step = solve(logisticHessian(data.x, theta), g);
    } catch {
      return { theta, iterations: iteration, converged: false };
    }
    let t = 1;
    let next = theta.map((v, j) => v - step[j]);
    let nextLoss = logisticLoss(data, next);
    // Near the optimum a step lowers the loss by less than its rounding error, so only a clear rise counts.
    while (nextLoss > loss + 1e-12 * Math.abs(loss) && t > 1e-8) {
      t /= 2;
      next = theta.map((v, j) => v - t * step[j]);
      nextLoss = logisticLoss(data, next);
    }
    theta = next;
    loss = nextLoss;
  }
  const converged = Math.max(...logisticGradient(data, theta).map(Math.abs)) < tolerance && !separates(data, theta);
  return { theta, iterations: maxIterations, converged };
}
