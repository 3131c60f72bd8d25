/**
 * leanValueAndGrads against tf.valueAndGrads: the same bits on a tapped masked-LM pass and on gradients passed on
 * unchanged, a lower peak, no leaked tensors.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { tapShapes } from '../lib/fisher/per-sample-grads';
import { leanValueAndGrads } from '../lib/util/lean-gradients';
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

/** The masked-LM loss as a function of zero taps at every site, as the Fisher pass differentiates it; `clear` frees the recorded inputs. */
function tappedLoss(model: Bert): { f: (...zeros: tf.Tensor[]) => tf.Scalar; zeros: tf.Tensor[]; clear: () => void } {
  const masked = labels.flat().filter((y) => y !== -100).length;
  const shapes = tapShapes(model, batch.input_ids.flat().length, masked);
  const sites = [...shapes.keys()];
  const inputs = new Map<string, tf.Tensor>();
  const clear = () => {
    tf.dispose([...inputs.values()]);
    inputs.clear();
  };
  const f = (...zeros: tf.Tensor[]) => {
    clear();
    const outputs = new Map(sites.map((site, i) => [site, zeros[i]]));
    return model.maskedLmLoss(batch, labels, { taps: { outputs, inputs } });
  };
  return { f, zeros: [...shapes.values()].map((shape) => tf.zeros(shape)), clear };
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

  it('gives tf.valueAndGrads its bits on a tapped masked-LM pass, at a lower peak, without leaks', async () => {
    const model = Bert.random(tinyConfig({ num_hidden_layers: 3 }), MASKED_LM, 3);
    const { f, zeros, clear } = tappedLoss(model);
    const base = tf.memory().numBytes;
    let want: { value: tf.Scalar; grads: tf.Tensor[] } | undefined;
    // tf.profile returns one object that every call overwrites: take the figure at once
    const plain = (
      await tf.profile(() => {
        want = tf.valueAndGrads(f)(zeros);
      })
    ).peakBytes;
    let got: { value: tf.Scalar; grads: tf.Tensor[] } | undefined;
    const lean = (
      await tf.profile(() => {
        got = leanValueAndGrads(() => f(...zeros), zeros);
      })
    ).peakBytes;
    expect(got!.value.dataSync()[0]).to.equal(want!.value.dataSync()[0]);
    got!.grads.forEach((g, i) => {
      expect(g.shape).to.deep.equal(zeros[i].shape);
      expect([...g.dataSync()]).to.deep.equal([...want!.grads[i].dataSync()], `gradient ${i}`);
    });
    // every site's gradient is non-zero somewhere: the check above compares values, not zeros with zeros
    for (const g of got!.grads) expect(tf.max(tf.abs(g)).dataSync()[0]).to.be.above(0);
    expect(lean - base).to.be.below(0.8 * (plain - base));
    tf.dispose([want!.value, ...want!.grads, got!.value, ...got!.grads]);

    clear();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const r = leanValueAndGrads(() => f(...zeros), zeros);
      tf.dispose([r.value, ...r.grads]);
      clear();
    }
    expect(tf.memory().numTensors).to.equal(before);
    clear();
    tf.dispose(zeros);
    model.dispose();
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
