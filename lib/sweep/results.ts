/**
 * Reading sweep results the way the paper reports them: Table 2 (methods side by side per task), Figure 4 (score
 * against training-set percentage) and the spread over random restarts, each with guided dropout tested against
 * every other method that has runs (standard, Gaussian, and the controls uniform-mean and shuffled): a two-sided
 * paired t-test over seeds per (task, pct) cell, Holm's correction across the cells of each table, and a verdict only
 * where the adjusted p is below 0.05. Also our scores beside the authors' (paper.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import { PAPER_GUIDED_BERT_BASE } from '../paper';
import { holm, meanStd, median, pairedTTest } from '../util/stats';
import type { SweepRecord } from './run';

/** The evaluation set a headline score comes from, among a run's set names: MNLI's matched dev set, else the first one. */
export function headlineSet(names: readonly string[]): string {
  if (names.length === 0) throw new Error('a run without evaluation sets');
  return names.includes('dev_matched') ? 'dev_matched' : names[0];
}

/** The evaluation set a record's headline score comes from. */
export function headlineEval(r: Pick<SweepRecord, 'final'>): string {
  if (Object.keys(r.final).length === 0) throw new Error('a sweep record without final scores');
  return headlineSet(Object.keys(r.final));
}

/** A record's headline score (the task's main score on its headline evaluation set; NaN stays NaN). */
export function headlineScore(r: Pick<SweepRecord, 'final'>): number {
  return r.final[headlineEval(r)].main ?? NaN;
}

/** Mean, std and count of one (task, pct, method) cell. */
export interface CellScore {
  task: string;
  pct: number;
  method: string;
  n: number;
  mean: number;
  std: number;
}

/** The (task, pct, method) cells of the records with the mean and sample std of their headline scores over seeds. */
export function cellScores(records: readonly SweepRecord[]): CellScore[] {
  const cells = new Map<string, { task: string; pct: number; method: string; values: number[] }>();
  for (const r of records) {
    const key = JSON.stringify([r.task, r.pct, r.method]);
    const cell = cells.get(key) ?? cells.set(key, { task: r.task, pct: r.pct, method: r.method, values: [] }).get(key)!;
    cell.values.push(headlineScore(r));
  }
  return [...cells.values()].map(({ values, ...c }) => ({ ...c, n: values.length, ...meanStd(values) }));
}

/**
 * Method a minus method b over the seeds both ran in one (task, pct) cell (same seed: same split, order and classifier
 * initialization), with Student's paired t-test of the differences (t on n − 1 degrees of freedom, exact p).
 */
export interface PairedDifference {
  /** Seeds both methods ran with a finite score. */
  n: number;
  mean: number;
  /** Standard error of the mean difference (sample std / √n). */
  se: number;
  /** mean / se (±Infinity when every difference is the same non-zero value, NaN when every difference is 0). */
  t: number;
  df: number;
  /** Two-sided p of the paired t-test: P(|T| ≥ |t|) on df degrees of freedom (1 when every difference is 0). */
  p: number;
  /** Seeds where a scored higher / lower than b. */
  wins: number;
  losses: number;
}

/** The paired difference a − b of two methods' headline scores in one cell, tested (null with fewer than 2 shared seeds). */
export function pairedDifference(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  a: string,
  b: string,
): PairedDifference | null {
  const pairs = pairedScores(records, task, pct, a, b);
  if (pairs.length < 2) return null;
  const test = pairedTTest(
    pairs.map(([x]) => x),
    pairs.map(([, y]) => y),
  );
  return {
    n: test.n,
    mean: test.meanDiff,
    se: test.se,
    t: test.t,
    df: test.df,
    p: Number.isNaN(test.pTwoSided) ? 1 : test.pTwoSided,
    wins: pairs.filter(([x, y]) => x > y).length,
    losses: pairs.filter(([x, y]) => x < y).length,
  };
}

/** The [a, b] headline scores of the seeds where both methods ran in a cell and both scores are finite, by seed. */
function pairedScores(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  a: string,
  b: string,
): Array<[number, number]> {
  const [sa, sb] = [scoresBySeed(records, task, pct, a), scoresBySeed(records, task, pct, b)];
  return [...sa]
    .filter(([seed]) => sb.has(seed))
    .sort(([s], [t]) => s - t)
    .map(([seed, x]) => [x, sb.get(seed)!]);
}

/** One method's finite headline scores in one (task, pct) cell, by seed. */
export function scoresBySeed(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  method: string,
): Map<number, number> {
  return new Map(
    records
      .filter((r) => r.task === task && r.pct === pct && r.method === method)
      .map((r) => [r.seed, headlineScore(r)] as [number, number])
      .filter(([, x]) => Number.isFinite(x)),
  );
}

/** The methods guided dropout is compared against, when their runs exist: the paper's two baselines and our two controls. */
export const GUIDED_BASELINES = ['standard', 'gaussian', 'uniform-mean', 'shuffled'] as const;

/** The columns of the tables, in order, when their runs exist. */
export const TABLE_METHODS = ['standard', 'guided', 'gaussian', 'uniform-mean', 'shuffled'] as const;

/** The family-wise level of the verdicts: a Holm-adjusted p below it is a difference. */
export const ALPHA = 0.05;

/**
 * Guided against one baseline in one (task, pct) cell: the paired t-test (null with fewer than 2 paired seeds) and
 * its p after Holm's correction across the family of comparisons it was made in (NaN without a test).
 */
export interface Comparison {
  task: string;
  pct: number;
  baseline: string;
  /** Paired seeds (those both methods ran with a finite score). */
  seeds: number;
  test: PairedDifference | null;
  /** Holm-adjusted two-sided p across the family's tested comparisons (NaN without a test). */
  pHolm: number;
}

/**
 * Guided against each baseline in each cell, as one family: a paired t-test per (cell, baseline) with at least 2
 * paired seeds, and Holm's correction across all of them. Baselines without any run in the records are skipped.
 */
export function compareGuided(
  records: readonly SweepRecord[],
  cells: ReadonlyArray<{ task: string; pct: number }>,
  baselines: readonly string[] = GUIDED_BASELINES,
): Comparison[] {
  const present = presentMethods(records, baselines);
  const out = cells.flatMap(({ task, pct }) =>
    present.map((baseline) => {
      const test = pairedDifference(records, task, pct, 'guided', baseline);
      const seeds = test?.n ?? pairedScores(records, task, pct, 'guided', baseline).length;
      return { task, pct, baseline, seeds, test, pHolm: NaN };
    }),
  );
  const tested = out.filter((c) => c.test);
  holm(tested.map((c) => c.test!.p)).forEach((p, i) => (tested[i].pHolm = p));
  return out;
}

/** The methods of a list that have at least one run in the records, in the list's order. */
export function presentMethods(records: readonly SweepRecord[], methods: readonly string[]): string[] {
  const ran = new Set<string>(records.map((r) => r.method));
  return methods.filter((m) => ran.has(m));
}

/** Table 2's family: guided against each baseline in each of the table's (task, pct) cells. */
export function table2Comparisons(
  records: readonly SweepRecord[],
  pct: number | 'largest',
  baselines: readonly string[] = GUIDED_BASELINES,
): Comparison[] {
  return compareGuided(records, table2Cells(records, pct), baselines);
}

/** Figure 4's family: guided against each baseline in every (task, pct) cell of the records. */
export function paucityComparisons(
  records: readonly SweepRecord[],
  baselines: readonly string[] = GUIDED_BASELINES,
): Comparison[] {
  return compareGuided(records, paucityCells(records), baselines);
}

/** The restarts' family: guided against each baseline in one (task, pct) cell. */
export function restartComparisons(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  baselines: readonly string[] = GUIDED_BASELINES,
): Comparison[] {
  return compareGuided(records, [{ task, pct }], baselines);
}

/**
 * How guided compares with a baseline in a cell: better or worse where the Holm-adjusted two-sided p of the paired
 * t-test is below ALPHA (0.05) across its family, else unclear; untested with fewer than 2 paired seeds.
 */
export type Verdict = 'better' | 'worse' | 'unclear' | 'untested';

/** The verdict of one comparison of guided against a baseline. */
export function verdict(c: Pick<Comparison, 'test' | 'pHolm'>): Verdict {
  if (!c.test) return 'untested';
  if (!(c.pHolm < ALPHA)) return 'unclear';
  return c.test.mean > 0 ? 'better' : 'worse';
}

/** A p-value with 3 decimals, "< 0.001" below that, "—" for none. */
export function formatP(p: number): string {
  if (Number.isNaN(p)) return '—';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/**
 * One comparison in words: the difference "+0.012 ± 0.004 (3–0)" (mean ± standard error, wins–losses; "n/a" without
 * a test), the raw and Holm-adjusted two-sided p, and the verdict with its seeds: "guided better (5 seeds)", "no
 * clear difference (3 seeds)", or "no test (1 paired seed)".
 */
export function describeDifference(
  c: Comparison,
  digits = 3,
): { text: string; p: string; pHolm: string; verdict: string } {
  const v = verdict(c);
  const seeds = `${c.seeds} ${c.test ? 'seeds' : c.seeds === 1 ? 'paired seed' : 'paired seeds'}`;
  const words = { better: 'guided better', worse: 'guided worse', unclear: 'no clear difference', untested: 'no test' };
  const d = c.test;
  const sign = d && d.mean < 0 ? '−' : '+';
  return {
    text: d ? `${sign}${Math.abs(d.mean).toFixed(digits)} ± ${d.se.toFixed(digits)} (${d.wins}–${d.losses})` : 'n/a',
    p: formatP(d?.p ?? NaN),
    pHolm: formatP(c.pHolm),
    verdict: `${words[v]} (${seeds})`,
  };
}

/** A family as a long table: one row per (cell, baseline) with the difference, t, raw and Holm-adjusted p, and the verdict. */
export function comparisonRows(family: readonly Comparison[]): Array<Record<string, string | number>> {
  return family.map((c) => {
    const d = describeDifference(c);
    return {
      task: c.task,
      '% of training data': c.pct,
      baseline: c.baseline,
      'guided − baseline (mean ± se, wins–losses)': d.text,
      t: c.test ? `${c.test.t.toFixed(2)} (${c.test.df} df)` : '—',
      p: d.p,
      'Holm p': d.pHolm,
      verdict: d.verdict,
    };
  });
}

/**
 * The paper's Table 2: a row per task at one training percentage (`largest`: each task's largest swept percentage),
 * a column per method that has runs (mean ± std over seeds, the best starred), and guided against each other method
 * as one family of paired t-tests (table2Comparisons): the difference, its raw and Holm-adjusted two-sided p, and the
 * verdict (rowColumns). `floors` (e.g. the majority class) get a column each before the methods.
 */
export function table2(
  records: readonly SweepRecord[],
  pct: number | 'largest',
  methods: readonly string[] = TABLE_METHODS,
  floors: readonly CellScore[] = [],
): Array<Record<string, string | number>> {
  const shown = presentMethods(records, methods);
  const family = table2Comparisons(records, pct, baselinesOf(shown));
  return table2Cells(records, pct).map(({ task, pct: p }) => cellRow(records, task, p, shown, floors, family));
}

/** Table 2's (task, pct) cells: a task per row at `pct`, or at each task's largest swept percentage. */
function table2Cells(records: readonly SweepRecord[], pct: number | 'largest'): Array<{ task: string; pct: number }> {
  return tasksOf(records).map((task) => ({
    task,
    pct: pct === 'largest' ? Math.max(...records.filter((r) => r.task === task).map((r) => r.pct)) : pct,
  }));
}

/** Every (task, pct) cell of the records: tasks in record order, percentages ascending. */
function paucityCells(records: readonly SweepRecord[]): Array<{ task: string; pct: number }> {
  return tasksOf(records).flatMap((task) =>
    [...new Set(records.filter((r) => r.task === task).map((r) => r.pct))]
      .sort((a, b) => a - b)
      .map((pct) => ({ task, pct })),
  );
}

/**
 * Figure 4 as a table: Table 2's columns for every task and training percentage, tasks in record order, sizes
 * ascending; the tests of guided against each baseline form one family over all tasks × percentages × baselines.
 */
export function paucityTable(
  records: readonly SweepRecord[],
  methods: readonly string[] = TABLE_METHODS,
  floors: readonly CellScore[] = [],
): Array<Record<string, string | number>> {
  const shown = presentMethods(records, methods);
  const family = paucityComparisons(records, baselinesOf(shown));
  return paucityCells(records).map(({ task, pct }) => cellRow(records, task, pct, shown, floors, family));
}

/** The baselines among some methods: all but guided. */
function baselinesOf(methods: readonly string[]): string[] {
  return methods.filter((m) => m !== 'guided');
}

/** The tasks of some records, in the order they first appear. */
function tasksOf(records: readonly SweepRecord[]): string[] {
  return [...new Set(records.map((r) => r.task))];
}

/** The columns of one comparison of guided against a baseline, as the tables show it. */
export function comparisonColumns(c: Comparison): Record<string, string> {
  const d = describeDifference(c);
  return {
    [`guided − ${c.baseline}`]: d.text,
    [`p, ${c.baseline}`]: d.p,
    [`Holm p, ${c.baseline}`]: d.pHolm,
    [`verdict, ${c.baseline}`]: d.verdict,
  };
}

/**
 * One (task, pct) row: seeds, floors, each method's mean ± std (the best starred), then guided against each baseline
 * (comparisonColumns) from the family the table was tested in.
 */
function cellRow(
  records: readonly SweepRecord[],
  task: string,
  p: number,
  methods: readonly string[],
  floors: readonly CellScore[],
  family: readonly Comparison[],
): Record<string, string | number> {
  const cells = cellScores(records.filter((r) => r.task === task && r.pct === p));
  const row: Record<string, string | number> = {
    task,
    '% of training data': p,
    seeds: Math.max(0, ...cells.map((c) => c.n)),
  };
  for (const f of floors.filter((x) => x.task === task && x.pct === p))
    row[f.method] = `${f.mean.toFixed(3)} ± ${f.std.toFixed(3)}`;
  const means = methods.map((m) => cells.find((c) => c.method === m)).filter((c): c is CellScore => c !== undefined);
  const best = means.length ? means.reduce((a, b) => (b.mean > a.mean ? b : a)).method : '';
  for (const m of methods) {
    const c = cells.find((x) => x.method === m);
    row[m] = c ? `${c.mean.toFixed(3)} ± ${c.std.toFixed(3)}${m === best ? ' ★' : ''}` : '—';
  }
  for (const c of family.filter((x) => x.task === task && x.pct === p)) Object.assign(row, comparisonColumns(c));
  return row;
}

/** Our guided mean ± std beside the authors' BERT-base guided score (paper.ts) for each task they report at 100%. */
export function guidedAgainstPaper(cells: readonly CellScore[]): Array<Record<string, string | number>> {
  return PAPER_GUIDED_BERT_BASE.filter((p) => p.pct === 100).map((p) => {
    const c = cells.find((x) => x.task === p.task && x.pct === 100 && x.method === 'guided');
    return {
      task: p.task,
      'BERT-base, guided (authors)': p.value,
      'their metric': p.note,
      'ours, guided': c ? `${c.mean.toFixed(3)} ± ${c.std.toFixed(3)}` : '—',
    };
  });
}

/**
 * The drop of each method's mean score from 100% to 50% of the training data beside the authors' guided BERT-base
 * drop; one column per method of TABLE_METHODS with cells, "—" where a method lacks either size.
 */
export function paucityDrops(
  cells: readonly CellScore[],
  methods: readonly string[] = TABLE_METHODS.filter((m) => cells.some((c) => c.method === m)),
): Array<Record<string, string | number>> {
  const tasks = [...new Set(PAPER_GUIDED_BERT_BASE.map((p) => p.task))];
  const drop = (task: string, method: string) => {
    const [full, half] = [100, 50].map((pct) =>
      cells.find((c) => c.task === task && c.pct === pct && c.method === method),
    );
    return full && half ? full.mean - half.mean : '—';
  };
  return tasks.map((task) => {
    const paper = (pct: number) => PAPER_GUIDED_BERT_BASE.find((p) => p.task === task && p.pct === pct)!.value;
    return {
      task,
      'BERT-base guided (authors)': paper(100) - paper(50),
      ...Object.fromEntries(methods.map((m) => [`ours: ${m}`, drop(task, m)])),
    };
  });
}

/** Figure 4: mean ± std of each method's headline score against the training percentage, one panel per task; floor cells (e.g. the majority class) dashed. */
export function paucitySpec(
  cells: readonly CellScore[],
  title = 'Score against training-set size (Figure 4)',
  floors: readonly string[] = ['majority class'],
): TopLevelSpec {
  const values = cells.map((c) => ({
    ...c,
    lo: c.mean - c.std,
    hi: c.mean + c.std,
    line: floors.includes(c.method) ? 'floor' : 'method',
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: title,
      subtitle: 'mean over seeds; bars: ± one standard deviation; dashed: a floor; each task on its own scale',
    },
    data: { values },
    facet: { column: { field: 'task', type: 'nominal', title: null } },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 200,
      height: 200,
      encoding: {
        x: {
          field: 'pct',
          type: 'quantitative',
          scale: { type: 'log' },
          title: 'training data (% of the split, log scale)',
        },
        color: { field: 'method', type: 'nominal', title: 'dropout' },
      },
      layer: [
        {
          mark: { type: 'line', point: true },
          encoding: {
            y: { field: 'mean', type: 'quantitative', scale: { zero: false }, title: 'main score' },
            strokeDash: {
              field: 'line',
              type: 'nominal',
              scale: {
                domain: ['method', 'floor'],
                range: [
                  [1, 0],
                  [4, 3],
                ],
              },
              legend: null,
            },
          },
        },
        {
          mark: { type: 'errorbar' },
          encoding: { y: { field: 'lo', type: 'quantitative', title: 'main score' }, y2: { field: 'hi' } },
        },
      ],
    },
  } as TopLevelSpec;
}

/** Spread of one cell's headline scores over restarts, per method. */
export interface RestartStats {
  method: string;
  n: number;
  mean: number;
  std: number;
  median: number;
  min: number;
  max: number;
  /** Runs whose score is at or below `failAt` (for CoLA, MCC ≤ 0: a classifier that predicts one class). */
  failed: number;
}

/** Per method: the distribution of headline scores over seeds in one (task, pct) cell. */
export function restartStats(records: readonly SweepRecord[], task: string, pct: number, failAt = 0): RestartStats[] {
  const methods = [...new Set(records.filter((r) => r.task === task && r.pct === pct).map((r) => r.method))];
  return methods.map((method) => {
    const xs = records
      .filter((r) => r.task === task && r.pct === pct && r.method === method)
      .map(headlineScore)
      .sort((a, b) => a - b);
    return {
      method,
      n: xs.length,
      ...meanStd(xs),
      median: median(xs),
      min: xs[0],
      max: xs[xs.length - 1],
      failed: xs.filter((x) => x <= failAt).length,
    };
  });
}

/** One point per restart and a box per method: the spread of fine-tuning outcomes. */
export function restartsSpec(records: readonly SweepRecord[], task: string, pct: number): TopLevelSpec {
  const values = records
    .filter((r) => r.task === task && r.pct === pct)
    .map((r) => ({ method: r.method, seed: r.seed, score: headlineScore(r) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: `${task} over random restarts (${pct}% of the training data)`,
      subtitle: 'one point per seed; box: quartiles',
    },
    data: { values },
    width: 320,
    height: 240,
    encoding: {
      x: { field: 'method', type: 'nominal', title: 'dropout' },
      y: { field: 'score', type: 'quantitative', scale: { zero: false }, title: 'main score' },
    },
    layer: [
      { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.35 } },
      {
        mark: { type: 'point', filled: true, opacity: 0.8 },
        encoding: {
          xOffset: { field: 'seed', type: 'nominal' },
          color: { field: 'method', type: 'nominal', legend: null },
        },
      },
    ],
  } as TopLevelSpec;
}
