/** Loading and saving a Bert from and to a Hugging Face model folder. */
import { readCheckpoint, writeCheckpoint } from './folder';
import { Bert } from './model';
import { BertParts, MASKED_LM, parameterSpecs } from './parameters';

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
  /** Parameters the checkpoint did not have, freshly initialized (seeded). */
  fresh: string[];
  /** Checkpoint tensors the model does not use. */
  dropped: string[];
}

/** Reads a Hugging Face BERT folder (config.json, weights in any layout transformers writes, vocab.txt) into a Bert. */
export function loadBert(dir: string, opts: LoadOptions = {}): LoadedBert {
  const ckpt = readCheckpoint(dir);
  const config = { ...ckpt.config, ...opts.configOverrides };
  const parts = opts.parts ?? ckpt.parts;
  const warnings = [...ckpt.warnings];
  const specs = parameterSpecs(config, parts);
  const keep = new Map(
    specs
      .filter((s) => ckpt.weights.get(s.name)?.shape.join() === s.shape.join())
      .map((s) => [s.name, ckpt.weights.get(s.name)!]),
  );
  const fresh = specs.map((s) => s.name).filter((n) => !keep.has(n));
  const dropped = [...ckpt.weights.keys()].filter((n) => !keep.has(n));
  let model: Bert;
  if (fresh.length === 0) {
    model = Bert.fromWeights(config, parts, keep);
  } else {
    model = Bert.random(config, parts, opts.seed ?? 0);
    model.assignWeights(keep);
  }
  if (fresh.length) warnings.push(`freshly initialized (not in the checkpoint): ${fresh.join(', ')}`);
  if (dropped.length) warnings.push(`not used by this model: ${dropped.join(', ')}`);
  return { model, vocabFile: ckpt.vocabFile, warnings, fresh, dropped };
}

/**
 * Reads a folder as Hugging Face's BertForMaskedLM, exactly its parameters in `named_parameters()` order, for what
 * needs the pretraining loss (Fisher, landscapes, masked-LM evaluation): a pooler or next-sentence head is ignored,
 * with one line to `say`, and a folder without the masked-LM head is refused with an error naming the missing tensors.
 */
export function loadMaskedLm(
  dir: string,
  purpose: string,
  say: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Bert {
  const { model, fresh, dropped, warnings } = loadBert(dir, { parts: MASKED_LM });
  if (fresh.length > 0) {
    model.dispose();
    throw new Error(
      `${dir}: ${purpose} needs a masked-LM head (a BertForMaskedLM or BertForPreTraining folder), but the checkpoint lacks ${fresh.join(', ')}`,
    );
  }
  const ignored = [
    ...(dropped.length ? [dropped.join(', ')] : []),
    ...warnings
      .filter((w) => w.includes('next-sentence head'))
      .map(() => 'the next-sentence head (cls.seq_relationship.*)'),
  ];
  if (ignored.length)
    say(
      `${purpose}: ${dir} read as BertForMaskedLM (${model.namedParameters().length} tensors); ignored ${ignored.join(' and ')}`,
    );
  return model;
}

/** Writes a Bert as a Hugging Face folder; the vocabulary is copied from `vocabFile` or written from `vocabTokens`. */
export function saveBert(
  dir: string,
  model: Bert,
  vocab: { vocabFile?: string; vocabTokens?: string[] } = {},
  metadata?: Record<string, string>,
): void {
  const weights = new Map([...model.toWeights()].map(([name, w]) => [name, { name, ...w }]));
  writeCheckpoint(dir, { config: model.config, parts: model.parts, weights, ...vocab, metadata });
}
