/**
 * Figure 1 sets: three surfaces along the same directions with disjoint top/bottom tensor sets, read back; the
 * authors' surfaces under our names, with descriptors checked against paper.md's Appendix A values.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveBert } from '../lib/bert/load';
import { Bert, WeightArray } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { writeFisher } from '../lib/fisher/estimate';
import {
  computeFigure1,
  figure1Descriptors,
  figure1Grid,
  figure1Observations,
  readFigure1,
  readPaperFigure1,
} from '../lib/landscape/figure1';
import { lossAt, paperSurfacesFile } from '../lib/landscape/surface-file';
import { readSurfaceHdf5 } from '../lib/landscape/surface-hdf5';
import { fixedMaskedSet, writeMaskedExamples } from '../lib/pretrain/mlm-data';
import { evaluateMlm } from '../lib/pretrain/mlm-eval';
import { shippedPath } from '../lib/shipped';
import { errorOf, setupBackend, tinyConfig } from './helpers';
import { randomWeights } from './reference/bert-f64';

describe('Figure 1 surface sets', function () {
  this.timeout(120_000);
  let tmp = '';
  before(async () => {
    await setupBackend();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-figure1-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("the full grid is the authors' 16 × 16 over [−1.5, 1.5]² (step 0.2), the shipped surfaces' grid; quick is 8 × 8 on it", () => {
    const full = figure1Grid('full');
    const authors = Array.from({ length: 16 }, (_, i) => -1.5 + 0.2 * i);
    for (const axis of [full.x, full.y]) {
      expect(axis).to.have.length(16);
      axis.forEach((v, i) => expect(v).to.be.closeTo(authors[i], 1e-12));
    }
    const shipped = readFigure1(shippedPath('landscape'));
    for (const surface of shipped.values()) expect({ x: surface.x, y: surface.y }).to.deep.equal(full);
    const quick = figure1Grid('quick');
    expect(quick.x).to.have.length(8);
    quick.x.forEach((v, i) => expect(v).to.be.closeTo(-1.5 + (3 / 7) * i, 1e-12));
    expect(quick.y).to.deep.equal(quick.x);
  });

  it('computes all/top50/bottom50 along one pair of directions: same centre, disjoint halves, files read back', async () => {
    const cfg = tinyConfig({ vocab_size: 40, max_position_embeddings: 12 });
    const weights = randomWeights(cfg, MASKED_LM, 7) as Map<string, WeightArray>;
    const model = Bert.fromWeights(cfg, MASKED_LM, weights);
    const modelDir = path.join(tmp, 'model');
    saveBert(modelDir, model, {
      vocabTokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 35 }, (_, i) => `w${i}`)],
    });
    const sequences = Array.from({ length: 6 }, (_, i) => [
      2,
      ...Array.from({ length: 4 + (i % 3) }, (_, j) => 5 + ((i * 5 + j * 7) % 34)),
      3,
    ]);
    const examples = fixedMaskedSet(sequences, 6, 3, {
      vocabSize: 40,
      specialIds: new Set([0, 1, 2, 3, 4]),
      maskId: 4,
    });
    const names = [...weights.keys()];
    const fisher = path.join(tmp, 'fisher.safetensors');
    // Mean Fisher rising with the parameter index: the top half is the second half of the names.
    writeFisher(
      fisher,
      new Map(
        names.map((name, i) => [
          name,
          { name, shape: weights.get(name)!.shape, data: new Float32Array(weights.get(name)!.data.length).fill(i + 1) },
        ]),
      ),
      6,
    );
    // computeFigure1 draws its evaluation set from the pretraining corpus; an examples file stands in for it here.
    const examplesFile = path.join(tmp, 'examples.jsonl');
    writeMaskedExamples(examplesFile, examples);
    const outDir = path.join(tmp, 'figure1');
    const grid = { x: [-1, 0, 1], y: [-0.5, 0, 0.5] };
    const surfaces = await computeFigure1({
      model: modelDir,
      fisher,
      outDir,
      runDir: path.join(tmp, 'runs'),
      grid,
      examples: examplesFile,
      write: () => {},
    });
    expect(surfaces).to.not.equal(null);
    const unperturbed = evaluateMlm(model, examples, 0).loss;
    for (const s of surfaces!.values()) expect(Math.abs(lossAt(s, 1, 1) - unperturbed)).to.be.below(1e-5);
    const [all, top, bottom] = ['all', 'top50', 'bottom50'].map((n) => surfaces!.get(n as 'all')!);
    expect(new Set([all, top, bottom].map((s) => s.metadata.directions)).size).to.equal(1);
    const topTensors = top.metadata.tensors as string[];
    const bottomTensors = bottom.metadata.tensors as string[];
    expect(topTensors).to.deep.equal(names.slice(names.length / 2));
    expect(bottomTensors).to.deep.equal(names.slice(0, names.length / 2));
    // Away from the centre, perturbing a part differs from perturbing all.
    expect(lossAt(top, 0, 0)).to.not.equal(lossAt(all, 0, 0));
    expect(lossAt(bottom, 0, 0)).to.not.equal(lossAt(all, 0, 0));

    const back = readFigure1(outDir);
    expect(back.get('top50')!.loss).to.deep.equal(top.loss);
    expect((await readSurfaceHdf5(path.join(outDir, 'bottom50.h5'))).loss).to.deep.equal(bottom.loss);
    const rows = figure1Descriptors([{ model: 'tiny', vocabSize: 40, surfaces: back }]);
    expect(rows.map((r) => r.set)).to.deep.equal(['all', 'top50', 'bottom50']);
    expect(rows[0].centre).to.be.closeTo(unperturbed, 1e-5);
    expect(rows[0].uniformLoss).to.be.closeTo(Math.log(40), 1e-12);
    fs.rmSync(path.join(outDir, 'top50.json'));
    expect(errorOf(() => readFigure1(outDir))).to.match(/no top50\.json/);
    model.dispose();
  });

  it("reads the authors' BERT-base surfaces under our names; descriptors match paper.md Appendix A", function () {
    const file = paperSurfacesFile();
    if (!file) {
      console.warn('    skipped: ../shared/data/paper/bert-base-loss-surfaces.json not found (set FISHERLAB_DATA)');
      this.skip();
    }
    const theirs = readPaperFigure1(file!);
    const [all, top] = figure1Descriptors([{ model: 'bert-base-uncased', vocabSize: 30522, surfaces: theirs }]);
    // Their grid has no 0: the centre is the mean of the four values at x, y = ±0.1 (Appendix A).
    expect(all.centre).to.be.closeTo((2.157843 + 2.162542 + 2.15818 + 2.167468) / 4, 2e-6);
    expect(all.centreExact).to.equal(false);
    expect(all.min).to.be.closeTo(2.1578426, 1e-6);
    expect(top.min).to.be.closeTo(2.0990593, 1e-6);
    // paper.md: the top set plateaus near ln |V| = ln 30522 ≈ 10.33; the all set climbs far above it.
    expect(top.uniformLoss).to.be.closeTo(10.3262, 1e-5);
    expect(Math.abs(top.plateauVsUniform!)).to.be.below(0.6);
    expect(all.plateau).to.be.above(top.uniformLoss! + 5);
  });

  it("the authors' surfaces show every observation we check ours for; a surface set that does not is reported as such", function () {
    const file = paperSurfacesFile();
    if (!file) this.skip();
    const rows = figure1Descriptors([
      { model: 'bert-base-uncased', vocabSize: 30522, surfaces: readPaperFigure1(file!) },
    ]);
    const seen = figure1Observations(rows);
    expect(seen.map((o) => o.holds)).to.deep.equal([true, true, true, true]);
    // A flat surface at ln V for all three sets: no basin is wider, and "all" does not climb above ln V.
    const flat = { x: [-1, 0, 1], y: [-1, 0, 1], loss: new Array(9).fill(Math.log(100)), metadata: {} };
    const flatRows = figure1Descriptors([
      {
        model: 'flat',
        vocabSize: 100,
        surfaces: new Map([
          ['all', flat],
          ['top50', flat],
          ['bottom50', flat],
        ]),
      },
    ]);
    expect(figure1Observations(flatRows).map((o) => o.holds)).to.deep.equal([false, true, true, false]);
    expect(errorOf(() => figure1Observations(flatRows.slice(1)))).to.match(/no all surface/);
    // A bottom set whose rim rises 1 nat where the full set's rises 4 does not resemble it; one rising 3 does.
    const bowl = (rise: number) => ({
      x: [-1, 0, 1],
      y: [-1, 0, 1],
      loss: [1, 1, 1, 1, 0, 1, 1, 1, 1].map((v) => 5 + rise * v),
      metadata: {},
    });
    const rowsWith = (bottomRise: number) =>
      figure1Descriptors([
        {
          model: 'm',
          vocabSize: 100,
          surfaces: new Map([
            ['all', bowl(4)],
            ['top50', bowl(4)],
            ['bottom50', bowl(bottomRise)],
          ]),
        },
      ]);
    expect(figure1Observations(rowsWith(1))[2]).to.include({ holds: false, evidence: 'rises 1.00 vs 4.00 nats' });
    expect(figure1Observations(rowsWith(3))[2].holds).to.equal(true);
  });
});
