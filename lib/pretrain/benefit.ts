/**
 * Evidence that pretraining put knowledge in the weights: SST-2 accuracy from the pretrained weights against a random
 * initialization of the same architecture, each at its best learning rate of a small grid, over several seeds.
 * Every run is a `fisherlab finetune` child process (one wasm thread each) whose result is kept in a runs folder
 * under a name that fingerprints what it depends on, so reruns and other folders with the same inputs reuse it.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { runFisherlab, runLanes } from '../util/child-process';
import { FINETUNE_DEFAULTS, FinetuneResult, FinetuneSettings } from '../glue/finetune';
import { modelRecipe, recipeSettings } from '../glue/recipes';
import { outputDir, projectRelative } from '../paths';
import { findWeightFiles, identifyingFiles } from '../weights/files';
import { meanStd } from '../util/stats';

export type Init = 'pretrained' | 'random';

export interface BenefitRun {
  init: Init;
  lr: number;
  seed: number;
  accuracy: number;
  seconds: number;
}

/** Mean and sample standard deviation of dev accuracy over seeds, for one initialization at one learning rate. */
export interface ArmScore {
  init: Init;
  lr: number;
  mean: number;
  std: number;
}

export interface BenefitReport {
  settings: Omit<FinetuneSettings, 'init' | 'seed' | 'lr'>;
  lrs: number[];
  seeds: number[];
  runs: BenefitRun[];
  /** Every initialization at every learning rate. */
  byLr: ArmScore[];
  /** Each initialization at its best learning rate (highest mean dev accuracy; the smaller lr on a tie). */
  summary: Record<Init, ArmScore>;
}

/** Options of `pretrainingBenefit`. */
export interface BenefitOptions {
  maxTrainExamples: number;
  /** Learning rates tried for both initializations. */
  lrs: number[];
  /** Fine-tuning processes at a time. */
  jobs: number;
  /** Folder of finished runs (default: out/sst2-check). */
  runsDir?: string;
}

/** Per-(init, lr) scores of the runs, and each init at its best lr. */
export function summarizeRuns(
  runs: readonly BenefitRun[],
  lrs: readonly number[],
): { byLr: ArmScore[]; summary: Record<Init, ArmScore> } {
  const byLr = (['pretrained', 'random'] as const).flatMap((init) =>
    lrs.map((lr) => ({
      init,
      lr,
      ...meanStd(runs.filter((r) => r.init === init && r.lr === lr).map((r) => r.accuracy)),
    })),
  );
  const best = (init: Init) =>
    byLr
      .filter((a) => a.init === init)
      .reduce((b, a) => (a.mean > b.mean || (a.mean === b.mean && a.lr < b.lr) ? a : b));
  return { byLr, summary: { pretrained: best('pretrained'), random: best('random') } };
}

/**
 * The name a run's result is kept under: what it depends on (the config and vocabulary; the weights too when it
 * starts from them), its learning rate, seed and training-set size.
 */
export function runKey(modelDir: string, init: Init, lr: number, seed: number, maxTrainExamples: number): string {
  const h = createHash('sha256');
  const weights = init === 'pretrained' ? identifyingFiles(findWeightFiles(modelDir)).map((f) => path.basename(f)) : [];
  for (const f of ['config.json', 'vocab.txt', ...weights]) h.update(f).update(fs.readFileSync(path.join(modelDir, f)));
  return `${init}-${h.digest('hex').slice(0, 12)}-lr${lr}-seed${seed}-n${maxTrainExamples}`;
}

/** Fine-tunes on SST-2 (a capped training set, the full dev set) from both initializations at every lr and seed, reusing finished runs. */
export async function pretrainingBenefit(
  modelDir: string,
  glueDir: string,
  seeds: number[],
  opts: BenefitOptions,
  write?: (line: string) => void,
): Promise<BenefitReport> {
  if (opts.lrs.length === 0 || seeds.length === 0)
    throw new Error('SST-2 check: give at least one learning rate and one seed');
  const { lr: _unused, ...defaults } = { ...FINETUNE_DEFAULTS, ...recipeSettings(modelRecipe(modelDir)) };
  const settings: BenefitReport['settings'] = {
    ...defaults,
    task: 'SST-2',
    model: projectRelative(modelDir),
    maxTrainExamples: opts.maxTrainExamples,
  };
  const runsDir = opts.runsDir ?? path.join(outputDir(), 'sst2-check');
  fs.mkdirSync(runsDir, { recursive: true });
  const arms = seeds.flatMap((seed) =>
    opts.lrs.flatMap((lr) => (['pretrained', 'random'] as const).map((init) => ({ init, lr, seed }))),
  );
  const runs: BenefitRun[] = [];
  const runOne = async ({ init, lr, seed }: { init: Init; lr: number; seed: number }) => {
    const output = path.join(runsDir, `${runKey(modelDir, init, lr, seed, opts.maxTrainExamples)}.json`);
    const reused = fs.existsSync(output);
    if (!reused) {
      await runFisherlab([
        'finetune',
        '--task',
        'SST-2',
        '--model',
        path.resolve(modelDir),
        '--init',
        init,
        '--seed',
        String(seed),
        '--glue',
        glueDir,
        '--max-train',
        String(opts.maxTrainExamples),
        '--lr',
        String(lr),
        '--output',
        output,
      ]);
    }
    const r = JSON.parse(fs.readFileSync(output, 'utf8')) as FinetuneResult;
    runs.push({ init, lr, seed, accuracy: r.final.dev.metrics.accuracy, seconds: r.wallSeconds });
    write?.(
      `SST-2 ${init} lr ${lr} seed ${seed}: dev accuracy ${r.final.dev.metrics.accuracy.toFixed(4)} (${r.wallSeconds.toFixed(0)} s${reused ? `, reused ${output}` : ''})`,
    );
  };
  await runLanes(arms, Math.max(1, opts.jobs), runOne);
  runs.sort((a, b) => a.seed - b.seed || a.lr - b.lr || a.init.localeCompare(b.init));
  return { settings, lrs: opts.lrs, seeds, runs, ...summarizeRuns(runs, opts.lrs) };
}
