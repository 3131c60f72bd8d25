/**
 * The sub-sample stability study (the paper's Table 1: "a 1% sub-sample suffices"): Fisher estimates over seeded
 * sub-samples of the training split at several percentages and seeds, plus one larger reference estimate; each
 * estimate is reduced to a small summary (per-tensor means, group and dropout-site scores), and the stability table
 * compares every estimate with the reference. Resumable: each estimate runs in its own folder (checkpoints, removed
 * when it is done) and estimates with a summary are skipped.
 *
 * Layout of the study folder: study.json (design and settings), estimates/<id>.json (summaries),
 * runs/<id>/ (checkpoints of unfinished estimates), stability.json and stability.csv (the table).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { settingsDiff } from '../util/run-dir';
import { loadMaskedLm } from '../bert/load';
import type { Bert } from '../bert/model';
import { writeFisher } from './estimate';
import { fisherPass } from './shards';
import { dropoutSiteScores, groupScores, tensorMeans } from './aggregate';
import type { GroupScore, SiteScore, TensorMean } from './aggregate';
import { overrideRecipe, pretrainingRecipe, recipeSequences, sampleCount } from './samples';
import type { PretrainingRecipe } from './samples';
import { fisherStability } from './stability';
import type { StabilityRow } from './stability';
import { fixedMaskedSet, mlmVocab } from '../pretrain/mlm-data';
import type { MaskedExample, SeededMaskOptions } from '../pretrain/mlm-data';
import { modelFingerprint } from '../bert/model-dir';
import { projectRelative } from '../paths';
import { Progress } from '../util/progress';
import { loadTokenizer } from '../bert/tokenizer';

export const STUDY_FILE = 'study.json';
export const TABLE_JSON = 'stability.json';
export const TABLE_CSV = 'stability.csv';

/** One estimate of the study: a percentage of the training split and the seed of its sub-sample and masks. */
export interface EstimateSpec {
  /** Folder-safe identity, e.g. `pct1-seed2`. */
  id: string;
  percent: number;
  seed: number;
  /** Whether this is the reference estimate. */
  reference: boolean;
  /** Number of training sequences it averages over. */
  samples: number;
}

/** What is kept of a finished estimate (its full tensors are kept only on request: they are big). */
export interface EstimateSummary extends EstimateSpec {
  /** Wall time of the sitting that finished the estimate, in seconds. */
  seconds: number;
  /** Samples done by earlier sittings (0 unless the estimate was resumed). */
  resumedFrom: number;
  /** Mean per-sample masked-LM loss. */
  meanLoss: number;
  tensorMeans: TensorMean[];
  /** Group scores (the authors' unweighted mean of tensor means), in architectural order. */
  groups: GroupScore[];
  /** Dropout-site scores in forward order. */
  sites: SiteScore[];
}

/** A row of the stability table, with the percentage of the training split. */
export interface StudyRow extends StabilityRow {
  percent: number;
}

/** Full Fisher tensors to write for one estimate of the study. */
export interface KeepFisher {
  percent: number;
  seed: number;
  file: string;
}

/** What `runFisherStudy` needs. */
export interface FisherStudyOptions {
  model: Bert;
  padId: number;
  /** The packed training sequences the sub-samples are drawn from (as `fisherlab fisher --fraction` draws them). */
  sequences: readonly (readonly number[])[];
  /** Vocabulary facts for masking (mlmVocab of the tokenizer). */
  mask: SeededMaskOptions;
  /** Sub-sample sizes, in percent of the training split. */
  percents: number[];
  seeds: number[];
  /** Size of the reference estimate, in percent. */
  referencePercent: number;
  referenceSeed: number;
  /** The study folder. */
  outDir: string;
  /** Descriptive settings (model, corpus, …) that must match when the folder is resumed; also the metadata of kept Fisher files. */
  settings: Record<string, string>;
  /** Samples per forward/backward pass (default 16). */
  batchSize?: number;
  /** The model's folder: with it, large estimates are split over `jobs` processes (default `defaultFisherJobs`). */
  modelDir?: string;
  jobs?: number;
  /** Estimates whose full Fisher tensors are written as safetensors (as `fisherlab fisher` writes them). */
  keep?: KeepFisher[];
  /** Polled between batches: true saves a checkpoint and stops. */
  shouldStop?: () => boolean;
  /** Progress lines (default: stderr). */
  write?: (line: string) => void;
}

/** What `runFisherStudy` did. */
export interface FisherStudyResult {
  /** The estimate summaries in study order (grid by percent, then seed; the reference last); only finished ones when stopped. */
  summaries: EstimateSummary[];
  /** The stability table (reference row last), or null when the study stopped early. */
  rows: StudyRow[] | null;
  /** Ids of the estimates computed (or finished) by this call and of those skipped as already done. */
  computed: string[];
  skipped: string[];
}

/** What a study of one model folder draws on: the model, padding id, training sequences, masking vocabulary and settings. */
export type StudyInputs = Pick<
  FisherStudyOptions,
  'model' | 'modelDir' | 'padId' | 'sequences' | 'mask' | 'settings'
> & {
  recipe: PretrainingRecipe;
};

/**
 * Loads a masked-LM model folder and packs the training split of its pretraining corpus as `fisherlab fisher` does
 * (corpus, split and length from its pretrain-report.json unless overridden); the caller disposes of the model.
 * The settings name the model folder relative to the project root when it lies inside it, so shipped studies resume anywhere.
 */
export function studyInputs(modelDir: string, overrides: { corpus?: string; maxLength?: number } = {}): StudyInputs {
  const model = loadMaskedLm(modelDir, 'fisher-stability');
  const tokenizer = loadTokenizer(modelDir);
  const recipe = overrideRecipe(pretrainingRecipe(modelDir), overrides);
  const sequences = recipeSequences(tokenizer, recipe, 'train');
  const settings = {
    model: projectRelative(modelDir),
    model_sha256: modelFingerprint(modelDir),
    corpus: recipe.corpus,
    held_out_fraction: String(recipe.heldOutFraction),
    split_seed: String(recipe.splitSeed),
    recipe: recipe.source,
    masking_rate: '0.15',
    max_length: String(recipe.maxLength),
  };
  return { model, modelDir, padId: model.config.pad_token_id, sequences, mask: mlmVocab(tokenizer), settings, recipe };
}

/** The sub-sample of `fisherlab fisher --fraction percent/100 --seed seed`: seeded sequences masked with the same seed. */
export function studyExamples(
  sequences: readonly (readonly number[])[],
  percent: number,
  seed: number,
  mask: SeededMaskOptions,
): MaskedExample[] {
  const n = sampleCount({ fraction: percent / 100 }, sequences.length);
  return fixedMaskedSet(sequences, n, seed, mask).map(({ input_ids, labels }) => ({ input_ids, labels }));
}

/** The study's estimates: every (percent, seed) of the grid in that order, then the reference. */
export function studyDesign(
  o: Pick<FisherStudyOptions, 'percents' | 'seeds' | 'referencePercent' | 'referenceSeed'>,
  available: number,
): EstimateSpec[] {
  const unique = (xs: number[], what: string) => {
    if (xs.length === 0) throw new Error(`fisher study: no ${what}`);
    if (new Set(xs).size !== xs.length) throw new Error(`fisher study: ${what} listed twice: ${xs.join(', ')}`);
  };
  unique(o.percents, 'percentages');
  unique(o.seeds, 'seeds');
  for (const p of [...o.percents, o.referencePercent])
    if (!(p > 0 && p <= 100)) throw new Error(`fisher study: percentages must be in (0, 100] (got ${p})`);
  for (const s of [...o.seeds, o.referenceSeed])
    if (!(Number.isInteger(s) && s >= 0))
      throw new Error(`fisher study: seeds must be non-negative integers (got ${s})`);
  if (o.percents.includes(o.referencePercent) && o.seeds.includes(o.referenceSeed)) {
    throw new Error(
      `fisher study: the reference (${o.referencePercent}%, seed ${o.referenceSeed}) is also in the grid; give it another seed or size`,
    );
  }
  const spec = (percent: number, seed: number, reference: boolean): EstimateSpec => ({
    id: `pct${percent}-seed${seed}`,
    percent,
    seed,
    reference,
    samples: sampleCount({ fraction: percent / 100 }, available),
  });
  const grid = [...o.percents].sort((a, b) => a - b).flatMap((p) => o.seeds.map((s) => spec(p, s, false)));
  return [...grid, spec(o.referencePercent, o.referenceSeed, true)];
}

/** Runs (or resumes) the study: every unfinished estimate, then the stability table as JSON and CSV. */
export async function runFisherStudy(o: FisherStudyOptions): Promise<FisherStudyResult> {
  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const batchSize = o.batchSize ?? 16;
  const design = studyDesign(o, o.sequences.length);
  const keep = o.keep ?? [];
  for (const k of keep) {
    if (!design.some((e) => e.percent === k.percent && e.seed === k.seed))
      throw new Error(
        `fisher study: cannot keep the Fisher of ${k.percent}% seed ${k.seed}: not an estimate of the study`,
      );
  }
  const settings = { ...o.settings, training_sequences: String(o.sequences.length), batch_size: String(batchSize) };
  writeStudyFile(o.outDir, settings, design);

  const keepFile = (e: EstimateSpec) => keep.find((k) => k.percent === e.percent && k.seed === e.seed)?.file;
  const finished = (e: EstimateSpec) =>
    fs.existsSync(summaryFile(o.outDir, e.id)) && !(keepFile(e) && !fs.existsSync(keepFile(e)!));
  const todo = design.filter((e) => !finished(e));
  const skipped = design.filter((e) => finished(e)).map((e) => e.id);
  const total = design.reduce((a, e) => a + e.samples, 0);
  const doneBefore = total - todo.reduce((a, e) => a + e.samples, 0);
  say(
    `fisher-stability: ${design.length} estimates, ${total} samples in all; ${skipped.length} already done (${doneBefore} samples)`,
  );
  const progress = new Progress('fisher-stability', total, {
    startDone: doneBefore,
    write: say,
    intervalMs: 0,
    unit: 'samples',
  });

  const computed: string[] = [];
  let done = doneBefore;
  for (const e of todo) {
    say(
      `fisher-stability: estimate ${e.id} (${e.percent}% = ${e.samples} samples, seed ${e.seed}${e.reference ? ', the reference' : ''})`,
    );
    const metadata = { ...settings, selection: `fraction ${e.percent / 100}`, seed: String(e.seed) };
    const runDir = path.join(o.outDir, 'runs', e.id);
    const result = await fisherPass({
      model: o.model,
      modelDir: o.modelDir,
      jobs: o.jobs,
      examples: studyExamples(o.sequences, e.percent, e.seed, o.mask),
      padId: o.padId,
      batchSize,
      runDir,
      settings: metadata,
      shouldStop: o.shouldStop,
      write: o.write,
    });
    if (!result.fisher) {
      say(
        `fisher-stability: stopped in ${e.id} after ${result.samples} of ${e.samples} samples; run the same command again to resume`,
      );
      return { summaries: readSummaries(o.outDir, design.filter(finished)), rows: null, computed, skipped };
    }
    const file = keepFile(e);
    if (file) writeFisher(file, result.fisher, result.samples, metadata);
    const means = tensorMeans(result.fisher);
    const groups = groupScores(means);
    const summary: EstimateSummary = {
      ...e,
      seconds: result.seconds,
      resumedFrom: result.resumedFrom,
      meanLoss: result.meanLoss,
      tensorMeans: means,
      groups,
      sites: dropoutSiteScores(groups),
    };
    fs.mkdirSync(path.dirname(summaryFile(o.outDir, e.id)), { recursive: true });
    writeFileAtomic(summaryFile(o.outDir, e.id), JSON.stringify(summary) + '\n');
    fs.rmSync(runDir, { recursive: true, force: true });
    computed.push(e.id);
    done += e.samples;
    progress.update(done, `${e.id} done in ${result.seconds.toFixed(1)} s`);
  }
  fs.rmSync(path.join(o.outDir, 'runs'), { recursive: true, force: true }); // empty: every estimate is done
  const summaries = readSummaries(o.outDir, design);
  const rows = stabilityRows(summaries);
  writeFileAtomic(path.join(o.outDir, TABLE_JSON), JSON.stringify(rows, null, 1) + '\n');
  writeFileAtomic(path.join(o.outDir, TABLE_CSV), studyCsv(rows));
  return { summaries, rows, computed, skipped };
}

/** The stability table of finished summaries: each compared with the reference (fisher-stability.ts), in summary order. */
export function stabilityRows(summaries: readonly EstimateSummary[]): StudyRow[] {
  const reference = summaries.findIndex((s) => s.reference);
  if (reference < 0) throw new Error('fisher study: no reference estimate among the summaries');
  const rows = fisherStability(
    summaries.map((s) => ({ sampleSize: s.samples, seed: s.seed, fisher: s.tensorMeans })),
    { reference },
  );
  return rows.map((r, i) => ({ percent: summaries[i].percent, ...r }));
}

/** A finished study read back from its folder: the design, the summaries and the stability table. */
export interface FisherStudy {
  settings: Record<string, string>;
  design: EstimateSpec[];
  summaries: EstimateSummary[];
  rows: StudyRow[];
}

/** Reads a finished study folder written by `runFisherStudy`; errors name the missing file. */
export function readFisherStudy(dir: string): FisherStudy {
  const { settings, design } = readJson<{ settings: Record<string, string>; design: EstimateSpec[] }>(
    path.join(dir, STUDY_FILE),
  );
  const rows = readJson<StudyRow[]>(path.join(dir, TABLE_JSON));
  return { settings, design, summaries: readSummaries(dir, design), rows };
}

/** The table as CSV, one line per row. */
export function studyCsv(rows: readonly StudyRow[]): string {
  const columns: Array<keyof StudyRow> = [
    'percent',
    'sampleSize',
    'seed',
    'reference',
    'tensorSpearman',
    'siteSpearman',
    'sameSiteOrder',
    'sitesMoved',
    'scheduleChanged',
    'maxPChange',
  ];
  return [columns.join(','), ...rows.map((r) => columns.map((c) => String(r[c])).join(','))].join('\n') + '\n';
}

/** Writes study.json; an existing one must have the same settings (the grid may change between sittings). */
function writeStudyFile(dir: string, settings: Record<string, string>, design: EstimateSpec[]): void {
  const file = path.join(dir, STUDY_FILE);
  if (fs.existsSync(file)) {
    const before = readJson<{ settings: Record<string, string> }>(file).settings;
    const diff = settingsDiff(before, settings);
    if (diff.length)
      throw new Error(`${dir} holds a Fisher study with other settings (${diff.join(', ')}); use another folder`);
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, JSON.stringify({ settings, design }, null, 1) + '\n');
}

/** Where an estimate's summary goes. */
function summaryFile(dir: string, id: string): string {
  return path.join(dir, 'estimates', `${id}.json`);
}

/** The summaries of the given estimates, in their order. */
function readSummaries(dir: string, design: readonly EstimateSpec[]): EstimateSummary[] {
  return design.map((e) => readJson<EstimateSummary>(summaryFile(dir, e.id)));
}

/** Parses a JSON file; errors name it. */
function readJson<T>(file: string): T {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (run \`fisherlab fisher-stability\` to write it)`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}
