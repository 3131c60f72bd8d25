/**
 * Loss-surface files as JSON in the layout of Li et al.'s loss-landscape tool (`xcoordinates`, `ycoordinates`,
 * `train_loss` flat with index nx·iy + ix) plus the run's metadata; the same reader also takes the authors'
 * file of BERT-base surfaces (`{source, surfaces: {NAME: {x, y, loss_row_major_y_then_x}}}`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { sharedDataDir } from '../paths';

/** A loss surface: `loss[nx·iy + ix]` is the loss at (x[ix], y[iy]). */
export interface LossSurface {
  x: number[];
  y: number[];
  loss: number[];
  /** What made it (see `SurfaceMetadata` for fisherlab's own files). */
  metadata: Record<string, unknown>;
}

/** The metadata fisherlab writes with a surface. */
export interface SurfaceMetadata {
  model: string;
  /** The mask's canonical text: all, top:50, bottom:50, names:... */
  mask: string;
  /** The perturbed tensors (those in the mask; 1-D ones among them move only when biasbn is not `zero`). */
  tensors: string[];
  fisher: string | null;
  seed: number;
  /** The seeds of the x and y directions derived from `seed`. */
  direction_seeds: { x: number; y: number };
  biasbn: string;
  directions: string | null;
  /** Tensors and scalar parameters that actually moved (a non-zero direction inside the mask). */
  perturbed_tensors: number;
  perturbed_parameters: number;
  grid: { nx: number; ny: number };
  eval: { source: string; examples: number; masked_tokens: number; seed: number | null; batch_size: number };
  /** What the values are. */
  loss: string;
  points_per_second: number;
  fisherlab_version: string;
  [key: string]: unknown;
}

/** The `format` field of fisherlab's surface files. */
export const SURFACE_FORMAT = 'fisherlab-loss-surface';

/** Checks coordinates and values (finite numbers, strictly increasing coordinates, nx·ny values) and returns the surface; errors start with `where`. */
export function checkSurface(
  x: unknown,
  y: unknown,
  loss: unknown,
  metadata: Record<string, unknown>,
  where: string,
): LossSurface {
  const numbers = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v) || v.length === 0)
      throw new Error(`${where}: "${what}" must be a non-empty array of numbers`);
    const bad = v.findIndex((z) => typeof z !== 'number' || !Number.isFinite(z));
    if (bad >= 0) throw new Error(`${where}: ${what}[${bad}] = ${JSON.stringify(v[bad])} is not a finite number`);
    return v as number[];
  };
  const xs = numbers(x, 'xcoordinates');
  const ys = numbers(y, 'ycoordinates');
  for (const [c, what] of [
    [xs, 'xcoordinates'],
    [ys, 'ycoordinates'],
  ] as const) {
    const bad = c.findIndex((v, i) => i > 0 && !(v > c[i - 1]));
    if (bad >= 0) throw new Error(`${where}: "${what}" must be strictly increasing (index ${bad})`);
  }
  const values = numbers(loss, 'train_loss');
  if (values.length !== xs.length * ys.length)
    throw new Error(
      `${where}: "train_loss" has ${values.length} values, expected ${xs.length}×${ys.length} = ${xs.length * ys.length}`,
    );
  return { x: xs, y: ys, loss: values, metadata };
}

/** The loss at grid indices (ix, iy). */
export function lossAt(surface: LossSurface, ix: number, iy: number): number {
  if (!(ix >= 0 && ix < surface.x.length && iy >= 0 && iy < surface.y.length))
    throw new Error(`lossAt: (${ix}, ${iy}) is outside the ${surface.x.length}×${surface.y.length} grid`);
  return surface.loss[surface.x.length * iy + ix];
}

/** Writes a surface as JSON (Li et al.'s field names, then `metadata`), atomically. */
export function writeSurface(file: string, surface: LossSurface): void {
  const s = checkSurface(surface.x, surface.y, surface.loss, surface.metadata, file);
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileAtomic(
    file,
    JSON.stringify({
      format: SURFACE_FORMAT,
      version: 1,
      xcoordinates: s.x,
      ycoordinates: s.y,
      train_loss: s.loss,
      metadata: s.metadata,
    }) + '\n',
  );
}

/** Reads every surface of a file: one for fisherlab's files (named by its mask, else "surface"), one per entry for the authors' set. */
export function readSurfaces(file: string): Map<string, LossSurface> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read a loss surface (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const r = raw as Record<string, unknown>;
  const out = new Map<string, LossSurface>();
  if ('xcoordinates' in r) {
    const metadata = (r.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata !== 'object' || Array.isArray(metadata))
      throw new Error(`${file}: "metadata" must be an object`);
    out.set(
      typeof metadata.mask === 'string' ? metadata.mask : 'surface',
      checkSurface(r.xcoordinates, r.ycoordinates, r.train_loss, metadata, file),
    );
  } else if (typeof r.surfaces === 'object' && r.surfaces !== null && !Array.isArray(r.surfaces)) {
    for (const [name, s] of Object.entries(r.surfaces as Record<string, Record<string, unknown>>)) {
      if (typeof s !== 'object' || s === null) throw new Error(`${file}: surface "${name}" must be an object`);
      out.set(
        name,
        checkSurface(
          s.x,
          s.y,
          s.loss_row_major_y_then_x,
          { name, source: r.source ?? null },
          `${file}: surface "${name}"`,
        ),
      );
    }
    if (out.size === 0) throw new Error(`${file}: "surfaces" is empty`);
  } else {
    throw new Error(
      `${file}: neither a surface (xcoordinates, ycoordinates, train_loss) nor a set of surfaces ("surfaces")`,
    );
  }
  return out;
}

/** Reads one surface: the only one in the file, or the one called `name`. */
export function readSurface(file: string, name?: string): LossSurface {
  const all = readSurfaces(file);
  if (name !== undefined) {
    const s = all.get(name);
    if (!s) throw new Error(`${file}: no surface "${name}" (it has ${[...all.keys()].join(', ')})`);
    return s;
  }
  if (all.size !== 1) throw new Error(`${file}: holds ${all.size} surfaces (${[...all.keys()].join(', ')}); name one`);
  return [...all.values()][0];
}

/** The authors' BERT-base surfaces (all, top, bottom) in the shared data folder, or null when absent. */
export function paperSurfacesFile(): string | null {
  const dir = sharedDataDir();
  const file = dir && path.join(dir, 'paper', 'bert-base-loss-surfaces.json');
  return file && fs.existsSync(file) ? file : null;
}
