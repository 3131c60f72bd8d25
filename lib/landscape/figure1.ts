/**
 * The paper's Figure 1 as a set of three surfaces of one model along the same two directions: all tensors
 * perturbed, only the top-50% tensors by mean Fisher, only the bottom-50%. Computed into a folder as
 * `{all,top50,bottom50}.json` (+ `.h5`), read back with the descriptors that compare them.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeSurface, SurfaceDescriptors } from './descriptors';
import { runLandscape, saveSurface } from './run';
import { Grid, linspace } from './surface';
import { LossSurface, readSurface, readSurfaces } from './surface-file';

/** A square Figure 1 grid: points per axis over the same range on both axes. */
export interface Figure1GridSpec {
  points: number;
  range: readonly [number, number];
}

/**
 * Figure 1's grids: `full` is the authors' 16 × 16 over [−1.5, 1.5]² (the shipped surfaces; the default of
 * `fisherlab landscape` and `landscape-figure1`), `quick` an 8 × 8 over the same square for a fast look.
 */
export const FIGURE1_GRIDS = {
  quick: { points: 8, range: [-1.5, 1.5] },
  full: { points: 16, range: [-1.5, 1.5] },
} as const satisfies Record<string, Figure1GridSpec>;

/** The coordinates of a Figure 1 grid. */
export function figure1Grid(kind: keyof typeof FIGURE1_GRIDS): Grid {
  const { points, range } = FIGURE1_GRIDS[kind];
  return { x: linspace(range[0], range[1], points), y: linspace(range[0], range[1], points) };
}

/** The three perturbation sets of Figure 1: file name, mask and a title. */
export const FIGURE1_SETS = [
  { name: 'all', mask: 'all', title: 'all tensors' },
  { name: 'top50', mask: 'top50', title: 'top-50% Fisher tensors' },
  { name: 'bottom50', mask: 'bottom50', title: 'bottom-50% Fisher tensors' },
] as const;

export type Figure1Name = (typeof FIGURE1_SETS)[number]['name'];

/** What `computeFigure1` needs. */
export interface Figure1Options {
  /** Model folder (default: the embedded model). */
  model?: string;
  /** Fisher file for the top/bottom split. */
  fisher: string;
  /** Folder for the three surfaces. */
  outDir: string;
  /** Folder for directions and partial results (resumable). */
  runDir: string;
  grid: Grid;
  evalExamples?: number;
  evalSeed?: number;
  /** JSONL of pre-masked examples to evaluate on instead of the corpus. */
  examples?: string;
  seed?: number;
  jobs?: number;
  /** Also write HDF5 files (default true). */
  hdf5?: boolean;
  write?: (line: string) => void;
  shouldStop?: () => boolean;
}

/** Computes (or resumes) the three surfaces along one pair of directions; returns them, or null if stopped early. */
export async function computeFigure1(o: Figure1Options): Promise<Map<Figure1Name, LossSurface> | null> {
  const out = new Map<Figure1Name, LossSurface>();
  const directions = path.join(o.runDir, 'directions.safetensors');
  for (const set of FIGURE1_SETS) {
    const json = path.join(o.outDir, `${set.name}.json`);
    const r = await runLandscape({
      model: o.model,
      fisher: o.fisher,
      mask: set.mask,
      grid: o.grid,
      evalExamples: o.evalExamples,
      evalSeed: o.evalSeed,
      examples: o.examples,
      seed: o.seed,
      directions,
      runDir: path.join(o.runDir, set.name),
      jobs: o.jobs,
      write: o.write,
      shouldStop: o.shouldStop,
    });
    if (!r.surface) return null;
    await saveSurface(r.surface, json, o.hdf5 === false ? undefined : json.replace(/\.json$/, '.h5'));
    out.set(set.name, r.surface);
  }
  return out;
}

/** Reads the three surfaces of a Figure 1 folder. */
export function readFigure1(dir: string): Map<Figure1Name, LossSurface> {
  const out = new Map<Figure1Name, LossSurface>();
  for (const set of FIGURE1_SETS) {
    const file = path.join(dir, `${set.name}.json`);
    if (!fs.existsSync(file))
      throw new Error(`${dir}: no ${set.name}.json (compute the surfaces with \`fisherlab landscape-figure1\`)`);
    out.set(set.name, readSurface(file));
  }
  return out;
}

/** The authors' three BERT-base surfaces (`all`, `top`, `bottom` in their file) under our names. */
export function readPaperFigure1(file: string): Map<Figure1Name, LossSurface> {
  const theirs = readSurfaces(file);
  const pick = (name: string) => {
    const s = theirs.get(name);
    if (!s) throw new Error(`${file}: no surface "${name}"`);
    return s;
  };
  return new Map<Figure1Name, LossSurface>([
    ['all', pick('all')],
    ['top50', pick('top')],
    ['bottom50', pick('bottom')],
  ]);
}

/** One row of the comparison table: a model's surface and its descriptors. */
export interface DescriptorRow extends SurfaceDescriptors {
  model: string;
  set: Figure1Name;
}

/** The descriptors of each surface of each model (vocabulary sizes give the uniform-guess loss). */
export function figure1Descriptors(
  models: ReadonlyArray<{ model: string; vocabSize: number; surfaces: Map<Figure1Name, LossSurface> }>,
  basinThreshold = 1,
): DescriptorRow[] {
  return models.flatMap(({ model, vocabSize, surfaces }) =>
    FIGURE1_SETS.filter((s) => surfaces.has(s.name)).map((s) => ({
      model,
      set: s.name,
      ...describeSurface(surfaces.get(s.name)!, { vocabSize, basinThreshold }),
    })),
  );
}

/** The comparison table: one row per model and surface, with the columns a reader compares. */
export function descriptorTable(rows: readonly DescriptorRow[]): Array<Record<string, string | number>> {
  const title = new Map(FIGURE1_SETS.map((s) => [s.name as string, s.title]));
  return rows.map((r) => ({
    model: r.model,
    perturbed: title.get(r.set) ?? r.set,
    'centre loss': r.centre,
    'lowest loss': r.min,
    'lowest at (x, y)': `(${r.minAt.x.toFixed(2)}, ${r.minAt.y.toFixed(2)})`,
    [`basin: points ≤ centre + ${r.basinThreshold}`]: `${r.basinPoints} / ${r.points}`,
    'plateau (median of the rim)': r.plateau,
    'ln V (uniform guess)': r.uniformLoss ?? NaN,
    'plateau − ln V': r.plateauVsUniform ?? NaN,
    'highest loss': r.max,
  }));
}

/** One observation the authors' surfaces show, checked on one model's three surfaces. */
export interface Observation {
  observation: string;
  holds: boolean;
  evidence: string;
}

/**
 * The observations the authors' BERT-base surfaces show (paper.md §5 item 6), checked on one model's descriptor rows:
 * the top-50% basin is wider than the full one; the top-50% rim plateaus near ln V; the bottom-50% surface looks like
 * the full one (its rim rises at least half as far above the centre); perturbing all tensors climbs well above ln V
 * (by more than 2 nats).
 */
export function figure1Observations(rows: readonly DescriptorRow[]): Observation[] {
  const get = (set: Figure1Name) => {
    const r = rows.find((x) => x.set === set);
    if (!r) throw new Error(`figure1Observations: no ${set} surface`);
    return r;
  };
  const [all, top, bottom] = [get('all'), get('top50'), get('bottom50')];
  const lnV = top.uniformLoss;
  if (lnV === null) throw new Error('figure1Observations: the vocabulary size is needed (ln V)');
  const f = (v: number) => v.toFixed(2);
  return [
    {
      observation: 'perturbing the top-50% tensors leaves a wider basin than perturbing all',
      holds: top.basinPoints > all.basinPoints,
      evidence: `basin ${top.basinPoints} vs ${all.basinPoints} points`,
    },
    {
      observation: 'the top-50% surface plateaus near ln V (within 1 nat)',
      holds: Math.abs(top.plateau - lnV) <= 1,
      evidence: `rim ${f(top.plateau)}, ln V ${f(lnV)}`,
    },
    {
      observation:
        'the bottom-50% surface resembles the full one (its rim rises at least half as far above the centre)',
      holds: bottom.plateau - bottom.centre >= 0.5 * (all.plateau - all.centre),
      evidence: `rises ${f(bottom.plateau - bottom.centre)} vs ${f(all.plateau - all.centre)} nats`,
    },
    {
      observation: 'perturbing all tensors climbs far above ln V (> 2 nats)',
      holds: all.plateau - lnV > 2,
      evidence: `rim ${f(all.plateau)}, ln V ${f(lnV)}`,
    },
  ];
}
