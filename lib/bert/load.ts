/** Loading and saving a Bert from and to a Hugging Face model folder. */
import { readCheckpoint, writeCheckpoint } from '../checkpoint';
import { Bert } from './model';
import { BertParts } from './parameters';

export interface LoadOptions {
  /** Parts to build (default: those the checkpoint has). Parts it lacks are freshly initialized, parts it has but not asked for are dropped, as `from_pretrained` does. */
  parts?: BertParts;
  /** Overrides of config.json fields (e.g. num_labels for a new classifier). */
  configOverrides?: Partial<import('./config').BertConfig>;
  /** Seed for freshly initialized parts. */
  seed?: number;
}

export interface LoadedBert {
  model: Bert;
  /** The folder's vocab.txt, or null. */
  vocabFile: string | null;
  /** What was ignored, dropped or freshly initialized. */
  warnings: string[];
}

/** Reads a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt) into a Bert. */
export function loadBert(dir: string, opts: LoadOptions = {}): LoadedBert {
  const ckpt = readCheckpoint(dir);
  const config = { ...ckpt.config, ...opts.configOverrides };
  const parts = opts.parts ?? ckpt.parts;
  const warnings = [...ckpt.warnings];
  const same = parts.pooler === ckpt.parts.pooler && parts.mlm === ckpt.parts.mlm && parts.classifier === ckpt.parts.classifier;
  if (same && config.num_labels === ckpt.config.num_labels) {
    return { model: Bert.fromWeights(config, parts, ckpt.weights), vocabFile: ckpt.vocabFile, warnings };
  }
  const model = Bert.random(config, parts, opts.seed ?? 0);
  const keep = new Map([...ckpt.weights].filter(([name, w]) => {
    try {
      return model.parameter(name).shape.join() === w.shape.join();
    } catch {
      return false;
    }
  }));
  model.assignWeights(keep);
  const fresh = model.namedParameters().map(([n]) => n).filter((n) => !keep.has(n));
  const dropped = [...ckpt.weights.keys()].filter((n) => !keep.has(n));
  if (fresh.length) warnings.push(`freshly initialized (not in the checkpoint): ${fresh.join(', ')}`);
  if (dropped.length) warnings.push(`not used by this model: ${dropped.join(', ')}`);
  return { model, vocabFile: ckpt.vocabFile, warnings };
}

/** Writes a Bert as a Hugging Face folder; the vocabulary is copied from `vocabFile` or written from `vocabTokens`. */
export function saveBert(dir: string, model: Bert, vocab: { vocabFile?: string; vocabTokens?: string[] } = {}, metadata?: Record<string, string>): void {
  const weights = new Map([...model.toWeights()].map(([name, w]) => [name, { name, ...w }]));
  writeCheckpoint(dir, { config: model.config, parts: model.parts, weights, ...vocab, metadata });
}
