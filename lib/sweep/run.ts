/**
 * Sweeps: fine-tuning runs over dropout methods × GLUE tasks × training percentages × seeds, one JSON line per
 * finished run in DIR/results.jsonl (resumable: finished runs are skipped), and the mean ± std of every cell.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { differingKeys } from '../util/run-dir';
import type { DropoutSetting } from '../bert/dropout';
import { runFisherlab, runLanes } from '../util/child-process';
import {
  DROPOUT_METHODS,
  DropoutMethod,
  methodDropout,
  modelDropoutSites,
  parseDropoutMethod,
} from '../guided-dropout/methods';
import { finetune, FinetuneResult, FinetuneSettings } from '../glue/finetune';
import { TASK_NAMES, taskSpec } from '../glue/tasks';
import { modelFingerprint } from '../bert/model-dir';
import { projectRelative } from '../paths';
import { meanStd } from '../util/stats';
import { Progress } from '../util/progress';
import { remainingTime } from './eta';

export const RESULTS_FILE = 'results.jsonl';
export const SUMMARY_FILE = 'summary.csv';
/** Folder of finished runs written by out-of-process executors (one SweepRecord JSON per run), merged into results.jsonl. */
export const RUNS_DIR = 'runs';

/** The training settings shared by every run of a sweep. */
export type TrainingSettings = Pick<
  FinetuneSettings,
  | 'protocol'
  | 'maxTrainExamples'
  | 'maxEvalExamples'
  | 'epochs'
  | 'batchSize'
  | 'lr'
  | 'warmupRatio'
  | 'weightDecay'
  | 'maxLength'
>;

/** What a sweep runs. */
export interface SweepSpec {
  methods: DropoutMethod[];
  tasks: string[];
  /** Training-set percentages in (0, 100]. */
  pcts: number[];
  seeds: number[];
  /** Hugging Face BERT folder every run starts from. */
  model: string;
  /** The pretrained model's Fisher file; required when a guided method is swept. */
  fisher?: string;
  glueDir: string;
  /** Folder of results.jsonl and summary.csv. */
  out: string;
  training: TrainingSettings;
}

/** One run of a sweep. */
export interface SweepCell {
  method: DropoutMethod;
  task: string;
  pct: number;
  seed: number;
}

/**
 * One line of results.jsonl: the cell, the model's weights, the Fisher file of guided runs (else null), and the
 * fine-tuning result. Paths inside the project are stored relative to its root, so shipped results name no machine.
 */
export interface SweepRecord extends SweepCell, FinetuneResult {
  /** `modelFingerprint` of the model folder the run started from. */
  modelSha256: string;
  fisher: string | null;
}

/** Everything one run needs, and what its line in results.jsonl records besides the result. */
export interface SweepTask {
  cell: SweepCell;
  modelSha256: string;
  fisher: string | null;
  settings: FinetuneSettings;
}

/** A sweep checked against its results folder (see `planSweep`). */
export interface SweepPlan {
  out: string;
  cells: SweepCell[];
  /** Cells with no finished run, in sweep order. */
  todo: SweepCell[];
  /** The finished runs, as in results.jsonl. */
  records: SweepRecord[];
  settingsOf: (c: SweepCell) => FinetuneSettings;
  taskOf: (c: SweepCell) => SweepTask;
}

/** Options of `runSweep`. */
export interface SweepOptions {
  /** Progress lines (default: stderr). */
  write?: (line: string) => void;
  /** The fine-tuning function (default: `finetune` in this process, or in `jobs` child processes; tests count its calls). */
  finetune?: typeof finetune;
  /** Runs at a time, each in a `fisherlab sweep-run` child process, the cores shared among them (default 1: in this process). */
  jobs?: number;
  /** Runs of the specs that follow this one in the same command: those neither here nor done count in the ETA. */
  later?: readonly SweepCell[];
}

/** What `runSweep` did. */
export interface SweepOutcome {
  total: number;
  /** Runs already in results.jsonl. */
  skipped: number;
  ran: number;
}

/** One row of the summary: mean and sample std over seeds of one metric of one cell on one evaluation set. */
export interface SummaryRow {
  method: string;
  task: string;
  pct: number;
  /** Evaluation set (dev, test, dev_matched...). */
  eval: string;
  /** `main` (the task's main score) or a metric name. */
  metric: string;
  n: number;
  mean: number;
  std: number;
}

/** The cells of a sweep, seeds outermost (a partial sweep covers every cell with its first seeds), then tasks, percentages, methods. */
export function sweepCells(spec: Pick<SweepSpec, 'methods' | 'tasks' | 'pcts' | 'seeds'>): SweepCell[] {
  const methods = spec.methods.map(parseDropoutMethod);
  const tasks = spec.tasks.map((t) => taskSpec(t).name);
  for (const pct of spec.pcts)
    if (!(pct > 0 && pct <= 100)) throw new Error(`sweep: training percentage ${pct} is outside (0, 100]`);
  for (const seed of spec.seeds)
    if (!(Number.isInteger(seed) && seed >= 0)) throw new Error(`sweep: seed ${seed} is not a non-negative integer`);
  for (const [what, list] of [
    ['methods', methods],
    ['tasks', tasks],
    ['percentages', spec.pcts],
    ['seeds', spec.seeds],
  ] as const) {
    if (list.length === 0) throw new Error(`sweep: no ${what} given`);
    if (new Set<unknown>(list).size !== list.length)
      throw new Error(`sweep: ${what} listed twice in [${list.join(', ')}]`);
  }
  const cells: SweepCell[] = [];
  for (const seed of spec.seeds)
    for (const task of tasks)
      for (const pct of spec.pcts) for (const method of methods) cells.push({ method, task, pct, seed });
  return cells;
}

/**
 * A sweep checked against its results folder: DIR/results.jsonl read (a half-written last line dropped), finished
 * run files of DIR/runs/ merged into it, runs of other weights or settings refused, and the cells still to run.
 */
export function planSweep(spec: SweepSpec, write: (line: string) => void): SweepPlan {
  const cells = sweepCells(spec);
  const dropout = methodSettings(spec);
  const settingsOf = (c: SweepCell): FinetuneSettings => ({
    ...spec.training,
    task: c.task,
    model: spec.model,
    init: 'pretrained',
    trainPct: c.pct,
    seed: c.seed,
    dropout: dropout(c.method, c.seed),
  });
  const modelSha256 = modelFingerprint(spec.model);
  const taskOf = (c: SweepCell): SweepTask => ({
    cell: { method: c.method, task: c.task, pct: c.pct, seed: c.seed },
    modelSha256,
    fisher: c.method.startsWith('guided') ? projectRelative(spec.fisher!) : null,
    settings: settingsOf(c),
  });

  fs.mkdirSync(spec.out, { recursive: true });
  const file = path.join(spec.out, RESULTS_FILE);
  const { records, partial } = fs.existsSync(file) ? parseResults(file) : { records: [], partial: null };
  if (partial !== null) {
    fs.truncateSync(file, partial.keepBytes);
    write(
      `sweep: dropped the half-written last line of ${file} (line ${partial.line}, a run killed while writing); that run is redone`,
    );
  }
  const plan: SweepPlan = { out: spec.out, cells, todo: [], records, settingsOf, taskOf };
  const done = new Map(records.map((r) => [cellKey(r), r]));
  const reusable = (where: string, old: SweepRecord, c: SweepCell) => {
    if (old.modelSha256 !== modelSha256) {
      throw new Error(
        `sweep: ${where} already holds ${cellKey(c)} from other weights (model.safetensors sha256 ${old.modelSha256 ?? 'not recorded'}, now ${modelSha256} in ${spec.model}); use another --out folder`,
      );
    }
    const differ = differingKeys(old.settings, settingsOf(c)).filter((f) => f !== 'model'); // the weights are compared above
    if (differ.length > 0) {
      throw new Error(
        `sweep: ${where} already holds ${cellKey(c)} with other settings (${differ.join(', ')}); use another --out folder, or the same settings`,
      );
    }
  };
  let merged = 0;
  for (const c of cells) {
    const old = done.get(cellKey(c));
    if (old) {
      reusable(file, old, c);
      continue;
    }
    const runFile = runFilePath(spec.out, c);
    const finished = readRunFile(runFile);
    if (finished === null) {
      plan.todo.push(c);
      continue;
    }
    if (cellKey(finished) !== cellKey(c))
      throw new Error(`sweep: ${runFile} holds ${cellKey(finished)}, not ${cellKey(c)}; delete it`);
    reusable(`${runFile} (delete it to redo the run)`, finished, c);
    addRecord(plan, finished);
    done.set(cellKey(c), finished);
    merged++;
  }
  if (merged > 0)
    write(
      `sweep: merged ${merged} finished run${merged === 1 ? '' : 's'} of ${path.join(spec.out, RUNS_DIR)} into ${file}`,
    );
  const skipped = cells.length - plan.todo.length;
  if (skipped > 0) write(`sweep: ${skipped} of ${cells.length} runs already in ${file}, skipped`);
  return plan;
}

/** Runs every cell not yet in DIR/results.jsonl, appending one line per finished run, and rewrites DIR/summary.csv. */
export async function runSweep(spec: SweepSpec, opts: SweepOptions = {}): Promise<SweepOutcome> {
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const jobs = opts.jobs ?? 1;
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`sweep: jobs must be a positive integer (got ${jobs})`);
  const run = opts.finetune ?? (jobs > 1 ? finetuneInChild(path.join(spec.out, '.runs'), jobs) : finetune);
  const plan = planSweep(spec, write);
  const { cells, todo } = plan;
  const skipped = cells.length - todo.length;

  const progress = new Progress('sweep', cells.length, { startDone: skipped, intervalMs: 0, unit: 'runs', write });
  let finished = skipped;
  const left = new Set(todo.map(cellKey));
  const own = new Set(cells.map(cellKey));
  const later = [
    ...new Map((opts.later ?? []).filter((c) => !own.has(cellKey(c))).map((c) => [cellKey(c), c])).values(),
  ];
  await runLanes(todo, jobs, async (cell) => {
    const result = await run(plan.settingsOf(cell), spec.glueDir, {
      write: jobs > 1 ? (line) => write(`[${cellKey(cell)}] ${line}`) : write,
    });
    addRecord(plan, sweepRecord(plan.taskOf(cell), result));
    finished++;
    left.delete(cellKey(cell));
    const scores = Object.entries(result.final)
      .map(([name, s]) => `${name} ${s.main.toFixed(4)}`)
      .join(', ');
    // runs in flight count whole: the estimate errs long by at most one run per lane
    const done = new Set(plan.records.map(cellKey));
    const after = later.filter((c) => !done.has(cellKey(c)));
    const eta = remainingTime(plan.records, [...todo.filter((c) => left.has(cellKey(c))), ...after]);
    const notes = [
      after.length ? `ETA counts ${after.length} runs of the parts after this one` : '',
      eta.untimed ? `ETA leaves out ${eta.untimed} runs of tasks not yet timed` : '',
    ].filter(Boolean);
    progress.update(
      finished,
      `${cellKey(cell)}: ${scores} (${result.wallSeconds.toFixed(0)} s)${notes.map((n) => `; ${n}`).join('')}`,
      eta.timed || !eta.untimed ? eta.seconds / jobs : undefined,
    );
  });
  writeSummaryCsv(spec.out, plan.records);
  return { total: cells.length, skipped, ran: todo.length };
}

/** The line of results.jsonl for a run: its cell, model fingerprint and Fisher file, and its result (the model path made project-relative). */
export function sweepRecord(task: SweepTask, result: FinetuneResult): SweepRecord {
  return {
    ...task.cell,
    modelSha256: task.modelSha256,
    fisher: task.fisher,
    ...result,
    settings: { ...result.settings, model: projectRelative(result.settings.model) },
  };
}

/** Appends a finished run to the plan's results.jsonl (once: the caller checked it is not there) and rewrites summary.csv. */
export function addRecord(plan: SweepPlan, record: SweepRecord): void {
  appendLine(path.join(plan.out, RESULTS_FILE), JSON.stringify(record));
  plan.records.push(record);
  writeSummaryCsv(plan.out, plan.records);
}

/** OUT/runs/NAME.json, where an out-of-process executor's task writes its run's results.jsonl line. */
export function runFilePath(out: string, c: SweepCell): string {
  return path.join(out, RUNS_DIR, `${runName(c)}.json`);
}

/** The file-name stem of a run, e.g. "guided-SST-2-50pct-seed1". */
export function runName(c: SweepCell): string {
  return `${c.method}-${c.task}-${c.pct}pct-seed${c.seed}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/** The finished runs in DIR/results.jsonl; a half-written last line (a kill mid-write) is left out. */
export function readSweepResults(dir: string): SweepRecord[] {
  return parseResults(path.join(dir, RESULTS_FILE)).records;
}

/** Mean ± sample std over seeds of the main score and every metric, per (method, task, pct, evaluation set); rows fit a danfo.js DataFrame or lib/notebook/table.ts. */
export function summarizeSweep(records: readonly SweepRecord[]): SummaryRow[] {
  const cells = new Map<string, { row: Omit<SummaryRow, 'n' | 'mean' | 'std'>; values: number[] }>();
  const ordered = [...records].sort(
    (a, b) =>
      TASK_NAMES.indexOf(a.task as never) - TASK_NAMES.indexOf(b.task as never) ||
      DROPOUT_METHODS.indexOf(a.method) - DROPOUT_METHODS.indexOf(b.method) ||
      a.pct - b.pct ||
      a.seed - b.seed,
  );
  for (const r of ordered) {
    for (const [evalSet, score] of Object.entries(r.final)) {
      for (const [metric, value] of [['main', score.main] as const, ...Object.entries(score.metrics)]) {
        const key = JSON.stringify([r.method, r.task, r.pct, evalSet, metric]);
        const cell =
          cells.get(key) ??
          cells
            .set(key, { row: { method: r.method, task: r.task, pct: r.pct, eval: evalSet, metric }, values: [] })
            .get(key)!;
        // JSON writes NaN (an undefined correlation) as null
        cell.values.push(value ?? NaN);
      }
    }
  }
  return [...cells.values()].map(({ row, values }) => ({ ...row, n: values.length, ...meanStd(values) }));
}

/** The summary as CSV text (header, one line per row, numbers in full precision). */
export function summaryCsv(rows: readonly SummaryRow[]): string {
  const columns: Array<keyof SummaryRow> = ['method', 'task', 'pct', 'eval', 'metric', 'n', 'mean', 'std'];
  const field = (v: unknown) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return [columns.join(','), ...rows.map((r) => columns.map((c) => field(r[c])).join(','))].join('\n') + '\n';
}

/**
 * A fine-tuning function that runs each call in a `fisherlab sweep-run` child process (its settings and result pass
 * through files in `tmpDir`), so that `share` runs at a time use several cores; the results equal in-process runs.
 */
export function finetuneInChild(tmpDir: string, share = 1): typeof finetune {
  return async (settings, glueDir, opts = {}) => {
    fs.mkdirSync(tmpDir, { recursive: true });
    const base = path.join(tmpDir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
    const settingsFile = `${base}.settings.json`;
    const resultFile = `${base}.result.json`;
    fs.writeFileSync(settingsFile, JSON.stringify(settings));
    try {
      // The child's progress lines (with their ETA) are passed on.
      await runFisherlab(['sweep-run', '--settings', settingsFile, '--glue', glueDir, '--output', resultFile], {
        onLine: opts.write,
        share,
      }).catch((e: Error) => {
        throw new Error(
          `sweep: the run of ${settings.task} ${settings.trainPct}% seed ${settings.seed} failed: ${e.message}`,
        );
      });
      return JSON.parse(fs.readFileSync(resultFile, 'utf8')) as FinetuneResult;
    } finally {
      fs.rmSync(settingsFile, { force: true });
      fs.rmSync(resultFile, { force: true });
    }
  };
}

/** "method task pct% seed N", the identity of a run. */
export function cellKey(c: SweepCell): string {
  return `${c.method} ${c.task} ${c.pct}% seed ${c.seed}`;
}

/** Site → setting of a swept method (already validated) for the model's sites and a seed; computed once per method except `shuffled`, whose order the seed draws. */
function methodSettings(spec: SweepSpec): (method: DropoutMethod, seed: number) => Record<string, DropoutSetting> {
  const guided = spec.methods.filter((m) => m.startsWith('guided'));
  if (spec.fisher === undefined && guided.length > 0) {
    throw new Error(
      `sweep: ${guided.join(' and ')} dropout needs the pretrained model's Fisher file (--fisher FILE, written by \`fisherlab fisher\`)`,
    );
  }
  const sites = modelDropoutSites(spec.model);
  const of = (m: DropoutMethod, seed?: number) =>
    methodDropout(m, sites, { fisher: m.startsWith('guided') ? spec.fisher : undefined, model: spec.model, seed });
  const fixed = new Map(spec.methods.filter((m) => m !== 'shuffled').map((m) => [m, of(m)]));
  return (m, seed) => fixed.get(m) ?? of(m, seed);
}

/** The finished run in a run file (written atomically), or null when there is none. */
function readRunFile(file: string): SweepRecord | null {
  if (!fs.existsSync(file)) return null;
  let r: SweepRecord;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepRecord;
  } catch (e) {
    throw new Error(`sweep: ${file} is not a finished run (${(e as Error).message}); delete it to redo the run`);
  }
  if (!isRecord(r))
    throw new Error(
      `sweep: ${file} is not a sweep result (expected method, task, pct, seed and final); delete it to redo the run`,
    );
  return r;
}

/** Whether parsed JSON has the fields of a sweep record. */
function isRecord(r: SweepRecord): boolean {
  return (
    typeof r === 'object' &&
    r !== null &&
    (DROPOUT_METHODS as readonly string[]).includes(r.method) &&
    typeof r.task === 'string' &&
    typeof r.pct === 'number' &&
    typeof r.seed === 'number' &&
    typeof r.final === 'object' &&
    r.final !== null
  );
}

/** Appends one line in a single write (then fsync), so a kill leaves at most a half-written last line. */
function appendLine(file: string, line: string): void {
  const bytes = Buffer.from(`${line}\n`, 'utf8');
  const fd = fs.openSync(file, 'a');
  try {
    const written = fs.writeSync(fd, bytes);
    if (written !== bytes.length) throw new Error(`${file}: wrote ${written} of ${bytes.length} bytes`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes DIR/summary.csv from the records, atomically. */
export function writeSummaryCsv(dir: string, records: readonly SweepRecord[]): void {
  writeFileAtomic(path.join(dir, SUMMARY_FILE), summaryCsv(summarizeSweep(records)));
}

/** The records of a results file; a last line without its newline is half-written: reported, with the bytes before it. */
function parseResults(file: string): { records: SweepRecord[]; partial: { line: number; keepBytes: number } | null } {
  const bytes = fs.readFileSync(file);
  const keepBytes = bytes.lastIndexOf(0x0a) + 1;
  const lines = bytes.subarray(0, keepBytes).toString('utf8').split('\n').slice(0, -1);
  const partial = keepBytes < bytes.length ? { line: lines.length + 1, keepBytes } : null;
  const records: SweepRecord[] = [];
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${file}:${i + 1}`;
    let r: SweepRecord;
    try {
      r = JSON.parse(line) as SweepRecord;
    } catch (e) {
      throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (!isRecord(r)) throw new Error(`${where}: not a sweep result (expected method, task, pct, seed and final)`);
    const key = cellKey(r);
    if (seen.has(key))
      throw new Error(`${where}: ${key} is already on line ${seen.get(key)}; remove one of the two lines`);
    seen.set(key, i + 1);
    records.push(r);
  });
  return { records, partial };
}
