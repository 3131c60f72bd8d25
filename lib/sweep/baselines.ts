/**
 * The floor a fine-tuned model must clear on each GLUE cell: the score of always predicting the training set's most
 * frequent class, on the same split and evaluation set as the runs. A regression task's floor is 0: a constant
 * prediction has no correlation with the labels.
 */
import { finetuneSplit, FinetuneSettings } from '../glue/finetune';
import { headlineSet } from './results';
import type { CellScore } from './results';
import { taskSpec } from '../glue/tasks';
import { taskMetrics } from '../glue/metrics';
import { meanStd } from '../util/stats';
import type { SweepRecord } from './run';

/** The main score of predicting the most frequent training label on a run's headline evaluation set. */
export function majorityClassScore(settings: FinetuneSettings, glueDir: string): number {
  const task = taskSpec(settings.task);
  if (!task.labelValues) return 0;
  const split = finetuneSplit(settings, glueDir);
  if (split.train.length === 0) throw new Error(`${task.name}: no training examples to take the majority class from`);
  const counts = new Array<number>(task.numLabels).fill(0);
  for (const e of split.train) counts[e.label]++;
  const majority = counts.indexOf(Math.max(...counts));
  const evalSet = split.eval[headlineSet(Object.keys(split.eval))];
  return taskMetrics(
    task,
    evalSet.map(() => majority),
    evalSet.map((e) => e.label),
  ).main;
}

/** The majority-class floor of every (task, pct) cell of some sweep records, over the seeds they ran (method "majority class"). */
export function majorityClassCells(records: readonly SweepRecord[], glueDir: string): CellScore[] {
  const runs = new Map<string, SweepRecord>();
  for (const r of records) runs.set(JSON.stringify([r.task, r.pct, r.seed]), r);
  const cells = new Map<string, { task: string; pct: number; values: number[] }>();
  for (const r of runs.values()) {
    const key = JSON.stringify([r.task, r.pct]);
    const cell = cells.get(key) ?? cells.set(key, { task: r.task, pct: r.pct, values: [] }).get(key)!;
    cell.values.push(majorityClassScore({ ...r.settings, seed: r.seed }, glueDir));
  }
  return [...cells.values()].map(({ values, ...c }) => ({
    ...c,
    method: 'majority class',
    n: values.length,
    ...meanStd(values),
  }));
}
