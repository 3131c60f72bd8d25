/**
 * The Fisher pass's fused TensorFlow kernels against float64 loops (GELU through the reference's own erf) and finite
 * differences, and the Fisher with them against the same pass on tfjs's kernels. Native backend only; where the
 * TensorFlow C++ headers are installed (scripts/tfjs-native.sh), the kernels must build and load.
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

  it('LayerNorm x̂ γ + β, x̂, 1/σ and the gradient with respect to x equal float64 loops, rows of several widths', () => {
    for (const [rows, w] of [
      [5, 256],
      [3, 7],
      [1, 1],
    ]) {
      const x = values(rows * w, -3, 5, w);
      const dy = values(rows * w, -1, 1, w + 1);
      const gamma = values(w, 0.5, 1.5, w + 2);
      const beta = values(w, -1, 1, w + 3);
      const [gt, bt] = [tf.tensor1d(gamma), tf.tensor1d(beta)];
      const [y, normed, inv] = ops.layerNorm(tf.tensor2d(x, [rows, w]), gt, bt, 1e-5);
      const dx = ops.layerNormGrad(tf.tensor2d(dy, [rows, w]), gt, normed, inv);
      expect(inv.shape).to.deep.equal([rows, 1]);
      const want = { y: [] as number[], normed: [] as number[], inv: [] as number[], dx: [] as number[] };
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * w, (r + 1) * w));
        const g = Array.from(dy.subarray(r * w, (r + 1) * w), (v, i) => v * gamma[i]); // dx̂
        const mean = row.reduce((a, b) => a + b, 0) / w;
        const s = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / w + 1e-5);
        const xh = row.map((v) => (v - mean) * s);
        const gMean = g.reduce((a, b) => a + b, 0) / w;
        const gxMean = g.reduce((a, b, i) => a + b * xh[i], 0) / w;
        want.y.push(...xh.map((v, i) => v * gamma[i] + beta[i]));
        want.normed.push(...xh);
        want.inv.push(s);
        want.dx.push(...g.map((v, i) => (v - gMean - xh[i] * gxMean) * s));
      }
      expect(worst(y.dataSync(), want.y), `y, ${rows} × ${w}`).to.be.below(2e-6);
      expect(worst(normed.dataSync(), want.normed), `x̂, ${rows} × ${w}`).to.be.below(2e-6);
      expect(worst(inv.dataSync(), want.inv), `1/σ, ${rows} × ${w}`).to.be.below(2e-6);
      expect(worst(dx.dataSync(), want.dx), `dx, ${rows} × ${w}`).to.be.below(2e-6);
      tf.dispose([gt, bt, y, normed, inv, dx]);
    }
  });

  it('the bias add equals x + b row by row, and refuses a bias of another width', () => {
    const x = values(5 * 300, -3, 3, 31);
    const b = values(300, -1, 1, 32);
    const y = tf.tidy(() => ops.biasAdd(tf.tensor2d(x, [5, 300]), tf.tensor1d(b)));
    expect(
      worst(
        y.dataSync(),
        Array.from(x, (v, i) => v + b[i % 300]),
      ),
    ).to.be.below(1e-7);
    expect(() => tf.tidy(() => ops.biasAdd(tf.zeros([2, 3]), tf.zeros([4])))).to.throw(/one bias per column/);
    y.dispose();
  });

  it('the attention softmax with scale and mask, and its gradient, equal float64 loops and finite differences', () => {
    const [B, heads, T, S] = [2, 3, 4, 5];
    const scale = 0.35;
    const scores = values(B * heads * T * S, -6, 6, 11);
    const dy = values(B * heads * T * S, -1, 1, 12);
    const mask = Float32Array.from({ length: B * S }, (_, i) => (i === 3 || i === 9 ? -1e9 : 0)); // a padded key each
    const [weights, dx] = tf.tidy(() => {
      const w = ops.attentionSoftmax(tf.tensor4d(scores, [B, heads, T, S]), tf.tensor4d(mask, [B, 1, 1, S]), scale);
      return [w, ops.attentionSoftmaxGrad(tf.tensor4d(dy, [B, heads, T, S]), w, scale)];
    });
    /** softmax(scale · z + mask) of row r (float64). */
    const softmax = (z: ArrayLike<number>, r: number) => {
      const m = Array.from(z, (v, j) => scale * v + mask[Math.floor(r / (heads * T)) * S + j]);
      const top = Math.max(...m);
      const e = m.map((v) => Math.exp(v - top));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    const want = { w: [] as number[], dx: [] as number[] };
    for (let r = 0; r < B * heads * T; r++) {
      const z = Array.from(scores.subarray(r * S, (r + 1) * S));
      const g = dy.subarray(r * S, (r + 1) * S);
      want.w.push(...softmax(z, r));
      // d/dz_j Σ_i dy_i p_i(z), by central differences in float64
      want.dx.push(
        ...z.map((_, j) => {
          const h = 1e-5;
          const f = (delta: number) =>
            softmax(
              z.map((v, k) => (k === j ? v + delta : v)),
              r,
            ).reduce((a, p, i) => a + g[i] * p, 0);
          return (f(h) - f(-h)) / (2 * h);
        }),
      );
    }
    expect(worst(weights.dataSync(), want.w)).to.be.below(1e-6);
    expect(worst(dx.dataSync(), want.dx)).to.be.below(1e-6);
    expect(weights.dataSync()[3]).to.equal(0); // the padded key gets no weight
    expect(() => tf.tidy(() => ops.attentionSoftmax(tf.zeros([B, heads, T, S]), tf.zeros([B, S + 1]), 1))).to.throw(
      /B × S/,
    );
    tf.dispose([weights, dx]);
  });

  it('row cross-entropy −log softmax[target] and its gradient softmax − one-hot equal float64 loops; a bad target is refused', () => {
    const [N, C] = [7, 300];
    const logits = values(N * C, -20, 20, 21);
    const targets = [0, 299, 5, 17, 150, 151, 42];
    const [loss, grad] = ops.crossEntropyRows(tf.tensor2d(logits, [N, C]), tf.tensor1d(targets, 'int32'));
    const want = { loss: [] as number[], grad: [] as number[] };
    for (let r = 0; r < N; r++) {
      const z = Array.from(logits.subarray(r * C, (r + 1) * C));
      const top = Math.max(...z);
      const sum = z.reduce((a, v) => a + Math.exp(v - top), 0);
      want.loss.push(Math.log(sum) + top - z[targets[r]]);
      want.grad.push(...z.map((v, j) => Math.exp(v - top) / sum - (j === targets[r] ? 1 : 0)));
    }
    expect(loss.shape).to.deep.equal([N]);
    expect(worst(loss.dataSync(), want.loss)).to.be.below(2e-6);
    expect(worst(grad.dataSync(), want.grad)).to.be.below(1e-6);
    expect(() =>
      tf.tidy(() => ops.crossEntropyRows(tf.zeros([2, 3]) as tf.Tensor2D, tf.tensor1d([0, 3], 'int32'))),
    ).to.throw(/target 3 of row 1 is not in 0\.\.2/);
    tf.dispose([loss, grad]);
  });

  it('Σ_n (Σ_t a[n, t] [⊙ b[n, t]])² added to a total equals a float64 loop, across column blocks', () => {
    for (const [B, c, w] of [
      [4, 3, 1100],
      [1, 1, 1],
      [16, 20, 7],
    ]) {
      const a = values(B * c * w, -2, 2, w);
      const b = values(B * c * w, -2, 2, w + 1);
      const total = values(w, 0, 3, w + 2);
      const [alone, product] = tf.tidy(() => {
        const [at, bt, tt] = [tf.tensor3d(a, [B, c, w]), tf.tensor3d(b, [B, c, w]), tf.tensor1d(total)];
        return [ops.groupSquareSum(tt, at), ops.groupSquareSum(tt, at, bt)];
      });
      const want = (withB: boolean) =>
        Array.from(total, (t, i) => {
          let s = t;
          for (let n = 0; n < B; n++) {
            let g = 0;
            for (let r = 0; r < c; r++) {
              const at = (n * c + r) * w + i;
              g += withB ? a[at] * b[at] : a[at];
            }
            s += g * g;
          }
          return s;
        });
      expect(worst(alone.dataSync(), want(false)), `${B} × ${c} × ${w}`).to.be.below(1e-6);
      expect(worst(product.dataSync(), want(true)), `${B} × ${c} × ${w}, with b`).to.be.below(1e-6);
      tf.dispose([alone, product]);
    }
    expect(() => tf.tidy(() => ops.groupSquareSum(tf.zeros([3]), tf.zeros([2, 2, 4])))).to.throw(/total must be \[w\]/);
  });

  it('Σ_n (a_nᵀ b_n)² over samples of unequal rows, added to a total, equals a float64 loop, whole and edge tiles', () => {
    // [p, q, rows per sample]: whole 6 × 16 tiles only, edges in both directions, a sample with no rows
    const cases: Array<[number, number, number[]]> = [
      [12, 32, [3, 1]],
      [13, 37, [2, 0, 5, 1]],
      [605, 48, [19, 17, 21]],
    ];
    for (const [p, q, rows] of cases) {
      const R = rows.reduce((s, r) => s + r, 0);
      const starts = rows.reduce((s, r) => [...s, s[s.length - 1] + r], [0]);
      const [a, b, total] = [values(R * p, -2, 2, p), values(R * q, -2, 2, q), values(p * q, 0, 5, R)];
      const y = tf.tidy(() =>
        ops.outerSquareSum(
          tf.tensor2d(total, [p, q]),
          tf.tensor2d(a, [R, p]),
          tf.tensor2d(b, [R, q]),
          tf.tensor1d(starts, 'int32'),
        ),
      );
      const want = Array.from(total, (t, at) => {
        const [v, h] = [Math.floor(at / q), at % q];
        let s = t;
        for (let n = 0; n < rows.length; n++) {
          let g = 0;
          for (let k = starts[n]; k < starts[n + 1]; k++) g += a[k * p + v] * b[k * q + h];
          s += g * g;
        }
        return s;
      });
      expect(y.shape).to.deep.equal([p, q]);
      expect(worst(y.dataSync(), want), `${p} × ${q}, rows ${rows}`).to.be.below(1e-6);
      y.dispose();
    }
    const call = (total: [number, number], starts: number[]) => () =>
      tf.tidy(() =>
        ops.outerSquareSum(
          tf.zeros(total) as tf.Tensor2D,
          tf.zeros([4, 3]) as tf.Tensor2D,
          tf.zeros([4, 2]) as tf.Tensor2D,
          tf.tensor1d(starts, 'int32'),
        ),
      );
    expect(call([3, 2], [0, 1, 4])).to.not.throw();
    expect(call([2, 3], [0, 4])).to.throw(/total must be \[p, q\] = \[3, 2\]/);
    expect(call([3, 2], [0, 3])).to.throw(/starts must run from 0 to R = 4/);
    expect(call([3, 2], [0, 3, 2, 4])).to.throw(/starts must not decrease/);
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

  it("a tapped pass's gradients of every parameter equal those of tfjs's kernels (γ and β of the fused LayerNorm too)", () => {
    const model = Bert.random(
      tinyConfig({ num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 4 }),
      MASKED_LM,
      9,
    );
    const batch = {
      input_ids: [
        Array.from({ length: 12 }, (_, t) => 1 + ((7 * t) % 49)),
        [...Array.from({ length: 8 }, (_, t) => 2 + t), 0, 0, 0, 0],
      ],
      attention_mask: [Array<number>(12).fill(1), [...Array<number>(8).fill(1), 0, 0, 0, 0]],
    };
    const labels = batch.input_ids.map((row, n) => row.map((id, t) => (t % 3 === n ? id : -100)));
    const named = model.namedParameters();
    const grads = () => {
      const inputs = new Map<string, tf.Tensor>();
      const { value, grads: g } = tf.variableGrads(
        () => model.maskedLmLoss(batch, labels, { taps: { outputs: new Map(), inputs } }),
        named.map(([, v]) => v as tf.Variable),
      );
      const out = new Map(named.map(([name, v]) => [name, g[v.name].dataSync().slice() as Float32Array]));
      tf.dispose([value, ...Object.values(g), ...inputs.values()]);
      return out;
    };
    const fused = grads();
    process.env.FISHERLAB_FUSED_OPS = '0';
    let plain: Map<string, Float32Array>;
    try {
      plain = grads();
    } finally {
      delete process.env.FISHERLAB_FUSED_OPS;
    }
    for (const [name, want] of plain) {
      const scale = Math.max(...Array.from(want, Math.abs));
      const got = fused.get(name)!;
      const diff = Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i])));
      expect(diff, name).to.be.at.most(1e-5 * scale + 1e-9);
    }
    expect([...plain.keys()].filter((k) => k.endsWith('LayerNorm.weight')).length).to.equal(6);
    model.dispose();
  });

  it('the Fisher with them equals the Fisher on tfjs kernels (to 1e-5 relative), without leaked tensors', () => {
    const config = tinyConfig({ num_hidden_layers: 3, hidden_size: 32, intermediate_size: 64, num_attention_heads: 4 });
    const model = Bert.random(config, MASKED_LM, 5);
    // padded sequences of several lengths, and several masked positions per sequence
    const lengths = [20, 13, 17, 6];
    const batch = {
      input_ids: lengths.map((k, n) => Array.from({ length: 20 }, (_, t) => (t < k ? 1 + ((5 * n + 3 * t) % 49) : 0))),
      attention_mask: lengths.map((k) => Array.from({ length: 20 }, (_, t) => (t < k ? 1 : 0))),
    };
    const labels = batch.input_ids.map((row, n) =>
      row.map((id, t) => (t < lengths[n] && t % (n + 2) === 1 ? id : -100)),
    );
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
