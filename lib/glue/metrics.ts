/**
 * GLUE metrics in float64: accuracy, F1, Matthews correlation, Pearson and Spearman correlation, and each task's
 * metrics with its main score. Undefined cases follow the libraries the authors used: F1 and Matthews correlation
 * are 0 when their denominator is 0 (scikit-learn), Pearson and Spearman are NaN for a constant input (scipy).
 */
import { mean, pearsonCorrelation, spearmanCorrelation } from '../util/stats';
import { MetricName, TaskSpec, taskSpec } from './tasks';

/** A task's metrics on one evaluation set, and the single number that ranks runs. */
export interface TaskScore {
  /** Metric name → value, names as Hugging Face `evaluate` reports them; `combined_score` when there are two. */
  metrics: Record<string, number>;
  /**
   * The main score: Matthews correlation (CoLA); accuracy (SST-2, QNLI, RTE, WNLI; MNLI on each dev set, the
   * matched one being the headline); the mean of F1 and accuracy (MRPC, QQP) and of Pearson and Spearman (STS-B),
   * which is GLUE's leaderboard average and the authors' `combined_score`.
   */
  main: number;
}

/** The fraction of predictions equal to their labels. */
export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = checkPair(predictions, labels);
  let right = 0;
  for (let i = 0; i < n; i++) if (predictions[i] === labels[i]) right++;
  return right / n;
}

/** F1 of the positive class (default 1): 2·tp / (2·tp + fp + fn); 0 when no label or prediction is positive. */
export function f1(predictions: ArrayLike<number>, labels: ArrayLike<number>, positive = 1): number {
  const n = checkPair(predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < n; i++) {
    const p = predictions[i] === positive;
    const l = labels[i] === positive;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
  }
  return tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

/** Matthews correlation of class predictions (the multiclass form, as scikit-learn); 0 when undefined. */
export function matthewsCorrelation(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = checkPair(predictions, labels);
  const predicted = new Map<number, number>();
  const actual = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    predicted.set(predictions[i], (predicted.get(predictions[i]) ?? 0) + 1);
    actual.set(labels[i], (actual.get(labels[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) correct++;
  }
  let cross = 0;
  for (const [k, p] of predicted) cross += p * (actual.get(k) ?? 0);
  const sumSquares = (m: Map<number, number>) => [...m.values()].reduce((s, c) => s + c * c, 0);
  const denominator = Math.sqrt((n * n - sumSquares(predicted)) * (n * n - sumSquares(actual)));
  return denominator === 0 ? 0 : (correct * n - cross) / denominator;
}

/** Pearson correlation of predictions with labels (STS-B); NaN when either is constant. */
export function pearson(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(predictions, labels);
  return pearsonCorrelation(predictions, labels);
}

/** Spearman rank correlation of predictions with labels (STS-B; ties get their average rank); NaN when either is constant. */
export function spearman(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPair(predictions, labels);
  return spearmanCorrelation(predictions, labels);
}

/** A task's metrics on one evaluation set (class indices, or scores for STS-B) and its main score. */
export function taskMetrics(
  task: string | TaskSpec,
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
): TaskScore {
  const spec = typeof task === 'string' ? taskSpec(task) : task;
  for (let i = 0; i < Math.min(labels.length, predictions.length); i++) {
    if (Number.isNaN(labels[i]))
      throw new Error(`${spec.name}: label ${i} is NaN (test files have no labels; score on a labelled set)`);
    const p = predictions[i];
    if (spec.labelValues && !(Number.isInteger(p) && p >= 0 && p < spec.numLabels)) {
      throw new Error(
        `${spec.name}: prediction ${i} is ${p}, not a class index in 0..${spec.numLabels - 1} (take the argmax of the logits)`,
      );
    }
  }
  const compute: Record<MetricName, () => number> = {
    accuracy: () => accuracy(predictions, labels),
    f1: () => f1(predictions, labels),
    matthews_correlation: () => matthewsCorrelation(predictions, labels),
    pearson: () => pearson(predictions, labels),
    spearmanr: () => spearman(predictions, labels),
  };
  const metrics: Record<string, number> = {};
  for (const name of spec.metrics) metrics[name] = compute[name]();
  const values = spec.metrics.map((name) => metrics[name]);
  const main = mean(values);
  if (values.length > 1) metrics.combined_score = main;
  return { metrics, main };
}

/** The common length of two equally long, non-empty arrays of finite numbers (predictions first, labels second). */
function checkPair(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`metrics: ${a.length} predictions but ${b.length} labels`);
  if (a.length === 0) throw new Error('metrics: no predictions');
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`metrics: prediction ${i} is ${a[i]}, not a finite number`);
    if (!Number.isFinite(b[i])) throw new Error(`metrics: label ${i} is ${b[i]}, not a finite number`);
  }
  return a.length;
}
