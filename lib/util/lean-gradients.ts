/**
 * Gradients as `tf.grads` computes them, with each tape node's saved tensors and output gradients freed as soon as
 * the backward pass has gone past it. tfjs keeps every saved activation and every intermediate gradient until the
 * whole backward pass ends, so its peak holds both at once; here the backward pass frees the forward's tensors as
 * it consumes them. The arithmetic is the same kernels in the same order: the same bits. `leanValueAndGradsAt` also
 * gives gradients with respect to tensors f computes on the way (what `tf.grads` gets only by adding a zero there).
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  outputs: tf.Tensor[];
  inputs: Record<string, tf.Tensor>;
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
  kernelName: string;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

/** The nodes of `tape` on a path from the tensors `xs` (ids) to y, in tape order, each with only its inputs that depend on xs. */
function pathNodes(tape: TapeNode[], xs: number[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs);
  const afterX = tape.filter((node) => {
    if (!Object.values(node.inputs).some((t) => fromX.has(t.id))) return false;
    for (const o of node.outputs) fromX.add(o.id);
    return true;
  });
  const toY = new Set([y.id]);
  const onPath = new Set<TapeNode>();
  for (let i = afterX.length - 1; i >= 0; i--) {
    const node = afterX[i];
    if (!node.outputs.some((o) => toY.has(o.id))) continue;
    onPath.add(node);
    for (const t of Object.values(node.inputs)) toY.add(t.id);
  }
  return afterX
    .filter((node) => onPath.has(node))
    .map((node) => ({
      ...node,
      inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, t]) => fromX.has(t.id))),
    }));
}

/** The value of f() and its gradients with respect to xs, in less memory than `tf.valueAndGrads` (see the file's doc). */
export function leanValueAndGrads(f: () => tf.Scalar, xs: tf.Tensor[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  return leanValueAndGradsAt(f, () => xs.map((x) => x.id));
}

/**
 * The value of f() and its gradients with respect to tensors named by id, given by `ids()` once f has run: inputs of
 * f, or tensors f computed (their gradient is the one every later use of them adds up; they may be disposed).
 */
export function leanValueAndGradsAt(f: () => tf.Scalar, ids: () => number[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth !== 0) throw new Error('leanValueAndGrads: not inside another gradient');
  const y = engine.scopedRun(
    () => engine.startTape(),
    () => engine.endTape(),
    () => engine.tidy('forward', f),
  );
  const tape = engine.state.activeTape!;
  let result: tf.Tensor[];
  try {
    const xs = ids();
    const filtered = pathNodes(tape, xs, y);
    const wanted = new Set(xs);
    result = engine.tidy('backward', () => {
      const grad = new Map<number, tf.Tensor>([[y.id, tf.onesLike(y)]]);
      /** How many entries of `grad` hold each tensor (a gradient function may pass dy on as it is). */
      const holders = new Map<tf.Tensor, number>([[grad.get(y.id)!, 1]]);
      const hold = (id: number, t: tf.Tensor) => {
        grad.set(id, t);
        holders.set(t, (holders.get(t) ?? 0) + 1);
      };
      const unhold = (t: tf.Tensor) => {
        const left = holders.get(t)! - 1;
        if (left > 0) holders.set(t, left);
        else {
          holders.delete(t);
          t.dispose();
        }
      };
      for (let i = filtered.length - 1; i >= 0; i--) {
        const node = filtered[i];
        if (!node.gradient)
          throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
        const dys = node.outputs.map((o) => grad.get(o.id) ?? null);
        const inputGradients = node.gradient(dys);
        for (const name in node.inputs) {
          const x = node.inputs[name];
          const dx = engine.tidy('grad', () => inputGradients[name]());
          const current = grad.get(x.id);
          if (current === undefined) hold(x.id, dx);
          else {
            hold(x.id, tf.add(current, dx));
            unhold(current);
            if (!holders.has(dx)) dx.dispose();
          }
        }
        // this node was the only consumer of its outputs' gradients and of its saved tensors
        for (const o of node.outputs)
          if (!wanted.has(o.id) && grad.has(o.id)) {
            unhold(grad.get(o.id)!);
            grad.delete(o.id);
          }
        for (const t of node.saved ?? []) t.dispose();
      }
      return xs.map((x, i) => {
        const g = grad.get(x);
        if (!g) throw new Error(`leanValueAndGrads: f does not depend on input ${i}`);
        return g;
      });
    });
  } catch (e) {
    y.dispose();
    throw e;
  } finally {
    for (const node of tape) for (const t of node.saved ?? []) t.dispose();
    engine.state.activeTape = null;
  }
  return { value: y, grads: result };
}
