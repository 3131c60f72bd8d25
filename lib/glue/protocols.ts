/**
 * Train/evaluation splits for GLUE fine-tuning: the authors' pooled 80/20 split, the official train/dev split, and
 * data paucity (a percentage of the training split).
 *
 * Shuffles use the project's seeded Rng (lib/util/random.ts), so a seed gives the same split on every machine. They
 * cannot equal the authors' splits: those come from Hugging Face datasets' `shuffle(seed)` (numpy's PCG64), a
 * different generator. Sizes do match theirs exactly (see paper.md §4.3).
 */
import { AUTHORS_TEST_FRACTION } from '../paper';
import { Rng, mixSeed } from '../util/random';
import { Example } from './load';

/** Examples to train on and the evaluation sets, keyed by name (the first is the one the main score uses). */
export interface Split {
  train: Example[];
  eval: Record<string, Example[]>;
}

/** Stream numbers that keep the two shuffles of one seed independent. */
const SPLIT_STREAM = 1;
const PAUCITY_STREAM = 2;

/**
 * The authors' protocol (paper.md §4.3): train and the dev set pooled (train first), shuffled by seed, the first
 * 80% trained on and the last ceil(0.2·n) held out as `test`, as Hugging Face's `train_test_split` counts. When a
 * task has several dev sets (MNLI: dev_matched, dev_mismatched) they stay the evaluation sets and only train is
 * shuffled, as the authors do for MNLI.
 */
export function authorsSplit(train: Example[], dev: Record<string, Example[]>, seed: number): Split {
  const rng = new Rng(mixSeed(checkSeed(seed), SPLIT_STREAM));
  const sets = Object.values(dev);
  if (sets.length === 0) throw new Error('authorsSplit: no dev set given');
  if (sets.length > 1) return { train: rng.shuffle([...train]), eval: dev };
  const pool = rng.shuffle([...train, ...sets[0]]);
  const held = Math.ceil(AUTHORS_TEST_FRACTION * pool.length);
  return { train: pool.slice(0, pool.length - held), eval: { test: pool.slice(pool.length - held) } };
}

/** The official protocol: train on the train split, evaluate on the dev set(s). */
export function officialSplit(train: Example[], dev: Record<string, Example[]>): Split {
  if (Object.keys(dev).length === 0) throw new Error('officialSplit: no dev set given');
  return { train, eval: dev };
}

/**
 * Data paucity: the first pct% of the training examples after a shuffle by seed, floor(pct/100 · n) of them as the
 * authors' `range(int(pct/100 · len(train)))` counts, but at least 1; pct in (0, 100]. For one seed a smaller pct
 * gives a subset of a larger one. The evaluation sets are not touched.
 */
export function paucity(train: Example[], pct: number, seed: number): Example[] {
  if (!(pct > 0 && pct <= 100)) throw new Error(`training-set percentage ${pct} is outside (0, 100]`);
  if (train.length === 0) throw new Error('paucity: the training split is empty');
  const n = Math.max(1, Math.floor((pct / 100) * train.length));
  return new Rng(mixSeed(checkSeed(seed), PAUCITY_STREAM)).shuffle([...train]).slice(0, n);
}

/** A seed as given, when it is a non-negative integer below 2^32. */
function checkSeed(seed: number): number {
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32))
    throw new Error(`seed ${seed} is not an integer in [0, 2^32)`);
  return seed;
}
