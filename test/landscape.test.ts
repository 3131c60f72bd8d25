/**
 * Loss landscapes: filter-normalized directions, Fisher masks, the grid sweep against independent evaluations
 * (evaluateMlm on the unperturbed model and on models whose weights were set by hand), resume, θ0 restored bitwise,
 * tensor leaks, surface files (ours and the authors' BERT-base surfaces), the plots and the CLI.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { saveBert } from '../lib/bert/load';
import { Bert, WeightArray } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { writeFisher } from '../lib/fisher/estimate';
import {
  axisSeeds,
  directionPair,
  filterNormalize,
  randomDirection,
  readDirections,
  writeDirections,
} from '../lib/landscape/directions';
import { maskDirection, maskedTensors, maskLabel, maskPair, parseMask } from '../lib/landscape/masks';
import { centerSlices, contourThresholds, landscapeSpec, sliceSpec } from '../lib/landscape/plots';
import { linspace, Perturbation, sweep, SweepOptions } from '../lib/landscape/surface';
import { lossAt, paperSurfacesFile, readSurface, readSurfaces, writeSurface } from '../lib/landscape/surface-file';
import { readSurfaceHdf5 } from '../lib/landscape/surface-hdf5';
import { fixedMaskedSet, writeMaskedExamples } from '../lib/pretrain/mlm-data';
import { parseGrid } from '../lib/commands/landscape';
import { evaluateMlm } from '../lib/pretrain/mlm-eval';
import { renderVega, renderVegaLite } from '../lib/notebook/plot';
import type { NamedArray } from '../lib/weights/safetensors';
import { errorOf, rejection, setupBackend, tinyConfig } from './helpers';
import { randomWeights } from './reference/bert-f64';

const PAD = 0;
const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');
const quiet = () => {};

/** Euclidean norm of values[begin, end) in float64. */
function norm(values: ArrayLike<number>, begin = 0, end = values.length): number {
  let s = 0;
  for (let i = begin; i < end; i++) s += values[i] * values[i];
  return Math.sqrt(s);
}

/** Whether two Float32Arrays hold the same bits. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('loss landscapes', function () {
  this.timeout(120_000);
  const cfg = tinyConfig({ vocab_size: 40, max_position_embeddings: 12 });
  const weights = randomWeights(cfg, MASKED_LM, 5) as Map<string, WeightArray>;
  const names = [...weights.keys()];
  // 10 sequences of 5–9 tokens ([CLS]=2 … [SEP]=3), masked once with fixed positions.
  const sequences = Array.from({ length: 10 }, (_, i) => [
    2,
    ...Array.from({ length: 3 + (i % 5) }, (_, j) => 5 + ((i * 7 + j * 3) % 34)),
    3,
  ]);
  const examples = fixedMaskedSet(sequences, 8, 1, { vocabSize: 40, specialIds: new Set([0, 1, 2, 3, 4]), maskId: 4 });
  let model: Bert;
  let tmp = '';

  before(async () => {
    await setupBackend();
    model = Bert.fromWeights(cfg, MASKED_LM, weights);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-landscape-'));
  });
  after(() => {
    model.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('directions', () => {
    it('filter normalization gives every row of a 2-D direction the norm of the same weight row; 1-D tensors get zeros', () => {
      const d = randomDirection(weights, 3);
      let rows = 0;
      for (const [name, w] of weights) {
        const t = d.get(name)!;
        expect(t.shape).to.deep.equal(w.shape);
        if (w.shape.length === 1) {
          expect(
            t.data.every((v) => v === 0),
            name,
          ).to.equal(true);
          continue;
        }
        const cols = w.shape[1];
        for (let r = 0; r < w.shape[0]; r++, rows++) {
          const want = norm(w.data, r * cols, (r + 1) * cols);
          expect(Math.abs(norm(t.data, r * cols, (r + 1) * cols) - want), `${name} row ${r}`).to.be.below(
            1e-6 * want + 1e-12,
          );
        }
        expect(
          t.data.some((v, i) => Math.abs(v) !== Math.abs(w.data[i])),
          `${name} is not just the weights`,
        ).to.equal(true);
      }
      expect(rows).to.be.above(100);
    });

    it("filterNormalize on a hand example: rows scaled to the weights' row norms, a zero weight row gives a zero row", () => {
      const d = new Float32Array([3, 4, 1, 0, 5, 5]);
      filterNormalize(d, new Float32Array([0, 10, 0, 2, 0, 0]), 3);
      expect([...d].map((v) => Math.round(v * 1e6) / 1e6)).to.deep.equal([6, 8, 2, 0, 0, 0]);
    });

    it('biasbn: copy takes the weights, normalize scales a Gaussian to the tensor norm; streams depend on seed and name only', () => {
      const copy = randomDirection(weights, 3, 'copy');
      const scaled = randomDirection(weights, 3, 'normalize');
      const zero = randomDirection(weights, 3);
      const bias = 'bert.encoder.layer.0.attention.self.query.bias';
      const w = weights.get(bias)!.data;
      expect(sameBits(copy.get(bias)!.data, w)).to.equal(true);
      expect(Math.abs(norm(scaled.get(bias)!.data) - norm(w))).to.be.below(1e-6 * norm(w));
      const matrix = 'bert.encoder.layer.1.output.dense.weight';
      expect(sameBits(copy.get(matrix)!.data, zero.get(matrix)!.data)).to.equal(true);
      // The same tensor's direction does not change when other tensors are absent.
      const alone = randomDirection(new Map([[matrix, weights.get(matrix)!]]), 3);
      expect(sameBits(alone.get(matrix)!.data, zero.get(matrix)!.data)).to.equal(true);
      const pair = directionPair(weights, 3);
      expect(sameBits(pair.x.get(matrix)!.data, pair.y.get(matrix)!.data)).to.equal(false);
      expect(sameBits(pair.x.get(matrix)!.data, randomDirection(weights, axisSeeds(3).x).get(matrix)!.data)).to.equal(
        true,
      );
    });

    it('a directions file round-trips bitwise with its metadata and is checked against the model', () => {
      const pair = directionPair(weights, 9, 'copy');
      const file = path.join(tmp, 'dirs.safetensors');
      writeDirections(file, pair, { seed: '9' });
      const { pair: back, metadata } = readDirections(file, weights);
      expect(metadata.seed).to.equal('9');
      for (const axis of ['x', 'y'] as const)
        for (const n of names) expect(sameBits(back[axis].get(n)!.data, pair[axis].get(n)!.data), n).to.equal(true);
      const fewer = new Map(weights);
      fewer.delete('cls.predictions.bias');
      expect(errorOf(() => readDirections(file, fewer))).to.match(
        /dirs\.safetensors: the x direction does not fit.*unexpected \[cls\.predictions\.bias\]/,
      );
    });
  });

  describe('masks', () => {
    // Mean Fisher of tensor i: ((5·i) mod n) + 1, a permutation of 1..n.
    const fisher = new Map<string, NamedArray>(
      names.map((name, i) => {
        const size = weights.get(name)!.data.length;
        return [
          name,
          { name, shape: weights.get(name)!.shape, data: new Float32Array(size).fill(((5 * i) % names.length) + 1) },
        ];
      }),
    );
    const byMean = [...names].sort((a, b) => fisher.get(a)!.data[0] - fisher.get(b)!.data[0]);
    const inOrder = (set: string[]) => names.filter((n) => set.includes(n));

    it('parses mask texts', () => {
      expect(parseMask('all')).to.deep.equal({ kind: 'all' });
      expect(parseMask('top50')).to.deep.equal({ kind: 'top', percent: 50 });
      expect(parseMask('bottom:25')).to.deep.equal({ kind: 'bottom', percent: 25 });
      expect(maskLabel(parseMask('names:a, b'))).to.equal('names:a,b');
      expect(errorOf(() => parseMask('top:0'))).to.match(/percentage/);
      expect(errorOf(() => parseMask('middle'))).to.match(/unknown mask "middle"/);
    });

    it('picks exactly the named, top and bottom tensors (by tensor count, as the authors)', () => {
      expect(names.length).to.equal(42);
      expect(maskedTensors(parseMask('all'), names)).to.deep.equal(names);
      expect(
        maskedTensors(parseMask('names:cls.predictions.bias,bert.embeddings.word_embeddings.weight'), names),
      ).to.deep.equal(['bert.embeddings.word_embeddings.weight', 'cls.predictions.bias']);
      expect(maskedTensors(parseMask('top50'), names, fisher)).to.deep.equal(inOrder(byMean.slice(21)));
      expect(maskedTensors(parseMask('bottom50'), names, fisher)).to.deep.equal(inOrder(byMean.slice(0, 21)));
      expect(maskedTensors(parseMask('top:10'), names, fisher)).to.deep.equal(inOrder(byMean.slice(42 - 5)));
      expect(maskedTensors(parseMask('bottom:10'), names, fisher)).to.deep.equal(inOrder(byMean.slice(0, 4)));
      expect(errorOf(() => maskedTensors(parseMask('top50'), names))).to.match(/needs a Fisher estimate/);
      expect(errorOf(() => maskedTensors(parseMask('names:nope'), names))).to.match(
        /not parameters of the model: nope/,
      );
      const partial = new Map(fisher);
      partial.delete('cls.predictions.bias');
      expect(errorOf(() => maskedTensors(parseMask('top50'), names, partial))).to.match(
        /missing|not the parameter set/,
      );
    });

    it('zeroes the directions outside the mask and keeps those inside', () => {
      const d = randomDirection(weights, 1, 'copy');
      const keep = ['bert.encoder.layer.0.output.dense.weight', 'bert.embeddings.LayerNorm.bias'];
      const m = maskDirection(d, keep);
      for (const n of names) {
        if (keep.includes(n)) expect(m.get(n)!.data).to.equal(d.get(n)!.data);
        else
          expect(
            m.get(n)!.data.every((v) => v === 0),
            n,
          ).to.equal(true);
      }
    });
  });

  describe('the sweep', () => {
    const pair = directionPair(weights, 4);
    const top = maskedTensors(
      parseMask(
        'names:bert.encoder.layer.0.attention.self.query.weight,bert.encoder.layer.1.intermediate.dense.weight,bert.encoder.layer.1.output.LayerNorm.bias',
      ),
      names,
    );
    const grid = { x: linspace(-1, 1, 3), y: linspace(-0.5, 0.5, 3) };
    const options = (o: Partial<SweepOptions> = {}): SweepOptions => ({
      model,
      pair,
      grid,
      examples,
      padId: PAD,
      batchSize: 3,
      write: quiet,
      ...o,
    });

    /** The loss of a fresh model whose masked tensors were set by hand to w + a·dx + b·dy, by evaluateMlm. */
    function handLoss(keep: string[], a: number, b: number): number {
      const moved = new Map<string, WeightArray>();
      for (const [name, w] of weights) {
        const data = Float32Array.from(w.data);
        if (keep.includes(name))
          for (let i = 0; i < data.length; i++)
            data[i] = w.data[i] + a * pair.x.get(name)!.data[i] + b * pair.y.get(name)!.data[i];
        moved.set(name, { shape: w.shape, data });
      }
      const m = Bert.fromWeights(cfg, MASKED_LM, moved);
      const loss = evaluateMlm(m, examples, PAD).loss;
      m.dispose();
      return loss;
    }

    it("linspace matches numpy (the authors' 16-point grid: step 0.2, no 0, ends exact)", () => {
      const g = linspace(-1.5, 1.5, 16);
      expect(g[0]).to.equal(-1.5);
      expect(g[15]).to.equal(1.5);
      expect(Math.abs(g[7] + 0.1)).to.be.below(1e-12);
      expect(Math.abs(g[8] - 0.1)).to.be.below(1e-12);
      expect(linspace(2, 5, 1)).to.deep.equal([2]);
    });

    it('the centre equals evaluateMlm of the unperturbed model; other points equal models set by hand', async () => {
      const r = await sweep(options());
      expect(r.loss).to.have.length(9);
      const centre = evaluateMlm(model, examples, PAD);
      expect(r.maskedTokens).to.equal(centre.maskedTokens);
      expect(Math.abs(r.loss![4] - centre.loss)).to.be.below(1e-5 * centre.loss);
      for (const [k, a, b] of [
        [0, -1, -0.5],
        [5, 1, 0],
        [7, 0, 0.5],
      ]) {
        const want = handLoss(names, a, b);
        expect(Math.abs(r.loss![k] - want), `point ${k}`).to.be.below(1e-5 * want);
      }
      expect(Math.abs(r.loss![0] - centre.loss)).to.be.above(1e-3);
      expect(r.pointsPerSecond).to.be.above(0);
    });

    it('a masked sweep moves only the masked tensors (others bit-identical) and matches a model set by hand', async () => {
      const masked = maskPair(pair, top);
      const p = new Perturbation(model, masked);
      expect(p.active).to.deep.equal(top.filter((n) => !n.endsWith('.bias')));
      p.set(0.7, -0.3);
      for (const [name, v] of model.namedParameters()) {
        const now = v.dataSync() as Float32Array;
        if (p.active.includes(name)) {
          const want = weights
            .get(name)!
            .data.map((w, i) => w + 0.7 * pair.x.get(name)!.data[i] - 0.3 * pair.y.get(name)!.data[i]);
          expect(sameBits(now, want), name).to.equal(true);
        } else {
          expect(sameBits(now, weights.get(name)!.data), name).to.equal(true);
        }
      }
      p.restore();
      const r = await sweep(options({ pair: masked, grid: { x: [0.7], y: [-0.3] } }));
      const want = handLoss(p.active, 0.7, -0.3);
      expect(Math.abs(r.loss![0] - want)).to.be.below(1e-5 * want);
    });

    it('restores θ0 bitwise and leaks no tensors', async () => {
      await sweep(options({ grid: { x: [0.3], y: [0.2] } })); // warm-up: kernels and caches
      const before = tf.memory().numTensors;
      await sweep(options());
      expect(tf.memory().numTensors).to.equal(before);
      for (const [name, v] of model.namedParameters())
        expect(sameBits(v.dataSync() as Float32Array, weights.get(name)!.data), name).to.equal(true);
    });

    it('an interrupted sweep resumes to the same surface, bitwise; other settings are refused', async () => {
      const whole = await sweep(options());
      const runDir = path.join(tmp, 'run');
      const first = await sweep(options({ runDir, stopAfter: 4 }));
      expect(first.loss).to.equal(null);
      expect(first.done).to.equal(4);
      for (const [name, v] of model.namedParameters())
        expect(sameBits(v.dataSync() as Float32Array, weights.get(name)!.data), name).to.equal(true);
      let polls = 0;
      const second = await sweep(options({ runDir, shouldStop: () => ++polls === 2 }));
      expect([second.resumedFrom, second.done, second.loss]).to.deep.equal([4, 6, null]);
      const third = await sweep(options({ runDir }));
      expect(third.resumedFrom).to.equal(6);
      expect(third.loss).to.deep.equal(whole.loss);
      expect(await rejection(sweep(options({ runDir, grid: { x: [0, 1], y: [0] } })))).to.match(
        /other settings \(x, y differ\)/,
      );
      expect(await rejection(sweep(options({ runDir, pair: maskPair(pair, top) })))).to.match(/directions_sha256/);
    });
  });

  describe('surface files and plots', () => {
    const surface = {
      x: linspace(-1, 1, 4),
      y: [-0.5, 0.5],
      loss: [5, 4, 4.5, 6, 3, 2, 2.5, 4],
      metadata: { mask: 'top:50', model: 'm' },
    };

    it("a surface file round-trips (Li et al.'s field names, flat nx·iy + ix) and bad files are refused", () => {
      const file = path.join(tmp, 'surface.json');
      writeSurface(file, surface);
      const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
      expect(Object.keys(raw)).to.include.members(['xcoordinates', 'ycoordinates', 'train_loss', 'metadata']);
      const back = readSurface(file);
      expect(back).to.deep.equal(surface);
      expect([...readSurfaces(file).keys()]).to.deep.equal(['top:50']);
      expect(lossAt(back, 1, 1)).to.equal(2);
      fs.writeFileSync(file, JSON.stringify({ ...raw, train_loss: [1, 2, 3] }));
      expect(errorOf(() => readSurface(file))).to.match(/"train_loss" has 3 values, expected 4×2 = 8/);
      fs.writeFileSync(file, JSON.stringify({ ...raw, xcoordinates: [0, 1, 1, 2] }));
      expect(errorOf(() => readSurface(file))).to.match(/"xcoordinates" must be strictly increasing/);
      fs.writeFileSync(file, JSON.stringify({ ...raw, train_loss: [1, 2, 3, 4, 5, 6, 7, null] }));
      expect(errorOf(() => readSurface(file))).to.match(/train_loss\[7\] = null is not a finite number/);
    });

    it("reads the authors' BERT-base surfaces with the values of paper.md Appendix A", function () {
      const file = paperSurfacesFile();
      if (!file) this.skip();
      const all = readSurfaces(file!);
      expect([...all.keys()]).to.deep.equal(['all', 'top', 'bottom']);
      for (const s of all.values()) {
        expect(s.x.length * s.y.length).to.equal(256);
        linspace(-1.5, 1.5, 16).forEach((v, i) =>
          expect(Math.abs(s.x[i] - v) + Math.abs(s.y[i] - v)).to.be.below(1e-6),
        );
      }
      const at = (name: string, ix: number, iy: number) => Number(lossAt(all.get(name)!, ix, iy).toFixed(6));
      // Centre values in the order (x, y) = (−0.1,−0.1), (0.1,−0.1), (−0.1,0.1), (0.1,0.1).
      expect([at('all', 7, 7), at('all', 8, 7), at('all', 7, 8), at('all', 8, 8)]).to.deep.equal([
        2.157843, 2.162542, 2.15818, 2.167468,
      ]);
      expect([at('top', 7, 7), at('top', 8, 7), at('top', 7, 8), at('top', 8, 8)]).to.deep.equal([
        2.107841, 2.101911, 2.099059, 2.101933,
      ]);
      expect([at('bottom', 7, 7), at('bottom', 8, 7), at('bottom', 7, 8), at('bottom', 8, 8)]).to.deep.equal([
        2.133846, 2.141774, 2.138156, 2.149176,
      ]);
      expect(at('all', 15, 0)).to.equal(29.294167); // the maximum, at (1.5, −1.5)
      expect(at('top', 12, 0)).to.equal(11.62222); // the maximum, at (0.9, −1.5)
      expect(at('bottom', 15, 15)).to.equal(27.731064); // the maximum, at (1.5, 1.5)
      expect(errorOf(() => readSurface(file!))).to.match(/holds 3 surfaces \(all, top, bottom\); name one/);
      expect(readSurface(file!, 'top').loss).to.deep.equal(all.get('top')!.loss);
    });

    it('centre slices: the row and column nearest 0, averaged when the grid straddles 0', () => {
      const slices = centerSlices(surface);
      // y ∈ {−0.5, 0.5} straddles 0: the x slice is the mean of both rows.
      expect(slices.filter((p) => p.along === 'x').map((p) => p.loss)).to.deep.equal([4, 3, 3.5, 5]);
      // x = linspace(−1, 1, 4) = {−1, −1/3, 1/3, 1}: columns 1 and 2 are equally near 0.
      expect(slices.filter((p) => p.along === 'y').map((p) => p.loss)).to.deep.equal([4.25, 2.25]);
      expect(contourThresholds(0, 10, 4)).to.deep.equal([2, 4, 6, 8]);
    });

    it('panels share one colour scale (or one per row) and render with contour lines', async () => {
      const other = { ...surface, loss: surface.loss.map((v) => v * 10) };
      const rows = [
        {
          label: 'ours',
          panels: [
            { title: 'all', surface },
            { title: 'top', surface: other },
          ],
        },
        { label: 'theirs', panels: [{ title: 'all', surface: other }] },
      ];
      const shared = landscapeSpec(rows) as unknown as { scales: Array<{ domain: number[] }>; marks: unknown[] };
      expect(shared.scales.map((s) => s.domain)).to.deep.equal([[2, 60]]);
      expect(shared.marks).to.have.length(4);
      const perRow = landscapeSpec(rows, { scale: 'row' }) as unknown as { scales: Array<{ domain: number[] }> };
      expect(perRow.scales.map((s) => s.domain)).to.deep.equal([
        [2, 60],
        [20, 60],
      ]);
      const { svg } = await renderVega(landscapeSpec(rows));
      expect(svg).to.include('ours: all').and.include('theirs: all');
      expect((svg.match(/<path/g) ?? []).length).to.be.above(20);
      const slices = await renderVegaLite(sliceSpec([{ label: 'ours', surface }]));
      expect(slices.svg).to.include('along x');
      expect(
        errorOf(() =>
          landscapeSpec([{ label: 'bad', panels: [{ title: 'uneven', surface: { ...surface, x: [0, 1, 3, 4] } }] }]),
        ),
      ).to.match(/not evenly spaced/);
    });
  });

  describe('the landscape command', () => {
    it('parses grids: N, NXxNY, ranges, and NXx1 as a 1-D slice at y = 0', () => {
      expect(parseGrid('16', '-1.5,1.5')).to.deep.equal({ x: linspace(-1.5, 1.5, 16), y: linspace(-1.5, 1.5, 16) });
      expect(parseGrid('3x2', '-1,1', '0,4')).to.deep.equal({ x: [-1, 0, 1], y: [0, 4] });
      expect(parseGrid('5x1', '-2,2')).to.deep.equal({ x: [-2, -1, 0, 1, 2], y: [0] });
      expect(errorOf(() => parseGrid('4', '1,-1'))).to.match(/--range: MIN must not exceed MAX/);
      expect(errorOf(() => parseGrid('4by4', '-1,1'))).to.match(/--grid: expected N or NXxNY/);
    });

    let modelDir = '';
    let examplesFile = '';
    let fisherFile = '';
    let run: (args: string[]) => { status: number | null; stdout: string; stderr: string };
    before(() => {
      modelDir = path.join(tmp, 'model');
      saveBert(modelDir, model, {
        vocabTokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 35 }, (_, i) => `w${i}`)],
      });
      examplesFile = path.join(tmp, 'examples.jsonl');
      writeMaskedExamples(examplesFile, examples);
      fisherFile = path.join(tmp, 'fisher.safetensors');
      writeFisher(
        fisherFile,
        new Map(
          names.map((name, i) => [
            name,
            {
              name,
              shape: weights.get(name)!.shape,
              data: new Float32Array(weights.get(name)!.data.length).fill(i + 1),
            },
          ]),
        ),
        8,
      );
      run = (args: string[]) =>
        spawnSync(
          process.execPath,
          [CLI, 'landscape', '--model', modelDir, '--examples', examplesFile, '--grid', '3', '--range=-1,1', ...args],
          {
            encoding: 'utf8',
            env: { ...process.env, FISHERLAB_ROOT: process.cwd(), FISHERLAB_OUT: path.join(tmp, 'out') },
          },
        );
    });

    it('writes a surface whose centre is the unperturbed loss, then a top-50% surface from a Fisher file', function () {
      const allFile = path.join(tmp, 'all.json');
      const r = run(['--mask', 'all', '--output', allFile, '--batch-size', '4']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/wrote .*all\.json: 3×3 points, mask all \(16 tensors perturbed\).*points\/s/);
      const s = readSurface(allFile);
      expect(Math.abs(lossAt(s, 1, 1) - evaluateMlm(model, examples, PAD).loss)).to.be.below(1e-5);
      expect(s.metadata).to.include({ mask: 'all', seed: 0, biasbn: 'zero', perturbed_tensors: 16 });
      expect(s.metadata.eval).to.include({ examples: 8, seed: null, batch_size: 4 });
      const dirFile = s.metadata.directions as string;
      expect(fs.existsSync(dirFile)).to.equal(true);

      const topFile = path.join(tmp, 'top.json');
      const t = run(['--mask', 'top50', '--fisher', fisherFile, '--directions', dirFile, '--output', topFile]);
      expect(t.status, t.stderr).to.equal(0);
      const top = readSurface(topFile);
      // Fisher means 1..42 in parameter order: the top half is the last 21 tensors.
      expect(top.metadata.tensors).to.deep.equal(names.slice(21));
      expect(top.metadata.fisher).to.equal(fisherFile);
      expect(Math.abs(lossAt(top, 1, 1) - lossAt(s, 1, 1))).to.be.below(1e-6);
      expect(lossAt(top, 0, 0)).to.not.equal(lossAt(s, 0, 0));
      const bad = run(['--mask', 'top50', '--output', path.join(tmp, 'x.json')]);
      expect(bad.status).to.equal(1);
      expect(bad.stderr).to.match(/needs a Fisher estimate \(--fisher FILE\)/);
    });

    it('--jobs 2 splits the rows over two processes and gives the one-process surface bitwise; --hdf5 writes the same values', async function () {
      const dirFile = path.join(tmp, 'jobs-directions.safetensors');
      const one = path.join(tmp, 'one.json');
      const two = path.join(tmp, 'two.json');
      const h5 = path.join(tmp, 'two.h5');
      /** The top-50% surface on a 4x5 grid along dirFile, to `output`, with the run folder `runDir` and `jobs` processes. */
      const runJobs = (output: string, runDir: string, jobs: string, ...extra: string[]) =>
        run([
          '--mask',
          'top50',
          '--fisher',
          fisherFile,
          '--grid',
          '4x5',
          '--directions',
          dirFile,
          '--output',
          output,
          '--run-dir',
          path.join(tmp, runDir),
          '--jobs',
          jobs,
          ...extra,
        ]);
      const a = runJobs(one, 'run-one', '1');
      expect(a.status, a.stderr).to.equal(0);
      const b = runJobs(two, 'run-two', '2', '--hdf5', h5);
      expect(b.status, b.stderr).to.equal(0);
      expect(b.stderr).to.match(/5 rows over 2 processes \(rows 0–2, 3–4\)/);
      const s1 = readSurface(one);
      const s2 = readSurface(two);
      expect(s2.loss).to.deep.equal(s1.loss);
      expect(s2.y).to.deep.equal(s1.y);
      expect(s2.metadata).to.include({
        mask: 'top:50',
        processes: 2,
        perturbed_tensors: s1.metadata.perturbed_tensors,
      });
      const fromH5 = await readSurfaceHdf5(h5);
      expect(fromH5.loss).to.deep.equal(s1.loss);
      expect(fromH5.x).to.deep.equal(s1.x);
      // A rerun finds every row done and rewrites the same surface.
      const c = runJobs(two, 'run-two', '2');
      expect(c.status, c.stderr).to.equal(0);
      expect(readSurface(two).loss).to.deep.equal(s1.loss);
      expect(run(['--mask', 'all', '--output', two, '--rows', '3:2']).stderr).to.match(
        /--rows: expected FROM:TO with 0 ≤ FROM < TO ≤ 3/,
      );
    });
  });
});
