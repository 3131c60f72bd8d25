/**
 * The guided-dropout schedule: dropout sites ranked by the Fisher score of the group preceding them get a dropout
 * probability falling linearly from P_upper (lowest score) to P_lower (highest score); also the authors' schedule.
 */
import type { GroupKind } from '../fisher/aggregate';

/** A dropout site and its Fisher score (a SiteScore from fisher-aggregate fits). */
export interface ScoredSite {
  site: string;
  score: number;
}

/** The paper's range (algorithm box): P_upper = 10%, P_lower = 0%. */
export const P_UPPER = 0.1;
export const P_LOWER = 0;
/** The top probability the authors' code actually used: np.arange(0, 0.099, 0.00275) reversed (paper.md §1.5). */
export const AUTHORS_P_UPPER = 0.099;

/** Site → rank by ascending score (0 = lowest), ties broken by input (forward) order; keys in input order. */
export function siteRanks(sites: readonly ScoredSite[]): Map<string, number> {
  const names = new Set(sites.map((s) => s.site));
  if (names.size !== sites.length) throw new Error('guided dropout: a dropout site is listed twice');
  for (const s of sites) {
    if (!Number.isFinite(s.score))
      throw new Error(`guided dropout: site "${s.site}" has score ${s.score}, not a finite number`);
  }
  const order = sites.map((_, i) => i).sort((a, b) => sites[a].score - sites[b].score || a - b);
  const rank = new Array<number>(sites.length);
  order.forEach((i, r) => (rank[i] = r));
  return new Map(sites.map((s, i) => [s.site, rank[i]]));
}

/** Site → p with p(r) = pUpper − (pUpper − pLower)·r/(S − 1) for the site of ascending rank r among S; keys in input order. */
export function linearSchedule(sites: readonly ScoredSite[], pUpper = P_UPPER, pLower = P_LOWER): Map<string, number> {
  if (!(pLower >= 0 && pLower <= pUpper && pUpper < 1)) {
    throw new Error(`guided dropout: need 0 <= pLower <= pUpper < 1 (got pLower ${pLower}, pUpper ${pUpper})`);
  }
  const ranks = siteRanks(sites);
  const steps = Math.max(1, sites.length - 1);
  return new Map([...ranks].map(([site, r]) => [site, pUpper - (pUpper - pLower) * (r / steps)]));
}

/**
 * The authors' variant: linear from 0.099 down to 0. For BERT-base's 37 sites it is exactly their
 * p(r) = 0.099 − 0.00275·r; for other site counts it keeps their end points (their step only fits 37 sites).
 */
export function authorsSchedule(sites: readonly ScoredSite[]): Map<string, number> {
  return linearSchedule(sites, AUTHORS_P_UPPER, 0);
}

/** One row of the authors' BERT-base schedule. */
export interface AuthorsScheduleRow {
  /** Fisher rank, 0 = lowest. */
  rank: number;
  /** Index in `enumerate(model.modules())` of transformers ≈4.2x BertForSequenceClassification. */
  moduleIndex: number;
  /** Encoder layer, or null for the embeddings. */
  layer: number | null;
  /** The kind of group whose Fisher score placed the site. */
  kind: GroupKind;
  /** Hugging Face name of the dropout module. */
  site: string;
  p: number;
}

/**
 * The authors' BERT-base guided-dropout schedule in ascending Fisher order: the paper's data (their code and
 * notebook output), copied from the table in paper.md §1.5, as [module index, layer, group kind, p].
 */
const AUTHORS_ROWS: Array<[number, number | null, GroupKind, number]> = [
  [136, 7, 'attention_self', 0.099],
  [187, 10, 'attention_self', 0.09625],
  [170, 9, 'attention_self', 0.0935],
  [153, 8, 'attention_self', 0.09075],
  [34, 1, 'attention_self', 0.088],
  [119, 6, 'attention_self', 0.08525],
  [204, 11, 'attention_self', 0.0825],
  [51, 2, 'attention_self', 0.07975],
  [16, 0, 'attention_self', 0.077],
  [102, 5, 'attention_self', 0.07425],
  [68, 3, 'attention_self', 0.0715],
  [85, 4, 'attention_self', 0.06875],
  [208, 11, 'attention_output', 0.066],
  [20, 0, 'attention_output', 0.06325],
  [174, 9, 'attention_output', 0.0605],
  [191, 10, 'attention_output', 0.05775],
  [140, 7, 'attention_output', 0.055],
  [38, 1, 'attention_output', 0.05225],
  [123, 6, 'attention_output', 0.0495],
  [157, 8, 'attention_output', 0.04675],
  [55, 2, 'attention_output', 0.044],
  [106, 5, 'attention_output', 0.04125],
  [89, 4, 'attention_output', 0.0385],
  [72, 3, 'attention_output', 0.03575],
  [214, 11, 'output', 0.033],
  [180, 9, 'output', 0.03025],
  [129, 6, 'output', 0.0275],
  [112, 5, 'output', 0.02475],
  [61, 2, 'output', 0.022],
  [27, 0, 'output', 0.01925],
  [197, 10, 'output', 0.0165],
  [163, 8, 'output', 0.01375],
  [146, 7, 'output', 0.011],
  [44, 1, 'output', 0.00825],
  [95, 4, 'output', 0.0055],
  [78, 3, 'output', 0.00275],
  [7, null, 'embeddings', 0],
];

const SITE_SUFFIX: Partial<Record<GroupKind, string>> = {
  attention_self: 'attention.self.dropout',
  attention_output: 'attention.output.dropout',
  output: 'output.dropout',
};

/** The authors' BERT-base schedule (paper.md §1.5), 37 rows in ascending Fisher order. */
export const AUTHORS_BERT_BASE_SCHEDULE: readonly AuthorsScheduleRow[] = AUTHORS_ROWS.map(
  ([moduleIndex, layer, kind, p], rank) => ({
    rank,
    moduleIndex,
    layer,
    kind,
    site: layer === null ? 'bert.embeddings.dropout' : `bert.encoder.layer.${layer}.${SITE_SUFFIX[kind]}`,
    p,
  }),
);
