/** N(μ, σ²) parametrised by (μ, σ): scores and the 2×2 Fisher information in closed form. */
import type { Matrix, Vector } from './linalg';

/** The score (∂/∂μ, ∂/∂σ) of log N(x; μ, σ²): ((x − μ)/σ², ((x − μ)² − σ²)/σ³). */
export function gaussianScore(x: number, mu: number, sigma: number): Vector {
  const r = x - mu;
  return [r / sigma ** 2, (r * r - sigma * sigma) / sigma ** 3];
}

/** The Fisher information of one observation in (μ, σ): diag(1/σ², 2/σ²), the two parameters being orthogonal. */
export function gaussianFisher(sigma: number): Matrix {
  return [
    [1 / sigma ** 2, 0],
    [0, 2 / sigma ** 2],
  ];
}
