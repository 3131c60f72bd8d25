/**
 * Building a Fisher file from a model folder: the examples (a seeded sub-sample of its pretraining corpus's training
 * split, or a file of pre-masked examples), the metadata that records them, the resumable estimate and the file.
 * `fisherlab fisher` and `onePercentFisher` both build through here, so their files carry the same metadata.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend, takeShare } from '../backend';
import { readConfig } from '../bert/config';
import { loadMaskedLm } from '../bert/load';
import { loadTokenizer } from '../bert/tokenizer';
import { defaultRunDir, projectRelative } from '../paths';
import { MaskedExample, readMaskedExamples, StoredMaskedExample } from '../pretrain/mlm-data';
import { FisherResult, writeFisher } from './estimate';
import { corpusSamples, overrideRecipe, pretrainingRecipe, SampleSize } from './samples';
import { fisherJobs, fisherPass } from './shards';

/** What `buildFisher` needs. */
export interface BuildFisherOptions {
  /** A BertForMaskedLM (or BertForPreTraining) folder. */
  model: string;
  /** The safetensors file to write. */
  output: string;
  /** How many training sequences of the pretraining corpus to sample; give this or `examples`. */
  size?: SampleSize;
  /** A JSONL file of pre-masked examples {input_ids, labels, attention_mask?}, used as they are. */
  examples?: string;
  /** Corpus sources in place of the model's pretraining corpus (corpus samples only). */
  corpus?: string;
  /** Tokens per packed sequence in place of the model's pretraining length (corpus samples only). */
  maxLength?: number;
  /** Seed of the sub-sample and of its masks (recorded with pre-masked examples too). */
  seed: number;
  /** Samples per forward/backward pass (default 16). */
  batchSize?: number;
  /** Processes, each with a contiguous shard of the samples (default: `defaultFisherJobs`). */
  jobs?: number;
  /** Checkpoints (default: out/fisher/<name of output>-<hash of its absolute path>). */
  runDir?: string;
  checkpointEvery?: number;
  stopAfter?: number;
  shouldStop?: () => boolean;
  /** Messages and progress lines (default: stderr). */
  write?: (line: string) => void;
}

/** What `buildFisher` did: the estimate's result (the file is written when `fisher` is set) and the number of examples. */
export interface BuiltFisher extends FisherResult {
  examples: number;
  /** Processes the samples were split over. */
  processes: number;
}

/**
 * Estimates the Fisher of a model folder over corpus samples or pre-masked examples (resumable) and writes it with
 * its metadata. The examples and the process count come first, so that a process that has not started its backend
 * yet takes its share of the cores (`takeShare`) and computes a shard itself.
 */
export async function buildFisher(o: BuildFisherOptions): Promise<BuiltFisher> {
  if ((o.size === undefined) === (o.examples === undefined))
    throw new Error('fisher: give exactly one of a sample size and an examples file');
  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const batchSize = o.batchSize ?? 16;
  const config = readConfig(path.join(o.model, 'config.json'));
  let examples: Array<MaskedExample | StoredMaskedExample>;
  let source: Record<string, string>;
  if (o.examples !== undefined) {
    examples = readMaskedExamples(o.examples, { vocabSize: config.vocab_size });
    source = {
      examples: projectRelative(o.examples),
      masking_rate: 'as in the examples file',
      max_length: String(Math.max(...examples.map((e) => e.input_ids.length))),
    };
  } else {
    const tokenizer = loadTokenizer(o.model);
    const recipe = overrideRecipe(pretrainingRecipe(o.model), o);
    const drawn = corpusSamples(tokenizer, recipe, o.size!, o.seed);
    examples = drawn.examples;
    source = {
      corpus: recipe.corpus,
      held_out_fraction: String(recipe.heldOutFraction),
      split_seed: String(recipe.splitSeed),
      recipe: recipe.source,
      training_sequences: String(drawn.available),
      selection: o.size!.samples !== undefined ? `samples ${o.size!.samples}` : `fraction ${o.size!.fraction}`,
      masking_rate: '0.15',
      max_length: String(recipe.maxLength),
    };
    say(
      `fisher: ${examples.length} of ${drawn.available} training sequences (corpus ${recipe.corpus}, ${recipe.maxLength} tokens; recipe: ${recipe.source})`,
    );
  }
  const metadata = {
    model: projectRelative(o.model),
    ...source,
    seed: String(o.seed),
    batch_size: String(batchSize),
  };
  fs.mkdirSync(path.dirname(path.resolve(o.output)), { recursive: true });
  const jobs = fisherJobs(examples.length, batchSize, o.jobs);
  takeShare(jobs);
  await initBackend();
  const model = loadMaskedLm(o.model, 'fisher');
  try {
    const result = await fisherPass({
      model,
      modelDir: o.model,
      jobs,
      examples,
      padId: model.config.pad_token_id,
      batchSize,
      runDir: o.runDir ?? defaultRunDir('fisher', o.output),
      settings: metadata,
      checkpointEvery: o.checkpointEvery,
      stopAfter: o.stopAfter,
      shouldStop: o.shouldStop,
      write: o.write,
    });
    if (result.fisher)
      writeFisher(o.output, result.fisher, result.samples, { ...metadata, processes: String(result.processes) });
    return { ...result, examples: examples.length };
  } finally {
    model.dispose();
  }
}
