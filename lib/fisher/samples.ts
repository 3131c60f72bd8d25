/**
 * The samples a Fisher estimate is taken over: a seeded sub-sample of the pretraining corpus's training split,
 * packed and masked as pretraining does (the authors take `shuffle(seed).select(range(n))` of the corpus).
 */
import * as fs from 'fs';
import * as path from 'path';
import { loadCorpus, splitCorpus } from '../pretrain/corpus';
import { fixedMaskedSet, MaskedExample, mlmVocab, packSequences } from '../pretrain/mlm-data';
import { projectRelative } from '../paths';
import { completeSettings, PRETRAIN_DEFAULTS, PretrainSettings } from '../pretrain/settings';
import type { Tokenizer } from '../bert/tokenizer';

/** How a model was pretrained, as far as choosing its training and held-out sequences goes. */
export interface PretrainingRecipe {
  corpus: string;
  heldOutFraction: number;
  /** The seed splitCorpus used. */
  splitSeed: number;
  maxLength: number;
  /** Where the recipe came from: a pretrain-report.json (relative to the project root when inside it), or "defaults". */
  source: string;
}

/**
 * The pretraining recipe of a model folder: its pretrain-report.json's settings, completed as `fisherlab pretrain`
 * completes a run's settings, or `fisherlab pretrain`'s defaults when it has no report (a Hugging Face folder).
 */
export function pretrainingRecipe(modelDir: string): PretrainingRecipe {
  const file = path.join(modelDir, 'pretrain-report.json');
  if (!fs.existsSync(file)) {
    const { corpus, heldOutFraction, seed, maxLength } = PRETRAIN_DEFAULTS;
    return { corpus, heldOutFraction, splitSeed: seed, maxLength, source: 'defaults' };
  }
  const saved = (JSON.parse(fs.readFileSync(file, 'utf8')) as { settings?: Partial<PretrainSettings> }).settings;
  const s = typeof saved === 'object' && saved !== null ? completeSettings(saved) : null;
  if (
    s === null ||
    typeof s.corpus !== 'string' ||
    typeof s.heldOutFraction !== 'number' ||
    typeof s.seed !== 'number' ||
    typeof s.maxLength !== 'number'
  ) {
    throw new Error(`${file}: "settings" lacks corpus, heldOutFraction, seed or maxLength`);
  }
  const { corpus, heldOutFraction, seed, maxLength } = s;
  return { corpus, heldOutFraction, splitSeed: seed, maxLength, source: projectRelative(file) };
}

/** Which training sequences to take: a count or a fraction of them. */
export interface SampleSize {
  samples?: number;
  fraction?: number;
}

/** The number of samples a size asks for out of `available` (a fraction rounds down, as the authors' int(N·pct/100), but is at least 1). */
export function sampleCount(size: SampleSize, available: number): number {
  if ((size.samples === undefined) === (size.fraction === undefined))
    throw new Error('give exactly one of samples and fraction');
  if (size.fraction !== undefined) {
    if (!(size.fraction > 0 && size.fraction <= 1))
      throw new Error(`fraction must be in (0, 1] (got ${size.fraction})`);
    return Math.max(1, Math.floor(size.fraction * available + 1e-9));
  }
  const n = size.samples!;
  if (!Number.isInteger(n) || n < 1) throw new Error(`samples must be a positive integer (got ${n})`);
  if (n > available) throw new Error(`asked for ${n} samples but the training split has only ${available} sequences`);
  return n;
}

/** The packed sequences of one part (training or held-out split) of a recipe's corpus, as pretraining packed them. */
export function recipeSequences(
  tokenizer: Tokenizer,
  recipe: PretrainingRecipe,
  part: 'train' | 'heldOut',
): number[][] {
  const split = splitCorpus(loadCorpus(recipe.corpus), {
    heldOutFraction: recipe.heldOutFraction,
    seed: recipe.splitSeed,
  });
  return packSequences(
    tokenizer,
    split[part].map((d) => d.sentences),
    { maxLength: recipe.maxLength },
  );
}

/**
 * n of the training split's packed sequences, chosen by `seed` and masked (15%) with that seed by maskedExample,
 * in sequence order; with the number of sequences available.
 */
export function corpusSamples(
  tokenizer: Tokenizer,
  recipe: PretrainingRecipe,
  size: SampleSize,
  seed: number,
): { examples: MaskedExample[]; available: number } {
  const sequences = recipeSequences(tokenizer, recipe, 'train');
  const n = sampleCount(size, sequences.length);
  const examples = fixedMaskedSet(sequences, n, seed, mlmVocab(tokenizer)).map(({ input_ids, labels }) => ({
    input_ids,
    labels,
  }));
  return { examples, available: sequences.length };
}
