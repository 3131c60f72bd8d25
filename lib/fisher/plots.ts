/**
 * Vega-Lite specs for the paper's Fisher figures on our model: sorted per-parameter and per-tensor scores, tensor
 * means in architectural order, dropout-site scores, the guided-dropout schedule (ours and the authors'), and the
 * stability of the estimate under sub-sampling. Pure functions: notebooks render them with `show(spec, name)`.
 */
import { ascendingTensors, GROUP_KINDS, groupOf, meansOf } from './aggregate';
import type { FisherInput, FisherTensors, GroupKind, GroupScore, SiteScore } from './aggregate';
import type { StabilityRow } from './stability';
import { AUTHORS_BERT_BASE_SCHEDULE, siteRanks } from '../guided-dropout/schedule';
import type { TopLevelSpec } from '../notebook/plot';
import { AUTHORS_SORTED_SITE_SCORES } from '../paper';

/** A point of a sorted curve: position in the sorted order and the value there. */
export interface SortedPoint {
  rank: number;
  value: number;
}

/** Options shared by the figures. */
export interface FigureOptions {
  /** Model name added to the title. */
  model?: string;
}

/** Options of the per-parameter figure. */
export interface ParameterFigureOptions extends FigureOptions {
  /** Min-max normalise to [0, 1] on a linear axis (default: raw scores on a log axis). */
  normalized?: boolean;
  /** Largest number of points drawn (default 2000). */
  maxPoints?: number;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';
/** One colour per group kind (Tableau 10), the same in every figure. */
const KIND_PALETTE: Record<GroupKind, string> = {
  embeddings: '#4c78a8',
  attention_self: '#f58518',
  attention_output: '#e45756',
  intermediate: '#72b7b2',
  output: '#54a24b',
  mlm_head: '#eeca3b',
  pooler: '#b279a2',
  classifier: '#ff9da6',
};

/** Every scalar Fisher score of every tensor, sorted ascending. */
export function sortedScalars(fisher: FisherTensors): Float32Array {
  let n = 0;
  for (const t of fisher.values()) n += t.data.length;
  const all = new Float32Array(n);
  let offset = 0;
  for (const t of fisher.values()) {
    all.set(t.data, offset);
    offset += t.data.length;
  }
  return all.sort();
}

/**
 * At most maxPoints points of an ascending array at evenly spaced quantiles: ranks round(j·(n − 1)/(m − 1)),
 * j = 0 … m − 1, so the minimum and maximum are kept and the values stay ascending; all points when n ≤ maxPoints.
 */
export function quantilePoints(sorted: ArrayLike<number>, maxPoints = 2000): SortedPoint[] {
  if (!(Number.isInteger(maxPoints) && maxPoints >= 2))
    throw new Error(`fisher plots: maxPoints must be an integer >= 2 (got ${maxPoints})`);
  const n = sorted.length;
  const m = Math.min(n, maxPoints);
  const points: SortedPoint[] = [];
  for (let j = 0; j < m; j++) {
    const rank = m === n ? j : Math.round((j * (n - 1)) / (m - 1));
    points.push({ rank, value: sorted[rank] });
  }
  return points;
}

/** Sorted per-parameter Fisher scores (the paper's parameter-level figures), downsampled to quantiles of `sorted`. */
export function sortedParameterScoresSpec(
  sorted: ArrayLike<number>,
  options: ParameterFigureOptions = {},
): TopLevelSpec {
  const n = sorted.length;
  if (n === 0) throw new Error('fisher plots: no Fisher scores');
  for (let i = 1; i < n; i++) {
    if (!(sorted[i - 1] <= sorted[i]))
      throw new Error(`fisher plots: scores are not sorted ascending (index ${i}); use sortedScalars`);
  }
  const points = quantilePoints(sorted, options.maxPoints);
  const min = sorted[0];
  const range = sorted[n - 1] - min || 1;
  const values = options.normalized ? points.map((p) => ({ rank: p.rank, value: (p.value - min) / range })) : points;
  let zeros = 0;
  if (!options.normalized) for (let i = 0; i < n && sorted[i] <= 0; i++) zeros++;
  const subtitle = [
    points.length < n
      ? `${n} scalar scores; ${points.length} points drawn at evenly spaced quantiles of the sorted values (min and max included)`
      : `all ${n} scalar scores drawn`,
  ];
  if (zeros > 0) subtitle.push(`${zeros} scores are 0 and cannot be drawn on the log scale`);
  return {
    $schema: SCHEMA,
    title: {
      text: `Sorted per-parameter Fisher scores${options.normalized ? ' (min-max normalized)' : ''}${modelSuffix(options)}`,
      subtitle,
    },
    data: { values },
    ...(options.normalized ? {} : { transform: [{ filter: 'datum.value > 0' }] }),
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 'rank', type: 'quantitative', title: 'parameters, sorted by Fisher score' },
      y: options.normalized
        ? { field: 'value', type: 'quantitative', title: 'Fisher score (normalized)' }
        : { field: 'value', type: 'quantitative', title: 'Fisher score', scale: { type: 'log' } },
    },
  };
}

/** Per-tensor mean Fisher scores sorted ascending (the paper's per-"layer" figure), log scale, coloured by group kind. */
export function sortedTensorMeansSpec(fisher: FisherInput, options: FigureOptions = {}): TopLevelSpec {
  const values = ascendingTensors(fisher).map((t, position) => ({
    position,
    name: t.name,
    index: t.index,
    mean: t.mean,
    kind: groupOf(t.name).kind,
  }));
  return {
    $schema: SCHEMA,
    title: {
      text: `Sorted per-tensor mean Fisher scores${modelSuffix(options)}`,
      subtitle: `${values.length} parameter tensors${zeroNote(values.map((v) => v.mean))}`,
    },
    data: { values },
    transform: [{ filter: 'datum.mean > 0' }],
    layer: [
      {
        mark: { type: 'line', color: '#bbbbbb' },
        encoding: { x: { field: 'position', type: 'quantitative' }, y: { field: 'mean', type: 'quantitative' } },
      },
      {
        mark: { type: 'point', filled: true },
        encoding: {
          color: kindColor(values.map((v) => v.kind)),
          tooltip: [{ field: 'name' }, { field: 'mean', format: '.3e' }],
        },
      },
    ],
    encoding: {
      x: { field: 'position', type: 'quantitative', title: 'parameter tensors, sorted by mean Fisher score' },
      y: { field: 'mean', type: 'quantitative', title: 'mean Fisher score', scale: { type: 'log' } },
    },
  };
}

/** Per-tensor mean Fisher scores in architectural order (x = tensor index), log scale, coloured by group kind. */
export function tensorMeansSpec(fisher: FisherInput, options: FigureOptions = {}): TopLevelSpec {
  const values = [...meansOf(fisher)]
    .sort((a, b) => a.index - b.index)
    .map((t) => ({ index: t.index, name: t.name, mean: t.mean, kind: groupOf(t.name).kind }));
  return {
    $schema: SCHEMA,
    title: {
      text: `Mean Fisher score per tensor, in architectural order${modelSuffix(options)}`,
      subtitle: `${values.length} parameter tensors in named_parameters() order${zeroNote(values.map((v) => v.mean))}`,
    },
    data: { values },
    transform: [{ filter: 'datum.mean > 0' }],
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'index', type: 'quantitative', title: 'tensor index' },
      y: {
        field: 'mean',
        type: 'quantitative',
        title: 'mean Fisher score',
        scale: logBarScale(values.map((v) => v.mean)),
        stack: null,
      },
      color: kindColor(values.map((v) => v.kind)),
      tooltip: [{ field: 'name' }, { field: 'mean', format: '.3e' }],
    },
  };
}

/** Dropout-site scores as bars, sites in forward order, log scale. */
export function dropoutSiteScoresSpec(sites: readonly SiteScore[], options: FigureOptions = {}): TopLevelSpec {
  const values = sites.map((s, order) => ({ order, site: s.site, label: s.group, score: s.score, kind: s.kind }));
  return {
    $schema: SCHEMA,
    title: {
      text: `Fisher score of the group preceding each dropout site${modelSuffix(options)}`,
      subtitle: `${values.length} dropout sites in forward order${zeroNote(values.map((v) => v.score))}`,
    },
    data: { values },
    transform: [{ filter: 'datum.score > 0' }],
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'label', type: 'nominal', sort: null, title: 'dropout site (after group)' },
      y: {
        field: 'score',
        type: 'quantitative',
        title: 'group Fisher score',
        scale: logBarScale(values.map((v) => v.score)),
        stack: null,
      },
      color: kindColor(values.map((v) => v.kind)),
      tooltip: [{ field: 'site' }, { field: 'score', format: '.3e' }],
    },
  };
}

/** The guided-dropout schedule: each site's Fisher score (log x) against its assigned p. */
export function scheduleSpec(
  sites: readonly SiteScore[],
  schedule: ReadonlyMap<string, number>,
  options: FigureOptions = {},
): TopLevelSpec {
  const ranks = siteRanks(sites);
  const values = sites.map((s) => ({
    site: s.site,
    label: s.group,
    score: s.score,
    p: scheduledP(schedule, s.site),
    rank: ranks.get(s.site)!,
    kind: s.kind,
  }));
  return {
    $schema: SCHEMA,
    title: {
      text: `Guided dropout: site Fisher score vs assigned p${modelSuffix(options)}`,
      subtitle: `${values.length} dropout sites; p falls linearly with the Fisher rank${zeroNote(values.map((v) => v.score))}`,
    },
    data: { values },
    transform: [{ filter: 'datum.score > 0' }],
    layer: [
      { mark: { type: 'line', color: '#bbbbbb' }, encoding: { order: { field: 'rank', type: 'quantitative' } } },
      {
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          color: kindColor(values.map((v) => v.kind)),
          tooltip: [{ field: 'site' }, { field: 'score', format: '.3e' }, { field: 'p', format: '.5f' }],
        },
      },
    ],
    encoding: {
      x: { field: 'score', type: 'quantitative', title: 'group Fisher score', scale: { type: 'log' } },
      y: { field: 'p', type: 'quantitative', title: 'dropout probability p' },
    },
  };
}

/** Side by side: the authors' BERT-base schedule (paper.md §1.5) and ours, p against Fisher rank, coloured by group kind. */
export function authorsScheduleComparisonSpec(
  sites: readonly SiteScore[],
  schedule: ReadonlyMap<string, number>,
  options: FigureOptions = {},
): TopLevelSpec {
  const ours = options.model ?? 'ours';
  const ranks = siteRanks(sites);
  const values = [
    ...AUTHORS_BERT_BASE_SCHEDULE.map((r) => ({
      model: 'BERT-base (authors)',
      rank: r.rank,
      p: r.p,
      kind: r.kind,
      site: r.site,
    })),
    ...sites.map((s) => ({
      model: ours,
      rank: ranks.get(s.site)!,
      p: scheduledP(schedule, s.site),
      kind: s.kind,
      site: s.site,
    })),
  ];
  return {
    $schema: SCHEMA,
    title: {
      text: "Guided-dropout schedule: the authors' BERT-base and ours",
      subtitle: 'rank 0 = lowest Fisher score; the colour is the kind of group preceding the site',
    },
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      column: { field: 'model', type: 'nominal', title: null, sort: ['BERT-base (authors)', ours] },
      x: { field: 'rank', type: 'ordinal', title: 'Fisher rank of the dropout site' },
      y: { field: 'p', type: 'quantitative', title: 'dropout probability p' },
      color: kindColor(values.map((v) => v.kind)),
      tooltip: [{ field: 'site' }, { field: 'p', format: '.5f' }],
    },
    resolve: { scale: { x: 'independent' } },
  };
}

/** Spearman correlation with the reference against sub-sample size, one line per seed; panels: tensor means, site scores. */
export function stabilitySpec(rows: readonly StabilityRow[], options: FigureOptions = {}): TopLevelSpec {
  const ref = rows.find((r) => r.reference);
  const values = rows
    .filter((r) => !r.reference)
    .flatMap((r) => [
      { sampleSize: r.sampleSize, seed: String(r.seed), measure: 'per-tensor means', spearman: r.tensorSpearman },
      { sampleSize: r.sampleSize, seed: String(r.seed), measure: 'dropout-site scores', spearman: r.siteSpearman },
    ]);
  return {
    $schema: SCHEMA,
    title: {
      text: `Stability of the Fisher ranking under sub-sampling${modelSuffix(options)}`,
      subtitle: ref
        ? `Spearman correlation with the reference estimate (n = ${ref.sampleSize}, seed ${ref.seed})`
        : 'Spearman correlation with the reference estimate',
    },
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'sampleSize', type: 'quantitative', title: 'sub-sample size (samples)', scale: { type: 'log' } },
      y: { field: 'spearman', type: 'quantitative', title: 'Spearman correlation', scale: { zero: false } },
      color: { field: 'seed', type: 'nominal', title: 'seed' },
      column: { field: 'measure', type: 'nominal', title: null, sort: ['per-tensor means', 'dropout-site scores'] },
    },
  };
}

/** Colour by group kind, legend limited to the kinds present, colours fixed per kind. */
function kindColor(kinds: readonly GroupKind[]) {
  const present = GROUP_KINDS.filter((k) => kinds.includes(k));
  return {
    field: 'kind',
    type: 'nominal',
    title: 'group',
    scale: { domain: present, range: present.map((k) => KIND_PALETTE[k]) },
  } as const;
}

/** Colour by group kind for exactly the listed kinds, in the listed order (legend included). */
function listedKindColor(kinds: readonly GroupKind[]) {
  return {
    field: 'kind',
    type: 'nominal',
    title: 'group',
    sort: kinds,
    scale: { domain: kinds, range: kinds.map((k) => KIND_PALETTE[k]) },
  };
}

/** A log scale for bars, starting at the power of ten below the smallest positive value so that every bar shows. */
function logBarScale(values: readonly number[]): { type: 'log'; domainMin?: number } {
  const min = Math.min(...values.filter((v) => v > 0));
  return Number.isFinite(min) ? { type: 'log', domainMin: 10 ** Math.floor(Math.log10(min) - 1e-9) } : { type: 'log' };
}

/** A site's p in a schedule; throws when the schedule does not cover the site. */
function scheduledP(schedule: ReadonlyMap<string, number>, site: string): number {
  const p = schedule.get(site);
  if (p === undefined) throw new Error(`fisher plots: the schedule has no probability for dropout site "${site}"`);
  return p;
}

/** " (model)" when a model name is given. */
function modelSuffix(options: FigureOptions): string {
  return options.model ? ` (${options.model})` : '';
}

/** A subtitle note on values the log scale cannot draw. */
function zeroNote(values: number[]): string {
  const zeros = values.filter((v) => !(v > 0)).length;
  return zeros > 0 ? `; ${zeros} of them are 0, not drawn on the log scale` : '';
}

/** Group Fisher scores in architectural order on a log axis bounded by the powers of ten around them, coloured by kind. */
export function groupScoresSpec(groups: readonly GroupScore[], options: FigureOptions = {}): TopLevelSpec {
  const scores = groups.map((g) => g.score);
  const kinds: GroupKind[] = ['embeddings', 'attention_self', 'attention_output', 'intermediate', 'output', 'mlm_head'];
  // Bars on a log axis need a floor: the powers of ten around the scores bound the axis.
  const domain = [10 ** Math.floor(Math.log10(Math.min(...scores))), 10 ** Math.ceil(Math.log10(Math.max(...scores)))];
  return {
    title: {
      text: `Group Fisher scores in architectural order (${options.model})`,
      subtitle:
        "unweighted mean of the group's per-tensor means; intermediate and the MLM head precede no dropout site",
    },
    data: {
      values: groups.map((g, order) => ({
        order,
        group: g.group,
        kind: g.kind,
        score: g.score,
        tensors: g.tensors.length,
      })),
    },
    mark: { type: 'bar' },
    width: 520,
    height: 260,
    encoding: {
      x: { field: 'group', type: 'nominal', sort: null, title: null, axis: { labelAngle: -45 } },
      y: {
        field: 'score',
        type: 'quantitative',
        scale: { type: 'log', domain },
        stack: null,
        title: 'group Fisher score (log scale)',
      },
      color: listedKindColor(kinds),
      tooltip: [{ field: 'group' }, { field: 'score', format: '.3e' }, { field: 'tensors' }],
    },
  } as TopLevelSpec;
}

/** The authors' BERT-base dropout-site scores (paper.ts, digitized) beside ours, each in ascending order on its own log scale. */
export function siteScoresAgainstAuthorsSpec(sites: readonly SiteScore[], options: FigureOptions = {}): TopLevelSpec {
  const authorsModel = 'BERT-base (authors, digitized)';
  const authors = AUTHORS_SORTED_SITE_SCORES.flatMap(([kind, scores]) => scores.map((score) => ({ kind, score }))).map(
    (r, rank) => ({ ...r, rank, model: authorsModel }),
  );
  const ranks = siteRanks(sites);
  const ours = sites.map((s) => ({ kind: s.kind, score: s.score, rank: ranks.get(s.site)!, model: options.model }));
  const kinds: GroupKind[] = ['embeddings', 'attention_self', 'attention_output', 'output'];
  return {
    title: {
      text: 'Dropout-site scores in ascending order: BERT-base and ours',
      subtitle: 'each panel on its own log scale; colour: the kind of group preceding the site',
    },
    data: { values: [...authors, ...ours] },
    mark: { type: 'point', filled: true, size: 60 },
    width: 300,
    height: 240,
    encoding: {
      column: { field: 'model', type: 'nominal', title: null, sort: [authorsModel, options.model] },
      x: { field: 'rank', type: 'quantitative', title: 'rank of the site (0 = lowest score)' },
      y: { field: 'score', type: 'quantitative', scale: { type: 'log' }, title: 'site Fisher score (log scale)' },
      color: listedKindColor(kinds),
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}
