/**
 * A 3-D view of loss surfaces without a 3-D library: each grid cell becomes a quadrilateral projected with a fixed
 * azimuth and elevation, filled by its mean loss and drawn back to front (the painter's algorithm, exact for a
 * height field seen from above), as Vega `path` marks. Panels share one colour scale and one height scale.
 */
import type { VegaSpec } from '../notebook/plot';
import type { PanelRow } from './plots';

/** How the 3-D panels are drawn. */
export interface Surface3dOptions {
  /** Rotation about the vertical axis, in degrees (default -50). */
  azimuth?: number;
  /** Angle of view above the x–y plane, in degrees (default 30). */
  elevation?: number;
  /** Loss range mapped to the height and the colours (default: the range over all panels); values beyond are clamped. */
  domain?: [number, number];
  /** Panel width in pixels (default 240). */
  size?: number;
  title?: string;
}

/** A projected quadrilateral: its SVG path, mean loss and depth (larger is farther). */
export interface Quad {
  path: string;
  loss: number;
  depth: number;
}

/** Projects a point of the unit box (x, y in [-1, 1], z in [0, 1]) to panel coordinates; returns [u, v, depth]. */
export function project(
  x: number,
  y: number,
  z: number,
  azimuth: number,
  elevation: number,
  size: number,
): [number, number, number] {
  const a = (azimuth * Math.PI) / 180;
  const e = (elevation * Math.PI) / 180;
  const xr = x * Math.cos(a) - y * Math.sin(a);
  const yr = x * Math.sin(a) + y * Math.cos(a);
  const half = size / 2;
  const scale = half / Math.SQRT2;
  const u = half + xr * scale;
  const v = size * 0.62 - (yr * Math.sin(e) + (z * 1.2 - 0.5) * Math.cos(e)) * scale;
  return [u, v, yr];
}

/** The cells of a surface as projected quadrilaterals, sorted farthest first. */
export function surfaceQuads(
  surface: { x: number[]; y: number[]; loss: number[] },
  domain: [number, number],
  o: Surface3dOptions = {},
): Quad[] {
  const { x, y, loss } = surface;
  const nx = x.length;
  if (nx < 2 || y.length < 2) throw new Error('surface3d: a 3-D view needs at least 2×2 points');
  const [lo, hi] = domain;
  const span = hi > lo ? hi - lo : 1;
  const unit = (c: number[], i: number) => (2 * (c[i] - c[0])) / (c[c.length - 1] - c[0]) - 1;
  const height = (v: number) => Math.min(1, Math.max(0, (v - lo) / span));
  const az = o.azimuth ?? -50;
  const el = o.elevation ?? 30;
  const size = o.size ?? 240;
  const quads: Quad[] = [];
  for (let iy = 0; iy + 1 < y.length; iy++) {
    for (let ix = 0; ix + 1 < nx; ix++) {
      const corners = [
        [ix, iy],
        [ix + 1, iy],
        [ix + 1, iy + 1],
        [ix, iy + 1],
      ].map(([i, j]) => {
        const l = loss[nx * j + i];
        return { l, p: project(unit(x, i), unit(y, j), height(l), az, el, size) };
      });
      quads.push({
        path: `M${corners.map((c) => `${c.p[0].toFixed(2)},${c.p[1].toFixed(2)}`).join('L')}Z`,
        loss: corners.reduce((s, c) => s + c.l, 0) / 4,
        depth: corners.reduce((s, c) => s + c.p[2], 0) / 4,
      });
    }
  }
  return quads.sort((a, b) => b.depth - a.depth);
}

/** Rows of 3-D surface panels on one colour and height scale. */
export function surface3dSpec(rows: readonly PanelRow[], o: Surface3dOptions = {}): VegaSpec {
  if (rows.length === 0 || rows.some((r) => r.panels.length === 0))
    throw new Error('surface3dSpec: every row needs at least one panel');
  const all = rows.flatMap((r) => r.panels.flatMap((p) => p.surface.loss));
  const domain = o.domain ?? [Math.min(...all), Math.max(...all)];
  const size = o.size ?? 240;
  const columns = Math.max(...rows.map((r) => r.panels.length));
  const az = o.azimuth ?? -50;
  const el = o.elevation ?? 30;
  const base = [
    [-1, -1],
    [1, -1],
    [1, 1],
    [-1, 1],
  ].map(([a, b]) => project(a, b, 0, az, el, size));
  const marks = rows.flatMap((row, r) =>
    Array.from({ length: columns }, (_, k) => {
      const p = row.panels[k];
      if (!p) return { type: 'group', encode: { update: { width: { value: size }, height: { value: size } } } };
      const id = `${r}_${k}`;
      return {
        type: 'group',
        title: { text: rows.length > 1 ? `${row.label}: ${p.title}` : p.title, fontSize: 12 },
        encode: { update: { width: { value: size }, height: { value: size } } },
        data: [{ name: `quads_${id}`, values: surfaceQuads(p.surface, domain as [number, number], o) }],
        marks: [
          {
            type: 'path',
            encode: {
              update: {
                path: { value: `M${base.map((q) => `${q[0].toFixed(2)},${q[1].toFixed(2)}`).join('L')}Z` },
                stroke: { value: '#bbb' },
                fill: { value: null },
              },
            },
          },
          {
            type: 'text',
            encode: {
              update: {
                x: { value: (base[0][0] + base[1][0]) / 2 },
                y: { value: (base[0][1] + base[1][1]) / 2 + 14 },
                text: { value: 'x' },
                fill: { value: '#666' },
              },
            },
          },
          {
            type: 'text',
            encode: {
              update: {
                x: { value: (base[1][0] + base[2][0]) / 2 + 8 },
                y: { value: (base[1][1] + base[2][1]) / 2 + 10 },
                text: { value: 'y' },
                fill: { value: '#666' },
              },
            },
          },
          {
            type: 'path',
            from: { data: `quads_${id}` },
            encode: {
              update: {
                path: { field: 'path' },
                fill: { scale: 'color', field: 'loss' },
                stroke: { value: '#222' },
                strokeWidth: { value: 0.25 },
                strokeOpacity: { value: 0.5 },
              },
            },
          },
        ],
      };
    }),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    ...(o.title ? { title: { text: o.title } } : {}),
    padding: 10,
    autosize: 'pad',
    layout: { columns, padding: { row: 20, column: 20 }, bounds: 'full', align: 'all' },
    scales: [
      { name: 'color', type: 'linear', domain, range: { scheme: 'viridis' }, clamp: true, zero: false, nice: false },
    ],
    legends: [{ fill: 'color', title: 'loss', orient: 'right', gradientLength: size - 40 }],
    marks,
  } as VegaSpec;
}
