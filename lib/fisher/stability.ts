/**
 * Stability of the Fisher estimate under sub-sampling (the paper's Table 1: a 1% sub-sample suffices): how well
 * each estimate's per-tensor and dropout-site rankings, and the guided-dropout schedule they give, agree with a reference.
 */
import { dropoutSiteScores, groupScores, meansOf } from './aggregate';
import type { FisherInput, GroupWeighting, SiteScore } from './aggregate';
import { linearSchedule, siteRanks } from '../guided-dropout/schedule';
import type { ScoredSite } from '../guided-dropout/schedule';
import { spearmanCorrelation } from '../util/stats';

/** One Fisher estimate and how it was made. */
export interface LabelledFisher {
  /** Number of pretraining samples the estimate used. */
  sampleSize: number;
  /** Seed of the sub-sample (and masks). */
  seed: number;
  fisher: FisherInput;
}

export interface StabilityOptions {
  /** Index of the reference estimate (default: the largest sample size, the first listed among equals). */
  reference?: number;
  /** How group scores combine tensor means (default `tensor`, the authors'). */
  weighting?: GroupWeighting;
  /** Site scores → site → p (default linearSchedule with P_upper 0.1, P_lower 0). */
  schedule?: (sites: readonly ScoredSite[]) => Map<string, number>;
}

/** One row of the stability table: an estimate compared with the reference. */
export interface StabilityRow {
  sampleSize: number;
  seed: number;
  /** Whether this row is the reference itself. */
  reference: boolean;
  /** Spearman correlation of per-tensor mean Fisher scores with the reference's. */
  tensorSpearman: number;
  /** Spearman correlation of dropout-site scores with the reference's. */
  siteSpearman: number;
  /** Whether the sites' ascending order (ties broken by forward order) is the reference's. */
  sameSiteOrder: boolean;
  /** Number of sites whose rank differs from the reference's. */
  sitesMoved: number;
  /** Whether any site's dropout probability differs from the reference schedule's. */
  scheduleChanged: boolean;
  /** Largest |p − p_reference| over the sites. */
  maxPChange: number;
}

/** Compares every estimate with the reference: rank correlations, site order and schedule changes, in input order. */
export function fisherStability(estimates: readonly LabelledFisher[], options: StabilityOptions = {}): StabilityRow[] {
  if (estimates.length === 0) throw new Error('fisher stability: no estimates');
  const schedule = options.schedule ?? ((sites: readonly ScoredSite[]) => linearSchedule(sites));
  const refIndex = options.reference ?? largest(estimates);
  if (!(Number.isInteger(refIndex) && refIndex >= 0 && refIndex < estimates.length)) {
    throw new Error(`fisher stability: reference ${refIndex} is not an index of the ${estimates.length} estimates`);
  }
  const summaries = estimates.map((e) => {
    const means = [...meansOf(e.fisher)].sort((a, b) => a.index - b.index);
    const sites = dropoutSiteScores(groupScores(means, options.weighting));
    return { means, sites, ranks: siteRanks(sites), p: schedule(sites) };
  });
  const ref = summaries[refIndex];
  const refNames = ref.means.map((t) => t.name).join('\n');
  return estimates.map((e, i) => {
    const s = summaries[i];
    if (s.means.map((t) => t.name).join('\n') !== refNames) {
      throw new Error(
        `fisher stability: estimate ${i} (n=${e.sampleSize}, seed ${e.seed}) has other tensors than the reference`,
      );
    }
    const moved = ref.sites.filter((site) => s.ranks.get(site.site) !== ref.ranks.get(site.site)).length;
    const pChange = Math.max(...ref.sites.map((site) => Math.abs(s.p.get(site.site)! - ref.p.get(site.site)!)));
    return {
      sampleSize: e.sampleSize,
      seed: e.seed,
      reference: i === refIndex,
      tensorSpearman: spearmanCorrelation(
        s.means.map((t) => t.mean),
        ref.means.map((t) => t.mean),
      ),
      siteSpearman: spearmanCorrelation(scores(s.sites), scores(ref.sites)),
      sameSiteOrder: moved === 0,
      sitesMoved: moved,
      scheduleChanged: pChange > 0,
      maxPChange: pChange,
    };
  });
}

/** Index of the first estimate with the largest sample size. */
function largest(estimates: readonly LabelledFisher[]): number {
  return estimates.reduce((best, e, i) => (e.sampleSize > estimates[best].sampleSize ? i : best), 0);
}

/** The scores of sites, in their order. */
function scores(sites: readonly SiteScore[]): number[] {
  return sites.map((s) => s.score);
}
