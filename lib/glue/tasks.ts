/** The nine GLUE tasks: where their files are, which columns hold text and label, and how they are scored. */

/** The GLUE task names, spelled as their folders in the official GLUE layout. */
export const TASK_NAMES = ['CoLA', 'SST-2', 'MRPC', 'STS-B', 'QQP', 'MNLI', 'QNLI', 'RTE', 'WNLI'] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** Metric names as Hugging Face `evaluate.load("glue", task)` reports them (the authors' logs use them too). */
export type MetricName = 'accuracy' | 'f1' | 'matthews_correlation' | 'pearson' | 'spearmanr';

/** One GLUE task's file layout, labels and metrics. */
export interface TaskSpec {
  name: TaskName;
  /** The Hugging Face datasets config name (the authors' `--task_name`): cola, sst2, …, stsb. */
  id: string;
  /** The folder under the GLUE root: TASK/train.tsv, TASK/dev.tsv, … */
  folder: string;
  /**
   * Column names of train/dev files without a header line (CoLA), by position; null when train/dev start with a
   * header, whose names are then looked up. Test files always start with a header.
   */
  headerless: string[] | null;
  /** The column of the (first) sentence. */
  text: string;
  /** The column of the second sentence of a pair task; absent for single-sentence tasks. */
  textPair?: string;
  /** The label column (absent from test files). */
  label: string;
  /** Label values as written in the files, in label-index order; null for regression (STS-B). */
  labelValues: string[] | null;
  /** Readable label names in label-index order (Hugging Face datasets' names); ['score'] for STS-B. */
  labelNames: string[];
  /** The range a regression label must lie in (STS-B: [0, 5]). */
  range?: [number, number];
  /** Output units of the classifier head: the number of classes, 1 for regression. */
  numLabels: number;
  /** Dev split names (file = TASK/NAME.tsv); MNLI has two, matched first. */
  devSplits: string[];
  /** Test split names (unlabelled files). */
  testSplits: string[];
  /** The metrics GLUE reports for the task, computed on each evaluation set. */
  metrics: MetricName[];
}

/** Binary label values 0/1 as in most GLUE files. */
const ZERO_ONE = ['0', '1'];

/** Every task, keyed by name; layouts checked against the official GLUE files. */
export const TASKS: Record<TaskName, TaskSpec> = {
  CoLA: {
    name: 'CoLA',
    id: 'cola',
    folder: 'CoLA',
    headerless: ['source', 'label', 'original_mark', 'sentence'],
    text: 'sentence',
    label: 'label',
    labelValues: ZERO_ONE,
    labelNames: ['unacceptable', 'acceptable'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['matthews_correlation'],
  },
  'SST-2': {
    name: 'SST-2',
    id: 'sst2',
    folder: 'SST-2',
    headerless: null,
    text: 'sentence',
    label: 'label',
    labelValues: ZERO_ONE,
    labelNames: ['negative', 'positive'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['accuracy'],
  },
  MRPC: {
    name: 'MRPC',
    id: 'mrpc',
    folder: 'MRPC',
    headerless: null,
    text: '#1 String',
    textPair: '#2 String',
    label: 'Quality',
    labelValues: ZERO_ONE,
    labelNames: ['not_equivalent', 'equivalent'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['f1', 'accuracy'],
  },
  'STS-B': {
    name: 'STS-B',
    id: 'stsb',
    folder: 'STS-B',
    headerless: null,
    text: 'sentence1',
    textPair: 'sentence2',
    label: 'score',
    labelValues: null,
    labelNames: ['score'],
    range: [0, 5],
    numLabels: 1,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['pearson', 'spearmanr'],
  },
  QQP: {
    name: 'QQP',
    id: 'qqp',
    folder: 'QQP',
    headerless: null,
    text: 'question1',
    textPair: 'question2',
    label: 'is_duplicate',
    labelValues: ZERO_ONE,
    labelNames: ['not_duplicate', 'duplicate'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['f1', 'accuracy'],
  },
  MNLI: {
    name: 'MNLI',
    id: 'mnli',
    folder: 'MNLI',
    headerless: null,
    text: 'sentence1',
    textPair: 'sentence2',
    label: 'gold_label',
    labelValues: ['entailment', 'neutral', 'contradiction'],
    labelNames: ['entailment', 'neutral', 'contradiction'],
    numLabels: 3,
    devSplits: ['dev_matched', 'dev_mismatched'],
    testSplits: ['test_matched', 'test_mismatched'],
    metrics: ['accuracy'],
  },
  QNLI: {
    name: 'QNLI',
    id: 'qnli',
    folder: 'QNLI',
    headerless: null,
    text: 'question',
    textPair: 'sentence',
    label: 'label',
    labelValues: ['entailment', 'not_entailment'],
    labelNames: ['entailment', 'not_entailment'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['accuracy'],
  },
  RTE: {
    name: 'RTE',
    id: 'rte',
    folder: 'RTE',
    headerless: null,
    text: 'sentence1',
    textPair: 'sentence2',
    label: 'label',
    labelValues: ['entailment', 'not_entailment'],
    labelNames: ['entailment', 'not_entailment'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['accuracy'],
  },
  WNLI: {
    name: 'WNLI',
    id: 'wnli',
    folder: 'WNLI',
    headerless: null,
    text: 'sentence1',
    textPair: 'sentence2',
    label: 'label',
    labelValues: ZERO_ONE,
    labelNames: ['not_entailment', 'entailment'],
    numLabels: 2,
    devSplits: ['dev'],
    testSplits: ['test'],
    metrics: ['accuracy'],
  },
};

/** The task with this name (case-insensitive; Hugging Face ids such as sst2 or stsb work too). */
export function taskSpec(name: string): TaskSpec {
  const key = name.trim().toLowerCase();
  const found = TASK_NAMES.find((t) => t.toLowerCase() === key || TASKS[t].id === key);
  if (!found) throw new Error(`unknown GLUE task ${JSON.stringify(name)}: expected one of ${TASK_NAMES.join(', ')}`);
  return TASKS[found];
}

/** The split names a task's folder holds: train, its dev splits and its test splits. */
export function taskSplits(task: TaskSpec): string[] {
  return ['train', ...task.devSplits, ...task.testSplits];
}
