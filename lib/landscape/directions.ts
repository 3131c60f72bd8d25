/**
 * Random directions in weight space for loss landscapes (Li et al. 2018): one seeded Gaussian tensor per parameter
 * tensor, filter-normalized against the weights, saved and read back as safetensors (`x.NAME`, `y.NAME`).
 */
import type { WeightArray } from '../bert/model';
import { Rng, mixSeed } from '../util/random';
import { NamedArray, readSafetensors, writeSafetensors } from '../weights/safetensors';

/** One direction: a tensor per parameter name, shaped like the weights. */
export type Direction = Map<string, NamedArray>;

/** The two directions that span a landscape's plane. */
export interface DirectionPair {
  x: Direction;
  y: Direction;
}

/**
 * What 1-D tensors (biases, LayerNorm) get: `zero` (the authors' `ignore='biasbn'`: never perturbed), `copy` (the
 * weights themselves, as Li et al.'s code does when biasbn is not ignored) or `normalize` (Gaussian, rescaled as a
 * whole to the tensor's norm).
 */
export type BiasBn = 'zero' | 'copy' | 'normalize';

/** The `kind` metadata of a directions file. */
export const DIRECTIONS_KIND = 'loss-landscape-directions';

/** Added to a row's direction norm before dividing, as Li et al. (and the authors) do. */
const NORM_EPS = 1e-10;

/** Seed-stream indices of the x and y directions. */
const AXIS = { x: 1, y: 2 } as const;

/** FNV-1a hash of a name, so each tensor's Gaussian stream depends on its name only (not on which other tensors exist). */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Rescales each row of `d` (a [rows, cols] tensor, row-major) in place to the norm of the same row of `w`: d_r ← d_r·‖w_r‖/(‖d_r‖ + 1e-10). */
export function filterNormalize(d: Float32Array, w: Float32Array, rows: number): void {
  if (d.length !== w.length || rows < 1 || d.length % rows !== 0)
    throw new Error(`filterNormalize: ${d.length} direction values, ${w.length} weights, ${rows} rows`);
  const cols = d.length / rows;
  for (let r = 0; r < rows; r++) scaleToNorm(d, w, r * cols, (r + 1) * cols);
}

/** Rescales d[begin, end) in place to the norm of w[begin, end) (norms in float64). */
function scaleToNorm(d: Float32Array, w: Float32Array, begin: number, end: number): void {
  let dd = 0;
  let ww = 0;
  for (let i = begin; i < end; i++) {
    dd += d[i] * d[i];
    ww += w[i] * w[i];
  }
  const s = Math.sqrt(ww) / (Math.sqrt(dd) + NORM_EPS);
  for (let i = begin; i < end; i++) d[i] *= s;
}

/** A seeded Gaussian direction, filter-normalized per row for 2-D tensors, 1-D tensors as `biasbn` says (default zero). */
export function randomDirection(
  weights: ReadonlyMap<string, WeightArray>,
  seed: number,
  biasbn: BiasBn = 'zero',
): Direction {
  const out: Direction = new Map();
  for (const [name, w] of weights) {
    const data = new Float32Array(w.data.length);
    if (w.shape.length >= 2) {
      fillGaussian(data, seed, name);
      filterNormalize(data, w.data, w.shape[0]);
    } else if (biasbn === 'copy') {
      data.set(w.data);
    } else if (biasbn === 'normalize') {
      fillGaussian(data, seed, name);
      scaleToNorm(data, w.data, 0, data.length);
    }
    out.set(name, { name, shape: [...w.shape], data });
  }
  return out;
}

/** Fills `data` with standard normals from the stream of (seed, tensor name). */
function fillGaussian(data: Float32Array, seed: number, name: string): void {
  const rng = new Rng(mixSeed(seed, nameHash(name)));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
}

/** The seeds of the x and y directions derived from one seed. */
export function axisSeeds(seed: number): { x: number; y: number } {
  return { x: mixSeed(seed, AXIS.x), y: mixSeed(seed, AXIS.y) };
}

/** Two directions from one seed (x and y from different derived seeds, see `axisSeeds`). */
export function directionPair(
  weights: ReadonlyMap<string, WeightArray>,
  seed: number,
  biasbn: BiasBn = 'zero',
): DirectionPair {
  const seeds = axisSeeds(seed);
  return { x: randomDirection(weights, seeds.x, biasbn), y: randomDirection(weights, seeds.y, biasbn) };
}

/** Writes a direction pair as one safetensors file (`x.NAME`, `y.NAME`), atomically, with `kind` added to the metadata. */
export function writeDirections(file: string, pair: DirectionPair, metadata: Record<string, string> = {}): void {
  const tensors: NamedArray[] = [];
  for (const axis of ['x', 'y'] as const)
    for (const t of pair[axis].values()) tensors.push({ name: `${axis}.${t.name}`, shape: t.shape, data: t.data });
  writeSafetensors(file, tensors, { ...metadata, kind: DIRECTIONS_KIND });
}

/** Reads a directions file; with `weights`, checks that both directions have exactly their names and shapes. Errors name the file. */
export function readDirections(
  file: string,
  weights?: ReadonlyMap<string, WeightArray>,
): { pair: DirectionPair; metadata: Record<string, string> } {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.kind !== DIRECTIONS_KIND)
    throw new Error(
      `${file}: not a directions file (metadata kind ${JSON.stringify(metadata.kind ?? null)}, expected "${DIRECTIONS_KIND}")`,
    );
  const pair: DirectionPair = { x: new Map(), y: new Map() };
  for (const [full, t] of tensors) {
    const m = /^([xy])\.(.+)$/.exec(full);
    if (!m) throw new Error(`${file}: tensor "${full}" is neither x.NAME nor y.NAME`);
    pair[m[1] as 'x' | 'y'].set(m[2], { name: m[2], shape: t.shape, data: t.data });
  }
  if (weights) {
    for (const axis of ['x', 'y'] as const) {
      const d = pair[axis];
      const missing = [...weights.keys()].filter((n) => !d.has(n));
      const extra = [...d.keys()].filter((n) => !weights.has(n));
      const badShape = [...weights]
        .filter(([n, w]) => d.has(n) && d.get(n)!.shape.join() !== w.shape.join())
        .map(([n]) => n);
      if (missing.length || extra.length || badShape.length) {
        throw new Error(
          `${file}: the ${axis} direction does not fit the model: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}], other shape [${badShape.join(', ')}]`,
        );
      }
    }
  }
  return { pair, metadata };
}
