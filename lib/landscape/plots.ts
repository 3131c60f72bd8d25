/**
 * Charts of loss surfaces: heatmaps with contour lines (a full Vega spec: contours need Vega's isocontour transform)
 * in panels that share one colour scale, ours beside the authors', and 1-D slices through the centre (Vega-Lite).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { VegaSpec } from '../notebook/plot';
import { mean } from '../util/stats';
import type { LossSurface } from './surface-file';

/** One panel: a surface and its title. */
export interface Panel {
  title: string;
  surface: LossSurface;
}

/** A row of panels with a label (e.g. a model). */
export interface PanelRow {
  label: string;
  panels: Panel[];
}

/** How panels are drawn. */
export interface LandscapeOptions {
  /** Draw the loss as coloured cells (default true). */
  heatmap?: boolean;
  /** Draw contour lines (default true). */
  contours?: boolean;
  /** Colour domain [min, max]; default: the range over the panels sharing the scale. Values beyond are clamped. */
  domain?: [number, number];
  /** Contour levels; default: `levels` evenly spaced values strictly inside the domain. */
  thresholds?: number[];
  /** Number of contour levels when `thresholds` is not given (default 12). */
  levels?: number;
  /** Side of each panel in pixels (default 200). */
  size?: number;
  /** Colour scale: one for every panel (`shared`, default) or one per row (`row`, when the rows' loss scales differ). */
  scale?: 'shared' | 'row';
  title?: string;
}

/** Checks that a surface's coordinates are evenly spaced (cells and contours assume it) and returns the spacings. */
function spacing(s: LossSurface, title: string): { dx: number; dy: number } {
  const step = (c: number[], what: string): number => {
    if (c.length < 2) throw new Error(`plot "${title}": a heatmap needs at least 2 ${what} coordinates`);
    const d = (c[c.length - 1] - c[0]) / (c.length - 1);
    if (c.some((v, i) => Math.abs(v - (c[0] + i * d)) > 1e-6 * Math.abs(d)))
      throw new Error(`plot "${title}": ${what} coordinates are not evenly spaced`);
    return d;
  };
  return { dx: step(s.x, 'x'), dy: step(s.y, 'y') };
}

/** `n` thresholds evenly spaced strictly inside [lo, hi]. */
export function contourThresholds(lo: number, hi: number, n = 12): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((i + 1) * (hi - lo)) / (n + 1));
}

/** Minimum and maximum loss over surfaces. */
function range(surfaces: readonly LossSurface[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of surfaces) for (const v of s.loss) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  return [lo, hi];
}

/** A panel: a group with its own data, x/y scales and axes, coloured by the named colour scale. */
function panelGroup(
  p: Panel,
  id: string,
  color: string,
  thresholds: number[],
  o: LandscapeOptions,
  legend: boolean,
): Record<string, unknown> {
  const S = o.size ?? 200;
  const { x, y, loss } = p.surface;
  const { dx, dy } = spacing(p.surface, p.title);
  const cells = loss.map((l, k) => ({ x: x[k % x.length], y: y[Math.floor(k / x.length)], loss: l }));
  // Contour space: cell (ix, iy) spans [ix, ix+1]; row 0 is the lowest y, drawn at the bottom. The grid is padded by
  // one cell of edge values on every side, so the rims isocontour closes its polygons along fall outside the clip.
  const nx = x.length;
  const ny = y.length;
  const clampAt = (i: number, n: number) => Math.min(n - 1, Math.max(0, i - 1));
  const padded = Array.from(
    { length: (nx + 2) * (ny + 2) },
    (_, k) => loss[nx * clampAt(Math.floor(k / (nx + 2)), ny) + clampAt(k % (nx + 2), nx)],
  );
  const grid = {
    width: nx + 2,
    height: ny + 2,
    values: padded,
    scale: [S / nx, -S / ny],
    translate: [-S / nx, S + S / ny],
  };
  const marks: unknown[] = [];
  if (o.heatmap !== false) {
    marks.push({
      type: 'rect',
      from: { data: `cells_${id}` },
      encode: {
        update: {
          x: { scale: 'x', signal: `datum.x - ${dx / 2}` },
          x2: { scale: 'x', signal: `datum.x + ${dx / 2}` },
          y: { scale: 'y', signal: `datum.y - ${dy / 2}` },
          y2: { scale: 'y', signal: `datum.y + ${dy / 2}` },
          fill: { scale: color, field: 'loss' },
          tooltip: { signal: "{x: datum.x, y: datum.y, loss: format(datum.loss, '.4f')}" },
        },
      },
    });
  }
  if (o.contours !== false) {
    marks.push({
      type: 'shape',
      clip: true,
      from: { data: `contours_${id}` },
      encode: {
        update: {
          stroke: o.heatmap !== false ? { value: 'white' } : { scale: color, field: 'contour.value' },
          strokeOpacity: { value: o.heatmap !== false ? 0.8 : 1 },
          strokeWidth: { value: 1 },
          fill: { value: null },
        },
      },
      transform: [{ type: 'geoshape', field: 'datum.contour' }],
    });
  }
  return {
    type: 'group',
    title: { text: p.title, fontSize: 12 },
    encode: { update: { width: { value: S }, height: { value: S } } },
    data: [
      { name: `cells_${id}`, values: cells },
      { name: `grid_${id}`, values: [{ grid }] },
      {
        name: `contours_${id}`,
        source: `grid_${id}`,
        transform: [{ type: 'isocontour', field: 'grid', thresholds, smooth: true }],
      },
    ],
    scales: [
      {
        name: 'x',
        type: 'linear',
        domain: [x[0] - dx / 2, x[x.length - 1] + dx / 2],
        range: [0, S],
        zero: false,
        nice: false,
      },
      {
        name: 'y',
        type: 'linear',
        domain: [y[0] - dy / 2, y[y.length - 1] + dy / 2],
        range: [S, 0],
        zero: false,
        nice: false,
      },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: 'x (direction 1)', tickCount: 5 },
      { orient: 'left', scale: 'y', title: 'y (direction 2)', tickCount: 5 },
    ],
    legends: legend ? [{ fill: color, title: 'loss', orient: 'right', gradientLength: S - 20 }] : [],
    marks,
  };
}

/** Rows of loss-surface panels (heatmap and/or contours) on one colour scale, or one per row; contour levels follow the same scale. */
export function landscapeSpec(rows: readonly PanelRow[], o: LandscapeOptions = {}): VegaSpec {
  if (rows.length === 0 || rows.some((r) => r.panels.length === 0))
    throw new Error('landscapeSpec: every row needs at least one panel');
  const columns = Math.max(...rows.map((r) => r.panels.length));
  const perRow = o.scale === 'row';
  const groups = perRow
    ? rows.map((r) => r.panels.map((p) => p.surface))
    : [rows.flatMap((r) => r.panels.map((p) => p.surface))];
  const scales = groups.map((surfaces, i) => {
    const domain = o.domain ?? range(surfaces);
    return {
      name: `color${i}`,
      type: 'linear',
      domain,
      range: { scheme: 'viridis' },
      clamp: true,
      zero: false,
      nice: false,
    };
  });
  const marks: unknown[] = [];
  rows.forEach((row, r) => {
    const c = perRow ? r : 0;
    const [lo, hi] = scales[c].domain as [number, number];
    const thresholds = o.thresholds ?? contourThresholds(lo, hi, o.levels ?? 12);
    for (let k = 0; k < columns; k++) {
      const p = row.panels[k];
      const last = k === row.panels.length - 1 && (perRow || r === 0);
      const panel = p ? { ...p, title: rows.length > 1 ? `${row.label}: ${p.title}` : p.title } : null;
      // An empty group keeps the layout's columns aligned when rows have fewer panels.
      marks.push(
        panel
          ? panelGroup(panel, `${r}_${k}`, `color${c}`, thresholds, o, last)
          : {
              type: 'group',
              encode: { update: { width: { value: o.size ?? 200 }, height: { value: o.size ?? 200 } } },
            },
      );
    }
  });
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    ...(o.title ? { title: { text: o.title } } : {}),
    padding: 10,
    autosize: 'pad',
    layout: { columns, padding: { row: 30, column: 30 }, bounds: 'full', align: 'all' },
    scales,
    marks,
  } as VegaSpec;
}

/** One point of a 1-D slice. */
export interface SlicePoint {
  /** The axis the slice runs along. */
  along: 'x' | 'y';
  coordinate: number;
  loss: number;
}

/**
 * Slices through the centre: the loss along x on the row nearest y = 0 and along y on the column nearest x = 0; when
 * the grid straddles 0 (two rows or columns equally near, as on the authors' 16-point grid) the slice is their mean.
 */
export function centerSlices(s: LossSurface): SlicePoint[] {
  const nearest = (c: number[]): number[] => {
    const best = Math.min(...c.map(Math.abs));
    return c
      .map((v, i) => [v, i])
      .filter(([v]) => Math.abs(Math.abs(v) - best) <= 1e-9 * Math.max(1, best))
      .map(([, i]) => i);
  };
  const nx = s.x.length;
  const rows = nearest(s.y);
  const cols = nearest(s.x);
  return [
    ...s.x.map((coordinate, ix) => ({
      along: 'x' as const,
      coordinate,
      loss: mean(rows.map((iy) => s.loss[nx * iy + ix])),
    })),
    ...s.y.map((coordinate, iy) => ({
      along: 'y' as const,
      coordinate,
      loss: mean(cols.map((ix) => s.loss[nx * iy + ix])),
    })),
  ];
}

/** Line charts of the centre slices of several surfaces, one panel per axis, one line per surface. */
export function sliceSpec(
  series: ReadonlyArray<{ label: string; surface: LossSurface }>,
  title = 'loss along each direction through the centre',
): TopLevelSpec {
  const values = series.flatMap(({ label, surface }) =>
    centerSlices(surface).map((p) => ({ ...p, along: `along ${p.along}`, surface: label })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values },
    facet: { column: { field: 'along', type: 'nominal', title: null } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'coordinate', type: 'quantitative', title: 'step along the direction' },
        y: { field: 'loss', type: 'quantitative', title: 'masked-LM loss' },
        color: { field: 'surface', type: 'nominal', title: null },
      },
    },
  };
}

/** Mean loss by distance from the centre, minus the centre loss, one line per surface and one panel per model; dashed: ln V − centre. */
export function radialSpec(
  rows: ReadonlyArray<{
    model: string;
    set: string;
    centre: number;
    uniformLoss: number | null;
    radial: ReadonlyArray<{ rMin: number; rMax: number; mean: number }>;
  }>,
): TopLevelSpec {
  const values = rows.flatMap((r) =>
    r.radial.map((b) => ({
      model: r.model,
      set: r.set,
      r: Number.isFinite(b.rMax) ? (b.rMin + b.rMax) / 2 : b.rMin + 0.25,
      rise: b.mean - r.centre,
    })),
  );
  const uniform = rows
    .filter((r) => r.uniformLoss !== null)
    .map((r) => ({ model: r.model, set: r.set, rise: r.uniformLoss! - r.centre }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: {
      text: 'Loss rise with distance from the pretrained weights',
      subtitle:
        'mean over each ring of the grid, minus the loss at the centre; dashed: ln(vocabulary) − centre, the rise to a uniform guess',
    },
    facet: { column: { field: 'model', type: 'nominal', title: null, sort: [...new Set(rows.map((r) => r.model))] } },
    resolve: { scale: { y: 'independent' } },
    data: {
      values: [...values.map((v) => ({ ...v, kind: 'ring' })), ...uniform.map((u) => ({ ...u, kind: 'uniform' }))],
    },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          transform: [{ filter: "datum.kind === 'ring'" }],
          mark: { type: 'line', point: true },
          encoding: {
            x: { field: 'r', type: 'quantitative', title: 'distance from the centre √(x² + y²)' },
            y: { field: 'rise', type: 'quantitative', title: 'mean loss − centre loss (nats)' },
            color: { field: 'set', type: 'nominal', title: 'perturbed' },
          },
        },
        {
          transform: [{ filter: "datum.kind === 'uniform'" }],
          mark: { type: 'rule', strokeDash: [5, 4], color: '#888' },
          encoding: { y: { field: 'rise', type: 'quantitative', aggregate: 'mean' } },
        },
      ],
    },
  } as TopLevelSpec;
}
