/**
 * A taped operation with a gradient of its own, like `tf.customGrad`, whose backward pass computes each input's
 * gradient only when the gradient walk asks for it: `tf.customGrad` computes every input's gradient at once, so an
 * operation on activations and weights there pays for the weights' gradients in passes that need the activations'
 * alone (the Fisher pass's taps).
 */
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: tf.GradSaveFunc) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

/**
 * forward(save) as one node of the gradient tape with `inputs`; backward(dy, saved) gives, by input name, a function
 * that computes that input's gradient. Tensors forward creates and does not return are freed, except those it keeps.
 */
export function tapedOp<Name extends string>(
  inputs: Record<Name, tf.Tensor>,
  forward: (save: tf.GradSaveFunc) => tf.Tensor,
  backward: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<Name, () => tf.Tensor>,
): tf.Tensor {
  const engine = tf.engine() as unknown as EngineInternals;
  return engine.runKernelFunc({
    forwardFunc: (_backend, save) => forward(save),
    backwardsFunc: backward,
    inputs,
  });
}
