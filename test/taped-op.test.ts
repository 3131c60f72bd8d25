/**
 * tapedOp: a taped operation whose inputs' gradients are computed only when asked for, checked on y = Σ (a ⊙ b)
 * against the closed form (∂y/∂a = b, ∂y/∂b = a) and by counting which gradient functions run.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { tapedOp } from '../lib/util/taped-op';
import { leanValueAndGrads } from '../lib/util/lean-gradients';
import { setupBackend } from './helpers';

describe('tapedOp', () => {
  before(async () => {
    await setupBackend();
  });

  /** Σ (a ⊙ b) as one taped node, counting the calls of each input's gradient function. */
  function product(calls: { a: number; b: number }) {
    return (a: tf.Tensor, b: tf.Tensor) =>
      tapedOp(
        { a, b },
        (save) => {
          save([a, b]);
          return tf.sum(tf.mul(a, b));
        },
        (dy, [sa, sb]) => ({
          a: () => {
            calls.a++;
            return tf.mul(dy, sb);
          },
          b: () => {
            calls.b++;
            return tf.mul(dy, sa);
          },
        }),
      );
  }

  it('gives each input the gradient of the closed form, through tf.grads and leanValueAndGrads', () => {
    const a = tf.tensor1d([1, -2, 3]);
    const b = tf.tensor1d([0.5, 4, -1]);
    const calls = { a: 0, b: 0 };
    const f = product(calls);
    const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => f(x, y) as tf.Scalar)([a, b]);
    expect([...da.dataSync()]).to.deep.equal([0.5, 4, -1]);
    expect([...db.dataSync()]).to.deep.equal([1, -2, 3]);
    const lean = leanValueAndGrads(() => f(a, b) as tf.Scalar, [a, b]);
    expect(lean.value.dataSync()[0]).to.equal(0.5 - 8 - 3);
    expect([...lean.grads[1].dataSync()]).to.deep.equal([1, -2, 3]);
    expect(calls).to.deep.equal({ a: 2, b: 2 });
    tf.dispose([a, b, da, db, lean.value, ...lean.grads]);
  });

  it('computes only the gradients the walk asks for, and frees what its forward made but did not return', () => {
    const a = tf.tensor1d([1, 2]);
    const b = tf.tensor1d([3, 4]);
    const calls = { a: 0, b: 0 };
    const f = product(calls);
    const before = tf.memory().numTensors;
    const [da] = tf.grads((x: tf.Tensor) => f(x, b) as tf.Scalar)([a]);
    expect([...da.dataSync()]).to.deep.equal([3, 4]);
    expect(calls).to.deep.equal({ a: 1, b: 0 });
    da.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([a, b]);
  });
});
