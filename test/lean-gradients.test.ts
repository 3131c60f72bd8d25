/**
 * leanValueAndGrads against tf.variableGrads and tf.valueAndGrads: the same bits on a tapped masked-LM pass, at
 * tensors computed on the way and on gradients passed on unchanged, a lower peak, no leaked tensors.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { leanValueAndGrads, leanValueAndGradsAt } from '../lib/util/lean-gradients';
import { setupBackend, tinyConfig } from './helpers';

// 4 sequences of 24 tokens, the second padded after 18, every fifth position masked: enough activations that they,
// not the weights, set the peak
const batch = {
  input_ids: Array.from({ length: 4 }, (_, n) => Array.from({ length: 24 }, (_, t) => 1 + ((7 * n + 11 * t) % 49))),
  attention_mask: Array.from({ length: 4 }, (_, n) =>
    Array.from({ length: 24 }, (_, t) => (n === 1 && t >= 18 ? 0 : 1)),
  ),
};
const labels = batch.input_ids.map((row, n) => row.map((id, t) => (t % 5 === 1 + n ? id : -100)));

/** The tapped masked-LM loss, as the Fisher pass runs it; `clear` frees the inputs the taps recorded. */
function tappedLoss(model: Bert): { f: () => tf.Scalar; clear: () => void } {
  const inputs = new Map<string, tf.Tensor>();
  const clear = () => {
    tf.dispose([...inputs.values()]);
    inputs.clear();
  };
  const f = () => {
    clear();
    return model.maskedLmLoss(batch, labels, { taps: { outputs: new Map(), inputs } });
  };
  return { f, clear };
}

/** y = Σ (b V)² with a = tanh(x W) + za and b = a ⊙ a + a + zb: za, zb zeros added where the gradients are wanted. */
function chain(x: tf.Tensor2D, za?: tf.Tensor, zb?: tf.Tensor, seen?: number[]): tf.Scalar {
  const W = tf.tensor2d([0.3, -0.7, 1.1, 0.2, 0.5, -0.4], [2, 3]);
  const V = tf.tensor2d([0.9, -0.2, 0.4], [3, 1]);
  let a: tf.Tensor = tf.tanh(tf.matMul(x, W));
  if (za) a = tf.add(a, za);
  let b: tf.Tensor = tf.add(tf.mul(a, a), a);
  if (zb) b = tf.add(b, zb);
  seen?.push(a.id, b.id);
  return tf.sum(tf.square(tf.matMul(b, V)));
}

/** y = Σ c² + Σ b with b = pass(x) and c = pass(b), where pass is the identity whose gradient function returns dy itself. */
function passedOn(x: tf.Tensor): tf.Scalar {
  const pass = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
    value: tf.mul(args[0] as tf.Tensor, 1),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => dy as tf.Tensor,
  }));
  const b = pass(x) as tf.Tensor;
  return tf.add(tf.sum(tf.square(pass(b) as tf.Tensor)), tf.sum(b));
}

describe('leanValueAndGrads', () => {
  before(async () => {
    await setupBackend();
  });

  it('gives tf.variableGrads its bits on a tapped masked-LM pass, at a lower peak, without leaks', async () => {
    const model = Bert.random(tinyConfig({ num_hidden_layers: 3 }), MASKED_LM, 3);
    const { f, clear } = tappedLoss(model);
    const vars = model.namedParameters().map(([, v]) => v);
    const base = tf.memory().numBytes;
    let want: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
    // tf.profile returns one object that every call overwrites: take the figure at once
    const plain = (
      await tf.profile(() => {
        want = tf.variableGrads(f, vars);
      })
    ).peakBytes;
    let got: { value: tf.Scalar; grads: tf.Tensor[] } | undefined;
    const lean = (
      await tf.profile(() => {
        got = leanValueAndGrads(f, vars);
      })
    ).peakBytes;
    expect(got!.value.dataSync()[0]).to.equal(want!.value.dataSync()[0]);
    got!.grads.forEach((g, i) => {
      expect(g.shape).to.deep.equal(vars[i].shape);
      expect([...g.dataSync()]).to.deep.equal([...want!.grads[vars[i].name].dataSync()], vars[i].name);
    });
    // every parameter's gradient is non-zero somewhere: the check above compares values, not zeros with zeros
    for (const g of got!.grads) expect(tf.max(tf.abs(g)).dataSync()[0]).to.be.above(0);
    expect(lean - base).to.be.below(0.8 * (plain - base));
    tf.dispose([want!.value, ...Object.values(want!.grads), got!.value, ...got!.grads]);

    clear();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = leanValueAndGrads(f, vars);
      tf.dispose([r.value, ...r.grads]);
      clear();
    }
    expect(tf.memory().numTensors).to.equal(before);
    model.dispose();
  });

  it('differentiates with respect to tensors f computes: the bits tf.grads gives a zero added there', () => {
    const x = tf.tensor2d([0.5, -1.5, 2, 0.25], [2, 2]);
    const zeros = [tf.zeros([2, 3]), tf.zeros([2, 3])];
    const want = tf.valueAndGrads((za: tf.Tensor, zb: tf.Tensor) => chain(x, za, zb))(zeros);
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const got = leanValueAndGradsAt(
      () => chain(x, undefined, undefined, seen),
      () => seen,
    );
    expect(got.value.dataSync()[0]).to.equal(want.value.dataSync()[0]);
    got.grads.forEach((g, i) => {
      expect(g.shape).to.deep.equal([2, 3]);
      expect([...g.dataSync()]).to.deep.equal([...want.grads[i].dataSync()], `gradient ${i}`);
      expect(Math.max(...[...g.dataSync()].map(Math.abs))).to.be.above(0);
    });
    // the float64 chain rule: dy/db = 2 (b V) Vᵀ, dy/da = dy/db ⊙ (2a + 1)
    const [W, V] = [
      [0.3, -0.7, 1.1, 0.2, 0.5, -0.4],
      [0.9, -0.2, 0.4],
    ];
    const xs = [0.5, -1.5, 2, 0.25];
    for (let r = 0; r < 2; r++) {
      const a = [0, 1, 2].map((j) => Math.tanh(xs[2 * r] * W[j] + xs[2 * r + 1] * W[3 + j]));
      const b = a.map((v) => v * v + v);
      const out = b.reduce((s, v, j) => s + v * V[j], 0);
      const db = V.map((v) => 2 * out * v);
      const da = db.map((v, j) => v * (2 * a[j] + 1));
      [da, db].forEach((want64, i) =>
        want64.forEach((v, j) => expect(got.grads[i].dataSync()[3 * r + j]).to.be.closeTo(v, 1e-5 * (1 + Math.abs(v)))),
      );
    }
    tf.dispose([got.value, ...got.grads]);
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([want.value, ...want.grads, x, ...zeros]);
  });

  it('keeps a gradient that a gradient function passed on unchanged, and refuses to run inside another gradient', () => {
    const x = tf.tensor1d([0.5, -1.5, 2]);
    const want = tf.valueAndGrads(() => passedOn(x))([x]);
    const before = tf.memory().numTensors;
    const got = leanValueAndGrads(() => passedOn(x), [x]);
    // d/dx (Σ x² + Σ x) = 2x + 1
    expect([...got.grads[0].dataSync()]).to.deep.equal([2, -2, 5]);
    expect([...got.grads[0].dataSync()]).to.deep.equal([...want.grads[0].dataSync()]);
    tf.dispose([got.value, ...got.grads]);
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([want.value, ...want.grads]);
    expect(() => tf.grad((y: tf.Tensor) => leanValueAndGrads(() => tf.sum(y), [y]).value)(x)).to.throw(
      /inside another gradient/,
    );
    x.dispose();
  });
});
