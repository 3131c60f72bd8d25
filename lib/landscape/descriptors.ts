/**
 * Numbers that summarize a loss surface so that surfaces of different models can be compared: the lowest point,
 * the loss at the centre (θ0), the size of the basin around it, the mean loss by distance from the centre, and
 * the plateau the far points reach against ln(vocabulary size), the loss of a uniform guess.
 */
import { mean, median } from '../util/stats';
import { lossAt, LossSurface } from './surface-file';

/** The mean loss of the points whose distance from the centre r = √(x² + y²) lies in [rMin, rMax). */
export interface RadialBin {
  rMin: number;
  rMax: number;
  points: number;
  mean: number;
}

/** The descriptors of one surface. */
export interface SurfaceDescriptors {
  points: number;
  min: number;
  minAt: { x: number; y: number };
  max: number;
  /** The loss at (0, 0): the grid value when (0, 0) is a grid point, else bilinear interpolation of the four around it. */
  centre: number;
  centreExact: boolean;
  /** The basin: grid points with loss ≤ centre + threshold, as a count and a fraction of the grid. */
  basinThreshold: number;
  basinPoints: number;
  basinFraction: number;
  /** Mean loss by distance from the centre. */
  radial: RadialBin[];
  /** The median loss over the grid's outer ring (its first and last rows and columns). */
  plateau: number;
  /** ln(vocabulary size), the cross-entropy of a uniform guess, when the vocabulary size is known. */
  uniformLoss: number | null;
  /** plateau − ln(vocabulary size). */
  plateauVsUniform: number | null;
}

/** Options of `describeSurface`. */
export interface DescribeOptions {
  /** Vocabulary size of the model, for the uniform-guess loss. */
  vocabSize?: number;
  /** Nats above the centre loss that still count as basin (default 1). */
  basinThreshold?: number;
  /** Upper edges of the radial bins (default 0.25, 0.5, …, 1.5 and one open bin beyond). */
  radialEdges?: number[];
}

export const DEFAULT_RADIAL_EDGES = [0.25, 0.5, 0.75, 1, 1.25, 1.5];

/** The loss at (0, 0) and whether it is a grid value; throws when (0, 0) lies outside the grid. */
export function centreLoss(s: LossSurface): { value: number; exact: boolean } {
  const bracket = (c: number[], what: string): [number, number, number] => {
    const exact = c.indexOf(0);
    if (exact >= 0) return [exact, exact, 0];
    const hi = c.findIndex((v) => v > 0);
    if (hi <= 0) throw new Error(`the surface's ${what} coordinates (${c[0]} … ${c[c.length - 1]}) do not surround 0`);
    return [hi - 1, hi, (0 - c[hi - 1]) / (c[hi] - c[hi - 1])];
  };
  const [x0, x1, tx] = bracket(s.x, 'x');
  const [y0, y1, ty] = s.y.length === 1 && s.y[0] === 0 ? [0, 0, 0] : bracket(s.y, 'y');
  const at = (ix: number, iy: number) => lossAt(s, ix, iy);
  const value = (1 - ty) * ((1 - tx) * at(x0, y0) + tx * at(x1, y0)) + ty * ((1 - tx) * at(x0, y1) + tx * at(x1, y1));
  return { value, exact: x0 === x1 && y0 === y1 };
}

/** Computes the descriptors of a surface. */
export function describeSurface(s: LossSurface, opts: DescribeOptions = {}): SurfaceDescriptors {
  const nx = s.x.length;
  const ny = s.y.length;
  const threshold = opts.basinThreshold ?? 1;
  const edges = opts.radialEdges ?? DEFAULT_RADIAL_EDGES;
  if (!(threshold >= 0)) throw new Error(`describeSurface: basin threshold must be ≥ 0 (got ${threshold})`);
  if (edges.some((e, i) => !(e > (i ? edges[i - 1] : 0))))
    throw new Error(`describeSurface: radial edges must be positive and increasing (got ${edges.join(', ')})`);

  let minK = 0;
  let maxK = 0;
  s.loss.forEach((v, k) => {
    if (v < s.loss[minK]) minK = k;
    if (v > s.loss[maxK]) maxK = k;
  });
  const centre = centreLoss(s);
  const basinPoints = s.loss.filter((v) => v <= centre.value + threshold).length;

  const bounds = [0, ...edges, Infinity];
  const radial: RadialBin[] = [];
  for (let b = 0; b + 1 < bounds.length; b++) {
    const inBin: number[] = [];
    s.loss.forEach((v, k) => {
      const r = Math.hypot(s.x[k % nx], s.y[Math.floor(k / nx)]);
      if (r >= bounds[b] && r < bounds[b + 1]) inBin.push(v);
    });
    if (inBin.length)
      radial.push({
        rMin: bounds[b],
        rMax: bounds[b + 1],
        points: inBin.length,
        mean: mean(inBin),
      });
  }

  const ring: number[] = [];
  s.loss.forEach((v, k) => {
    const ix = k % nx;
    const iy = Math.floor(k / nx);
    if (ix === 0 || ix === nx - 1 || iy === 0 || iy === ny - 1) ring.push(v);
  });
  const plateau = median(ring);
  const uniformLoss = opts.vocabSize ? Math.log(opts.vocabSize) : null;
  return {
    points: s.loss.length,
    min: s.loss[minK],
    minAt: { x: s.x[minK % nx], y: s.y[Math.floor(minK / nx)] },
    max: s.loss[maxK],
    centre: centre.value,
    centreExact: centre.exact,
    basinThreshold: threshold,
    basinPoints,
    basinFraction: basinPoints / s.loss.length,
    radial,
    plateau,
    uniformLoss,
    plateauVsUniform: uniformLoss === null ? null : plateau - uniformLoss,
  };
}
