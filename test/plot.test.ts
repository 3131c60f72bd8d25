import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  chartBundle,
  figuresDir,
  isVegaSpec,
  renderVega,
  renderVegaLite,
  saveFigure,
  show,
  svgToPng,
  withDefaults,
} from '../lib/notebook/plot';
import type { TopLevelSpec, VegaSpec } from '../lib/notebook/plot';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR chunk (which must come first). */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE), 'PNG signature').to.equal(true);
  expect(png.subarray(12, 16).toString('latin1')).to.equal('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** The SVG's width and height attributes. */
function svgSize(svg: string): { width: number; height: number } {
  const m = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg);
  expect(m, 'svg width and height').to.not.equal(null);
  return { width: Number(m![1]), height: Number(m![2]) };
}

/** Number of non-overlapping occurrences of a string. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const BAR_VALUES = [
  { item: 'alpha', score: 3 },
  { item: 'beta', score: 7 },
  { item: 'gamma', score: 1 },
  { item: 'delta', score: 4 },
  { item: 'epsilon', score: 9 },
];

const barSpec = (): TopLevelSpec => ({
  data: { values: BAR_VALUES },
  mark: 'bar',
  encoding: {
    x: { field: 'item', type: 'nominal', sort: null },
    y: { field: 'score', type: 'quantitative', title: 'Score per item' },
  },
});

/** A Vega spec drawing contour lines of (i-9.5)² + (j-9.5)² on a 20×20 grid at three levels. */
function contourSpec(): VegaSpec {
  const n = 20;
  const values: number[] = [];
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) values.push(((i - 9.5) ** 2 + (j - 9.5) ** 2) / 10);
  return {
    $schema: 'https://vega.github.io/schema/vega/v5.json',
    width: 200,
    height: 200,
    data: [
      {
        name: 'grid',
        values: [{ width: n, height: n, values }],
        transform: [{ type: 'isocontour', thresholds: [2, 5, 10], scale: { expr: 'width / 20' } }],
      },
    ],
    marks: [
      {
        type: 'path',
        from: { data: 'grid' },
        encode: { enter: { stroke: { value: '#333' } } },
        transform: [{ type: 'geopath', field: 'datum.contour' }],
      },
    ],
  };
}

describe('plot', () => {
  describe('renderVegaLite', () => {
    it('draws one bar per value, with axis labels and title as text', async () => {
      const { svg } = await renderVegaLite(barSpec());
      expect(count(svg, 'aria-roledescription="bar"')).to.equal(BAR_VALUES.length);
      for (const { item } of BAR_VALUES) expect(svg).to.include(`>${item}</text>`);
      expect(svg).to.include('>Score per item</text>');
    });

    it('makes a PNG scale times the SVG size (2 by default)', async () => {
      const { svg, png } = await renderVegaLite(barSpec());
      const size = svgSize(svg);
      expect(pngSize(png)).to.deep.equal({ width: 2 * size.width, height: 2 * size.height });
      const small = await renderVegaLite(barSpec(), { scale: 1 });
      expect(pngSize(small.png)).to.deep.equal(size);
    });

    it('gives continuous views the default size and a white background', async () => {
      const spec: TopLevelSpec = {
        data: { values: [{ x: 1, y: 2 }] },
        mark: 'point',
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      };
      const { svg } = await renderVegaLite(spec);
      expect(svg).to.include('d="M0.5,0.5h400v260h-400Z"');
      expect(svg).to.match(/<rect width="\d+" height="\d+" fill="white"\/>/);
    });
  });

  describe('withDefaults', () => {
    it('keeps the spec’s own settings over the defaults', () => {
      const spec: TopLevelSpec = { ...barSpec(), config: { background: '#eee', view: { continuousHeight: 100 } } };
      expect(withDefaults(spec).config).to.deep.equal({
        background: '#eee',
        view: { continuousWidth: 400, continuousHeight: 100 },
      });
    });
  });

  describe('renderVega', () => {
    it('draws one contour path per threshold with the isocontour transform', async () => {
      const { svg, png } = await renderVega(contourSpec());
      const group = /<g class="mark-path role-mark"[^>]*>(.*?)<\/g>/.exec(svg);
      expect(group, 'path mark group').to.not.equal(null);
      expect(count(group![1], '<path ')).to.equal(3);
      expect(pngSize(png)).to.deep.equal({ width: 2 * 204, height: 2 * 204 });
    });
  });

  describe('svgToPng', () => {
    it('draws text (a font is available), whatever family is asked for', () => {
      const svg = (family: string, text: string) =>
        `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40"><text x="5" y="30" font-family="${family}" font-size="24">${text}</text></svg>`;
      const blank = svgToPng(svg('sans-serif', ''));
      expect(svgToPng(svg('sans-serif', 'Hi')).equals(blank), 'sans-serif text drawn').to.equal(false);
      expect(svgToPng(svg('No Such Font', 'Hi')).equals(blank), 'fallback text drawn').to.equal(false);
    });
  });

  describe('isVegaSpec', () => {
    it('tells Vega from Vega-Lite by $schema, else by marks', () => {
      expect(isVegaSpec(contourSpec())).to.equal(true);
      expect(isVegaSpec({ ...contourSpec(), $schema: undefined })).to.equal(true);
      expect(isVegaSpec(barSpec())).to.equal(false);
      expect(isVegaSpec({ ...barSpec(), $schema: 'https://vega.github.io/schema/vega-lite/v5.json' })).to.equal(false);
    });
  });

  describe('chartBundle', () => {
    it('holds the PNG and the spec under its Vega-Lite or Vega mime type, in one display', async () => {
      const bars = withDefaults(barSpec());
      const figure = await renderVegaLite(barSpec());
      const bundle = chartBundle(figure, bars);
      expect(Object.keys(bundle).sort()).to.deep.equal(['application/vnd.vegalite.v5+json', 'image/png']);
      expect(Buffer.from(bundle['image/png'] as string, 'base64').equals(figure.png)).to.equal(true);
      expect(bundle['application/vnd.vegalite.v5+json']).to.equal(bars);
      const contours = chartBundle(await renderVega(contourSpec()), contourSpec());
      expect(Object.keys(contours).sort()).to.deep.equal(['application/vnd.vega.v5+json', 'image/png']);
    });
  });

  describe('show and saveFigure (outside a notebook)', () => {
    let dir: string;
    const saved = process.env.FISHERLAB_FIGURES;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-figures-'));
      process.env.FISHERLAB_FIGURES = path.join(dir, 'figs');
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.FISHERLAB_FIGURES;
      else process.env.FISHERLAB_FIGURES = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('writes NAME.png and NAME.vl.json with the rendered spec into $FISHERLAB_FIGURES', async () => {
      expect(figuresDir()).to.equal(path.join(dir, 'figs'));
      await show(barSpec(), 'bars');
      expect(fs.readdirSync(figuresDir()).sort()).to.deep.equal(['bars.png', 'bars.vl.json']);
      const spec = JSON.parse(fs.readFileSync(path.join(figuresDir(), 'bars.vl.json'), 'utf8'));
      expect(spec.encoding.y.title).to.equal('Score per item');
      expect(spec.config.view).to.deep.equal({ continuousWidth: 400, continuousHeight: 260 });
      expect(pngSize(fs.readFileSync(path.join(figuresDir(), 'bars.png'))).width).to.be.greaterThan(100);
    });

    it('saves Vega specs as NAME.vg.json and writes nothing without a name', async () => {
      await show(contourSpec());
      expect(fs.existsSync(figuresDir())).to.equal(false);
      await show(contourSpec(), 'contours');
      expect(fs.readdirSync(figuresDir()).sort()).to.deep.equal(['contours.png', 'contours.vg.json']);
    });

    it('refuses names that would leave the figures folder', async () => {
      const figure = await renderVegaLite(barSpec());
      expect(() => saveFigure('../escape', figure, barSpec())).to.throw(/bad figure name/);
      expect(() => saveFigure('sub/name', figure, barSpec())).to.throw(/bad figure name/);
    });
  });
});
