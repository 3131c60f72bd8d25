/**
 * The dropout methods compared in the paper, each turned into a setting for every dropout site of a model, by site
 * name: standard, none, guided (from a Fisher file), the authors' guided variant, Gaussian, and the authors' Gaussian.
 */
import * as path from 'path';
import { readConfig } from '../bert/config';
import type { DropoutSetting } from '../bert/dropout';
import { dropoutSiteNames, SEQUENCE_CLASSIFICATION } from '../bert/parameters';
import { dropoutSiteScores, groupScores } from '../fisher/aggregate';
import type { FisherInput, SiteScore } from '../fisher/aggregate';
import { readFisher } from '../fisher/estimate';
import { P_LOWER, P_UPPER } from '../paper';
import { mixSeed, Rng } from '../util/random';
import { mean } from '../util/stats';
import { authorsSchedule, linearSchedule, siteRanks } from './schedule';

/**
 * standard: Bernoulli p = 0.1 at every site (BERT's default). none: no dropout. guided: Bernoulli with p linear in
 * the Fisher rank of the group each site follows, P_upper at the lowest score to P_lower at the highest; the
 * classifier's `dropout` keeps 0.1. guided-authors: the same with the authors' values (0.099 down to 0: for
 * BERT-base's 37 sites exactly their step 0.00275, for other site counts the same end points). gaussian:
 * multiplicative N(1, p/(1−p)) noise, p = 0.1, at every site, in training only. gaussian-authors: the authors'
 * Gaussian baseline, with their std p/(1−p) (variance (p/(1−p))², not Srivastava's p/(1−p)) at every site including
 * the classifier's; their code also leaves the noise on at evaluation, a bug we do not copy: here, as for every
 * method, evaluation is deterministic. Two controls separate where guided dropout puts its p from how much it drops:
 * uniform-mean: Bernoulli at every encoder site with guided's mean p ((P_upper + P_lower)/2 = 0.05); shuffled:
 * guided's p values on a random order of the encoder sites, drawn from the run's seed. Both keep the classifier's 0.1
 * and need no Fisher.
 */
export const DROPOUT_METHODS = [
  'standard',
  'none',
  'guided',
  'guided-authors',
  'gaussian',
  'gaussian-authors',
  'uniform-mean',
  'shuffled',
] as const;
export type DropoutMethod = (typeof DROPOUT_METHODS)[number];

/** One line per method, for command-line help. */
export const METHODS_HELP = [
  "  standard          Bernoulli p = 0.1 at every site (BERT's default)",
  '  none              no dropout',
  '  guided            Bernoulli, p linear in the Fisher rank of the group each site follows: 0.1 (lowest) → 0 (highest); classifier 0.1',
  "  guided-authors    the same with the authors' values: 0.099 → 0 (step 0.00275 on BERT-base's 37 sites)",
  '  gaussian          multiplicative N(1, p/(1−p)) noise, p = 0.1, at every site, training only',
  "  gaussian-authors  the authors' Gaussian baseline: std p/(1−p) (not sqrt) at every site; training only here (their noise at evaluation is a bug)",
  "  uniform-mean      control: Bernoulli at guided's mean p (0.05) at every encoder site; classifier 0.1",
  "  shuffled          control: guided's p values (0.1 → 0) on a random order of the encoder sites, drawn from the run's seed; classifier 0.1",
].join('\n');

/** BERT's dropout probability at every site (hidden_dropout_prob = attention_probs_dropout_prob = 0.1). */
export const STANDARD_P = 0.1;

/** The name of the classifier's dropout site (before the classification head), kept at STANDARD_P by guided dropout. */
export const CLASSIFIER_SITE = 'dropout';

/** Options of the guided schedule. */
export interface GuidedOptions {
  /** p at the lowest-Fisher site (default 0.1). */
  pUpper?: number;
  /** p at the highest-Fisher site (default 0). */
  pLower?: number;
  /** The authors' values (0.099 → 0, step 0.00275 for 37 sites) instead of pUpper → pLower. */
  authors?: boolean;
}

/** One dropout site of a guided schedule: its Fisher score, rank (0 = lowest score) and dropout probability. */
export interface ScheduleRow extends SiteScore {
  rank: number;
  p: number;
}

/** Options of `methodDropout`. */
export interface MethodOptions extends Omit<GuidedOptions, 'authors'> {
  /** The pretrained model's Fisher (a file written by `fisherlab fisher`, or tensors); required by the guided methods. */
  fisher?: string | FisherInput;
  /** The model folder the Fisher file must fit (checked when `fisher` is a file). */
  model?: string;
  /** The run's seed: it draws the order of the sites of `shuffled` (required by that method). */
  seed?: number;
}

/** The method named `name`, or an error listing the methods. */
export function parseDropoutMethod(name: string): DropoutMethod {
  if (!(DROPOUT_METHODS as readonly string[]).includes(name))
    throw new Error(`unknown dropout method "${name}" (methods: ${DROPOUT_METHODS.join(', ')})`);
  return name as DropoutMethod;
}

/** The guided schedule of the encoder's dropout sites, in forward order; it depends on the pretrained model's Fisher only. */
export function guidedSchedule(fisher: FisherInput, opts: GuidedOptions = {}): ScheduleRow[] {
  if (opts.authors && (opts.pUpper !== undefined || opts.pLower !== undefined)) {
    throw new Error(
      "guided dropout: the authors' schedule fixes its own range (0.099 → 0); do not give P_upper or P_lower with it",
    );
  }
  const sites = dropoutSiteScores(groupScores(fisher));
  const probs = opts.authors
    ? authorsSchedule(sites)
    : linearSchedule(sites, opts.pUpper ?? P_UPPER, opts.pLower ?? P_LOWER);
  const rank = siteRanks(sites);
  return sites.map((s) => ({ ...s, rank: rank.get(s.site)!, p: probs.get(s.site)! }));
}

/** The dropout sites of the sequence-classification model fine-tuned from a Hugging Face BERT folder, in forward order. */
export function modelDropoutSites(modelDir: string): string[] {
  return dropoutSiteNames(readConfig(path.join(modelDir, 'config.json')), SEQUENCE_CLASSIFICATION);
}

/** Site → setting for every one of `sites` under a method (the guided ones need `opts.fisher`, matching the sites). */
export function methodDropout(
  method: DropoutMethod,
  sites: readonly string[],
  opts: MethodOptions = {},
): Record<string, DropoutSetting> {
  parseDropoutMethod(method);
  if (!LADDER_METHODS.includes(method) && (opts.pUpper !== undefined || opts.pLower !== undefined)) {
    throw new Error(
      `dropout method ${method}: pUpper and pLower apply to guided dropout only (guided, guided-authors and the controls uniform-mean, shuffled)`,
    );
  }
  const every = (setting: DropoutSetting) => Object.fromEntries(sites.map((s) => [s, { ...setting }]));
  switch (method) {
    case 'standard':
      return every({ kind: 'bernoulli', p: STANDARD_P });
    case 'none':
      return every({ kind: 'none', p: 0 });
    case 'gaussian':
      return every({ kind: 'gaussian', p: STANDARD_P });
    case 'gaussian-authors':
      return every({ kind: 'gaussian', p: authorsGaussianP(STANDARD_P) });
    case 'uniform-mean':
    case 'shuffled':
      return controlDropout(method, sites, opts);
    default:
      return guidedDropout(method === 'guided-authors', sites, opts);
  }
}

/** Guided settings for `sites`: the schedule's p at every encoder site, STANDARD_P at the classifier's; the sites must be the Fisher's. */
function guidedDropout(
  authors: boolean,
  sites: readonly string[],
  opts: MethodOptions,
): Record<string, DropoutSetting> {
  if (opts.fisher === undefined)
    throw new Error(
      `dropout method guided${authors ? '-authors' : ''} needs the pretrained model's Fisher file (--fisher FILE, written by \`fisherlab fisher\`)`,
    );
  const fisher = typeof opts.fisher === 'string' ? readFisher(opts.fisher, { model: opts.model }).tensors : opts.fisher;
  const schedule = guidedSchedule(fisher, { pUpper: opts.pUpper, pLower: opts.pLower, authors });
  const p = new Map(schedule.map((r) => [r.site, r.p]));
  p.set(CLASSIFIER_SITE, STANDARD_P);
  const unscheduled = sites.filter((s) => !p.has(s));
  const absent = schedule.map((r) => r.site).filter((s) => !sites.includes(s));
  if (unscheduled.length > 0 || absent.length > 0) {
    throw new Error(
      `guided dropout: the Fisher does not fit the model (its sites without a Fisher score: [${unscheduled.join(', ')}]; Fisher sites the model lacks: [${absent.join(', ')}])`,
    );
  }
  return Object.fromEntries(sites.map((s) => [s, { kind: 'bernoulli', p: p.get(s)! }]));
}

/** The methods that place guided dropout's ladder of p values (P_upper → P_lower) on the encoder's sites. */
const LADDER_METHODS: readonly DropoutMethod[] = ['guided', 'guided-authors', 'uniform-mean', 'shuffled'];

/** A stream of the seeded generator kept apart from the fine-tuning run's other draws. */
const SHUFFLE_STREAM = 0x5eed5;

/** Settings of the two controls: guided's p values, averaged (uniform-mean) or on a seeded random order (shuffled). */
function controlDropout(
  method: 'uniform-mean' | 'shuffled',
  sites: readonly string[],
  opts: MethodOptions,
): Record<string, DropoutSetting> {
  const encoder = sites.filter((s) => s !== CLASSIFIER_SITE);
  const ladder = [
    ...linearSchedule(
      encoder.map((site, i) => ({ site, score: i })),
      opts.pUpper ?? P_UPPER,
      opts.pLower ?? P_LOWER,
    ).values(),
  ];
  let p: number[];
  if (method === 'uniform-mean') {
    const average = mean(ladder);
    p = ladder.map(() => average);
  } else {
    if (opts.seed === undefined || !Number.isInteger(opts.seed))
      throw new Error("dropout method shuffled needs the run's seed (an integer) to draw the order of the sites");
    p = new Rng(mixSeed(opts.seed, SHUFFLE_STREAM)).shuffle(ladder);
  }
  const bySite = new Map(encoder.map((s, i) => [s, p[i]]));
  return Object.fromEntries(
    sites.map((s) => [s, { kind: 'bernoulli', p: s === CLASSIFIER_SITE ? STANDARD_P : bySite.get(s)! }]),
  );
}

/**
 * The p of our Gaussian kind (variance p/(1−p)) that gives the authors' noise for their p: std a = p/(1−p), i.e.
 * variance a², which is q/(1−q) for q = a²/(1 + a²) (p = 0.1: a = 1/9, q = 1/82).
 */
function authorsGaussianP(p: number): number {
  const a = p / (1 - p);
  return (a * a) / (1 + a * a);
}
