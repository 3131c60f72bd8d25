/** Masked-LM pretraining of a BERT from scratch on a corpus, resumable, ending in a Hugging Face model folder. */
import * as fs from 'fs';
import * as path from 'path';
import { parseConfig } from './bert/config';
import { saveBert } from './bert/load';
import { Bert } from './bert/model';
import { MASKED_LM } from './bert/parameters';
import { writeFileAtomic } from './atomic';
import { corpusStats, CorpusStats, loadCorpus, splitCorpus } from './corpus';
import { batchIndices, collate, fixedMaskedSet, maskedExample, mlmVocab, packSequences } from './mlm-data';
import { evaluateMlm, MlmMetrics, unigramBaseline } from './mlm-eval';
import { Tokenizer } from './tokenizer';
import { LogEntry, train } from './train';

/** Everything that determines a pretraining run; a run folder only resumes with the same settings. */
export interface PretrainSettings {
  corpus: string;
  vocabFile: string;
  heldOutFraction: number;
  maxLength: number;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  seed: number;
  evalExamples: number;
  evalEvery: number;
  checkpointEvery: number;
}

/** The defaults of `fisherlab pretrain`: the embedded model's recipe. */
export const PRETRAIN_DEFAULTS: Omit<PretrainSettings, 'vocabFile'> = {
  corpus: 'brown,sotu',
  heldOutFraction: 0.05,
  maxLength: 128,
  layers: 4,
  hidden: 128,
  heads: 2,
  intermediate: 512,
  batchSize: 64,
  steps: 4000,
  lr: 1e-3,
  warmupSteps: 200,
  weightDecay: 0.01,
  seed: 0,
  evalExamples: 512,
  evalEvery: 500,
  checkpointEvery: 100,
};

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
  heldOut: { model: MlmMetrics; untrained: MlmMetrics; unigram: MlmMetrics };
}

export interface PretrainRun {
  runDir: string;
  /** The model folder written at the end. */
  out: string;
  stopAfter?: number;
  shouldStop?: () => boolean;
  write?: (line: string) => void;
}

/** Pretrains (or resumes pretraining) and, once all steps are done, writes the model folder and its report. */
export async function pretrain(settings: PretrainSettings, run: PretrainRun): Promise<PretrainReport | null> {
  const say = run.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  checkSettings(settings, run.runDir);
  const tokenizer = Tokenizer.fromVocabFile(settings.vocabFile);
  const vocab = mlmVocab(tokenizer);
  const docs = loadCorpus(settings.corpus);
  const { train: trainDocs, heldOut: heldOutDocs } = splitCorpus(docs, { heldOutFraction: settings.heldOutFraction, seed: settings.seed });
  const pack = (d: typeof docs) => packSequences(tokenizer, d.map((x) => x.sentences), { maxLength: settings.maxLength });
  const sequences = pack(trainDocs);
  const heldOutSequences = pack(heldOutDocs);
  const evalSet = fixedMaskedSet(heldOutSequences, Math.min(settings.evalExamples, heldOutSequences.length), settings.seed, vocab);
  say(`pretrain: ${sequences.length} training sequences of at most ${settings.maxLength} tokens, ${heldOutSequences.length} held out; ${evalSet.length} in the evaluation set`);

  const config = parseConfig({
    vocab_size: tokenizer.vocabSize, hidden_size: settings.hidden, num_hidden_layers: settings.layers,
    num_attention_heads: settings.heads, intermediate_size: settings.intermediate,
    max_position_embeddings: settings.maxLength, type_vocab_size: 2, pad_token_id: tokenizer.padId,
  });
  const model = Bert.random(config, MASKED_LM, settings.seed);
  const untrained = evaluateMlm(model, evalSet, vocab.padId);
  const stepsPerEpoch = Math.ceil(sequences.length / settings.batchSize);
  let cachedEpoch = -1;
  let order: number[][] = [];
  const batchAt = (step: number) => {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== cachedEpoch) {
      order = batchIndices(sequences.length, settings.batchSize, epoch, settings.seed);
      cachedEpoch = epoch;
    }
    return { epoch, indices: order[step % stepsPerEpoch] };
  };
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
    lossAt: (step, seed) => {
      const { epoch, indices } = batchAt(step);
      const { batch, labels } = collate(indices.map((i) => maskedExample(sequences[i], i, epoch, settings.seed, vocab)), vocab.padId);
      return model.maskedLmLoss(batch, labels, { training: true, seed });
    },
  });
  if (result.step < settings.steps) {
    say(`pretrain: stopped at step ${result.step} of ${settings.steps}; run the same command again to resume`);
    model.dispose();
    return null;
  }
  let tokensSeen = 0;
  for (let step = 0; step < settings.steps; step++) for (const i of batchAt(step).indices) tokensSeen += sequences[i].length;
  const report: PretrainReport = {
    settings,
    corpus: { train: corpusStats(trainDocs), heldOut: corpusStats(heldOutDocs), trainSequences: sequences.length, heldOutSequences: heldOutSequences.length },
    parameters: model.parameterCount(),
    steps: settings.steps,
    epochs: settings.steps / stepsPerEpoch,
    tokensSeen,
    wallSeconds: wallSeconds(result.log),
    heldOut: { model: evaluateMlm(model, evalSet, vocab.padId), untrained, unigram: unigramBaseline(sequences, evalSet, vocab.vocabSize, vocab.specialIds) },
  };
  saveBert(run.out, model, { vocabFile: settings.vocabFile }, { fisherlab_pretrain: JSON.stringify(settings) });
  writeFileAtomic(path.join(run.out, 'pretrain-report.json'), JSON.stringify(report, null, 1) + '\n');
  fs.copyFileSync(path.join(run.runDir, 'log.jsonl'), path.join(run.out, 'pretrain-log.jsonl'));
  model.dispose();
  return report;
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
  for (const k of ['maxLength', 'layers', 'hidden', 'heads', 'intermediate', 'batchSize', 'steps', 'evalExamples', 'evalEvery', 'checkpointEvery'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new Error(`pretrain: ${k} must be a positive integer (got ${s[k]})`);
  }
  if (!(s.lr > 0)) throw new Error(`pretrain: lr must be positive (got ${s.lr})`);
  if (!fs.existsSync(s.vocabFile)) throw new Error(`${s.vocabFile}: vocabulary not found (make one with \`fisherlab train-vocab\`)`);
  const file = path.join(runDir, 'settings.json');
  if (fs.existsSync(file)) {
    const before = JSON.parse(fs.readFileSync(file, 'utf8')) as PretrainSettings;
    const diff = (Object.keys(s) as Array<keyof PretrainSettings>).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(s[k]));
    if (diff.length) throw new Error(`${runDir} holds a run with other settings (${diff.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(s[k])}`).join(', ')}); use another --run-dir or the same settings`);
  } else {
    fs.mkdirSync(runDir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(s, null, 1) + '\n');
  }
}
