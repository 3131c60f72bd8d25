/**
 * The Fisher pass's fused TensorFlow kernels against float64 loops (GELU through the reference's own erf), and the
 * Fisher with them against the same pass on tfjs's kernels. Native backend only; where the TensorFlow C++ headers
 * are installed (scripts/tfjs-native.sh), the kernels must build and load.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendName } from '../lib/backend';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { fusedOps, type FusedOps } from '../lib/fisher/fused-ops';
import { squaredGradSums } from '../lib/fisher/per-sample-grads';
import { setupBackend, tinyConfig } from './helpers';
import { erf, gelu } from './reference/bert-f64';
import { compareFisher } from './fisher-compare';

const HEADERS = path.join('node_modules', '@tensorflow', 'tfjs-node', 'deps', 'include', 'tensorflow', 'core');

/** Uniform values in [lo, hi) from a fixed linear congruential sequence. */
function values(n: number, lo: number, hi: number, seed = 1): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return lo + ((hi - lo) * s) / 2 ** 31;
  });
}

/** max |a − b| / (|b| + 1) over the elements. */
function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + 1));
  return m;
}

describe('fused Fisher kernels (tensorflow backend)', function () {
  let ops: FusedOps;
  before(async function () {
    await setupBackend();
    if (backendName() !== 'tensorflow' || !fs.existsSync(HEADERS)) this.skip();
    const loaded = fusedOps();
    expect(loaded, 'the fused kernels build and load where the headers are installed').to.not.equal(null);
    ops = loaded!;
  });

  it('GELU and Φ, and its gradient dy (Φ + x φ), equal float64 loops to float32 rounding', () => {
    const x = values(3 * 1000, -7, 7);
    const dy = values(3 * 1000, -2, 2, 7);
    const xt = tf.tensor2d(x, [3, 1000]);
    const [y, cdf] = ops.gelu(xt);
    const dx = ops.geluGrad(tf.tensor2d(dy, [3, 1000]), xt, cdf);
    const phi = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
    expect(worst(y.dataSync(), Array.from(x, gelu))).to.be.below(1e-6);
    expect(
      worst(
        cdf.dataSync(),
        Array.from(x, (v) => 0.5 * (1 + erf(v / Math.SQRT2))),
      ),
    ).to.be.below(1e-6);
    expect(
      worst(
        dx.dataSync(),
        Array.from(x, (v, i) => dy[i] * (0.5 * (1 + erf(v / Math.SQRT2)) + v * phi(v))),
      ),
    ).to.be.below(1e-6);
    tf.dispose([xt, y, cdf, dx]);
  });

  it('LayerNorm normalization and its gradient equal float64 loops, rows of several widths', () => {
    for (const [rows, w] of [
      [5, 256],
      [3, 7],
      [1, 1],
    ]) {
      const x = values(rows * w, -3, 5, w);
      const dy = values(rows * w, -1, 1, w + 1);
      const [normed, inv] = ops.normalize(tf.tensor2d(x, [rows, w]), 1e-5);
      const dx = ops.normalizeGrad(tf.tensor2d(dy, [rows, w]), normed, inv);
      expect(inv.shape).to.deep.equal([rows, 1]);
      const want = { normed: [] as number[], inv: [] as number[], dx: [] as number[] };
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * w, (r + 1) * w));
        const g = Array.from(dy.subarray(r * w, (r + 1) * w));
        const mean = row.reduce((a, b) => a + b, 0) / w;
        const s = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / w + 1e-5);
        const xh = row.map((v) => (v - mean) * s);
        const gMean = g.reduce((a, b) => a + b, 0) / w;
        const gxMean = g.reduce((a, b, i) => a + b * xh[i], 0) / w;
        want.normed.push(...xh);
        want.inv.push(s);
        want.dx.push(...g.map((v, i) => (v - gMean - xh[i] * gxMean) * s));
      }
      expect(worst(normed.dataSync(), want.normed), `x̂, ${rows} × ${w}`).to.be.below(2e-6);
      expect(worst(inv.dataSync(), want.inv), `1/σ, ${rows} × ${w}`).to.be.below(2e-6);
      expect(worst(dx.dataSync(), want.dx), `dx, ${rows} × ${w}`).to.be.below(2e-6);
      tf.dispose([normed, inv, dx]);
    }
  });

  it('Σ_k x[k]², alone and added to a total, equals a float64 loop, across blocks and for 1-D input', () => {
    for (const shape of [[16, 33, 5], [1, 8], [9], [3, 5000]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const inner = n / shape[0];
      const x = values(n, -4, 4, n);
      const total = values(inner, 0, 9, inner + 1);
      const [alone, added] = tf.tidy(() => {
        const t = tf.tensor(x, shape);
        return [ops.squareSum(t), ops.squareSum(t, tf.tensor(total, shape.slice(1)))];
      });
      expect(alone.shape).to.deep.equal(shape.slice(1));
      expect(added.shape).to.deep.equal(shape.slice(1));
      const want = Array.from({ length: inner }, (_, i) => {
        let s = 0;
        for (let k = 0; k < shape[0]; k++) s += x[k * inner + i] ** 2;
        return s;
      });
      expect(worst(alone.dataSync(), want), `shape ${shape}`).to.be.below(1e-6);
      expect(
        worst(
          added.dataSync(),
          want.map((v, i) => v + total[i]),
        ),
        `shape ${shape}, with a total`,
      ).to.be.below(1e-6);
      expect(() => tf.tidy(() => ops.squareSum(tf.tensor(x, shape), tf.zeros([inner + 1])))).to.throw(
        /shape of one x\[k\]/,
      );
      tf.dispose([alone, added]);
    }
  });

  it('the Fisher with them equals the Fisher on tfjs kernels (to 1e-5 relative), without leaked tensors', () => {
    const config = tinyConfig({ num_hidden_layers: 3, hidden_size: 32, intermediate_size: 64, num_attention_heads: 4 });
    const model = Bert.random(config, MASKED_LM, 5);
    const batch = {
      input_ids: Array.from({ length: 4 }, (_, n) => Array.from({ length: 20 }, (_, t) => 1 + ((5 * n + 3 * t) % 49))),
    };
    const labels = batch.input_ids.map((row, n) => row.map((id, t) => (t % 4 === n % 4 ? id : -100)));
    const sums = () => {
      const { sums: s, losses } = squaredGradSums(model, batch, labels);
      const out = new Map([...s].map(([name, t]) => [name, t.dataSync().slice()]));
      tf.dispose([...s.values()]);
      return { out, losses };
    };
    const fused = sums();
    const before = tf.memory().numTensors;
    sums();
    expect(tf.memory().numTensors).to.equal(before);
    process.env.FISHERLAB_FUSED_OPS = '0';
    let plain: ReturnType<typeof sums>;
    try {
      plain = sums();
    } finally {
      delete process.env.FISHERLAB_FUSED_OPS;
    }
    expect(worst(fused.losses, plain.losses)).to.be.below(1e-6);
    // the two passes ran different kernels: some sum differs in its last bits
    expect([...plain.out].some(([name, want]) => want.some((v, i) => v !== fused.out.get(name)![i]))).to.equal(true);
    const { bad } = compareFisher(fused.out, plain.out, 1e-5);
    expect(bad).to.deep.equal([]);
    model.dispose();
  });
});
