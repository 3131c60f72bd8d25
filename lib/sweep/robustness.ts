/**
 * The paper's two robustness claims as tests over seeds. Figure 4: guided dropout's gain over a baseline grows as
 * the training data shrink (the gain at a task's smallest size against its largest, seed by seed, by a paired
 * t-test). The restarts: guided dropout narrows the spread of fine-tuning outcomes (guided's variance over seeds
 * against a baseline's, paired by seed, by the Pitman–Morgan test). Each is one family with Holm's correction, and a
 * verdict only where the adjusted two-sided p is below ALPHA.
 */
import { holm, mean, pairedTTest, pitmanMorganTest, type PairedTTest, type PairedVarianceTest } from '../util/stats';
import { ALPHA, formatP, GUIDED_BASELINES, presentMethods, scoresBySeed } from './results';
import type { SweepRecord } from './run';

/** Guided's gain over a baseline at a task's smallest training size against at its largest, over the seeds of both. */
export interface GainGrowth {
  task: string;
  /** The task's smallest and largest training percentages where guided ran. */
  small: number;
  large: number;
  baseline: string;
  /** Seeds with finite scores for both methods at both sizes. */
  seeds: number;
  /** Mean gain (guided − baseline) over those seeds at each size. */
  gainSmall: number;
  gainLarge: number;
  /** Seeds where the gain at `small` is above / below the gain at `large`. */
  wins: number;
  losses: number;
  /** Paired t-test of the gain at `small` against the gain at `large` (null under 2 seeds). */
  test: PairedTTest | null;
  /** Holm-adjusted two-sided p across the family's tests (NaN without a test). */
  pHolm: number;
}

/** Guided's spread over seeds against a baseline's in one (task, pct) cell. */
export interface SpreadComparison {
  task: string;
  pct: number;
  baseline: string;
  /** Seeds both methods ran with a finite score. */
  seeds: number;
  /** Pitman–Morgan test of guided's variance (a) against the baseline's (b) (null under 3 seeds). */
  test: PairedVarianceTest | null;
  pHolm: number;
}

/** The seeds present in every map, ascending. */
function sharedSeeds(maps: ReadonlyArray<Map<number, number>>): number[] {
  return [...maps[0].keys()].filter((s) => maps.every((m) => m.has(s))).sort((a, b) => a - b);
}

/** Fills `pHolm` across the family members that have a test; a p of NaN (every difference 0) counts as 1. */
function adjust<T extends { test: { pTwoSided: number } | null; pHolm: number }>(family: T[]): T[] {
  const tested = family.filter((c) => c.test);
  holm(tested.map((c) => (Number.isNaN(c.test!.pTwoSided) ? 1 : c.test!.pTwoSided))).forEach(
    (p, i) => (tested[i].pHolm = p),
  );
  return family;
}

/**
 * Figure 4's claim, tested: for every task with two or more training sizes and every baseline with runs, guided's
 * gain over the baseline at the smallest size against at the largest, paired by seed (a seed draws the same
 * classifier initialization at each size, and the same shuffle of the training split, of which each size takes the
 * first part), as one family with Holm's correction.
 */
export function gainGrowth(
  records: readonly SweepRecord[],
  baselines: readonly string[] = GUIDED_BASELINES,
): GainGrowth[] {
  const family: GainGrowth[] = [];
  for (const task of [...new Set(records.map((r) => r.task))]) {
    const pcts = [...new Set(records.filter((r) => r.task === task && r.method === 'guided').map((r) => r.pct))].sort(
      (a, b) => a - b,
    );
    if (pcts.length < 2) continue;
    const [small, large] = [pcts[0], pcts[pcts.length - 1]];
    for (const baseline of presentMethods(records, baselines)) {
      const maps = [small, large].flatMap((pct) => [
        scoresBySeed(records, task, pct, 'guided'),
        scoresBySeed(records, task, pct, baseline),
      ]);
      const seeds = sharedSeeds(maps);
      const gain = (k: number) => seeds.map((s) => maps[2 * k].get(s)! - maps[2 * k + 1].get(s)!);
      const [atSmall, atLarge] = [gain(0), gain(1)];
      family.push({
        task,
        small,
        large,
        baseline,
        seeds: seeds.length,
        gainSmall: mean(atSmall),
        gainLarge: mean(atLarge),
        wins: seeds.filter((_, i) => atSmall[i] > atLarge[i]).length,
        losses: seeds.filter((_, i) => atSmall[i] < atLarge[i]).length,
        test: seeds.length >= 2 ? pairedTTest(atSmall, atLarge) : null,
        pHolm: NaN,
      });
    }
  }
  return adjust(family);
}

/** The restarts' spread claim, tested: guided's variance over seeds against each baseline's in one cell, one family with Holm's correction. */
export function restartSpread(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  baselines: readonly string[] = GUIDED_BASELINES,
): SpreadComparison[] {
  const guided = scoresBySeed(records, task, pct, 'guided');
  return adjust(
    presentMethods(records, baselines).map((baseline) => {
      const other = scoresBySeed(records, task, pct, baseline);
      const seeds = sharedSeeds([guided, other]);
      const test =
        seeds.length >= 3
          ? pitmanMorganTest(
              seeds.map((s) => guided.get(s)!),
              seeds.map((s) => other.get(s)!),
            )
          : null;
      return { task, pct, baseline, seeds: seeds.length, test, pHolm: NaN };
    }),
  );
}

/** A signed number with `digits` decimals and a true minus sign. */
function signed(x: number, digits = 3): string {
  return `${x < 0 ? '−' : '+'}${Math.abs(x).toFixed(digits)}`;
}

/** Which way a tested family member points where its Holm p is below ALPHA: `up` for a positive statistic, else `down`. */
function direction(c: { test: { t: number } | null; pHolm: number }, up: string, down: string, none: string): string {
  if (!c.test) return 'no test';
  return c.pHolm < ALPHA ? (c.test.t > 0 ? up : down) : none;
}

/** Figure 4's gain-growth family as a table: the gains at both sizes, their change, t, raw and Holm p, and the verdict. */
export function gainGrowthRows(family: readonly GainGrowth[]): Array<Record<string, string | number>> {
  return family.map((c) => {
    const d = c.test;
    return {
      task: c.task,
      sizes: `${c.small}% vs ${c.large}%`,
      baseline: c.baseline,
      'gain, smallest size': c.seeds ? signed(c.gainSmall) : '—',
      'gain, largest size': c.seeds ? signed(c.gainLarge) : '—',
      'change (mean ± se, wins–losses)': d
        ? `${signed(d.meanDiff)} ± ${d.se.toFixed(3)} (${c.wins}–${c.losses})`
        : 'n/a',
      t: d ? `${d.t.toFixed(2)} (${d.df} df)` : '—',
      p: formatP(d ? (Number.isNaN(d.pTwoSided) ? 1 : d.pTwoSided) : NaN),
      'Holm p': formatP(c.pHolm),
      verdict: `${direction(c, 'gain grows as data shrink', 'gain shrinks as data shrink', 'no clear change')} (${c.seeds} seeds)`,
    };
  });
}

/** The restarts' spread family as a table: each side's standard deviation, their ratio, r, t, raw and Holm p, and the verdict. */
export function restartSpreadRows(family: readonly SpreadComparison[]): Array<Record<string, string | number>> {
  return family.map((c) => {
    const d = c.test;
    return {
      baseline: c.baseline,
      'sd, guided': d ? d.sdA.toFixed(3) : '—',
      'sd, baseline': d ? d.sdB.toFixed(3) : '—',
      'guided / baseline': d ? (d.sdA / d.sdB).toFixed(2) : '—',
      r: d ? d.r.toFixed(2) : '—',
      t: d ? `${d.t.toFixed(2)} (${d.df} df)` : '—',
      p: formatP(d?.pTwoSided ?? NaN),
      'Holm p': formatP(c.pHolm),
      verdict: `${direction(c, 'guided wider', 'guided narrower', 'no clear difference')} (${c.seeds} seeds)`,
    };
  });
}
