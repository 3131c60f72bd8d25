/** Derivatives of a scalar function of a vector by central finite differences, as independent checks of closed forms. */
import type { Matrix, Vector } from './linalg';

/** The gradient of f at θ by central differences with step h (error O(h²)). */
export function finiteDifferenceGradient(f: (theta: Vector) => number, theta: Vector, h = 1e-6): Vector {
  return theta.map((_, j) => {
    const plus = [...theta];
    const minus = [...theta];
    plus[j] += h;
    minus[j] -= h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

/** The Hessian of f at θ from values of f only, by the four-point central second difference with step h (error O(h²)). */
export function finiteDifferenceHessian(f: (theta: Vector) => number, theta: Vector, h = 1e-4): Matrix {
  const at = (j: number, sj: number, k: number, sk: number) => {
    const t = [...theta];
    t[j] += sj * h;
    t[k] += sk * h;
    return f(t);
  };
  return theta.map((_, j) =>
    theta.map((__, k) => (at(j, 1, k, 1) - at(j, 1, k, -1) - at(j, -1, k, 1) + at(j, -1, k, -1)) / (4 * h * h)),
  );
}
