/**
 * Vega-Lite specs of notebook 01's charts, built from the rows experiments.ts computes. Pure functions: the notebook
 * renders them with `show(spec, name)`.
 */
import type { TopLevelSpec } from '../notebook/plot';
import type { CoinConvergence, RateSchedule } from './experiments';
import { CRAMER_RAO_SERIES, ERROR_SERIES, EXCESS_SERIES, FISHER_KINDS } from './experiments';
import type { Rows } from './experiments';

/** Running empirical Fisher of a coin's streams against I(θ), with a band of ± 2 standard errors. */
export function coinConvergenceSpec(c: CoinConvergence, theta: number): TopLevelSpec {
  return {
    title: {
      text: `Empirical Fisher of a Bernoulli(${theta}) coin converges to 1/(θ(1−θ))`,
      subtitle: 'grey band: I ± 2 standard errors of the mean of n squared scores',
    },
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: c.band },
        mark: { type: 'area', color: '#bbb', opacity: 0.4, clip: true },
        encoding: {
          x: { field: 'n', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'lo', type: 'quantitative' },
          y2: { field: 'hi' },
        },
      },
      {
        data: { values: [...c.running, ...c.closedForm] },
        mark: { type: 'line', clip: true },
        encoding: {
          x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'number of samples n (log scale)' },
          y: { field: 'value', type: 'quantitative', scale: { domain: [0, 14] }, title: 'mean of squared scores' },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: { range: ['#000', '#1f77b4', '#ff7f0e', '#2ca02c'] },
          },
          strokeDash: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: {
              range: [
                [6, 3],
                [1, 0],
                [1, 0],
                [1, 0],
              ],
            },
          },
        },
      },
    ],
    config: { legend: { orient: 'top-right', labelLimit: 260 } },
  } as TopLevelSpec;
}

/** The curve I(θ) = 1/(θ(1−θ)) on a log axis with empirical estimates at a grid of θ (± 2 SE). */
export function coinFisherCurveSpec(
  estimates: ReadonlyArray<{ theta: number; estimate: number; lo: number; hi: number }>,
  curve: ReadonlyArray<{ theta: number; fisher: number }>,
  flips: number,
): TopLevelSpec {
  return {
    title: {
      text: 'Fisher information of one coin flip, I(θ) = 1/(θ(1−θ))',
      subtitle: `points: empirical Fisher from ${flips} flips at each θ, bars ± 2 SE`,
    },
    width: 480,
    height: 280,
    layer: [
      {
        data: { values: curve },
        mark: { type: 'line', color: '#000' },
        encoding: {
          x: { field: 'theta', type: 'quantitative', title: 'θ (probability of heads)' },
          y: {
            field: 'fisher',
            type: 'quantitative',
            scale: { type: 'log' },
            title: 'Fisher information (log scale)',
          },
        },
      },
      {
        data: { values: estimates },
        mark: { type: 'rule', color: '#d62728' },
        encoding: {
          x: { field: 'theta', type: 'quantitative' },
          y: { field: 'lo', type: 'quantitative' },
          y2: { field: 'hi' },
        },
      },
      {
        data: { values: estimates },
        mark: { type: 'point', color: '#d62728', filled: true },
        encoding: { x: { field: 'theta', type: 'quantitative' }, y: { field: 'estimate', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}

/** Running means of a Gaussian's score products in (μ, σ), with the closed forms dashed. */
export function gaussianConvergenceSpec(
  running: ReadonlyArray<{ n: number; value: number; entry: string }>,
  closedForm: ReadonlyArray<{ entry: string; value: number }>,
  mu: number,
  sigma: number,
): TopLevelSpec {
  return {
    title: {
      text: `Empirical Fisher of N(μ = ${mu}, σ = ${sigma}) in (μ, σ)`,
      subtitle: 'running means of products of scores; dashed: closed forms',
    },
    width: 520,
    height: 300,
    layer: [
      {
        data: { values: running },
        mark: { type: 'line', clip: true },
        encoding: {
          x: { field: 'n', type: 'quantitative', scale: { type: 'log' }, title: 'number of samples n (log scale)' },
          y: { field: 'value', type: 'quantitative', scale: { domain: [-0.4, 1] }, title: 'mean of score products' },
          color: { field: 'entry', type: 'nominal', title: null },
        },
      },
      {
        data: { values: closedForm },
        mark: { type: 'rule', strokeDash: [6, 3] },
        encoding: { y: { field: 'value', type: 'quantitative' }, color: { field: 'entry', type: 'nominal' } },
      },
    ],
    config: { legend: { orient: 'top-right' } },
  } as TopLevelSpec;
}

/** The diagonals of the true, empirical and expected empirical Fisher along θ* + t·u, a panel per coefficient. */
export function fisherAlongDiagonalSpec(
  rows: ReadonlyArray<{ t: number; value: number; kind: string; coefficient: string }>,
): TopLevelSpec {
  return {
    title: {
      text: 'Diagonal of the Fisher along θ* + t·u: true vs empirical',
      subtitle: 'they agree near t = 0 (θ = θ*) and part ways as θ moves off the optimum',
    },
    data: { values: rows },
    facet: { column: { field: 'coefficient', type: 'nominal', title: null } },
    spec: {
      width: 220,
      height: 220,
      layer: [
        {
          mark: { type: 'line' },
          encoding: {
            x: { field: 't', type: 'quantitative', title: 't (distance from θ* along u)' },
            y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'diagonal entry (log scale)' },
            color: {
              field: 'kind',
              type: 'nominal',
              title: null,
              sort: FISHER_KINDS,
              scale: { range: ['#000', '#d62728', '#1f77b4'] },
            },
            strokeDash: {
              field: 'kind',
              type: 'nominal',
              legend: null,
              sort: FISHER_KINDS,
              scale: {
                range: [
                  [1, 0],
                  [1, 0],
                  [5, 3],
                ],
              },
            },
          },
        },
        {
          data: { values: [{ t: 0 }] },
          mark: { type: 'rule', color: '#888', strokeDash: [2, 2] },
          encoding: { x: { field: 't', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    config: { legend: { orient: 'bottom', labelLimit: 320 } },
  } as TopLevelSpec;
}

/** The variance of the MLE (± 2 SE) against the Cramér–Rao bounds, a panel per model. */
export function cramerRaoSpec(rows: Rows, coinDatasets: number, logitDatasets: number): TopLevelSpec {
  return {
    title: {
      text: 'Cramér–Rao: the variance of the MLE against 1/(n·I)',
      subtitle: `red: variance of the MLE over ${coinDatasets} (coin) and ${logitDatasets} (logistic) simulated datasets per n, ± 2 SE; lines: bounds`,
    },
    data: { values: rows },
    facet: { column: { field: 'panel', type: 'nominal', title: null } },
    spec: {
      width: 300,
      height: 260,
      layer: [
        {
          mark: { type: 'line' },
          transform: [{ filter: 'isValid(datum.bound)' }],
          encoding: {
            x: {
              field: 'n',
              type: 'quantitative',
              scale: { type: 'log', nice: false, padding: 12 },
              title: 'dataset size n (log scale)',
            },
            y: { field: 'bound', type: 'quantitative', scale: { type: 'log' }, title: 'variance (log scale)' },
            color: {
              field: 'series',
              type: 'nominal',
              title: null,
              sort: CRAMER_RAO_SERIES,
              scale: { domain: CRAMER_RAO_SERIES, range: ['#000', '#000', '#888'] },
            },
            strokeDash: {
              field: 'series',
              type: 'nominal',
              title: null,
              sort: CRAMER_RAO_SERIES,
              scale: {
                domain: CRAMER_RAO_SERIES,
                range: [
                  [1, 0],
                  [1, 0],
                  [5, 3],
                ],
              },
            },
          },
        },
        {
          mark: { type: 'rule', color: '#d62728' },
          transform: [{ filter: 'isValid(datum.variance)' }],
          encoding: {
            x: { field: 'n', type: 'quantitative' },
            y: { field: 'lo', type: 'quantitative' },
            y2: { field: 'hi' },
          },
        },
        {
          mark: { type: 'point', filled: true, size: 50, color: '#d62728' },
          transform: [{ filter: 'isValid(datum.variance)' }],
          encoding: { x: { field: 'n', type: 'quantitative' }, y: { field: 'variance', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { legend: { orient: 'bottom', labelLimit: 400, symbolType: 'stroke' } },
  } as TopLevelSpec;
}

/** Dropout's excess loss against the quadratic penalty, beside the penalty's relative error. */
export function dropoutPenaltySpec(excess: Rows, relativeError: Rows): TopLevelSpec {
  const mc = EXCESS_SERIES[1];
  return {
    hconcat: [
      {
        title: {
          text: 'Expected dropout loss − loss, vs the quadratic penalty',
          subtitle: 'logistic regression, 4 features, β = β̂',
        },
        width: 340,
        height: 280,
        data: { values: excess },
        layer: [
          {
            mark: { type: 'line', point: true },
            transform: [{ filter: `datum.series !== '${mc}'` }],
            encoding: {
              x: { field: 'rate', type: 'quantitative', title: 'dropout rate δ' },
              y: { field: 'excess', type: 'quantitative', title: 'increase of the mean loss' },
              color: {
                field: 'series',
                type: 'nominal',
                title: null,
                sort: EXCESS_SERIES,
                scale: { domain: EXCESS_SERIES, range: ['#d62728', '#ff9896', '#1f77b4', '#000'] },
              },
              strokeDash: {
                field: 'series',
                type: 'nominal',
                title: null,
                sort: EXCESS_SERIES,
                scale: {
                  domain: EXCESS_SERIES,
                  range: [
                    [1, 0],
                    [1, 0],
                    [1, 0],
                    [5, 3],
                  ],
                },
              },
            },
          },
          {
            mark: { type: 'rule', color: '#ff9896' },
            transform: [{ filter: `datum.series === '${mc}'` }],
            encoding: {
              x: { field: 'rate', type: 'quantitative' },
              y: { field: 'lo', type: 'quantitative' },
              y2: { field: 'hi' },
            },
          },
          {
            mark: { type: 'point', shape: 'diamond', filled: true, size: 40 },
            transform: [{ filter: `datum.series === '${mc}'` }],
            encoding: {
              x: { field: 'rate', type: 'quantitative' },
              y: { field: 'excess', type: 'quantitative' },
              color: { field: 'series', type: 'nominal', sort: EXCESS_SERIES },
            },
          },
        ],
      },
      {
        title: { text: 'Relative error of the quadratic penalty', subtitle: '(penalty − exact excess) / exact excess' },
        width: 300,
        height: 280,
        data: { values: relativeError },
        layer: [
          {
            mark: { type: 'line', point: true },
            encoding: {
              x: {
                field: 'rate',
                type: 'quantitative',
                scale: { type: 'log', domain: [0.0008, 0.6], nice: false },
                title: 'dropout rate δ (log scale)',
              },
              y: { field: 'error', type: 'quantitative', axis: { format: '%' }, title: 'relative error' },
              color: {
                field: 'series',
                type: 'nominal',
                title: null,
                sort: ERROR_SERIES,
                scale: { domain: ERROR_SERIES, range: ['#d62728', '#9467bd', '#1f77b4'] },
              },
            },
          },
          {
            data: { values: [{ zero: 0 }] },
            mark: { type: 'rule', color: '#888' },
            encoding: { y: { field: 'zero', type: 'quantitative' } },
          },
        ],
      },
    ],
    resolve: { scale: { color: 'independent', strokeDash: 'independent' } },
    config: { legend: { orient: 'bottom', direction: 'vertical', labelLimit: 600 } },
  } as TopLevelSpec;
}

/** Each coefficient's weight in the dropout penalty under uniform and guided rates, in decreasing Fisher order. */
export function penaltyWeightsSpec(
  weights: ReadonlyArray<{ coefficient: string; weight: number; schedule: string; rate: number }>,
  schedules: readonly RateSchedule[],
): TopLevelSpec {
  const names = schedules.map(([name]) => name);
  return {
    title: {
      text: 'Weight of each β_j² in the dropout penalty, ½·δ_j/(1−δ_j)·F_jj',
      subtitle: 'coefficients in decreasing order of their Fisher diagonal F_jj',
    },
    data: { values: weights },
    mark: { type: 'bar' },
    width: 420,
    height: 240,
    encoding: {
      x: {
        field: 'coefficient',
        type: 'nominal',
        sort: { field: 'weight', op: 'max', order: 'descending' },
        title: null,
        axis: { labelAngle: 0, labelLimit: 200 },
      },
      xOffset: { field: 'schedule', type: 'nominal', sort: names },
      y: { field: 'weight', type: 'quantitative', title: 'penalty weight on β_j²' },
      color: {
        field: 'schedule',
        type: 'nominal',
        title: null,
        scale: { domain: names, range: ['#7f7f7f', '#2ca02c'] },
        legend: { labelLimit: 600 },
      },
      tooltip: [{ field: 'rate', type: 'quantitative' }],
    },
    config: { legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } },
  } as TopLevelSpec;
}
