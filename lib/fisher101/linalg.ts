/** Small dense float64 linear algebra for the hand-sized models of notebook 01 (vectors and row-major matrices as arrays). */

/** A column of numbers. */
export type Vector = number[];
/** A matrix as an array of rows. */
export type Matrix = number[][];

/** The dot product of two equally long vectors. */
export function dot(a: Vector, b: Vector): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The n×m matrix of zeros. */
export function zeros(n: number, m = n): Matrix {
  return Array.from({ length: n }, () => new Array<number>(m).fill(0));
}

/** Adds w · v vᵀ to the square matrix M in place. */
export function addOuter(M: Matrix, v: Vector, w: number): void {
  for (let j = 0; j < v.length; j++) for (let k = 0; k < v.length; k++) M[j][k] += w * v[j] * v[k];
}

/** The matrix M multiplied by the scalar c. */
export function scale(M: Matrix, c: number): Matrix {
  return M.map((row) => row.map((x) => c * x));
}

/** The diagonal of a square matrix. */
export function diagonal(M: Matrix): Vector {
  return M.map((row, i) => row[i]);
}

/** The largest absolute entry of A − B. */
export function maxAbsDifference(A: Matrix, B: Matrix): number {
  let m = 0;
  A.forEach((row, i) => row.forEach((x, j) => (m = Math.max(m, Math.abs(x - B[i][j])))));
  return m;
}

/** Solves A x = b by Gaussian elimination with partial pivoting (A square and non-singular). */
export function solve(A: Matrix, b: Vector): Vector {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (M[p][c] === 0) throw new Error('solve: singular matrix');
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** The inverse of a square non-singular matrix (column by column with `solve`). */
export function inverse(A: Matrix): Matrix {
  const n = A.length;
  const columns = Array.from({ length: n }, (_, j) =>
    solve(
      A,
      Array.from({ length: n }, (_, i) => (i === j ? 1 : 0)),
    ),
  );
  return Array.from({ length: n }, (_, i) => columns.map((col) => col[i]));
}
