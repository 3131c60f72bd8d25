/** The artifacts shipped in data/ name files relative to the project root, so they read the same from any clone. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { pretrainingRecipe } from '../lib/fisher/samples';
import { readSurfaceHdf5 } from '../lib/landscape/surface-hdf5';
import { projectRoot } from '../lib/paths';
import { defaultModelDir, EMBEDDED_MODEL, SHIPPED, shippedPath } from '../lib/shipped';
import { readSafetensors } from '../lib/weights/safetensors';
import { modelCard } from '../lib/pretrain/model-card';
import { readBenefitReports } from '../lib/pretrain/benefit';
import { claimsMarkdown, paperClaims } from '../lib/sweep/claims';
import { designCoverage, designRecords, DESIGNS } from '../lib/sweep/designs';
import { readSweepResults } from '../lib/sweep/run';

/** An absolute POSIX or Windows path of two or more parts, anywhere in a text. */
const ABSOLUTE_PATH = /(^|[\s"'(:=])(\/[\w.-]+\/[\w.-]+|[A-Za-z]:\\[\w.-]+)/;

/** Every file under a folder. */
function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The strings inside a JSON value, with where they sit. */
function strings(value: unknown, where: string): Array<[string, string]> {
  if (typeof value === 'string') return [[where, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${where}[${i}]`));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => strings(v, `${where}.${k}`));
  return [];
}

describe('shipped data', () => {
  const data = path.join(projectRoot(), 'data');
  const files = walk(data).filter((f) => !f.split(path.sep).includes('.runs'));

  it('the pattern finds absolute paths and passes relative ones', () => {
    expect(
      ['/work/main/data/x', 'recipe: /home/u/p.json)', 'C:\\Users\\u'].map((s) => ABSOLUTE_PATH.test(s)),
    ).to.deep.equal([true, true, true]);
    expect(
      ['data/models/m', 'out/landscape/d.safetensors', 'mean ± std / seed', 'a/b'].map((s) => ABSOLUTE_PATH.test(s)),
    ).to.deep.equal([false, false, false, false]);
  });

  it('holds no absolute path in any JSON, JSONL, CSV, safetensors header or HDF5 surface', async function () {
    this.timeout(60_000);
    const found: string[] = [];
    const check = (file: string, pairs: Array<[string, string]>) => {
      for (const [where, s] of pairs)
        if (ABSOLUTE_PATH.test(s)) found.push(`${path.relative(data, file)} ${where}: ${s.slice(0, 120)}`);
    };
    const kinds = new Set<string>();
    for (const file of files) {
      const ext = path.extname(file);
      kinds.add(ext);
      if (ext === '.json') check(file, strings(JSON.parse(fs.readFileSync(file, 'utf8')), '$'));
      else if (ext === '.jsonl')
        fs.readFileSync(file, 'utf8')
          .split('\n')
          .forEach((l, i) => l.trim() && check(file, strings(JSON.parse(l), `line ${i + 1}`)));
      else if (ext === '.csv')
        check(
          file,
          fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .map((l, i): [string, string] => [`line ${i + 1}`, l]),
        );
      else if (ext === '.safetensors') check(file, Object.entries(readSafetensors(file).metadata));
      else if (ext === '.h5') check(file, strings((await readSurfaceHdf5(file)).metadata, 'fisherlab_metadata'));
    }
    expect([...kinds]).to.include.members(['.json', '.jsonl', '.csv', '.safetensors', '.h5']);
    expect(found).to.deep.equal([]);
  });

  it('every path lib/shipped.ts names is shipped, and the embedded model is the default model', () => {
    const missing = Object.values(SHIPPED).filter((p) => !fs.existsSync(path.join(projectRoot(), p)));
    expect(missing).to.deep.equal([]);
    expect(Object.values(SHIPPED).every((p) => p.startsWith('data/'))).to.equal(true);
    expect(shippedPath('fisher')).to.equal(path.join(data, 'fisher', `${EMBEDDED_MODEL}-1pct.safetensors`));
    expect(path.basename(defaultModelDir())).to.equal(EMBEDDED_MODEL);
    expect(fs.existsSync(path.join(defaultModelDir(), 'config.json'))).to.equal(true);
  });

  it('every shipped model card is what `fisherlab model-card` writes from its folder, byte for byte', () => {
    const models = fs
      .readdirSync(path.join(data, 'models'))
      .filter((m) => fs.existsSync(path.join(data, 'models', m, 'pretrain-report.json')));
    expect(models).to.include(EMBEDDED_MODEL);
    for (const m of models) {
      const dir = path.join(data, 'models', m);
      const benefit = path.join(dir, 'pretraining-benefit.json');
      const report = JSON.parse(fs.readFileSync(path.join(dir, 'pretrain-report.json'), 'utf8'));
      const card = modelCard(m, report, fs.existsSync(benefit) ? readBenefitReports(benefit) : []);
      expect(card, `${m}/MODEL.md`).to.equal(fs.readFileSync(path.join(dir, 'MODEL.md'), 'utf8'));
    }
  });

  it("the README's claims block is what `fisherlab sweep --claims markdown` writes from the shipped results", () => {
    const readme = fs.readFileSync(path.join(projectRoot(), 'README.md'), 'utf8');
    const block =
      /<!-- claims: npx fisherlab sweep --claims markdown --out (\S+) -->\n([\s\S]*?)\n<!-- \/claims -->/.exec(readme);
    expect(block, 'README.md has no claims block').to.not.equal(null);
    expect(block![1]).to.equal(SHIPPED.results);
    const records = readSweepResults(shippedPath('results'));
    const expected = claimsMarkdown(
      paperClaims(designRecords(records)),
      DESIGNS.map((d) => designCoverage(d, records)),
    );
    expect(block![2], `README.md's claims block is stale: replace it with the output of its command`).to.equal(
      expected,
    );
  });

  it("records the shipped model's recipe by its path from the root, however the model folder was named", () => {
    const report = `${SHIPPED.model}/pretrain-report.json`;
    expect(pretrainingRecipe(path.join(data, 'models', EMBEDDED_MODEL)).source).to.equal(report);
    expect(pretrainingRecipe(path.relative(process.cwd(), path.join(data, 'models', EMBEDDED_MODEL))).source).to.equal(
      report,
    );
  });
});
