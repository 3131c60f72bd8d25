/** Masked-LM pretraining of a BERT from scratch on a corpus, resumable, ending in a Hugging Face model folder. */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BertConfig, parseConfig } from '../bert/config';
import { saveBert } from '../bert/load';
import { Bert } from '../bert/model';
import { MASKED_LM } from '../bert/parameters';
import { writeFileAtomic } from '../util/atomic';
import { backendName } from '../backend';
import { corpusStats, CorpusStats, loadCorpus, splitCorpus } from './corpus';
import type { Document } from './document';
import {
  batchIndices,
  collate,
  fixedMaskedSet,
  IGNORE_INDEX,
  maskedExample,
  MlmVocab,
  mlmVocab,
  packSequences,
} from './mlm-data';
import { describeSplit, microBatchCount, optimizerBytes, trainSplit } from '../train/memory-budget';
import { batchPart } from '../train/micro-batches';
import { evaluateMlm, MlmMetrics, neighbourBigramBaseline, unigramBaseline } from './mlm-eval';
import { Tokenizer } from '../bert/tokenizer';
import { mixSeed } from '../util/random';
import { openRunDir } from '../util/run-dir';
import { ShardProcesses } from './shards';
import { LogEntry, Shard, train } from '../train/loop';
import { ATTENTION_INITS, completeSettings, POSITION_INITS, PretrainSettings } from './settings';

/** Vaswani et al.'s position table [n, d] (sin at even, cos at odd columns), times `scale`. */
export function sinusoidalPositions(n: number, d: number, scale: number): Float32Array {
  const out = new Float32Array(n * d);
  for (let pos = 0; pos < n; pos++) {
    for (let j = 0; j < d; j++) {
      const angle = pos / 10000 ** ((2 * Math.floor(j / 2)) / d);
      out[pos * d + j] = scale * (j % 2 === 0 ? Math.sin(angle) : Math.cos(angle));
    }
  }
  return out;
}

export interface PretrainReport {
  settings: PretrainSettings;
  corpus: { train: CorpusStats; heldOut: CorpusStats; trainSequences: number; heldOutSequences: number };
  parameters: number;
  steps: number;
  epochs: number;
  /** Non-padding tokens in all training batches. */
  tokensSeen: number;
  /** Wall time over all sittings, seconds. */
  wallSeconds: number;
  /** The TensorFlow.js backend of the last sitting (absent in older reports). */
  backend?: string;
  heldOut: { model: MlmMetrics; untrained: MlmMetrics; unigram: MlmMetrics; bigram?: MlmMetrics };
}

export interface PretrainRun {
  runDir: string;
  /** The model folder written at the end. */
  out: string;
  stopAfter?: number;
  shouldStop?: () => boolean;
  write?: (line: string) => void;
}

/** The sequences of one step's batch, as indices into `pool`; `epoch` and `seed` seed their masks. */
export interface TrainingBatch {
  pool: number[][];
  indices: number[];
  epoch: number;
  seed: number;
}

/** The data and model shape of a pretraining run, rebuilt identically by every process that works on it. */
export interface PretrainProblem {
  vocab: MlmVocab;
  trainDocs: Document[];
  heldOutDocs: Document[];
  /** Training sequences of `maxLength` tokens. */
  sequences: number[][];
  /** Training sequences of `shortLength` tokens, for the first `shortSteps` steps (empty without them). */
  shortSequences: number[][];
  heldOutSequences: number[][];
  config: BertConfig;
  /** Passes over the training data in `steps` steps (each phase over its own sequences). */
  epochs(steps: number): number;
  /** Step `step`'s batch: its pool of sequences (short or full length), the indices into it, and the seed of its order and masks. */
  batchAt(step: number): TrainingBatch;
  /** A fresh model of the run's shape, with the run's pretraining dropout. */
  newModel(): Bert;
  /** Shard `shard` of step `step`'s masked-LM loss: the shards' losses add up to the mean over the whole batch's masked tokens. */
  /** One shard's share of a step's loss; `checkpoint` recomputes each layer in backward (see `trainSplit`). */
  shardLoss(model: Bert, step: number, seed: number, shard: Shard, checkpoint?: boolean): tf.Scalar;
}

/** Loads the corpus and vocabulary of `settings` and packs the sequences of a run. */
export function pretrainProblem(settings: PretrainSettings): PretrainProblem {
  const tokenizer = Tokenizer.fromVocabFile(settings.vocabFile);
  const vocab = mlmVocab(tokenizer);
  const docs = loadCorpus(settings.corpus);
  const { train: trainDocs, heldOut: heldOutDocs } = splitCorpus(docs, {
    heldOutFraction: settings.heldOutFraction,
    seed: settings.seed,
  });
  const pack = (d: typeof docs, maxLength: number) =>
    packSequences(
      tokenizer,
      d.map((x) => x.sentences),
      { maxLength },
    );
  const sequences = pack(trainDocs, settings.maxLength);
  const shortSequences = settings.shortSteps > 0 ? pack(trainDocs, settings.shortLength) : [];
  const config = parseConfig({
    vocab_size: tokenizer.vocabSize,
    hidden_size: settings.hidden,
    num_hidden_layers: settings.layers,
    num_attention_heads: settings.heads,
    intermediate_size: settings.intermediate,
    max_position_embeddings: settings.maxLength,
    type_vocab_size: 2,
    pad_token_id: tokenizer.padId,
    initializer_range: settings.initializerRange,
  });
  const phases = [
    { pool: shortSequences, batchSize: shortBatchSize(settings), seed: mixSeed(settings.seed, 1), first: 0 },
    { pool: sequences, batchSize: settings.batchSize, seed: settings.seed, first: settings.shortSteps },
  ].map((p) => ({
    ...p,
    stepsPerEpoch: Math.ceil(p.pool.length / p.batchSize),
    cache: { epoch: -1, order: [] as number[][] },
  }));
  const batchAt = (step: number): TrainingBatch => {
    const phase = phases[step < settings.shortSteps ? 0 : 1];
    const at = step - phase.first;
    const epoch = Math.floor(at / phase.stepsPerEpoch);
    if (epoch !== phase.cache.epoch)
      phase.cache = { epoch, order: batchIndices(phase.pool.length, phase.batchSize, epoch, phase.seed) };
    return { pool: phase.pool, indices: phase.cache.order[at % phase.stepsPerEpoch], epoch, seed: phase.seed };
  };
  const epochs = (steps: number) =>
    Math.min(steps, settings.shortSteps) / (phases[0].stepsPerEpoch || 1) +
    Math.max(0, steps - settings.shortSteps) / phases[1].stepsPerEpoch;
  return {
    vocab,
    trainDocs,
    heldOutDocs,
    sequences,
    shortSequences,
    heldOutSequences: pack(heldOutDocs, settings.maxLength),
    config,
    epochs,
    batchAt,
    newModel: () => {
      const model = Bert.random(config, MASKED_LM, settings.seed);
      model.dropout.setAll({ kind: 'bernoulli', p: settings.dropout });
      if (settings.positionInit === 'sinusoidal') {
        const shape = [config.max_position_embeddings, config.hidden_size];
        // sin and cos have root mean square 1/√2: scaled by √2·initializer_range, the table has the rms of BERT's init
        model.assignWeights(
          new Map([
            [
              'bert.embeddings.position_embeddings.weight',
              { shape, data: sinusoidalPositions(shape[0], shape[1], Math.SQRT2 * config.initializer_range) },
            ],
          ]),
        );
      }
      if (settings.attentionInit === 'mimetic') {
        const w = model.toWeights();
        for (let l = 0; l < config.num_hidden_layers; l++) {
          model.assignWeights(
            new Map([
              [
                `bert.encoder.layer.${l}.attention.self.key.weight`,
                w.get(`bert.encoder.layer.${l}.attention.self.query.weight`)!,
              ],
            ]),
          );
        }
      }
      return model;
    },
    shardLoss: (model, step, seed, shard, checkpoint = false) => {
      const { pool, indices, epoch, seed: dataSeed } = batchAt(step);
      const examples = indices.map((i) =>
        maskedExample(pool[i], i, epoch, dataSeed, { ...vocab, probability: settings.maskProbability }),
      );
      if (shard.count === 1) {
        const { batch, labels } = collate(examples, vocab.padId);
        return model.maskedLmLoss(batch, labels, { training: true, seed, checkpoint });
      }
      const { part, weight } = batchPart(
        examples,
        shard.index,
        shard.count,
        (e) => e.labels.filter((l) => l !== IGNORE_INDEX).length,
      );
      const { batch, labels } = collate(part, vocab.padId);
      return tf.tidy(() =>
        tf.mul(
          model.maskedLmLoss(batch, labels, { training: true, seed: mixSeed(seed, shard.index), checkpoint }),
          weight,
        ),
      );
    },
  };
}

/** Pretrains (or resumes pretraining) and, once all steps are done, writes the model folder and its report. */
export async function pretrain(settings: PretrainSettings, run: PretrainRun): Promise<PretrainReport | null> {
  const say = run.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  checkSettings(settings, run.runDir);
  const problem = pretrainProblem(settings);
  const { vocab, trainDocs, heldOutDocs, sequences, shortSequences, heldOutSequences, batchAt } = problem;
  const evalSet = fixedMaskedSet(
    heldOutSequences,
    Math.min(settings.evalExamples, heldOutSequences.length),
    settings.seed,
    vocab,
  );
  if (settings.shortSteps > 0)
    say(
      `pretrain: steps 1–${settings.shortSteps} on ${shortSequences.length} sequences of at most ${settings.shortLength} tokens, ${shortBatchSize(settings)} per batch`,
    );
  say(
    `pretrain: ${sequences.length} training sequences of at most ${settings.maxLength} tokens, ${heldOutSequences.length} held out; ${evalSet.length} in the evaluation set${settings.jobs > 1 ? `; each batch split over ${settings.jobs} processes` : ''}`,
  );

  const model = problem.newModel();
  const untrained = evaluateMlm(model, evalSet, vocab.padId);
  const micro = pretrainMicroBatches(settings, problem.config);
  if (micro.count > 1 || micro.checkpoint) say(`pretrain: ${micro.text}`);
  const remote = settings.jobs > 1 ? await ShardProcesses.start(settings, settings.jobs) : undefined;
  const result = await train({
    model,
    totalSteps: settings.steps,
    lr: settings.lr,
    warmupSteps: settings.warmupSteps,
    weightDecay: settings.weightDecay,
    seed: settings.seed,
    runDir: run.runDir,
    checkpointEvery: settings.checkpointEvery,
    evalEvery: settings.evalEvery,
    evaluate: () => ({ ...evaluateMlm(model, evalSet, vocab.padId) }),
    stopAfter: run.stopAfter,
    shouldStop: run.shouldStop,
    label: 'pretrain',
    write: run.write,
    lossAt: (step, seed, shard) => problem.shardLoss(model, step, seed, shard, micro.checkpoint),
    remote,
    microBatches: micro.count,
  }).finally(() => remote?.close());
  if (result.step < settings.steps) {
    say(`pretrain: stopped at step ${result.step} of ${settings.steps}; run the same command again to resume`);
    model.dispose();
    return null;
  }
  let tokensSeen = 0;
  for (let step = 0; step < settings.steps; step++) {
    const { pool, indices } = batchAt(step);
    for (const i of indices) tokensSeen += pool[i].length;
  }
  const report: PretrainReport = {
    settings,
    corpus: {
      train: corpusStats(trainDocs),
      heldOut: corpusStats(heldOutDocs),
      trainSequences: sequences.length,
      heldOutSequences: heldOutSequences.length,
    },
    parameters: model.parameterCount(),
    steps: settings.steps,
    epochs: problem.epochs(settings.steps),
    tokensSeen,
    wallSeconds: wallSeconds(result.log),
    backend: backendName(),
    heldOut: {
      model: evaluateMlm(model, evalSet, vocab.padId),
      untrained,
      unigram: unigramBaseline(sequences, evalSet, vocab.vocabSize, vocab.specialIds),
      bigram: neighbourBigramBaseline(sequences, evalSet, vocab.vocabSize, vocab.specialIds),
    },
  };
  saveBert(run.out, model, { vocabFile: settings.vocabFile }, { fisherlab_pretrain: JSON.stringify(settings) });
  writeFileAtomic(path.join(run.out, 'pretrain-report.json'), JSON.stringify(report, null, 1) + '\n');
  fs.copyFileSync(path.join(run.runDir, 'log.jsonl'), path.join(run.out, 'pretrain-log.jsonl'));
  model.dispose();
  return report;
}

/** Micro-batches per step in this process so that its share of either phase's batch fits the memory limit, and whether it needs gradient checkpointing. */
export function pretrainMicroBatches(
  s: PretrainSettings,
  config: BertConfig,
): { count: number; checkpoint: boolean; text: string } {
  const phases = [
    { batch: s.batchSize, seqLen: s.maxLength },
    ...(s.shortSteps > 0 ? [{ batch: shortBatchSize(s), seqLen: s.shortLength }] : []),
  ];
  const plans = phases.map(({ batch, seqLen }) => {
    const share = Math.ceil(batch / s.jobs);
    const { size, checkpoint } = trainSplit(
      { config, kind: 'train', batch: share, seqLen, maskedPerSequence: Math.ceil(s.maskProbability * seqLen) },
      { batchFlag: '--batch-size', reserved: optimizerBytes(config) },
    );
    return { share, size, checkpoint, count: microBatchCount(share, size) };
  });
  // one count and one checkpoint setting for the run: the most any phase needs
  const count = Math.max(...plans.map((p) => p.count));
  const checkpoint = plans.some((p) => p.checkpoint);
  const worst = plans.find((p) => p.count === count)!;
  const text = `${describeSplit(worst.share, worst.size, checkpoint)}${s.jobs > 1 ? ' in each process' : ''}`;
  return { count, checkpoint, text };
}

/** Sequences per batch during the sequence-length warm-up: as many tokens per step as a full-length batch. */
export function shortBatchSize(s: Pick<PretrainSettings, 'batchSize' | 'maxLength' | 'shortLength'>): number {
  return Math.max(1, Math.round((s.batchSize * s.maxLength) / s.shortLength));
}

/** Total wall time of a training log written over one or more sittings (each sitting's clock restarts at 0). */
export function wallSeconds(log: readonly LogEntry[]): number {
  let total = 0;
  let last = 0;
  for (const e of log) {
    if (e.seconds === undefined) continue;
    if (e.seconds < last) total += last;
    last = e.seconds;
  }
  return total + last;
}

/** Validates settings and refuses to resume a run folder started with different ones. */
function checkSettings(s: PretrainSettings, runDir: string): void {
  for (const k of [
    'maxLength',
    'shortLength',
    'layers',
    'hidden',
    'heads',
    'intermediate',
    'batchSize',
    'jobs',
    'steps',
    'evalExamples',
    'evalEvery',
    'checkpointEvery',
  ] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`pretrain: ${k} must be a positive integer (got ${s[k]})`);
  }
  if (!Number.isInteger(s.shortSteps) || s.shortSteps < 0 || s.shortSteps > s.steps)
    throw new Error(`pretrain: short steps must be an integer in 0..steps (got ${s.shortSteps})`);
  if (s.shortSteps > 0 && (s.shortLength < 3 || s.shortLength >= s.maxLength))
    throw new Error(`pretrain: short length must be in 3..max length − 1 (got ${s.shortLength})`);
  if (!(ATTENTION_INITS as readonly string[]).includes(s.attentionInit))
    throw new Error(`pretrain: attention init must be one of ${ATTENTION_INITS.join(', ')} (got ${s.attentionInit})`);
  if (!(s.maskProbability > 0 && s.maskProbability < 1))
    throw new Error(`pretrain: mask probability must be in (0, 1) (got ${s.maskProbability})`);
  if (!(POSITION_INITS as readonly string[]).includes(s.positionInit))
    throw new Error(`pretrain: position init must be one of ${POSITION_INITS.join(', ')} (got ${s.positionInit})`);
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new Error(`pretrain: dropout must be in [0, 1) (got ${s.dropout})`);
  if (!(s.initializerRange > 0))
    throw new Error(`pretrain: initializer range must be positive (got ${s.initializerRange})`);
  if (!(s.lr > 0)) throw new Error(`pretrain: lr must be positive (got ${s.lr})`);
  if (!fs.existsSync(s.vocabFile))
    throw new Error(`${s.vocabFile}: vocabulary not found (make one with \`fisherlab train-vocab\`)`);
  openRunDir(runDir, s, 'run', {
    advice: 'use another --run-dir or the same settings',
    upgrade: (saved) => completeSettings(saved as Partial<PretrainSettings>),
  });
}
