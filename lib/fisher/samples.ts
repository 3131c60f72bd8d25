/**
 * The samples a Fisher estimate is taken over: a seeded sub-sample of the pretraining corpus's training split,
 * packed and masked as pretraining does (the authors take `shuffle(seed).select(range(n))` of the corpus).
 */
import * as fs from 'fs';
import * as path from 'path';
import { corpusStats, CorpusStats, corpusUnavailable, loadCorpus, splitCorpus } from '../pretrain/corpus';
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
  /** The sizes of the two splits pretraining saw, from its report (absent for "defaults" and older reports). */
  stats?: { train: CorpusStats; heldOut: CorpusStats };
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
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    settings?: Partial<PretrainSettings>;
    corpus?: { train?: CorpusStats; heldOut?: CorpusStats };
  };
  const saved = report.settings;
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
  const recipe: PretrainingRecipe = {
    corpus,
    heldOutFraction,
    splitSeed: seed,
    maxLength,
    source: projectRelative(file),
  };
  const { train, heldOut } = report.corpus ?? {};
  if (train && heldOut) recipe.stats = { train, heldOut };
  return recipe;
}

/** A recipe with its corpus or sequence length replaced; another corpus drops the report's counts, which no longer apply. */
export function overrideRecipe(
  recipe: PretrainingRecipe,
  o: { corpus?: string; maxLength?: number },
): PretrainingRecipe {
  const out = { ...recipe, ...(o.maxLength !== undefined && { maxLength: o.maxLength }) };
  if (o.corpus !== undefined && o.corpus !== recipe.corpus) {
    out.corpus = o.corpus;
    delete out.stats;
  }
  return out;
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

/**
 * The packed sequences of one part (training or held-out split) of a recipe's corpus, as pretraining packed them;
 * refused when the corpus cannot be loaded here or differs from the one the recipe's report counted.
 */
export function recipeSequences(
  tokenizer: Tokenizer,
  recipe: PretrainingRecipe,
  part: 'train' | 'heldOut',
): number[][] {
  const missing = corpusUnavailable(recipe.corpus);
  if (missing !== null)
    throw new Error(`${recipe.source}: this needs the model's pretraining corpus (${recipe.corpus}), and ${missing}`);
  const split = splitCorpus(loadCorpus(recipe.corpus), {
    heldOutFraction: recipe.heldOutFraction,
    seed: recipe.splitSeed,
  });
  const want = recipe.stats?.[part];
  if (want) {
    const got = corpusStats(split[part]);
    const count = (c: CorpusStats) => `${c.documents} documents, ${c.sentences} sentences, ${c.words} words`;
    if (got.documents !== want.documents || got.sentences !== want.sentences || got.words !== want.words)
      throw new Error(
        `${recipe.source}: the ${part === 'train' ? 'training' : 'held-out'} split of ${recipe.corpus} loaded here has ${count(got)}; the model was pretrained on ${count(want)} (different source files, e.g. another copy of the GLUE tasks?)`,
      );
  }
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
