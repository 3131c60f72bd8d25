/**
 * The tables notebook 04 shows beside its Figure 1 charts: what each parameter set moves, shipped points recomputed
 * live, and the paper's observations side by side per model.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Figure1Name, Observation } from './figure1';
import { FIGURE1_SETS } from './figure1';
import { runLandscape } from './run';
import type { LossSurface } from './surface-file';

/** Per Figure 1 set: the tensors in its mask, how many tensors and scalars were moved, and which matrices. */
export function figure1MovedTable(surfaces: ReadonlyMap<Figure1Name, LossSurface>): Array<Record<string, unknown>> {
  return FIGURE1_SETS.map(({ name }) => {
    const m = surfaces.get(name)!.metadata as Record<string, any>;
    const inMask: string[] = m.tensors;
    // The 2-D tensors of the mask are the ones with a direction (filter-normalized rows); the 1-D ones stay put.
    const matrices = inMask.filter((t) => !/(bias|LayerNorm)/.test(t));
    return {
      set: name,
      'tensors in the set': inMask.length,
      'tensors moved': m.perturbed_tensors,
      'scalars moved': m.perturbed_parameters,
      'moved tensors':
        matrices.length <= 6
          ? matrices.join(', ')
          : `${matrices.length} tensors: ${[...new Set(matrices.map((t) => t.replace(/^bert\.encoder\.layer\.\d+\./, 'layer.N.')))].join(', ')}`,
    };
  });
}

/** Four points of a shipped surface's row nearest y = 0, recomputed live with its own seeds, beside the shipped losses. */
export async function recheckSurface(
  surface: LossSurface,
  modelDir: string,
  mask: string,
): Promise<{ rows: Array<Record<string, number>>; pointsPerSecond: number }> {
  const meta = surface.metadata as Record<string, any>;
  const nx = surface.x.length;
  const row = surface.y.reduce((best, v, i) => (Math.abs(v) < Math.abs(surface.y[best]) ? i : best), 0);
  const cols = [0, Math.floor(nx / 2) - 1, Math.floor(nx / 2), nx - 1];
  const live = await runLandscape({
    model: modelDir,
    mask,
    grid: { x: cols.map((i) => surface.x[i]), y: [surface.y[row]] },
    evalExamples: meta.eval.examples,
    evalSeed: meta.eval.seed,
    seed: meta.seed,
    runDir: fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-04-')),
    write: () => {},
  });
  const rows = cols.map((ix, k) => ({
    x: surface.x[ix],
    y: surface.y[row],
    shipped: surface.loss[nx * row + ix],
    'recomputed now': live.surface!.loss[k],
    difference: live.surface!.loss[k] - surface.loss[nx * row + ix],
  }));
  return { rows, pointsPerSecond: live.pointsPerSecond };
}

/** The paper's observations as rows, with whether each holds and its evidence per model. */
export function observationsTable(
  byModel: ReadonlyArray<{ model: string; obs: readonly Observation[] }>,
): Array<Record<string, string>> {
  return byModel[0].obs.map((o, k) => ({
    observation: o.observation,
    ...Object.fromEntries(
      byModel.flatMap((m) => [
        [`${m.model}`, m.obs[k].holds ? 'holds' : 'does not hold'],
        [`${m.model}: evidence`, m.obs[k].evidence],
      ]),
    ),
  }));
}

/** A model's held-out masked-LM loss of the unigram-frequency guess, from its pretrain-report.json (null without one). */
export function unigramBaselineLoss(modelDir: string): number | null {
  const file = path.join(modelDir, 'pretrain-report.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')).heldOut.unigram.loss as number) : null;
}
