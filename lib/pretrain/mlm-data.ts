/**
 * The masked-LM data pipeline: documents → [CLS] … [SEP] sequences → seeded BERT masks → padded batches,
 * plus a fixed evaluation set and JSONL files of pre-masked examples.
 */
import * as fs from 'fs';
import { writeFileAtomic } from '../util/atomic';
import type { Batch } from '../bert/model';
import { readJsonl } from '../util/jsonl';
import { Rng, mixSeed } from '../util/random';
import type { Tokenizer } from '../bert/tokenizer';

/** The label of a position that carries no loss (PyTorch's cross-entropy ignore_index). */
export const IGNORE_INDEX = -100;

/** The seed-stream index reserved for an epoch's shuffle; example indices never reach it. */
const SHUFFLE_STREAM = 0xffffffff;

/** The epoch number reserved for the fixed evaluation set; training epochs never reach it. */
const EVAL_EPOCH = 0xffffffff;

/** How `packSequences` turns documents into sequences. */
export interface PackOptions {
  /** Maximum sequence length including [CLS] and [SEP] (default 128). */
  maxLength?: number;
  /** 'pack' (default): a document's tokens cut into full-length chunks; 'truncate': one sequence per sentence. */
  mode?: 'pack' | 'truncate';
  /** 'pack' only: a document's trailing partial chunk with fewer tokens than this is dropped, unless it is the document's only chunk (default 8). */
  minTokens?: number;
}

/** What masking needs to know about the vocabulary. */
export interface MaskVocab {
  vocabSize: number;
  /** Ids never selected for masking ([CLS], [SEP], [PAD], [MASK], [UNK], as Hugging Face's all_special_ids). */
  specialIds: ReadonlySet<number>;
  maskId: number;
}

/** The vocabulary facts masking and batching need. */
export interface MlmVocab extends MaskVocab {
  padId: number;
}

/** Options of `maskTokens`. */
export interface MaskOptions extends MaskVocab {
  /** Probability that a non-special token is selected (default 0.15). */
  probability?: number;
  rng: Rng;
}

/** Options of the seeded masking functions (the generator is derived from seed, epoch and index). */
export type SeededMaskOptions = Omit<MaskOptions, 'rng'>;

/** One masked example: the model's input and the labels (original id where selected, -100 elsewhere). */
export interface MaskedExample {
  input_ids: number[];
  labels: number[];
}

/** A masked example with its attention mask, as stored in JSONL files. */
export interface StoredMaskedExample extends MaskedExample {
  attention_mask: number[];
}

/** A padded batch and its labels. */
export interface CollatedBatch {
  batch: Batch;
  labels: number[][];
}

/** Options of `mlmBatches`. */
export interface MlmBatchOptions extends MlmVocab {
  batchSize: number;
  epoch: number;
  seed: number;
  probability?: number;
  /** Skip the epoch's first batches (for resuming mid-epoch); the remaining batches are unchanged (default 0). */
  startBatch?: number;
}

/** The vocabulary facts of a tokenizer, for masking and batching. */
export function mlmVocab(tokenizer: Tokenizer): MlmVocab {
  const { clsId, sepId, padId, maskId, unkId } = tokenizer;
  return { vocabSize: tokenizer.vocabSize, specialIds: new Set([clsId, sepId, padId, maskId, unkId]), maskId, padId };
}

/** Throws unless `value` is an integer of at least `min`. */
function requireInt(value: number, min: number, what: string): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${what} must be an integer ≥ ${min}, got ${value}`);
}

/** Token-id sequences, each [CLS] … [SEP] and at most maxLength long, from documents given as lists of sentences; a document never spills into another. */
export function packSequences(
  tokenizer: Tokenizer,
  documents: readonly (readonly string[])[],
  options: PackOptions = {},
): number[][] {
  const { maxLength = 128, mode = 'pack', minTokens = 8 } = options;
  requireInt(maxLength, 3, 'packSequences: maxLength');
  requireInt(minTokens, 1, 'packSequences: minTokens');
  if (mode !== 'pack' && mode !== 'truncate')
    throw new Error(`packSequences: unknown mode ${JSON.stringify(mode)} (expected 'pack' or 'truncate')`);
  if (documents.length === 0) throw new Error('packSequences: no documents');
  const cache = new Map<string, number[]>();
  const ids = (sentence: string): number[] => {
    let out = cache.get(sentence);
    if (out === undefined) cache.set(sentence, (out = tokenizer.tokenize(sentence).map((t) => tokenizer.tokenToId(t))));
    return out;
  };
  const wrap = (tokens: number[]): number[] => [tokenizer.clsId, ...tokens, tokenizer.sepId];
  const room = maxLength - 2;
  const sequences: number[][] = [];
  for (const document of documents) {
    if (mode === 'truncate') {
      for (const sentence of document) {
        const tokens = ids(sentence);
        if (tokens.length > 0) sequences.push(wrap(tokens.slice(0, room)));
      }
      continue;
    }
    const tokens = document.flatMap(ids);
    for (let start = 0; start < tokens.length; start += room) {
      const chunk = tokens.slice(start, start + room);
      if (start > 0 && chunk.length < room && chunk.length < minTokens) break;
      sequences.push(wrap(chunk));
    }
  }
  if (sequences.length === 0) throw new Error('packSequences: the documents hold no tokens');
  return sequences;
}

/**
 * Masks a sequence with BERT's rule (Hugging Face's DataCollatorForLanguageModeling): each non-special token is
 * selected with `probability`; a selected token becomes [MASK] (80%), a uniformly random id in [0, vocabSize) (10%)
 * or stays (10%). One departure from Hugging Face: when nothing was selected but the sequence has a non-special
 * token, one such token is selected at random, so every example carries a loss (an example without labels gives a
 * 0/0 per-example loss and no per-sample Fisher term, which is common for short sequences: 0.85^5 ≈ 44%).
 */
export function maskTokens(ids: readonly number[], options: MaskOptions): MaskedExample {
  const { vocabSize, specialIds, maskId, probability = 0.15, rng } = options;
  if (!(probability > 0 && probability <= 1))
    throw new Error(`maskTokens: probability must be in (0, 1], got ${probability}`);
  requireInt(vocabSize, 1, 'maskTokens: vocabSize');
  const candidates: number[] = [];
  const selected: number[] = [];
  ids.forEach((id, i) => {
    if (specialIds.has(id)) return;
    candidates.push(i);
    if (rng.next() < probability) selected.push(i);
  });
  if (selected.length === 0 && candidates.length > 0) selected.push(candidates[rng.int(candidates.length)]);
  const input_ids = [...ids];
  const labels = ids.map(() => IGNORE_INDEX);
  for (const i of selected) {
    labels[i] = ids[i];
    const kind = rng.next();
    if (kind < 0.8) input_ids[i] = maskId;
    else if (kind < 0.9) input_ids[i] = rng.int(vocabSize);
  }
  return { input_ids, labels };
}

/** Masks example `index` of epoch `epoch`; the result depends only on (seed, epoch, index, sequence), so it can be recomputed anywhere. */
export function maskedExample(
  seq: readonly number[],
  index: number,
  epoch: number,
  seed: number,
  options: SeededMaskOptions,
): MaskedExample {
  return maskTokens(seq, { ...options, rng: new Rng(mixSeed(seed, epoch, index)) });
}

/** Pads examples to the longest one: [PAD] ids, attention 0, token types 0 and labels -100 on padding. */
export function collate(
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>,
  padId: number,
): CollatedBatch {
  if (examples.length === 0) throw new Error('collate: no examples');
  examples.forEach((e, i) => {
    const n = e.input_ids.length;
    if (n === 0) throw new Error(`collate: example ${i} is empty`);
    if (e.labels.length !== n || (e.attention_mask && e.attention_mask.length !== n)) {
      throw new Error(
        `collate: example ${i} has ${n} input ids but ${e.labels.length} labels and ${e.attention_mask?.length ?? n} attention values`,
      );
    }
  });
  const length = Math.max(...examples.map((e) => e.input_ids.length));
  const pad = <T>(row: readonly T[], value: T): T[] => [...row, ...Array<T>(length - row.length).fill(value)];
  return {
    batch: {
      input_ids: examples.map((e) => pad(e.input_ids, padId)),
      token_type_ids: examples.map(() => Array<number>(length).fill(0)),
      attention_mask: examples.map((e) => pad(e.attention_mask ?? e.input_ids.map(() => 1), 0)),
    },
    labels: examples.map((e) => pad(e.labels, IGNORE_INDEX)),
  };
}

/** The seeded order in which epoch `epoch` visits examples 0..n-1 (a permutation, different for each epoch). */
export function epochOrder(n: number, epoch: number, seed: number): number[] {
  requireInt(n, 0, 'epochOrder: n');
  return new Rng(mixSeed(seed, epoch, SHUFFLE_STREAM)).shuffle(Array.from({ length: n }, (_, i) => i));
}

/** The example indices of each batch of epoch `epoch`, in order; the last batch may be smaller. */
export function batchIndices(n: number, batchSize: number, epoch: number, seed: number): number[][] {
  requireInt(batchSize, 1, 'batchIndices: batchSize');
  const order = epochOrder(n, epoch, seed);
  const batches: number[][] = [];
  for (let i = 0; i < n; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}

/** Yields the masked, padded batches of one epoch, with the indices of their examples. */
export function* mlmBatches(
  sequences: readonly (readonly number[])[],
  options: MlmBatchOptions,
): Generator<CollatedBatch & { indices: number[] }> {
  const { batchSize, epoch, seed, padId, startBatch = 0, ...maskOptions } = options;
  requireInt(startBatch, 0, 'mlmBatches: startBatch');
  if (sequences.length === 0) throw new Error('mlmBatches: no sequences');
  for (const indices of batchIndices(sequences.length, batchSize, epoch, seed).slice(startBatch)) {
    const examples = indices.map((i) => maskedExample(sequences[i], i, epoch, seed, maskOptions));
    yield { ...collate(examples, padId), indices };
  }
}

/** A fixed masked evaluation set: n sequences chosen by `seed`, masked identically every time it is built with the same seed. */
export function fixedMaskedSet(
  sequences: readonly (readonly number[])[],
  n: number,
  seed: number,
  options: SeededMaskOptions,
): Array<MaskedExample & { index: number }> {
  requireInt(n, 1, 'fixedMaskedSet: n');
  if (n > sequences.length)
    throw new Error(`fixedMaskedSet: asked for ${n} examples but there are only ${sequences.length} sequences`);
  const chosen = epochOrder(sequences.length, EVAL_EPOCH, seed)
    .slice(0, n)
    .sort((a, b) => a - b);
  return chosen.map((index) => ({ ...maskedExample(sequences[index], index, EVAL_EPOCH, seed, options), index }));
}

/** Checks one stored example (ids non-negative integers below vocabSize when given, equal lengths, attention 0/1, labels -100 or an id on attended positions); errors start with `where`. */
function validateExample(value: unknown, where: string, vocabSize?: number): StoredMaskedExample {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${where}: expected a JSON object`);
  const record = value as Record<string, unknown>;
  const isId = (x: unknown): x is number =>
    Number.isInteger(x) && (x as number) >= 0 && (vocabSize === undefined || (x as number) < vocabSize);
  const idRange = vocabSize === undefined ? 'a non-negative integer' : `an integer in [0, ${vocabSize})`;
  const field = (name: string): unknown[] => {
    const v = record[name];
    if (!Array.isArray(v)) throw new Error(`${where}: "${name}" must be an array`);
    return v;
  };
  const inputIds = field('input_ids');
  if (inputIds.length === 0) throw new Error(`${where}: "input_ids" is empty`);
  const labels = field('labels');
  const attention = record.attention_mask === undefined ? inputIds.map(() => 1) : field('attention_mask');
  for (const [name, v] of [
    ['labels', labels],
    ['attention_mask', attention],
  ] as const) {
    if (v.length !== inputIds.length)
      throw new Error(`${where}: "${name}" has ${v.length} values but "input_ids" has ${inputIds.length}`);
  }
  inputIds.forEach((x, i) => {
    if (!isId(x)) throw new Error(`${where}: input_ids[${i}] = ${JSON.stringify(x)} is not ${idRange}`);
  });
  attention.forEach((x, i) => {
    if (x !== 0 && x !== 1) throw new Error(`${where}: attention_mask[${i}] = ${JSON.stringify(x)} is not 0 or 1`);
  });
  labels.forEach((x, i) => {
    if (x !== IGNORE_INDEX && !isId(x))
      throw new Error(`${where}: labels[${i}] = ${JSON.stringify(x)} is neither -100 nor ${idRange}`);
    if (x !== IGNORE_INDEX && attention[i] === 0)
      throw new Error(`${where}: labels[${i}] is set on a padding position (attention_mask 0)`);
  });
  return { input_ids: inputIds as number[], attention_mask: attention as number[], labels: labels as number[] };
}

/** Reads pre-masked examples from a JSONL file (one object with input_ids, labels and optional attention_mask per line); errors name the file and line. */
export function readMaskedExamples(file: string, options: { vocabSize?: number } = {}): StoredMaskedExample[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
  const examples = readJsonl(file).map(({ value, where }) => validateExample(value, where, options.vocabSize));
  if (examples.length === 0) throw new Error(`${file}: no examples`);
  return examples;
}

/** Writes pre-masked examples as JSONL, atomically (attention_mask all 1 when an example has none). */
export function writeMaskedExamples(
  file: string,
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>,
): void {
  if (examples.length === 0) throw new Error(`${file}: no examples to write`);
  const lines = examples.map((e, i) => {
    const { input_ids, attention_mask, labels } = validateExample(e, `${file}: example ${i}`);
    return JSON.stringify({ input_ids, attention_mask, labels });
  });
  writeFileAtomic(file, lines.map((l) => `${l}\n`).join(''));
}
