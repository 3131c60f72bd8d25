/** Charts: Vega and Vega-Lite specs rendered headless to SVG and PNG, shown in notebooks and saved as figures. */
import * as fs from 'fs';
import * as path from 'path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { displayBundle, notebookDisplay } from './display';
import type { MimeBundle } from './display';
import { outputDir } from '../paths';

export type { TopLevelSpec };
export type VegaSpec = vega.Spec;

/** A rendered chart: the SVG text and a PNG image of it. */
export interface Figure {
  svg: string;
  png: Buffer;
}

/** How to rasterise a chart. */
export interface RenderOptions {
  /** PNG pixels per SVG pixel (default 2, crisp on high-density screens and in print). */
  scale?: number;
}

/** Size of a Vega-Lite view with continuous axes when the spec gives none, in SVG pixels. */
const DEFAULT_VIEW = { continuousWidth: 400, continuousHeight: 260 };

/** The font family resvg draws generic sans-serif text with (Debian: fonts-dejavu-core). */
const SANS_SERIF = 'DejaVu Sans';

/** Renders an SVG document to PNG bytes on a white background, `scale` PNG pixels per SVG pixel. */
export function svgToPng(svg: string, scale = 2): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, sansSerifFamily: SANS_SERIF, defaultFontFamily: SANS_SERIF },
  });
  return resvg.render().asPng();
}

/** Returns the Vega-Lite spec with fisherlab's defaults (white background, view size) under its own settings. */
export function withDefaults(spec: TopLevelSpec): TopLevelSpec {
  const config = spec.config ?? {};
  return { ...spec, config: { background: 'white', ...config, view: { ...DEFAULT_VIEW, ...config.view } } };
}

/** Renders a full Vega spec (e.g. contours with the isocontour transform) to SVG and PNG. */
export async function renderVega(spec: VegaSpec, options: RenderOptions = {}): Promise<Figure> {
  const view = new vega.View(vega.parse({ background: 'white', ...spec }), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: svgToPng(svg, options.scale) };
  } finally {
    view.finalize();
  }
}

/** Renders a Vega-Lite spec to SVG and PNG. */
export async function renderVegaLite(spec: TopLevelSpec, options: RenderOptions = {}): Promise<Figure> {
  return renderVega(compile(withDefaults(spec)).spec, options);
}

/** Whether a spec is a full Vega spec rather than a Vega-Lite one. */
export function isVegaSpec(spec: TopLevelSpec | VegaSpec): spec is VegaSpec {
  const schema = (spec as { $schema?: string }).$schema ?? '';
  if (schema) return /\/vega\/v\d/.test(schema);
  return Array.isArray((spec as { marks?: unknown }).marks);
}

/** The folder figures are saved in: $FISHERLAB_FIGURES, else figures/ in the output folder. */
export function figuresDir(): string {
  return path.resolve(process.env.FISHERLAB_FIGURES ?? path.join(outputDir(), 'figures'));
}

/** Writes NAME.png and the spec (NAME.vl.json for Vega-Lite, NAME.vg.json for Vega) to the figures folder; returns their paths. */
export function saveFigure(name: string, figure: Figure, spec: TopLevelSpec | VegaSpec): string[] {
  if (!/^[\w.-]+$/.test(name) || name.startsWith('.'))
    throw new Error(`bad figure name "${name}": use letters, digits, - _ .`);
  const dir = figuresDir();
  fs.mkdirSync(dir, { recursive: true });
  const png = path.join(dir, `${name}.png`);
  const json = path.join(dir, `${name}.${isVegaSpec(spec) ? 'vg' : 'vl'}.json`);
  fs.writeFileSync(png, figure.png);
  fs.writeFileSync(json, JSON.stringify(spec, null, 2) + '\n');
  return [png, json];
}

/**
 * Renders a Vega-Lite or Vega spec; in a notebook shows it as one display holding the PNG and the spec (JupyterLab
 * draws the interactive chart, Notebook, nbconvert's HTML and GitHub the PNG); with a name also saves the figure.
 * Await it in notebook cells (`await show(spec, 'name')`) so the output lands in the cell that made it.
 */
export async function show(spec: TopLevelSpec | VegaSpec, name?: string, options: RenderOptions = {}): Promise<void> {
  const vegaSpec = isVegaSpec(spec);
  const rendered = vegaSpec ? spec : withDefaults(spec);
  const figure = vegaSpec ? await renderVega(spec, options) : await renderVegaLite(spec, options);
  if (notebookDisplay()) displayBundle(chartBundle(figure, rendered));
  if (name) saveFigure(name, figure, rendered);
}

/** The display bundle of a chart: its PNG and its spec under the Vega or Vega-Lite mime type. */
export function chartBundle(figure: Figure, spec: TopLevelSpec | VegaSpec): MimeBundle {
  const specType = isVegaSpec(spec) ? 'application/vnd.vega.v5+json' : 'application/vnd.vegalite.v5+json';
  return { 'image/png': figure.png.toString('base64'), [specType]: spec };
}
