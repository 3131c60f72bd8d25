/**
 * Evidence that pretraining put knowledge in the weights: a GLUE task's dev score from the pretrained weights against
 * a random initialization of the same architecture, each at its best learning rate of a small grid, paired by seed.
 * Every run is a `fisherlab finetune` child process whose result is kept in a runs folder
 * under a name that fingerprints what it depends on, so reruns and other folders with the same inputs reuse it.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { runFisherlab, runLanes } from '../util/child-process';
import { FINETUNE_DEFAULTS, FinetuneResult, FinetuneSettings } from '../glue/finetune';
import { modelRecipe, recipeSettings } from '../glue/recipes';
import { TASK_NAMES, TaskSpec, taskSpec } from '../glue/tasks';
import { outputDir, projectRelative } from '../paths';
import { findWeightFiles, identifyingFiles } from '../weights/files';
import { meanStd, PairedTTest, pairedTTest } from '../util/stats';

export type Init = 'pretrained' | 'random';

export interface BenefitRun {
  init: Init;
  lr: number;
  seed: number;
  /** The task's main dev score (`BenefitReport.metric`). */
  score: number;
  seconds: number;
}

/** Mean and sample standard deviation of the dev score over seeds, for one initialization at one learning rate. */
export interface ArmScore {
  init: Init;
  lr: number;
  mean: number;
  std: number;
}

/** Pretrained against random, each at its best learning rate, paired by seed. */
export interface PairedComparison {
  /** Per seed, in the order of `seeds`: pretrained's score minus random's. */
  differences: number[];
  /** Seeds on which pretrained scored higher than random. */
  wins: number;
  /** Student's paired t-test of pretrained against random; its `pGreater` is the one-sided p of "pretrained is better". */
  test: PairedTTest;
  /**
   * Set when the differences have no spread, so the t-test has no ordinary answer: 'identical' when both starts
   * scored the same on every seed (t and p are NaN; e.g. both always predict the majority class, MCC 0), 'constant'
   * when every difference is the same non-zero value (t is ±Infinity).
   */
  degenerate?: 'identical' | 'constant';
}

/** What `summarizeRuns` derives from the runs. */
export interface BenefitSummary {
  /** Every initialization at every learning rate. */
  byLr: ArmScore[];
  /** Each initialization at its best learning rate (highest mean dev score; the smaller lr on a tie). */
  summary: Record<Init, ArmScore>;
  paired: PairedComparison;
}

/**
 * The same comparison on fresh seeds, each start at the learning rate the grid's seeds chose for it: a test whose
 * learning rates were not picked on the seeds it is scored on, so the selection cannot flatter it.
 */
export interface Confirmation {
  seeds: number[];
  /** One run per start and seed, pretrained at `summary.pretrained.lr`, random at `summary.random.lr`. */
  runs: BenefitRun[];
  paired: PairedComparison;
}

export interface BenefitReport extends BenefitSummary {
  task: string;
  /** The task's main metric, which `runs[].score` holds: accuracy (SST-2), matthews_correlation (CoLA), … */
  metric: string;
  settings: Omit<FinetuneSettings, 'init' | 'seed' | 'lr'>;
  /** Training examples each run saw (`settings.maxTrainExamples`, or the whole training set when it is 0). */
  trainExamples: number;
  /** Examples of the dev set scored. */
  devExamples: number;
  lrs: number[];
  seeds: number[];
  runs: BenefitRun[];
  /** Present when the check was confirmed on fresh seeds (`--confirm-seeds`); its test is then the one that counts. */
  confirmation?: Confirmation;
  /** The one-sided p below which the verdict claims a difference, fixed before the runs (absent: DEFAULT_ALPHA). */
  alpha?: number;
  /** Confirmations of the same grid on other fresh seeds that a later one replaced (`--add`), oldest first. */
  earlierConfirmations?: EarlierConfirmation[];
}

/** A confirmation that a later one on other fresh seeds replaced, kept with the threshold it was held to. */
export interface EarlierConfirmation extends Confirmation {
  /** Its threshold (absent: DEFAULT_ALPHA). */
  alpha?: number;
}

/** The verdict's threshold unless a comparison sets its own: one-sided p < 0.01. */
export const DEFAULT_ALPHA = 0.01;

/** Options of `pretrainingBenefit`. */
export interface BenefitOptions {
  /** Training examples per run (0: the whole training set). */
  maxTrainExamples: number;
  /** Learning rates tried for both initializations. */
  lrs: number[];
  /** Fine-tuning processes at a time. */
  jobs: number;
  /** Folder of finished runs (default: out/pretraining-benefit). */
  runsDir?: string;
  /** Fresh seeds, none of `seeds`, on which each start is run again at its chosen lr and the two compared. */
  confirmSeeds?: number[];
  /** The verdict's threshold (default DEFAULT_ALPHA), e.g. halved for a second test of a claim already tested once. */
  alpha?: number;
}

/** Training examples per run when `model-card --max-train` is not given: SST-2's 67k sentences are capped at 3,000, other tasks use all (0). */
export function defaultMaxTrain(task: string): number {
  return taskSpec(task).name === 'SST-2' ? 3000 : 0;
}

/** The name of a task's main score: its one metric, or `combined_score` (the mean) when GLUE reports two. */
export function mainMetric(task: TaskSpec): string {
  return task.metrics.length === 1 ? task.metrics[0] : 'combined_score';
}

/** The one run of `init` at `lr` and `seed` among `runs`. */
function scoreOf(runs: readonly BenefitRun[], init: Init, lr: number, seed: number): number {
  const found = runs.filter((r) => r.init === init && r.lr === lr && r.seed === seed);
  if (found.length !== 1)
    throw new Error(`pretraining benefit: ${found.length} runs of ${init} at lr ${lr}, seed ${seed} (expected 1)`);
  return found[0].score;
}

/** Pretrained at `lrs.pretrained` against random at `lrs.random`, seed by seed, with the paired t-test. */
export function pairRuns(
  runs: readonly BenefitRun[],
  lrs: Record<Init, number>,
  seeds: readonly number[],
): PairedComparison {
  const p = seeds.map((seed) => scoreOf(runs, 'pretrained', lrs.pretrained, seed));
  const r = seeds.map((seed) => scoreOf(runs, 'random', lrs.random, seed));
  const differences = p.map((x, i) => x - r[i]);
  const test = pairedTTest(p, r);
  const paired: PairedComparison = { differences, wins: differences.filter((d) => d > 0).length, test };
  if (test.sdDiff === 0) paired.degenerate = test.meanDiff === 0 ? 'identical' : 'constant';
  return paired;
}

/** Per-(init, lr) scores of the runs, each init at its best lr, and the two best compared seed by seed. */
export function summarizeRuns(
  runs: readonly BenefitRun[],
  lrs: readonly number[],
  seeds: readonly number[],
): BenefitSummary {
  const byLr = (['pretrained', 'random'] as const).flatMap((init) =>
    lrs.map((lr) => ({ init, lr, ...meanStd(seeds.map((seed) => scoreOf(runs, init, lr, seed))) })),
  );
  const best = (init: Init) =>
    byLr
      .filter((a) => a.init === init)
      .reduce((b, a) => (a.mean > b.mean || (a.mean === b.mean && a.lr < b.lr) ? a : b));
  const summary = { pretrained: best('pretrained'), random: best('random') };
  return {
    byLr,
    summary,
    paired: pairRuns(runs, { pretrained: summary.pretrained.lr, random: summary.random.lr }, seeds),
  };
}

/** The comparison whose test decides the verdict: the confirmation on fresh seeds when there is one, else the grid's. */
export function decidingComparison(b: Pick<BenefitReport, 'seeds' | 'paired' | 'confirmation'>): {
  seeds: number[];
  paired: PairedComparison;
} {
  return b.confirmation ?? b;
}

/**
 * The name a run's result is kept under: the task (none for SST-2, whose runs came first), what the run depends on
 * (the config and vocabulary; the weights too when it starts from them), its learning rate, seed and training-set size.
 */
export function runKey(
  task: string,
  modelDir: string,
  init: Init,
  lr: number,
  seed: number,
  maxTrainExamples: number,
): string {
  const name = taskSpec(task).name;
  const h = createHash('sha256');
  const weights = init === 'pretrained' ? identifyingFiles(findWeightFiles(modelDir)).map((f) => path.basename(f)) : [];
  for (const f of ['config.json', 'vocab.txt', ...weights]) h.update(f).update(fs.readFileSync(path.join(modelDir, f)));
  const prefix = name === 'SST-2' ? '' : `${name}-`;
  return `${prefix}${init}-${h.digest('hex').slice(0, 12)}-lr${lr}-seed${seed}-n${maxTrainExamples}`;
}

/** Fine-tunes on a GLUE task (a capped training set, the full dev set) from both initializations at every lr and seed, reusing finished runs. */
export async function pretrainingBenefit(
  task: string,
  modelDir: string,
  glueDir: string,
  seeds: number[],
  opts: BenefitOptions,
  write?: (line: string) => void,
): Promise<BenefitReport> {
  const spec = taskSpec(task);
  if (opts.lrs.length === 0) throw new Error(`${spec.name} pretraining benefit: give at least one learning rate`);
  if (seeds.length < 2 || new Set(seeds).size !== seeds.length)
    throw new Error(`${spec.name} pretraining benefit: the paired t-test needs at least two seeds, each once`);
  const confirmSeeds = opts.confirmSeeds ?? [];
  if (opts.confirmSeeds && (confirmSeeds.length < 2 || new Set(confirmSeeds).size !== confirmSeeds.length))
    throw new Error(`${spec.name} pretraining benefit: the confirmation needs at least two seeds, each once`);
  const reusedSeeds = confirmSeeds.filter((s) => seeds.includes(s));
  if (reusedSeeds.length)
    throw new Error(
      `${spec.name} pretraining benefit: confirmation seeds ${reusedSeeds.join(', ')} also chose the learning rates; confirm on fresh seeds`,
    );
  const metric = mainMetric(spec);
  const split = spec.devSplits[0];
  const { lr: _unused, ...defaults } = { ...FINETUNE_DEFAULTS, ...recipeSettings(modelRecipe(modelDir)) };
  const settings: BenefitReport['settings'] = {
    ...defaults,
    task: spec.name,
    model: projectRelative(modelDir),
    maxTrainExamples: opts.maxTrainExamples,
  };
  const runsDir = opts.runsDir ?? path.join(outputDir(), 'pretraining-benefit');
  fs.mkdirSync(runsDir, { recursive: true });
  const arms = seeds.flatMap((seed) =>
    opts.lrs.flatMap((lr) => (['pretrained', 'random'] as const).map((init) => ({ init, lr, seed }))),
  );
  const sizes = { train: new Set<number>(), dev: new Set<number>() };
  const runOne = async ({ init, lr, seed }: { init: Init; lr: number; seed: number }): Promise<BenefitRun> => {
    const key = runKey(spec.name, modelDir, init, lr, seed, opts.maxTrainExamples);
    const output = path.join(runsDir, `${key}.json`);
    const reused = fs.existsSync(output);
    if (!reused) {
      await runFisherlab(
        [
          'finetune',
          '--task',
          spec.name,
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
        ],
        { share: Math.max(1, opts.jobs) },
      );
    }
    const r = JSON.parse(fs.readFileSync(output, 'utf8')) as FinetuneResult;
    const score = r.final[split]?.main;
    if (typeof score !== 'number') throw new Error(`${output}: no final.${split}.main score of ${spec.name}`);
    sizes.train.add(r.trainExamples);
    sizes.dev.add(r.evalExamples[split]);
    write?.(
      `${spec.name} ${init} lr ${lr} seed ${seed}: dev ${metric} ${score.toFixed(4)} (${r.wallSeconds.toFixed(0)} s${reused ? `, reused ${output}` : ''})`,
    );
    return { init, lr, seed, score, seconds: r.wallSeconds };
  };
  const bySeed = (a: BenefitRun, b: BenefitRun) => a.seed - b.seed || a.lr - b.lr || a.init.localeCompare(b.init);
  const runs = (await runLanes(arms, Math.max(1, opts.jobs), runOne)).sort(bySeed);
  const grid = summarizeRuns(runs, opts.lrs, seeds);
  const chosen = { pretrained: grid.summary.pretrained.lr, random: grid.summary.random.lr };
  let confirmation: Confirmation | undefined;
  if (confirmSeeds.length) {
    const confirmArms = confirmSeeds.flatMap((seed) =>
      (['pretrained', 'random'] as const).map((init) => ({ init, lr: chosen[init], seed })),
    );
    const confirmRuns = (await runLanes(confirmArms, Math.max(1, opts.jobs), runOne)).sort(bySeed);
    confirmation = { seeds: confirmSeeds, runs: confirmRuns, paired: pairRuns(confirmRuns, chosen, confirmSeeds) };
  }
  if (sizes.train.size !== 1 || sizes.dev.size !== 1)
    throw new Error(`${spec.name} pretraining benefit: the runs in ${runsDir} trained or scored on different sets`);
  return {
    task: spec.name,
    metric,
    settings,
    trainExamples: [...sizes.train][0],
    devExamples: [...sizes.dev][0],
    lrs: opts.lrs,
    seeds,
    runs,
    ...grid,
    ...(confirmation ? { confirmation } : {}),
    ...(opts.alpha !== undefined && opts.alpha !== DEFAULT_ALPHA ? { alpha: opts.alpha } : {}),
  };
}

/**
 * `old` with `added` in place of its comparisons of the same task and training-set size, the others kept in order.
 * A comparison confirmed again on other fresh seeds after the same grid keeps the earlier confirmations with their
 * thresholds, so a claim tested more than once shows every test. Refused, since it would drop or misattribute a test:
 * a confirmation on seeds an earlier one used, and a grid other than the one the earlier confirmations followed.
 */
export function mergeBenefits(old: readonly BenefitReport[], added: readonly BenefitReport[]): BenefitReport[] {
  const key = (b: BenefitReport) => `${b.task} ${b.settings.maxTrainExamples}`;
  const replaced = new Set(added.map(key));
  const kept = added.map((b) => {
    const before = old.find((o) => key(o) === key(b));
    if (!before?.confirmation || !b.confirmation) return b;
    // the same confirmation run again replaces itself; one on other seeds joins the earlier ones
    const rerun = sameSeeds(before.confirmation.seeds, b.confirmation.seeds);
    const earlier: EarlierConfirmation[] = [
      ...(before.earlierConfirmations ?? []),
      ...(rerun
        ? []
        : [
            {
              seeds: before.confirmation.seeds,
              runs: before.confirmation.runs,
              paired: before.confirmation.paired,
              ...(before.alpha !== undefined ? { alpha: before.alpha } : {}),
            },
          ]),
    ];
    if (!earlier.length) return b;
    const where = `${b.task}, ${b.trainExamples} training examples`;
    if (!sameGrid(before, b))
      throw new Error(
        `${where}: the grid's settings or scores differ from those the confirmation on seeds ${earlier.map((e) => e.seeds.join(',')).join(' and ')} followed, so --add would drop that test; rerun the same grid (its runs are reused from the runs folder), or remove this comparison from pretraining-benefit.json to start afresh`,
      );
    const used = earlier.flatMap((e) => e.seeds).filter((s) => b.confirmation!.seeds.includes(s));
    if (used.length)
      throw new Error(
        `${where}: confirmation seed ${[...new Set(used)].join(', ')} already confirmed this comparison; confirm on fresh seeds`,
      );
    return { ...b, earlierConfirmations: earlier };
  });
  return [...old.filter((b) => !replaced.has(key(b))), ...kept];
}

/** Whether two comparisons ran the same grid: settings, learning rates, seeds and every grid run's score. */
function sameGrid(a: BenefitReport, b: BenefitReport): boolean {
  const grid = (r: BenefitReport) =>
    JSON.stringify([r.settings, r.lrs, r.seeds, r.runs.map((x) => [x.init, x.lr, x.seed, x.score])]);
  return grid(a) === grid(b);
}

/** Whether two seed lists hold the same seeds, in any order. */
const sameSeeds = (a: readonly number[], b: readonly number[]) =>
  [...a].sort((x, y) => x - y).join() === [...b].sort((x, y) => x - y).join();

/** Reads a pretraining-benefit.json (a list of reports), checking its fields and recomputing what the runs determine. */
export function readBenefitReports(file: string): BenefitReport[] {
  let list: unknown;
  try {
    list = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(list)) throw new Error(`${file}: expected a list of comparisons (redo it with --check)`);
  return list.map((b: Partial<BenefitReport>, i) => {
    const where = `${file}: comparison ${i + 1}`;
    const numbers = (v: unknown, field: string) => {
      if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
        throw new Error(`${where}: ${field} must be a non-empty list of numbers`);
      return v as number[];
    };
    if (typeof b !== 'object' || b === null) throw new Error(`${where}: not an object`);
    const task = TASK_NAMES.find((t) => t === b.task);
    if (!task) throw new Error(`${where}: task ${JSON.stringify(b.task)} is not one of ${TASK_NAMES.join(', ')}`);
    if (b.metric !== mainMetric(taskSpec(task)))
      throw new Error(
        `${where}: metric ${JSON.stringify(b.metric)} is not ${task}'s main metric ${mainMetric(taskSpec(task))}`,
      );
    if (typeof b.settings !== 'object' || b.settings === null) throw new Error(`${where}: settings missing`);
    for (const field of ['trainExamples', 'devExamples'] as const)
      if (!Number.isInteger(b[field])) throw new Error(`${where}: ${field} must be an integer`);
    const lrs = numbers(b.lrs, 'lrs');
    const seeds = numbers(b.seeds, 'seeds');
    const checkRuns = (runs: unknown, field: string): BenefitRun[] => {
      if (!Array.isArray(runs)) throw new Error(`${where}: ${field} must be a list`);
      runs.forEach((r, k) => {
        if (r?.init !== 'pretrained' && r?.init !== 'random')
          throw new Error(`${where}: ${field}[${k}].init must be "pretrained" or "random"`);
        for (const key of ['lr', 'seed', 'score', 'seconds'] as const)
          if (typeof r[key] !== 'number') throw new Error(`${where}: ${field}[${k}].${key} must be a number`);
      });
      return runs;
    };
    const runs = checkRuns(b.runs, 'runs');
    const c = b.confirmation;
    if (c !== undefined && (typeof c !== 'object' || c === null))
      throw new Error(`${where}: confirmation must be an object`);
    if (b.alpha !== undefined && !(typeof b.alpha === 'number' && b.alpha > 0 && b.alpha < 1))
      throw new Error(`${where}: alpha must be a number between 0 and 1`);
    const confirmRuns = c && checkRuns(c.runs, 'confirmation.runs');
    const confirmSeeds = c && numbers(c.seeds, 'confirmation.seeds');
    const earlier = b.earlierConfirmations;
    if (earlier !== undefined && (!Array.isArray(earlier) || !c))
      throw new Error(`${where}: earlierConfirmations must be a list, beside a confirmation`);
    const earlierRead = (earlier ?? []).map((e, k) => {
      const field = `earlierConfirmations[${k}]`;
      if (typeof e !== 'object' || e === null) throw new Error(`${where}: ${field} must be an object`);
      if (e.alpha !== undefined && !(typeof e.alpha === 'number' && e.alpha > 0 && e.alpha < 1))
        throw new Error(`${where}: ${field}.alpha must be a number between 0 and 1`);
      return { ...e, seeds: numbers(e.seeds, `${field}.seeds`), runs: checkRuns(e.runs, `${field}.runs`) };
    });
    try {
      const grid = summarizeRuns(runs, lrs, seeds);
      const report: BenefitReport = { ...(b as BenefitReport), ...grid };
      const chosen = { pretrained: grid.summary.pretrained.lr, random: grid.summary.random.lr };
      if (confirmRuns && confirmSeeds) {
        report.confirmation = {
          seeds: confirmSeeds,
          runs: confirmRuns,
          paired: pairRuns(confirmRuns, chosen, confirmSeeds),
        };
      }
      if (earlierRead.length)
        report.earlierConfirmations = earlierRead.map((e) => ({ ...e, paired: pairRuns(e.runs, chosen, e.seeds) }));
      return report;
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  });
}
