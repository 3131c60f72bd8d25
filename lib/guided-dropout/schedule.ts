/**
 * The guided-dropout schedule: dropout sites ranked by the Fisher score of the group preceding them get a dropout
 * probability falling linearly from P_upper (lowest score) to P_lower (highest score); also the authors' schedule.
 */
import type { GroupKind } from '../fisher/aggregate';
import { AUTHORS_P_UPPER, AUTHORS_SCHEDULE_ROWS, P_LOWER, P_UPPER } from '../paper';

/** A dropout site and its Fisher score (a SiteScore from fisher-aggregate fits). */
export interface ScoredSite {
  site: string;
  score: number;
}

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

const SITE_SUFFIX: Partial<Record<GroupKind, string>> = {
  attention_self: 'attention.self.dropout',
  attention_output: 'attention.output.dropout',
  output: 'output.dropout',
};

/** The authors' BERT-base schedule (paper.md §1.5), 37 rows in ascending Fisher order. */
export const AUTHORS_BERT_BASE_SCHEDULE: readonly AuthorsScheduleRow[] = AUTHORS_SCHEDULE_ROWS.map(
  ([moduleIndex, layer, kind, p], rank) => ({
    rank,
    moduleIndex,
    layer,
    kind,
    site: layer === null ? 'bert.embeddings.dropout' : `bert.encoder.layer.${layer}.${SITE_SUFFIX[kind]}`,
    p,
  }),
);
