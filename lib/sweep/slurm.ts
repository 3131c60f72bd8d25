/**
 * The Slurm executor of sweeps: the unfinished runs as one job array whose task I runs run I (`fisherlab sweep-run`),
 * each writing its results.jsonl line atomically to OUT/runs/; the next sweep call merges them. Files in OUT/slurm/:
 * plan.json (run key → command), tasks/ (each run's input), array-N.sh, jobs.json (submissions), logs/.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { projectRoot } from '../paths';
import {
  accountedStates,
  arrayScript,
  queuedTasks,
  sbatch,
  shellQuote,
  SlurmOptions,
  taskEnd,
  taskLog,
} from './slurm-tools';
import {
  cellKey,
  planSweep,
  readSweepResults,
  RESULTS_FILE,
  runFilePath,
  runName,
  RUNS_DIR,
  SweepCell,
  SweepSpec,
  SweepTask,
  writeSummaryCsv,
} from './run';

export const SLURM_DIR = 'slurm';

/** One sbatch call, as recorded in OUT/slurm/jobs.json. */
interface Submission {
  job: string;
  script: string;
  /** The run key of each array index. */
  runs: string[];
  submitted: string;
}

/** OUT/slurm/plan.json: every run of the sweep, with the command that runs it. */
interface SlurmPlan {
  runs: Record<string, { cell: SweepCell; command: string }>;
}

/** What `submitSweep` did. */
export interface SubmitOutcome {
  total: number;
  /** Runs in results.jsonl (after merging finished run files). */
  done: number;
  /** Runs of earlier submissions that squeue still lists. */
  queued: number;
  submitted: number;
  /** The job id of the new job array (null when nothing was submitted). */
  job: string | null;
}

/**
 * Merges finished runs into OUT/results.jsonl and summary.csv, then submits every run that is neither finished nor
 * queued as one job array (writing OUT/slurm/plan.json, the task inputs and the script), and records the job id.
 */
export function submitSweep(
  specs: readonly SweepSpec[],
  options: SlurmOptions,
  write: (line: string) => void,
): SubmitOutcome {
  const { out, all, tasks } = mergeSweep(specs, write);
  const dir = path.join(out, SLURM_DIR);
  const glueDir = path.resolve(specs[0].glueDir);
  const commandOf = (c: SweepCell) => taskCommand(out, c, glueDir);
  for (const sub of ['tasks', 'logs']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  fs.mkdirSync(path.join(out, RUNS_DIR), { recursive: true });
  const runs = Object.fromEntries(
    [...all].map(([key, c]) => [key, { cell: c, command: commandOf(c).map(shellQuote).join(' ') }]),
  );
  writeFileAtomic(path.join(dir, 'plan.json'), JSON.stringify({ runs } satisfies SlurmPlan, null, 1) + '\n');

  const submissions = readSubmissions(dir);
  const queue = queuedTasks(submissions.map((s) => s.job));
  const latest = latestTasks(submissions);
  const queued = [...tasks.keys()].filter((key) => queue.has(latest.get(key)?.id ?? ''));
  // after squeue: a run that ended since it was planned has its run file, and is merged by the next call
  const missing = [...tasks.values()].filter(
    (t) => !queued.includes(cellKey(t.cell)) && !fs.existsSync(runFilePath(out, t.cell)),
  );
  const outcome: SubmitOutcome = {
    total: all.size,
    done: all.size - tasks.size,
    queued: queued.length,
    submitted: 0,
    job: null,
  };
  if (missing.length === 0) return outcome;

  for (const t of missing) {
    const input: SweepTask = { ...t, settings: { ...t.settings, model: path.resolve(t.settings.model) } }; // tasks run in the project root
    writeFileAtomic(taskFile(out, t.cell), JSON.stringify(input) + '\n');
  }
  const script = path.join(dir, `array-${submissions.length + 1}.sh`);
  writeFileAtomic(
    script,
    arrayScript({
      jobName: `fisherlab-sweep-${path.basename(path.resolve(out))}`,
      logDir: path.join(dir, 'logs'),
      cwd: projectRoot(),
      commands: missing.map((t) => commandOf(t.cell)),
      options,
    }),
  );
  const job = sbatch(script);
  submissions.push({ job, script, runs: missing.map((t) => cellKey(t.cell)), submitted: new Date().toISOString() });
  writeFileAtomic(path.join(dir, 'jobs.json'), JSON.stringify(submissions, null, 1) + '\n');
  write(
    `sweep: submitted ${missing.length} runs as Slurm job array ${job} (${script}); logs in ${path.join(dir, 'logs')}`,
  );
  return { ...outcome, submitted: missing.length, job };
}

/**
 * Merges the finished runs of OUT/runs/ into OUT/results.jsonl (once each) and rewrites summary.csv: every cell of
 * the specs by key, and the input of each cell still to run.
 */
export function mergeSweep(
  specs: readonly SweepSpec[],
  write: (line: string) => void,
): { out: string; all: Map<string, SweepCell>; tasks: Map<string, SweepTask> } {
  const out = sameOut(specs);
  const tasks = new Map<string, SweepTask>();
  const all = new Map<string, SweepCell>();
  for (const spec of specs) {
    const plan = planSweep(spec, write);
    for (const c of plan.cells) all.set(cellKey(c), c);
    for (const c of plan.todo) if (!tasks.has(cellKey(c))) tasks.set(cellKey(c), plan.taskOf(c));
    writeSummaryCsv(out, plan.records);
  }
  return { out, all, tasks };
}

/** Waits until squeue lists no task of the sweep's submissions, polling at about a tenth of the time waited so far (1 to 30 s). */
export async function awaitSweep(out: string): Promise<void> {
  const jobs = readSubmissions(path.join(out, SLURM_DIR)).map((s) => s.job);
  const start = Date.now();
  while (queuedTasks(jobs).size > 0)
    await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1000 + (Date.now() - start) / 10)));
}

/** The state of one run of a Slurm sweep. */
export interface RunStatus {
  key: string;
  /** done: in results.jsonl; finished: its run file awaits merging; failed: ended without a result. */
  state: 'done' | 'finished' | 'running' | 'pending' | 'failed' | 'not submitted';
  /** The array task of its last submission, JOB_INDEX. */
  task?: string;
  log?: string;
  /** Why a failed run failed. */
  reason?: string;
}

/** The state of every run of the sweep submitted to OUT, from squeue, sacct (when accounting answers) and the folder. */
export function sweepStatus(out: string): RunStatus[] {
  const dir = path.join(out, SLURM_DIR);
  const planFile = path.join(dir, 'plan.json');
  if (!fs.existsSync(planFile)) {
    throw new Error(
      `sweep: ${out} has no ${SLURM_DIR}/plan.json: submit the sweep first with \`fisherlab sweep --executor slurm ... --out ${out}\``,
    );
  }
  const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as SlurmPlan;
  const submissions = readSubmissions(dir);
  const jobs = submissions.map((s) => s.job);
  const queue = queuedTasks(jobs); // before the files: a task that ends meanwhile shows as running, not failed
  const accounted = accountedStates(jobs);
  const done = new Set(fs.existsSync(path.join(out, RESULTS_FILE)) ? readSweepResults(out).map(cellKey) : []);
  const latest = latestTasks(submissions);
  const logDir = path.join(dir, 'logs');
  return Object.entries(plan.runs).map(([key, { cell }]): RunStatus => {
    if (done.has(key)) return { key, state: 'done' };
    if (fs.existsSync(runFilePath(out, cell))) return { key, state: 'finished' };
    const last = latest.get(key);
    if (!last) return { key, state: 'not submitted' };
    const log = taskLog(logDir, last.job, last.index);
    const queued = queue.get(last.id);
    if (queued !== undefined)
      return { key, state: PENDING_STATES.includes(queued) ? 'pending' : 'running', task: last.id, log };
    const end = taskEnd(logDir, last.job, last.index);
    const state = accounted?.get(last.id);
    const reason =
      end === null
        ? `${state ?? 'no exit marker and no longer in squeue'}: killed without SIGTERM (node failure, out of memory) or cancelled before it started`
        : 'signal' in end
          ? `stopped by SIG${end.signal}${state ? ` (${state})` : ''}: time limit, scancel or node shutdown`
          : end.exit === 0
            ? `exited 0 without writing ${runFilePath(out, cell)}`
            : `exit ${end.exit}${state ? ` (${state})` : ''}`;
    return { key, state: 'failed', task: last.id, log: fs.existsSync(log) ? log : undefined, reason };
  });
}

/** Report lines on a sweep's status: counts, then each running and each failed run (with its log). */
export function formatStatus(out: string, runs: readonly RunStatus[]): string[] {
  const count = (state: RunStatus['state']) => runs.filter((r) => r.state === state).length;
  const finished = count('finished');
  const unmerged =
    finished > 0 ? ` (${finished} not yet merged into ${RESULTS_FILE}: run the sweep command again)` : '';
  const lines = [
    `sweep ${out}: ${runs.length} runs: ${count('done') + finished} done${unmerged}, ${count('running')} running, ${count('pending')} pending, ` +
      `${count('failed')} failed, ${count('not submitted')} not submitted`,
  ];
  for (const r of runs) if (r.state === 'running') lines.push(`  running: ${r.key} (task ${r.task}; log ${r.log})`);
  for (const r of runs)
    if (r.state === 'failed') lines.push(`  failed: ${r.key} (task ${r.task}): ${r.reason}; log ${r.log ?? 'none'}`);
  if (count('failed') + count('not submitted') > 0)
    lines.push('  run the same sweep command again to resubmit the failed and unsubmitted runs');
  return lines;
}

/** squeue states of array tasks that have not started. */
const PENDING_STATES = ['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED'];

/** The command of one task: `fisherlab sweep-run --record` on its input file, writing its run file. */
function taskCommand(out: string, c: SweepCell, glueDir: string): string[] {
  const cli = path.join(projectRoot(), 'bin', 'fisherlab.js');
  return [
    process.execPath,
    cli,
    'sweep-run',
    '--record',
    '--settings',
    taskFile(out, c),
    '--glue',
    glueDir,
    '--output',
    runFilePath(path.resolve(out), c),
  ];
}

/** OUT/slurm/tasks/NAME.json, the input of a run's task (absolute). */
function taskFile(out: string, c: SweepCell): string {
  return path.join(path.resolve(out), SLURM_DIR, 'tasks', `${runName(c)}.json`);
}

/** Run key → the array task of its latest submission (job, index, and the id JOB_INDEX that squeue and sacct use). */
function latestTasks(submissions: readonly Submission[]): Map<string, { job: string; index: number; id: string }> {
  const latest = new Map<string, { job: string; index: number; id: string }>();
  for (const s of submissions)
    s.runs.forEach((key, index) => latest.set(key, { job: s.job, index, id: `${s.job}_${index}` }));
  return latest;
}

/** The submissions recorded in OUT/slurm/jobs.json (none when absent). */
function readSubmissions(dir: string): Submission[] {
  const file = path.join(dir, 'jobs.json');
  if (!fs.existsSync(file)) return [];
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Submission[];
  } catch (e) {
    throw new Error(
      `sweep: ${file} is not valid JSON (${(e as Error).message}); it lists the submitted job ids: restore it, or check \`squeue --me\` and delete it`,
    );
  }
}

/** The one results folder of the specs. */
function sameOut(specs: readonly SweepSpec[]): string {
  const outs = new Set(specs.map((s) => path.resolve(s.out)));
  if (outs.size !== 1)
    throw new Error(`sweep: the Slurm executor fills one results folder at a time (got ${[...outs].join(', ')})`);
  return specs[0].out;
}
