/** Hugging Face BERT folders (config.json, weights, vocab.txt) read into and written from Float32Arrays. */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { BertConfig, configToJson, readConfig } from './config';
import { BertParts, ParameterSpec, architectureName, parameterSpecs } from './parameters';
import { NamedArray, writeSafetensors } from '../weights/safetensors';
import { findWeightFiles, readWeightFiles } from '../weights/files';

/** A checkpoint folder as read by `readCheckpoint`. */
export interface Checkpoint {
  config: BertConfig;
  parts: BertParts;
  /** Canonical Hugging Face names to tensors, in `parameterSpecs` order. */
  weights: Map<string, NamedArray>;
  /** The folder's vocab.txt, or null when it has none. */
  vocabFile: string | null;
  /** Things left out or worth knowing (ignored heads, dropped tied weights...). */
  warnings: string[];
}

/** What `writeCheckpoint` writes. */
export interface CheckpointContents {
  config: BertConfig;
  parts: BertParts;
  weights: Map<string, NamedArray> | readonly NamedArray[];
  /** The WordPiece vocabulary, one token per line of vocab.txt. */
  vocabTokens?: readonly string[];
  /** A vocab.txt to copy into the folder (instead of vocabTokens). */
  vocabFile?: string;
  /** Extra `__metadata__` strings for model.safetensors (format "pt" is always set, as transformers expects). */
  metadata?: Record<string, string>;
}

const WEIGHTS_FILE = 'model.safetensors';
const TIED_DECODER = 'cls.predictions.decoder.weight';
const DECODER_BIAS = 'cls.predictions.decoder.bias';
const MLM_BIAS = 'cls.predictions.bias';
const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';

/**
 * Reads a Hugging Face BERT folder (model.safetensors, a sharded safetensors index, pytorch_model.bin or its index),
 * normalizing tensor names and checking every tensor against config.json.
 */
export function readCheckpoint(dir: string): Checkpoint {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`${dir}: no such checkpoint folder`);
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) throw new Error(`${dir}: not a Hugging Face model folder: it has no config.json`);
  const config = readConfig(configFile);
  const files = findWeightFiles(dir);
  const weightsFile = files.main;
  const file = readWeightFiles(files);
  const warnings: string[] = [];
  if (files.ignored.length > 0) {
    warnings.push(
      `${dir}: read ${path.basename(weightsFile)}, ignored ${files.ignored.map((f) => path.basename(f)).join(', ')}`,
    );
  }
  const { found, problems } = normalizeNames(file.tensors, file.dtypes, weightsFile, warnings);
  const parts: BertParts = {
    mlm: [...found.keys()].some((n) => n.startsWith('cls.predictions.')),
    pooler: [...found.keys()].some((n) => n.startsWith('bert.pooler.')),
    classifier: [...found.keys()].some((n) => n.startsWith('classifier.')),
  };
  resolveTiedTensors(found, warnings);
  const specs = parameterSpecs(config, parts);
  const shards = files.weightMap
    ? new Map([...file.origin].map(([stored, f]) => [canonicalName(stored), path.basename(f)]))
    : null;
  problems.push(...specProblems(specs, found, config, shards));
  if (problems.length > 0) {
    throw new Error(
      `${weightsFile} does not match ${configFile} (${architectureName(parts)}):\n  ${problems.join('\n  ')}`,
    );
  }
  const weights = new Map(specs.map((s) => [s.name, found.get(s.name)!] as [string, NamedArray]));
  const vocab = path.join(dir, 'vocab.txt');
  const vocabFile = fs.existsSync(vocab) ? vocab : null;
  if (vocabFile) {
    const count = countTokens(vocabFile);
    if (count !== config.vocab_size)
      warnings.push(`${vocabFile} has ${count} tokens but config.json says vocab_size ${config.vocab_size}`);
  } else {
    warnings.push(`${dir} has no vocab.txt: a tokenizer needs one`);
  }
  return { config, parts, weights, vocabFile, warnings };
}

/** Writes config.json, model.safetensors (F32, canonical order) and vocab.txt into a folder, each atomically. */
export function writeCheckpoint(dir: string, contents: CheckpointContents): void {
  const { config, parts } = contents;
  const list =
    contents.weights instanceof Map
      ? [...contents.weights.entries()]
      : contents.weights.map((t) => [t.name, t] as const);
  const byName = new Map<string, NamedArray>();
  const problems: string[] = [];
  for (const [name, t] of list) {
    if (name !== t.name) problems.push(`map key "${name}" holds a tensor named "${t.name}"`);
    else if (byName.has(name)) problems.push(`${name} is given twice`);
    else if (t.data.length !== t.shape.reduce((a, b) => a * b, 1))
      problems.push(`${name} has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    byName.set(name, t);
  }
  const specs = parameterSpecs(config, parts);
  problems.push(...specProblems(specs, byName, config));
  if (problems.length > 0)
    throw new Error(`${dir}: cannot write the checkpoint (${architectureName(parts)}):\n  ${problems.join('\n  ')}`);
  if (contents.vocabTokens && contents.vocabFile) throw new Error(`${dir}: give vocabTokens or vocabFile, not both`);
  let vocabText: string | null = null;
  if (contents.vocabTokens) {
    const bad = contents.vocabTokens.findIndex((t) => /[\r\n]/.test(t));
    if (bad >= 0) throw new Error(`${dir}: vocabulary token ${bad} contains a line break`);
    if (contents.vocabTokens.length > config.vocab_size) {
      throw new Error(
        `${dir}: ${contents.vocabTokens.length} vocabulary tokens but config vocab_size is ${config.vocab_size}`,
      );
    }
    vocabText = contents.vocabTokens.join('\n') + '\n';
  } else if (contents.vocabFile) {
    try {
      vocabText = fs.readFileSync(contents.vocabFile, 'utf8');
    } catch (e) {
      throw new Error(`${contents.vocabFile}: cannot read vocabulary (${(e as Error).message})`);
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(
    path.join(dir, 'config.json'),
    JSON.stringify(configToJson(config, architectureName(parts)), null, 2) + '\n',
  );
  writeSafetensors(
    path.join(dir, WEIGHTS_FILE),
    specs.map((s) => byName.get(s.name)!),
    { format: 'pt', ...contents.metadata },
  );
  if (vocabText !== null) writeFileAtomic(path.join(dir, 'vocab.txt'), vocabText);
}

/** Maps stored names to canonical Hugging Face names, dropping buffers and heads fisherlab does not use. */
function normalizeNames(
  tensors: Map<string, NamedArray>,
  dtypes: Map<string, string>,
  file: string,
  warnings: string[],
): { found: Map<string, NamedArray>; problems: string[] } {
  const found = new Map<string, NamedArray>();
  const origin = new Map<string, string>();
  const problems: string[] = [];
  const nextSentence: string[] = [];
  for (const [stored, dtype] of dtypes) {
    if (stored.endsWith('.position_ids')) continue;
    if (stored.startsWith('cls.seq_relationship.')) {
      nextSentence.push(stored);
      continue;
    }
    const t = tensors.get(stored);
    if (!t) {
      problems.push(`${stored} has dtype ${dtype}, not a float type`);
      continue;
    }
    const name = canonicalName(stored);
    const earlier = origin.get(name);
    if (earlier !== undefined) {
      problems.push(`${earlier} and ${stored} are both ${name}`);
      continue;
    }
    origin.set(name, stored);
    found.set(name, { name, shape: t.shape, data: t.data });
  }
  if (nextSentence.length > 0) warnings.push(`${file}: ignored the next-sentence head (${nextSentence.join(', ')})`);
  return { found, problems };
}

/** The canonical name of a stored tensor name: `bert.` prefix added, LayerNorm gamma/beta renamed weight/bias. */
function canonicalName(stored: string): string {
  let name = stored
    .replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight')
    .replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
  if (/^(embeddings|encoder|pooler)\./.test(name)) name = `bert.${name}`;
  return name;
}

/** Drops the decoder weight tied to the word embeddings and turns the decoder bias into `cls.predictions.bias`. */
function resolveTiedTensors(found: Map<string, NamedArray>, warnings: string[]): void {
  const decoder = found.get(TIED_DECODER);
  if (decoder) {
    found.delete(TIED_DECODER);
    const words = found.get(WORD_EMBEDDINGS);
    if (words && !sameValues(decoder, words)) {
      warnings.push(
        `${TIED_DECODER} differs from ${WORD_EMBEDDINGS}; it was dropped, since the decoder is tied to the word embeddings`,
      );
    }
  }
  const decoderBias = found.get(DECODER_BIAS);
  if (decoderBias) {
    found.delete(DECODER_BIAS);
    const bias = found.get(MLM_BIAS);
    if (!bias) found.set(MLM_BIAS, { ...decoderBias, name: MLM_BIAS });
    else if (!sameValues(bias, decoderBias))
      warnings.push(`${DECODER_BIAS} differs from ${MLM_BIAS}; kept ${MLM_BIAS}`);
  }
}

/** Whether two tensors have the same shape and bit-identical values. */
function sameValues(a: NamedArray, b: NamedArray): boolean {
  if (a.shape.join() !== b.shape.join() || a.data.length !== b.data.length) return false;
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** Every missing, unexpected and mis-shaped tensor, one line each, with hints naming config.json's fields (and each one's shard). */
function specProblems(
  specs: ParameterSpec[],
  found: Map<string, NamedArray>,
  config: BertConfig,
  shards: Map<string, string> | null = null,
): string[] {
  const problems: string[] = [];
  const expected = new Set(specs.map((s) => s.name));
  const missing = specs.filter((s) => !found.has(s.name)).map((s) => s.name);
  const unexpected = [...found.keys()].filter((n) => !expected.has(n));
  for (const name of missing) problems.push(`missing: ${name}`);
  for (const name of unexpected) problems.push(`unexpected: ${name} [${found.get(name)!.shape.join(', ')}]`);
  for (const spec of specs) {
    const t = found.get(spec.name);
    if (!t || t.shape.join() === spec.shape.join()) continue;
    const fields = shapeFields(spec.name).map((f) => `${f} ${config[f]}`);
    const hint = fields.length > 0 ? ` (config.json says ${fields.join(', ')})` : '';
    const shard = shards?.has(spec.name) ? ` (in ${shards.get(spec.name)})` : '';
    problems.push(
      `wrong shape: ${spec.name}${shard} has shape [${t.shape.join(', ')}] but [${spec.shape.join(', ')}] is expected${hint}`,
    );
  }
  const layers = [...found.keys()]
    .map((n) => /^bert\.encoder\.layer\.(\d+)\./.exec(n))
    .filter((m) => m)
    .map((m) => Number(m![1]) + 1);
  const stored = layers.length > 0 ? Math.max(...layers) : 0;
  if ((missing.length > 0 || unexpected.length > 0) && stored !== config.num_hidden_layers) {
    problems.push(
      `hint: the checkpoint has ${stored} encoder layers but config.json says num_hidden_layers ${config.num_hidden_layers}`,
    );
  }
  return problems;
}

type SizeField =
  'vocab_size' | 'hidden_size' | 'intermediate_size' | 'max_position_embeddings' | 'type_vocab_size' | 'num_labels';

/** The config.json fields that set each dimension of a canonical tensor's shape. */
function shapeFields(name: string): SizeField[] {
  if (name === WORD_EMBEDDINGS) return ['vocab_size', 'hidden_size'];
  if (name.endsWith('position_embeddings.weight')) return ['max_position_embeddings', 'hidden_size'];
  if (name.endsWith('token_type_embeddings.weight')) return ['type_vocab_size', 'hidden_size'];
  if (name === MLM_BIAS) return ['vocab_size'];
  if (name.startsWith('classifier.')) return name.endsWith('.weight') ? ['num_labels', 'hidden_size'] : ['num_labels'];
  if (name.endsWith('.intermediate.dense.weight')) return ['intermediate_size', 'hidden_size'];
  if (name.endsWith('.intermediate.dense.bias')) return ['intermediate_size'];
  if (/\.layer\.\d+\.output\.dense\.weight$/.test(name)) return ['hidden_size', 'intermediate_size'];
  return ['hidden_size'];
}

/** The number of tokens in a vocab.txt (one per line; a final newline does not add one). */
function countTokens(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  if (text.length === 0) return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}
