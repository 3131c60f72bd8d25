/** Fine-tuning a BERT on a GLUE task: classification or regression head, evaluation after every epoch. */
import * as tf from '@tensorflow/tfjs';
import { backendName } from '../backend';
import { Bert, Batch } from '../bert/model';
import { DropoutSetting } from '../bert/dropout';
import { loadBert } from '../bert/load';
import { SEQUENCE_CLASSIFICATION } from '../bert/parameters';
import { Example, loadDevSets, loadTask } from './load';
import { authorsSplit, officialSplit, paucity } from './protocols';
import { taskSpec } from './tasks';
import { taskMetrics, TaskScore } from './metrics';
import { estimateLine, forwardFlops, trainingFlops } from '../train/cost';
import { describeSplit, microBatchCount, microBatchSize, optimizerBytes, trainSplit } from '../train/memory-budget';
import { batchPart } from '../train/micro-batches';
import { batchIndices } from '../pretrain/mlm-data';
import { mixSeed, Rng } from '../util/random';
import { mean } from '../util/stats';
import { FinetuneRecipe, RECIPES } from './recipes';
import { loadTokenizer, Tokenizer } from '../bert/tokenizer';
import { train } from '../train/loop';
import { pretrainedOnGlueText } from '../pretrain/glue-text';

/** One fine-tuning run: the recipe's settings (recipes.ts) and the rest. */
export interface FinetuneSettings extends FinetuneRecipe {
  task: string;
  /** Hugging Face BERT folder (its encoder is the starting point; a classifier head is added). */
  model: string;
  /** 'pretrained' starts from the folder's weights; 'random' from a fresh initialization of the same architecture. */
  init: 'pretrained' | 'random';
  /** 'official': train on train, evaluate on dev; 'authors': the authors' pooled 80/20 split. */
  protocol: 'official' | 'authors';
  /** Train on the first pct% of the shuffled training split (data paucity); 100 for all. */
  trainPct: number;
  /** Cap on training examples after the percentage (quick runs); 0 for none. */
  maxTrainExamples: number;
  /** Cap on examples of each evaluation set (quick runs); 0 for none. */
  maxEvalExamples: number;
  seed: number;
  /** Dropout site → setting, applied after loading (e.g. a guided-dropout schedule); unnamed sites keep the config's. */
  dropout?: Record<string, DropoutSetting>;
}

/** Defaults of the settings no recipe fixes, with the small-model recipe (commands take the model's recipe: recipes.ts). */
export const FINETUNE_DEFAULTS = {
  protocol: 'official' as const,
  trainPct: 100,
  maxTrainExamples: 0,
  maxEvalExamples: 0,
  ...RECIPES.small,
};

export interface EpochResult {
  epoch: number;
  step: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Evaluation set name → metrics. */
  scores: Record<string, TaskScore>;
}

export interface FinetuneResult {
  settings: FinetuneSettings;
  trainExamples: number;
  evalExamples: Record<string, number>;
  epochs: EpochResult[];
  /** The last epoch's scores. */
  final: Record<string, TaskScore>;
  wallSeconds: number;
  /** The TensorFlow.js backend that ran it (absent in older results). */
  backend?: string;
}

interface Encoded {
  ids: number[];
  types: number[];
  label: number;
}

/** Fine-tunes a model folder on a GLUE task under the given protocol and returns per-epoch and final scores. */
export async function finetune(
  s: FinetuneSettings,
  glueDir: string,
  opts: { write?: (line: string) => void } = {},
): Promise<FinetuneResult> {
  const task = taskSpec(s.task);
  const { train: trainSet, eval: evalSets } = finetuneSplit(s, glueDir);
  const tokenizer = loadTokenizer(s.model);
  const regression = task.labelValues === null;
  const configOverrides = {
    num_labels: task.numLabels,
    ...(regression ? { problem_type: 'regression' as const } : {}),
  };
  const loaded = loadBert(s.model, { parts: SEQUENCE_CLASSIFICATION, configOverrides, seed: s.seed });
  let model = loaded.model;
  const say = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const pooler = loaded.fresh.includes('bert.pooler.dense.weight')
    ? 'freshly initialized (the folder has none)'
    : 'from the folder';
  if (s.init === 'pretrained')
    say(`finetune ${s.task}: encoder from the folder, pooler ${pooler}, classifier freshly initialized`);
  if (s.init === 'random') {
    const config = model.config;
    model.dispose();
    model = Bert.random(config, SEQUENCE_CLASSIFICATION, s.seed);
  }
  for (const [site, setting] of Object.entries(s.dropout ?? {})) model.dropout.set(site, setting);

  const encode = (ex: Example): Encoded => {
    const e = tokenizer.encode(ex.text, ex.textPair, { maxLength: s.maxLength });
    return { ids: e.input_ids, types: e.token_type_ids, label: ex.label };
  };
  const trainData = trainSet.map(encode);
  const evalData = Object.fromEntries(Object.entries(evalSets).map(([name, set]) => [name, set.map(encode)]));
  const stepsPerEpoch = Math.ceil(trainData.length / s.batchSize);
  const totalSteps = stepsPerEpoch * s.epochs;
  const epochs: EpochResult[] = [];
  const seqLen = Math.max(
    ...trainData.map((e) => e.ids.length),
    ...Object.values(evalData)
      .flat()
      .map((e) => e.ids.length),
  );
  const { size: micro, checkpoint } = trainSplit(
    { config: model.config, kind: 'train', batch: s.batchSize, seqLen, maskedPerSequence: 0 },
    { batchFlag: '--batch-size', reserved: optimizerBytes(model.config) },
  );
  if (micro < s.batchSize || checkpoint)
    (opts.write ?? ((line: string) => process.stderr.write(`${line}\n`)))(
      `finetune ${s.task}: ${describeSplit(s.batchSize, micro, checkpoint)}`,
    );
  const flops = (data: Encoded[], pass: (shape: { sequences: number; tokens: number }) => number) =>
    data.reduce((f, e) => f + pass({ sequences: 1, tokens: e.ids.length }), 0);
  const work =
    s.epochs *
    (flops(trainData, (shape) => trainingFlops(model.config, shape, checkpoint)) +
      Object.values(evalData).reduce((f, d) => f + flops(d, (shape) => forwardFlops(model.config, shape)), 0));
  (opts.write ?? ((line: string) => process.stderr.write(`${line}\n`)))(
    estimateLine(`finetune ${s.task}: ${totalSteps} steps`, work, 'train', tf.getBackend()),
  );
  const evalBatch = microBatchSize(
    { config: model.config, kind: 'eval', batch: 64, seqLen, maskedPerSequence: 0 },
    { batchFlag: '--batch-size', reserved: optimizerBytes(model.config) },
  );
  const evaluate = (step: number) => {
    const scores = Object.fromEntries(
      Object.entries(evalData).map(([name, data]) => [
        name,
        score(model, tokenizer, data, s.task, regression, evalBatch),
      ]),
    );
    epochs.push({ epoch: Math.round(step / stepsPerEpoch), step, trainLoss: NaN, scores });
    return Object.fromEntries(Object.entries(scores).map(([name, sc]) => [name, sc.main]));
  };
  let step = 0;
  let cached = -1;
  let order: number[][] = [];
  const result = await train({
    model,
    totalSteps,
    lr: s.lr,
    warmupSteps: Math.round(s.warmupRatio * totalSteps),
    weightDecay: s.weightDecay,
    seed: mixSeed(s.seed, 0xf1e7),
    evalEvery: stepsPerEpoch,
    evaluate: () => evaluate(step),
    label: `finetune ${s.task}`,
    write: opts.write,
    microBatches: microBatchCount(s.batchSize, micro),
    lossAt: (at, seed, shard) => {
      step = at + 1;
      const epoch = Math.floor(at / stepsPerEpoch);
      if (epoch !== cached) {
        order = batchIndices(trainData.length, s.batchSize, epoch, mixSeed(s.seed, 0xba7c));
        cached = epoch;
      }
      const rows = order[at % stepsPerEpoch].map((i) => trainData[i]);
      if (shard.count === 1)
        return model.classificationLoss(
          pad(rows, tokenizer.padId),
          rows.map((r) => r.label),
          { training: true, seed, checkpoint },
        );
      // the loss is a mean over the batch's sequences: each micro-batch's mean counts by its share of them
      const { part, weight } = batchPart(rows, shard.index, shard.count);
      return tf.tidy(() =>
        tf.mul(
          model.classificationLoss(
            pad(part, tokenizer.padId),
            part.map((r) => r.label),
            { training: true, seed: mixSeed(seed, shard.index), checkpoint },
          ),
          weight,
        ),
      );
    },
  });
  model.dispose();
  for (const e of epochs) {
    const losses = result.log
      .filter((l) => l.loss !== undefined && l.step > e.step - stepsPerEpoch && l.step <= e.step)
      .map((l) => l.loss!);
    e.trainLoss = mean(losses);
  }
  return {
    settings: s,
    trainExamples: trainData.length,
    evalExamples: Object.fromEntries(Object.entries(evalData).map(([n, d]) => [n, d.length])),
    epochs,
    final: epochs[epochs.length - 1].scores,
    wallSeconds: result.seconds,
    backend: backendName(),
  };
}

/** The training examples and evaluation sets of a run: protocol, then paucity, then the quick-run caps. */
export function finetuneSplit(
  s: FinetuneSettings,
  glueDir: string,
): { train: Example[]; eval: Record<string, Example[]> } {
  if (s.protocol === 'authors' && pretrainedOnGlueText(s.model))
    throw new Error(
      `${s.model} was pretrained on the GLUE training text (glue-train in its pretrain-report.json), and the authors' protocol holds out part of train.tsv for scoring: use --protocol official, which scores on the dev sets it never saw`,
    );
  const trainSplit = loadTask(glueDir, s.task, 'train');
  const dev = loadDevSets(glueDir, s.task);
  const split = s.protocol === 'authors' ? authorsSplit(trainSplit, dev, s.seed) : officialSplit(trainSplit, dev);
  let trainSet = s.trainPct < 100 ? paucity(split.train, s.trainPct, s.seed) : split.train;
  if (s.maxTrainExamples > 0 && trainSet.length > s.maxTrainExamples) {
    trainSet = new Rng(mixSeed(s.seed, 0xca9)).shuffle([...trainSet]).slice(0, s.maxTrainExamples);
  }
  const cap = (set: Example[]) => (s.maxEvalExamples > 0 ? set.slice(0, s.maxEvalExamples) : set);
  return { train: trainSet, eval: Object.fromEntries(Object.entries(split.eval).map(([n, set]) => [n, cap(set)])) };
}

/** Pads encoded rows to the longest into a batch. */
function pad(rows: Encoded[], padId: number): Batch {
  const T = Math.max(...rows.map((r) => r.ids.length));
  return {
    input_ids: rows.map((r) => [...r.ids, ...new Array(T - r.ids.length).fill(padId)]),
    token_type_ids: rows.map((r) => [...r.types, ...new Array(T - r.types.length).fill(0)]),
    attention_mask: rows.map((r) => [...r.ids.map(() => 1), ...new Array(T - r.ids.length).fill(0)]),
  };
}

/** Predictions of the model (evaluation mode) on encoded examples, scored with the task's metrics. */
function score(
  model: Bert,
  tokenizer: Tokenizer,
  data: Encoded[],
  task: string,
  regression: boolean,
  batchSize = 64,
): TaskScore {
  const predictions: number[] = [];
  for (let i = 0; i < data.length; i += batchSize) {
    const rows = data.slice(i, i + batchSize);
    const out = tf.tidy(() => {
      const logits = model.forward(pad(rows, tokenizer.padId)).logits!;
      return regression ? Array.from(logits.reshape([-1]).dataSync()) : Array.from(tf.argMax(logits, 1).dataSync());
    });
    predictions.push(...out);
  }
  return taskMetrics(
    task,
    predictions,
    data.map((d) => d.label),
  );
}
