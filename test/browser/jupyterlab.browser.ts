/**
 * The notebooks in a real browser: JupyterLab from .venv/ on a free loopback port, driven by headless Chromium through
 * playwright-core. Runs 00-quickstart and 04-loss-landscape through the UI (Run ▸ Run All Cells) on copies under
 * out/browser/, checks charts, tables and errors in the page, and saves screenshots in out/browser/.
 * Skips when no Chrome or Chromium is installed (set CHROME_PATH to use another).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { jupyterEnv, jupyterPython } from '../../lib/notebook/jupyter-env';
import { startLab } from '../../lib/notebook/lab';
import type { LabServer } from '../../lib/notebook/lab';
import { projectRoot } from '../../lib/paths';
import { chartBundle, renderVegaLite } from '../../lib/notebook/plot';
import { CHROME_FLAGS, findChrome } from './chrome';

const ROOT = projectRoot();
const OUT = path.join(ROOT, 'out', 'browser');
/** Seconds a notebook may take to run all its cells in the browser. */
const RUN_SECONDS = 600;

/** JupyterLab settings for a test: no autosave (the copies stay as they were), every cell in the DOM, no news. */
const SETTINGS: Record<string, object> = {
  '@jupyterlab/docmanager-extension/plugin.jupyterlab-settings': { autosave: false },
  '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': { windowingMode: 'none' },
  '@jupyterlab/apputils-extension/notification.jupyterlab-settings': { fetchNews: 'false', checkForUpdates: false },
};

/** What the page shows in the open notebook's outputs. */
interface Outputs {
  codeCells: number;
  executed: number;
  mimeTypes: string[];
  errors: string[];
  tables: number;
  /** Per Vega or Vega-Lite output: its kind and whether its canvas has more than 100 dark pixels. */
  charts: Array<{ kind: 'vega' | 'vega-lite'; drawn: boolean }>;
}

/** Reads the outputs of the notebook shown in the page. */
function readOutputs(page: Page): Promise<Outputs> {
  return page.evaluate(() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)')!;
    const cells = Array.from(panel.querySelectorAll('.jp-CodeCell'));
    const outputs = Array.from(panel.querySelectorAll<HTMLElement>('.jp-OutputArea-output'));
    const errors = outputs
      .filter(
        (o) =>
          o.dataset.mimeType === 'application/vnd.jupyter.error' ||
          (o.dataset.mimeType === 'application/vnd.jupyter.stderr' && /error/i.test(o.innerText)),
      )
      .map((o) => o.innerText.slice(0, 300));
    return {
      codeCells: cells.length,
      executed: cells.filter((c) => /\[\d+\]/.test(c.querySelector('.jp-InputPrompt')?.textContent ?? '')).length,
      mimeTypes: outputs.map((o) => o.dataset.mimeType ?? ''),
      errors,
      tables: panel.querySelectorAll('.jp-OutputArea-output table tbody tr').length,
      // No named functions in here: tsx would wrap them in a helper the page does not have.
      charts: Array.from(panel.querySelectorAll('.jp-RenderedVegaCommon5')).map((el) => {
        const kind = el.classList.contains('jp-RenderedVega5') ? ('vega' as const) : ('vega-lite' as const);
        const canvas = el.querySelector('canvas');
        if (!canvas) return { kind, drawn: false };
        const { width, height } = canvas;
        const px = width > 0 && height > 0 ? canvas.getContext('2d')!.getImageData(0, 0, width, height).data : [];
        let inked = 0; // pixels darker than light grey
        for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && px[i] + px[i + 1] + px[i + 2] < 600) inked++;
        return { kind, drawn: inked > 100 };
      }),
    };
  });
}

/** Opens a notebook in JupyterLab, runs Run ▸ Run All Cells, waits until every cell ran and the kernel is idle. */
async function runAllCells(page: Page, lab: LabServer, notebook: string): Promise<void> {
  await page.goto(`${lab.baseUrl}lab/tree/${notebook}?reset&token=${lab.token}`, { timeout: 120_000 });
  // The status bar names the kernel once the notebook's session has it, and says Idle once it has started.
  await page.locator('#jp-main-statusbar', { hasText: 'TypeScript | Idle' }).waitFor({ timeout: 180_000 });
  await page.locator('#jp-MainMenu .lm-MenuBar-itemLabel', { hasText: /^Run$/ }).click();
  await page.locator('.lm-Menu .lm-Menu-itemLabel', { hasText: /^Run All Cells$/ }).click();
  try {
    await page.waitForFunction(
      () => {
        const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
        const cells = Array.from(panel?.querySelectorAll('.jp-CodeCell') ?? []);
        const indicator = panel?.querySelector<HTMLElement>('.jp-Notebook-ExecutionIndicator');
        const ran = cells.every((c) => /\[\d+\]/.test(c.querySelector('.jp-InputPrompt')?.textContent ?? ''));
        return cells.length > 0 && ran && indicator?.dataset.status === 'idle';
      },
      undefined,
      { timeout: RUN_SECONDS * 1000, polling: 1000 },
    );
  } catch (e) {
    await page.screenshot({ path: path.join(OUT, `${path.basename(notebook, '.ipynb')}-failed.png`) });
    throw e;
  }
  // Vega draws asynchronously after the output arrives.
  await page.waitForFunction(
    () => document.querySelectorAll('.jp-RenderedVegaCommon5:not(:has(.vega-embed))').length === 0,
    undefined,
    { timeout: 60_000 },
  );
}

/** Saves a screenshot of the page with the element scrolled into view, and one of the element alone. */
async function screenshots(page: Page, selector: string, name: string): Promise<void> {
  const el = page.locator(selector).first();
  await el.scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
  await el.screenshot({ path: path.join(OUT, `${name}-output.png`) });
}

describe('JupyterLab in a browser (playwright-core, headless Chromium)', function () {
  this.timeout(2 * RUN_SECONDS * 1000 + 300_000);
  const chrome = findChrome();
  let lab: LabServer | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    if (!chrome) {
      console.warn('    skipped: no Chrome or Chromium found (apt-get install chromium, or set CHROME_PATH)');
      this.skip();
    }
    this.timeout(300_000);
    fs.rmSync(OUT, { recursive: true, force: true });
    const notebooks = path.join(OUT, 'notebooks');
    const settings = path.join(OUT, 'settings');
    fs.mkdirSync(notebooks, { recursive: true });
    // Copies beside a lib link, as in notebooks/, so that runs in the browser leave the real notebooks untouched.
    for (const name of ['00-quickstart.ipynb', '04-loss-landscape.ipynb']) {
      fs.copyFileSync(path.join(ROOT, 'notebooks', name), path.join(notebooks, name));
    }
    fs.symlinkSync(path.relative(notebooks, path.join(ROOT, 'lib')), path.join(notebooks, 'lib'));
    for (const [file, value] of Object.entries(SETTINGS)) {
      fs.mkdirSync(path.dirname(path.join(settings, file)), { recursive: true });
      fs.writeFileSync(path.join(settings, file), JSON.stringify(value));
    }
    const log = fs.createWriteStream(path.join(OUT, 'jupyterlab.log'));
    lab = await startLab({
      rootDir: notebooks,
      args: [`--LabApp.user_settings_dir=${settings}`, `--LabApp.workspaces_dir=${path.join(OUT, 'workspaces')}`],
      env: { FISHERLAB_OUT: OUT, FISHERLAB_FIGURES: path.join(OUT, 'figures'), FISHERLAB_FULL: '0' },
      log: (chunk) => log.write(chunk),
      detached: false, // killed with the test's process group if the test itself is killed
    });
    browser = await chromium.launch({ executablePath: chrome!, args: CHROME_FLAGS, timeout: 120_000 });
    page = await browser.newPage({ viewport: { width: 1700, height: 1000 } });
  });

  after(async function () {
    this.timeout(120_000);
    await browser?.close();
    await lab?.stop();
  });

  it('runs 00-quickstart from the Run menu: tables, the chart drawn once, no errors', async () => {
    await runAllCells(page, lab!, '00-quickstart.ipynb');
    const out = await readOutputs(page);
    await screenshots(page, '.jp-RenderedVegaCommon5', '00-quickstart-chart');
    expect(out.errors).to.deep.equal([]);
    expect(out.executed).to.equal(out.codeCells);
    expect(out.tables, 'table rows').to.be.greaterThan(10);
    expect(out.charts).to.deep.equal([{ kind: 'vega-lite', drawn: true }]);
    expect(out.mimeTypes, 'the chart also as a separate PNG').to.not.include('image/png');
  });

  it('runs 04-loss-landscape from the Run menu: the Figure 1 heatmaps and 3-D views drawn, each once', async () => {
    await runAllCells(page, lab!, '04-loss-landscape.ipynb');
    const out = await readOutputs(page);
    await screenshots(page, '.jp-RenderedVega5', '04-loss-landscape-heatmaps');
    await screenshots(page, '.jp-RenderedVega5 >> nth=-1', '04-loss-landscape-3d');
    expect(out.errors).to.deep.equal([]);
    expect(out.executed).to.equal(out.codeCells);
    expect(out.charts.length, 'charts').to.be.at.least(2);
    expect(
      out.charts.filter((c) => !c.drawn),
      'charts not drawn',
    ).to.deep.equal([]);
    expect(out.mimeTypes, 'a chart also as a separate PNG').to.not.include('image/png');
  });

  it("nbconvert's HTML shows a chart display as its PNG, once", async () => {
    const spec = {
      data: {
        values: [
          { x: 'a', y: 1 },
          { x: 'b', y: 3 },
        ],
      },
      mark: 'bar',
      encoding: { x: { field: 'x', type: 'nominal' }, y: { field: 'y', type: 'quantitative' } },
    } as const;
    const bundle = chartBundle(await renderVegaLite(spec), spec);
    const notebook = path.join(OUT, 'chart-bundle.ipynb');
    const output = { output_type: 'display_data', data: bundle, metadata: {} };
    const cell = { cell_type: 'code', execution_count: 1, metadata: {}, source: 'await show(spec)', outputs: [output] };
    fs.writeFileSync(notebook, JSON.stringify({ cells: [cell], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
    const args = ['-m', 'jupyter', 'nbconvert', '--to', 'html', notebook];
    const r = spawnSync(jupyterPython(), args, { encoding: 'utf8', env: jupyterEnv(), timeout: 120_000 });
    expect(r.status, r.stderr).to.equal(0);
    await page.goto(`file://${path.join(OUT, 'chart-bundle.html')}`);
    const images = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>('.jp-OutputArea-output img')).map(
        (img) => img.naturalWidth,
      ),
    );
    expect(images).to.have.length(1);
    expect(images[0]).to.be.greaterThan(0);
  });
});
