/**
 * Reading sweep results the way the paper reports them: Table 2 (methods side by side per task, with a paired test
 * of guided against each baseline over seeds), Figure 4 (score against training-set percentage) and the spread over
 * random restarts; and our scores beside the authors' (paper.ts).
 */
import type { TopLevelSpec } from 'vega-lite';
import { PAPER_GUIDED_BERT_BASE } from '../paper';
import { meanStd, median } from '../util/stats';
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

/** Method a minus method b over the seeds both ran in one (task, pct) cell: same seed, same split, order and classifier initialization. */
export interface PairedDifference {
  n: number;
  mean: number;
  /** Standard error of the mean difference (sample std / √n). */
  se: number;
  /** Seeds where a scored higher / lower than b. */
  wins: number;
  losses: number;
}

/** The paired difference of two methods' headline scores in one cell (null with fewer than 2 shared seeds). */
export function pairedDifference(
  records: readonly SweepRecord[],
  task: string,
  pct: number,
  a: string,
  b: string,
): PairedDifference | null {
  const bySeed = (method: string) =>
    new Map(
      records
        .filter((r) => r.task === task && r.pct === pct && r.method === method)
        .map((r) => [r.seed, headlineScore(r)]),
    );
  const [sa, sb] = [bySeed(a), bySeed(b)];
  const diffs = [...sa].filter(([seed]) => sb.has(seed)).map(([seed, v]) => v - sb.get(seed)!);
  if (diffs.length < 2) return null;
  const { mean, std } = meanStd(diffs);
  return {
    n: diffs.length,
    mean,
    se: std / Math.sqrt(diffs.length),
    wins: diffs.filter((d) => d > 0).length,
    losses: diffs.filter((d) => d < 0).length,
  };
}

/** How method a compares with method b in a cell: clearly better or worse (a difference beyond twice its standard error), else unclear. */
export type Verdict = 'better' | 'worse' | 'unclear';

/** The verdict of a paired difference a − b (unclear without one). */
export function verdict(d: PairedDifference | null): Verdict {
  if (!d || !(Math.abs(d.mean) > 2 * d.se)) return 'unclear';
  return d.mean > 0 ? 'better' : 'worse';
}

/** "+0.012 ± 0.004 (3–0)", and whether the difference is beyond twice its standard error. */
export function describeDifference(d: PairedDifference | null, digits = 3): { text: string; clear: boolean } {
  if (!d) return { text: 'n/a', clear: false };
  const sign = d.mean >= 0 ? '+' : '−';
  return {
    text: `${sign}${Math.abs(d.mean).toFixed(digits)} ± ${d.se.toFixed(digits)} (${d.wins}–${d.losses})`,
    clear: verdict(d) !== 'unclear',
  };
}

/**
 * The paper's Table 2: a row per task at one training percentage (`largest`: each task's largest swept percentage),
 * a column per method (mean ± std over seeds, the best starred), and guided minus each baseline, paired by seed;
 * `floors` (e.g. the majority class) get a column each before the methods.
 */
export function table2(
  records: readonly SweepRecord[],
  pct: number | 'largest',
  methods: readonly string[] = ['standard', 'guided', 'gaussian'],
  floors: readonly CellScore[] = [],
): Array<Record<string, string | number>> {
  return table2Cells(records, pct).map(({ task, pct: p }) => cellRow(records, task, p, methods, floors));
}

/** Table 2's tasks grouped per baseline by the verdict of guided against it, at the same percentages as `table2`. */
export function table2Verdicts(
  records: readonly SweepRecord[],
  pct: number | 'largest',
  baselines: readonly string[] = ['standard', 'gaussian'],
): Array<{ baseline: string } & Record<Verdict, string[]>> {
  const cells = table2Cells(records, pct);
  return baselines.map((baseline) => {
    const out: { baseline: string } & Record<Verdict, string[]> = { baseline, better: [], worse: [], unclear: [] };
    for (const { task, pct: p } of cells)
      out[verdict(pairedDifference(records, task, p, 'guided', baseline))].push(task);
    return out;
  });
}

/** Table 2's (task, pct) cells: a task per row at `pct`, or at each task's largest swept percentage. */
function table2Cells(records: readonly SweepRecord[], pct: number | 'largest'): Array<{ task: string; pct: number }> {
  return tasksOf(records).map((task) => ({
    task,
    pct: pct === 'largest' ? Math.max(...records.filter((r) => r.task === task).map((r) => r.pct)) : pct,
  }));
}

/** Figure 4 as a table: Table 2's columns for every task and training percentage, tasks in record order, sizes ascending. */
export function paucityTable(
  records: readonly SweepRecord[],
  methods: readonly string[] = ['standard', 'guided', 'gaussian'],
  floors: readonly CellScore[] = [],
): Array<Record<string, string | number>> {
  return tasksOf(records).flatMap((task) =>
    [...new Set(records.filter((r) => r.task === task).map((r) => r.pct))]
      .sort((a, b) => a - b)
      .map((p) => cellRow(records, task, p, methods, floors)),
  );
}

/** The tasks of some records, in the order they first appear. */
function tasksOf(records: readonly SweepRecord[]): string[] {
  return [...new Set(records.map((r) => r.task))];
}

/** One (task, pct) row: seeds, floors, each method's mean ± std (the best starred), guided minus each baseline. */
function cellRow(
  records: readonly SweepRecord[],
  task: string,
  p: number,
  methods: readonly string[],
  floors: readonly CellScore[],
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
  for (const base of methods.filter((m) => m !== 'guided')) {
    const d = describeDifference(pairedDifference(records, task, p, 'guided', base));
    row[`guided − ${base}`] = d.text + (d.clear ? ' (clear)' : '');
  }
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

/** Per task the authors report: the score lost going from 100% to 50% of the training data, theirs (guided) and ours per method (NaN without both cells). */
export function paucityDrops(
  cells: readonly CellScore[],
  methods: readonly string[] = ['standard', 'guided', 'gaussian'],
): Array<Record<string, string | number>> {
  const tasks = [...new Set(PAPER_GUIDED_BERT_BASE.map((p) => p.task))];
  const drop = (task: string, method: string) => {
    const [full, half] = [100, 50].map((pct) =>
      cells.find((c) => c.task === task && c.pct === pct && c.method === method),
    );
    return full && half ? full.mean - half.mean : NaN;
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
