/**
 * How long a sweep's remaining runs will take, from the wall times of its finished runs. Runs differ by two orders
 * of magnitude (WNLI's 635 sentences against STS-B's 5,749 pairs, each at its own length), so a count of runs says
 * little; a run's cost is counted instead in example passes: each training example once per epoch, and each
 * evaluation example once per epoch at a third of that (a forward pass, against training's forward, backward and
 * update). Each task's seconds per pass is the median over its finished runs.
 */
import { formatDuration } from '../util/progress';
import { median } from '../util/stats';

/** What the estimate reads of a finished run (a sweep record has it). */
export interface TimedRun {
  task: string;
  pct: number;
  wallSeconds: number;
  trainExamples: number;
  evalExamples: Record<string, number>;
  settings: { epochs: number };
}

/** The estimate for a list of runs: seconds of run time summed over those of tasks with a finished run, and how many are left out. */
export interface RemainingTime {
  seconds: number;
  /** Runs counted in `seconds`. */
  timed: number;
  /** Runs of tasks with no finished run, not counted. */
  untimed: number;
}

/** What one finished run says about its task: seconds per pass, training examples per percent, evaluation examples and epochs. */
interface TaskCost {
  secondsPerPass: number;
  trainPerPct: number;
  evalExamples: number;
  epochs: number;
}

/** Example passes of a run: epochs × (training examples + evaluation examples / 3). */
function passes(train: number, evalExamples: number, epochs: number): number {
  return epochs * (train + evalExamples / 3);
}

/** Evaluation examples of a run, over all its evaluation sets. */
function evalCount(r: TimedRun): number {
  return Object.values(r.evalExamples ?? {}).reduce((a, b) => a + b, 0);
}

/** Per task, what its finished runs say about a run's cost (records without the counts are skipped). */
function taskCosts(records: readonly TimedRun[]): Map<string, TaskCost> {
  const usable = records.filter((r) => r.wallSeconds > 0 && r.trainExamples > 0 && r.settings?.epochs > 0);
  const costs = new Map<string, TaskCost>();
  for (const task of new Set(usable.map((r) => r.task))) {
    const runs = usable.filter((r) => r.task === task);
    const largest = runs.reduce((a, b) => (b.pct > a.pct ? b : a));
    costs.set(task, {
      secondsPerPass: median(runs.map((r) => r.wallSeconds / passes(r.trainExamples, evalCount(r), r.settings.epochs))),
      trainPerPct: largest.trainExamples / largest.pct,
      evalExamples: evalCount(largest),
      epochs: largest.settings.epochs,
    });
  }
  return costs;
}

/** The run time of `cells` estimated from the finished runs in `records` (see the file's doc). */
export function remainingTime(
  records: readonly TimedRun[],
  cells: ReadonlyArray<{ task: string; pct: number }>,
): RemainingTime {
  const costs = taskCosts(records);
  let seconds = 0;
  let timed = 0;
  for (const c of cells) {
    const cost = costs.get(c.task);
    if (!cost) continue;
    seconds += cost.secondsPerPass * passes(Math.round(cost.trainPerPct * c.pct), cost.evalExamples, cost.epochs);
    timed++;
  }
  return { seconds, timed, untimed: cells.length - timed };
}

/** One line on the time `cells` (the runs still missing) will take, at one run at a time and at `jobs`. */
export function describeRemaining(
  records: readonly TimedRun[],
  cells: ReadonlyArray<{ task: string; pct: number }>,
  jobs = 2,
): string {
  if (!cells.length) return 'remaining: none';
  const t = remainingTime(records, cells);
  const runs = `${cells.length} run${cells.length === 1 ? '' : 's'}`;
  const left = t.untimed ? `; ${t.untimed} of tasks with no finished run are not counted` : '';
  if (!t.timed) return `remaining: ${runs}, not yet timed (no finished run of their tasks)`;
  return `remaining: ${runs}, about ${formatDuration(t.seconds)} of run time (${formatDuration(t.seconds / jobs)} at ${jobs} at a time), from the wall times of the finished runs${left}`;
}
