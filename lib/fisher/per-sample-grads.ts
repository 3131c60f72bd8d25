/**
 * Per-sample squared gradients of the masked-LM loss from one forward and one backward pass over a batch.
 *
 * The pass is tapped (see `Taps` in bert/model): the backward pass gives dY, the gradient of the batch objective
 * Σ_n L_n with respect to the output of every linear layer, LayerNorm and the embedding sum, and the forward pass
 * records each layer's input. Since L_n depends only on sample n's rows, sample n's parameter gradient follows
 * from its own rows: a linear layer's weight gets dY_nᵀ X_n and its bias Σ_t dY_n; a LayerNorm's weight gets
 * Σ_t dY_n ⊙ x̂_n; embedding rows get dE_n scattered by token id, position and token type. The word embeddings
 * are also the MLM decoder's weight, so sample n's gradient for them is the scatter plus dLogits_nᵀ T_n over its
 * masked positions, added before squaring. Padding rows have dY = 0 (attention gives them exactly zero weight).
 * The head, and the last layer's queries and all after its attention, run at the masked positions only
 * (`maskedRowSites`): their sites have a row per masked position, and each sample's rows are its own masked positions. The backward pass frees the
 * forward's tensors as it goes (util/lean-gradients), which halves the pass's peak memory.
 * On wasm, outer products are formed one sample at a time with 2-D matMuls (its batched matMul is about 15× slower
 * than a loop of 2-D ones) and squares are added to the running sums one sample at a time, in order, so splitting a
 * batch into micro-batches that carry the sums on (`into`) gives bitwise the same sums. Native backends form them a
 * chunk of samples per batched matMul (`wholeBatch`), except the word embeddings' V × H: one kernel squares them as
 * it forms them where the fused kernels load, else one sample at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { type Batch, type Bert, type Taps, maskedRowSites } from '../bert/model';
import { IGNORE_INDEX } from '../pretrain/mlm-data';
import { leanValueAndGradsAt } from '../util/lean-gradients';
import { fusedOps } from './fused-ops';

/** Squared per-sample gradients of one batch, summed over its samples. */
export interface SquaredGradSums {
  /** Σ_n g_n ⊙ g_n by parameter name in `namedParameters()` order (float32, parameter shapes). */
  sums: Map<string, tf.Tensor>;
  /** Each sample's own masked-LM loss L_n (mean cross-entropy over its masked positions). */
  losses: number[];
}

const EMBEDDINGS = 'bert.embeddings';
const DECODER = 'cls.predictions.decoder';
const WORD = 'bert.embeddings.word_embeddings.weight';
const POSITION = 'bert.embeddings.position_embeddings.weight';
const TOKEN_TYPE = 'bert.embeddings.token_type_embeddings.weight';
const MLM_BIAS = 'cls.predictions.bias';

/**
 * Σ over the batch of each sample's squared masked-LM loss gradient, element-wise for every parameter, from one
 * tapped forward and backward pass in evaluation mode, added sample by sample to `into` (running sums of earlier
 * micro-batches, taken over and disposed). Every sample needs at least one label other than -100.
 */
export function squaredGradSums(
  model: Bert,
  batch: Batch,
  labels: number[][],
  into?: ReadonlyMap<string, tf.Tensor>,
): SquaredGradSums {
  if (!model.parts.mlm)
    throw new Error('per-sample gradients of the masked-LM loss need a masked-LM head (cls.predictions.*)');
  const counts = labels.map((row) => row.filter((y) => y !== IGNORE_INDEX).length);
  const empty = counts.findIndex((c) => c === 0);
  if (empty >= 0)
    throw new Error(`sample ${empty} of the batch has no masked position (every label is -100), so it has no loss`);
  const taps: Taps = { outputs: new Map(), inputs: new Map() };
  let losses: tf.Tensor | null = null;
  const objective = (): tf.Scalar => {
    const { logits, targets } = model.maskedLmLogits(batch, labels, { taps });
    losses = tf.keep(perSampleLosses(logits, targets, counts));
    return tf.sum(losses);
  };
  let lean: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    lean = leanValueAndGradsAt(objective, () => [...taps.outputs.values()]);
  } catch (e) {
    tf.dispose([...taps.inputs.values()]);
    throw e;
  }
  const { value, grads } = lean;
  const dY = new Map([...taps.outputs.keys()].map((site, i) => [site, grads[i]]));
  const inputs = taps.inputs;
  try {
    const sums = tensorSums(model, batch, counts, dY, inputs, into ?? new Map());
    return { sums, losses: [...losses!.dataSync()] };
  } finally {
    tf.dispose([value, losses!, ...grads, ...inputs.values()]);
  }
}

/** `squaredGradSums` of a batch computed `size` samples at a time (on wasm bitwise the same sums and losses), in less memory. */
export function squaredGradSumsInParts(model: Bert, batch: Batch, labels: number[][], size: number): SquaredGradSums {
  const rows = <T>(x: T[] | undefined, at: number) => x?.slice(at, at + size);
  let sums: Map<string, tf.Tensor> | undefined;
  const losses: number[] = [];
  for (let at = 0; at < labels.length; at += size) {
    const part: Batch = {
      input_ids: rows(batch.input_ids, at)!,
      token_type_ids: rows(batch.token_type_ids, at),
      attention_mask: rows(batch.attention_mask, at),
    };
    const result = squaredGradSums(model, part, rows(labels, at)!, sums);
    sums = result.sums;
    losses.push(...result.losses);
  }
  return { sums: sums!, losses };
}

/** Per-sample losses [B]: sample n's mean cross-entropy over its counts[n] consecutive rows of logits. */
function perSampleLosses(logits: tf.Tensor2D, targets: number[], counts: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const sampleOf = counts.flatMap((c, n) => Array<number>(c).fill(n));
    const weights = tf.tensor1d(sampleOf.map((n) => 1 / counts[n]));
    const rows = rowCrossEntropy(logits, tf.tensor1d(targets, 'int32'));
    return tf.unsortedSegmentSum(tf.mul(rows, weights), tf.tensor1d(sampleOf, 'int32'), counts.length) as tf.Tensor1D;
  });
}

/** Each row's cross-entropy −log softmax(logits)[target] [N]: one fused kernel each way where they load. */
function rowCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const fused = fusedOps();
  if (!fused)
    return tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(targets, logits.shape[1])), 1)) as tf.Tensor1D;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [value, softmaxMinusOneHot] = fused.crossEntropyRows(input, targets);
    save([softmaxMinusOneHot]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], [grad]: tf.Tensor[]) => tf.mul(grad, tf.expandDims(dy as tf.Tensor, 1)),
    };
  });
  return op(logits) as tf.Tensor1D;
}

/** Where each sample's rows lie in a site's [rows, width] layout: `count[n]` consecutive rows from `start[n]`. */
interface Rows {
  start: number[];
  count: number[];
}

/** The layout with `counts[n]` consecutive rows per sample. */
function rowsOf(counts: number[]): Rows {
  const start = counts.map((_, n) => counts.slice(0, n).reduce((a, b) => a + b, 0));
  return { start, count: counts };
}

/** Sample n's rows of x. */
function rowsOfSample(x: tf.Tensor, rows: Rows, n: number): tf.Tensor2D {
  return tf.slice(x, [rows.start[n], 0], [rows.count[n], -1]) as tf.Tensor2D;
}

/** `total` + `squared` (`squared` alone when there is no total yet), disposing both. */
function addTo(total: tf.Tensor | undefined, squared: tf.Tensor): tf.Tensor {
  if (!total) return squared;
  const next = tf.add(total, squared);
  tf.dispose([total, squared]);
  return next;
}

/**
 * Whether per-sample products and sums go through whole-batch kernels. On wasm they go one sample at a time, in
 * order: its batched matMul is slow, and the order keeps micro-batch splits bitwise equal. Native kernels round by
 * matrix size anyway (a sample's values already depend on the batch around it), and there one kernel per tensor
 * instead of several per sample is the faster way.
 */
function wholeBatch(): boolean {
  return tf.getBackend() !== 'wasm';
}

/** `total` + Σ_k x[k]² over x's leading axis (the sum alone when there is no total yet), disposing `total`: one fused kernel where there is one. */
function addSquares(total: tf.Tensor | undefined, x: tf.Tensor): tf.Tensor {
  const fused = fusedOps();
  if (!fused)
    return addTo(
      total,
      tf.tidy(() => tf.sum(tf.square(x), 0)),
    );
  const next = fused.squareSum(x, total);
  total?.dispose();
  return next;
}

/** Per-sample products per batched matMul at most: B × p × q floats stay within this many. */
const BATCHED_FLOATS = 1 << 25;

/** `total` plus the rows of `perSample` [B, ...] added one at a time, in order (disposes `total`, not `perSample`). */
function addSamples(total: tf.Tensor | undefined, perSample: tf.Tensor): tf.Tensor {
  if (wholeBatch()) return addTo(total, tf.sum(perSample, 0));
  for (let n = 0; n < perSample.shape[0]; n++) {
    total = addTo(
      total,
      tf.tidy(() => tf.squeeze(tf.slice(perSample, [n], [1]), [0])),
    );
  }
  return total!;
}

/**
 * `total` + Σ_n (Σ over sample n's rows of x [⊙ y])², element-wise: squared per-sample gradients of a bias-like
 * parameter (x = dY), or of a LayerNorm's weight (x = dY, y = x̂).
 */
function sumSquaredRowSums(x: tf.Tensor, rows: Rows, total: tf.Tensor | undefined, y?: tf.Tensor): tf.Tensor {
  const [B, c] = [rows.count.length, rows.count[0]];
  const fused = fusedOps();
  if (fused && rows.count.every((k) => k === c)) {
    const next = tf.tidy(() => {
      const grouped = (t: tf.Tensor) => tf.reshape(t, [B, c, -1]);
      return fused.groupSquareSum(total ?? tf.zeros([x.shape[1]!]), grouped(x), y && grouped(y));
    });
    total?.dispose();
    return next;
  }
  if (y) {
    const xy = tf.mul(x, y);
    try {
      return sumSquaredRowSums(xy, rows, total);
    } finally {
      xy.dispose();
    }
  }
  const squares = tf.tidy(() => {
    // equal row counts (the encoder's) sum as a reduction: TensorFlow's CPU segment sum is about 5× slower
    if (wholeBatch() && rows.count.every((k) => k === c)) return tf.square(tf.sum(tf.reshape(x, [B, c, -1]), 1));
    const sampleOf = rows.count.flatMap((k, n) => Array<number>(k).fill(n));
    return tf.square(tf.unsortedSegmentSum(x, tf.tensor1d(sampleOf, 'int32'), B));
  });
  try {
    return addSamples(total, squares);
  } finally {
    squares.dispose();
  }
}

/**
 * x [rows, w] as [B, c, w]: sample n's rows, then zero rows up to c, the largest count. A zero row adds nothing to
 * a_nᵀ b_n, so samples with different counts (masked positions) go through one batched matMul too.
 */
function bySample(x: tf.Tensor, rows: Rows): tf.Tensor3D {
  const [B, c] = [rows.count.length, Math.max(...rows.count)];
  return tf.tidy(() => {
    if (rows.count.every((k) => k === c)) return tf.reshape(x, [B, c, -1]);
    const zero = x.shape[0]; // the row tf.pad appends
    const index = rows.count.flatMap((k, n) => Array.from({ length: c }, (_, t) => (t < k ? rows.start[n] + t : zero)));
    const padded = tf.pad(x, [
      [0, 1],
      [0, 0],
    ]);
    return tf.reshape(tf.gather(padded, tf.tensor1d(index, 'int32')), [B, c, -1]);
  });
}

/** `total` + Σ_n (a_nᵀ b_n + extra(n))², element-wise; a_n, b_n are sample n's rows of a [rows, p] and b [rows, q]. On wasm, and with `extra`, one sample at a time, in order. */
function sumSquaredOuter(
  a: tf.Tensor,
  b: tf.Tensor,
  rows: Rows,
  total: tf.Tensor | undefined,
  extra?: (n: number) => tf.Tensor,
): tf.Tensor {
  const [B, p, q] = [rows.count.length, a.shape[1]!, b.shape[1]!];
  if (wholeBatch() && !extra) {
    // a_nᵀ b_n for a chunk of samples in one batched matMul
    const [a3, b3] = [bySample(a, rows), bySample(b, rows)];
    const chunk = Math.max(1, Math.floor(BATCHED_FLOATS / (p * q)));
    for (let from = 0; from < B; from += chunk) {
      const k = Math.min(chunk, B - from);
      const product = tf.tidy(() => tf.matMul(tf.slice(a3, [from], [k]), tf.slice(b3, [from], [k]), true, false));
      total = addSquares(total, product);
      product.dispose();
    }
    tf.dispose([a3, b3]);
    return total!;
  }
  for (let n = 0; n < rows.count.length; n++) {
    total = addTo(
      total,
      tf.tidy(() => {
        const g = tf.matMul(rowsOfSample(a, rows, n), rowsOfSample(b, rows, n), true, false);
        return tf.square(extra ? tf.add(g, extra(n)) : g);
      }),
    );
  }
  return total!;
}

/**
 * `total` + Σ_n (g_n + s_n)², element-wise, for the word embeddings: g_n = dLogits_nᵀ T_n is sample n's gradient
 * through the tied decoder and s_n the scatter of its dE rows by token id. Computed as Σ_n g_n² plus, on the rows
 * of each sample's own tokens, Σ_n s_n ⊙ (2 g_n + s_n), added once per batch: one V × H product per sample instead
 * of three more V × H passes for the scatter and its sum. Whole-batch kernels only (the correction's order of
 * additions differs from the sample-by-sample sum, so micro-batch splits agree to rounding, as they do there anyway).
 * With the fused kernels, Σ_n g_n² comes from one kernel that never writes a g_n to memory (16 × 8 MB a batch at the
 * embedded model's size), and g_n on the rows of its tokens from those columns of dLogits_n.
 */
function sumSquaredWordGrads(
  dLogits: tf.Tensor,
  decoderInput: tf.Tensor,
  dE: tf.Tensor,
  ids: number[][],
  headRows: Rows,
  V: number,
  total: tf.Tensor | undefined,
): tf.Tensor {
  // each sample's distinct token ids, in order: the rows where s_n is not zero
  const distinct = ids.map((row) => [...new Set(row)]);
  const slotOf: number[] = [];
  let slots = 0;
  ids.forEach((row, n) => {
    const slot = new Map(distinct[n].map((id, k) => [id, slots + k]));
    for (const id of row) slotOf.push(slot.get(id)!);
    slots += distinct[n].length;
  });
  const gOnRows: tf.Tensor[] = [];
  const fused = fusedOps();
  if (fused) {
    const starts = [...headRows.start, headRows.start[ids.length - 1] + headRows.count[ids.length - 1]];
    const next = tf.tidy(() =>
      fused.outerSquareSum(
        // (Fill runs in TensorFlow; tf.zeros would make and copy 8 MB in JavaScript at the embedded model's size)
        (total ?? tf.fill([V, decoderInput.shape[1]!], 0)) as tf.Tensor2D,
        dLogits as tf.Tensor2D,
        decoderInput as tf.Tensor2D,
        tf.tensor1d(starts, 'int32'),
      ),
    );
    total?.dispose();
    total = next;
    for (let n = 0; n < ids.length; n++)
      gOnRows.push(
        tf.tidy(() =>
          tf.matMul(
            tf.gather(rowsOfSample(dLogits, headRows, n), tf.tensor1d(distinct[n], 'int32'), 1),
            rowsOfSample(decoderInput, headRows, n),
            true,
            false,
          ),
        ),
      );
  } else
    for (let n = 0; n < ids.length; n++) {
      const g = tf.tidy(() =>
        tf.matMul(rowsOfSample(dLogits, headRows, n), rowsOfSample(decoderInput, headRows, n), true, false),
      );
      gOnRows.push(tf.tidy(() => tf.gather(g, tf.tensor1d(distinct[n], 'int32'))));
      total = tf.tidy(() => addSquares(total, tf.expandDims(g)));
      g.dispose();
    }
  const correction = tf.tidy(() => {
    const s = tf.unsortedSegmentSum(dE, tf.tensor1d(slotOf, 'int32'), slots);
    const g = tf.concat(gOnRows);
    return tf.unsortedSegmentSum(tf.mul(s, tf.add(tf.add(g, g), s)), tf.tensor1d(distinct.flat(), 'int32'), V);
  });
  tf.dispose(gOnRows);
  return addTo(total, correction);
}

/** `into` plus the per-parameter sums of squared per-sample gradients from the tapped gradients dY and the recorded inputs. */
function tensorSums(
  model: Bert,
  batch: Batch,
  counts: number[],
  dY: Map<string, tf.Tensor>,
  inputs: Map<string, tf.Tensor>,
  into: ReadonlyMap<string, tf.Tensor>,
): Map<string, tf.Tensor> {
  const { hidden_size: H, vocab_size: V, type_vocab_size: TV, max_position_embeddings: P } = model.config;
  const B = batch.input_ids.length;
  const T = batch.input_ids[0].length;
  const encoderRows = rowsOf(counts.map(() => T));
  const headRows = rowsOf(counts);
  const out = new Map<string, tf.Tensor>();
  const masked = maskedRowSites(model.config);

  for (const site of dY.keys()) {
    if (site === EMBEDDINGS || site === DECODER) continue;
    const rows = masked.has(site) ? headRows : encoderRows;
    const [g, x] = [dY.get(site)!, inputs.get(site)!];
    const weight = `${site}.weight`;
    if (site.endsWith('LayerNorm')) out.set(weight, sumSquaredRowSums(g, rows, into.get(weight), x));
    else out.set(weight, sumSquaredOuter(g, x, rows, into.get(weight)));
    out.set(`${site}.bias`, sumSquaredRowSums(g, rows, into.get(`${site}.bias`)));
  }

  const dE = dY.get(EMBEDDINGS)!;
  const dLogits = dY.get(DECODER)!;
  const decoderInput = inputs.get(DECODER)!;
  if (wholeBatch())
    out.set(WORD, sumSquaredWordGrads(dLogits, decoderInput, dE, batch.input_ids, headRows, V, into.get(WORD)));
  else {
    const scatter = (n: number) =>
      tf.unsortedSegmentSum(rowsOfSample(dE, encoderRows, n), tf.tensor1d(batch.input_ids[n], 'int32'), V);
    out.set(WORD, sumSquaredOuter(dLogits, decoderInput, headRows, into.get(WORD), scatter));
  }
  const types = (batch.token_type_ids ?? batch.input_ids.map((row) => row.map(() => 0))).flatMap((row, n) =>
    row.map((type) => n * TV + type),
  );
  const squares = tf.tidy(() => [
    tf.pad(tf.square(tf.reshape(dE, [B, T, H])), [
      [0, 0],
      [0, P - T],
      [0, 0],
    ]),
    tf.square(tf.reshape(tf.unsortedSegmentSum(dE, tf.tensor1d(types, 'int32'), B * TV), [B, TV, H])),
  ]);
  out.set(POSITION, addSamples(into.get(POSITION), squares[0]));
  out.set(TOKEN_TYPE, addSamples(into.get(TOKEN_TYPE), squares[1]));
  tf.dispose(squares);
  out.set(MLM_BIAS, sumSquaredRowSums(dLogits, headRows, into.get(MLM_BIAS)));
  const names = model.namedParameters().map(([name]) => name);
  const missing = names.filter((name) => !out.has(name));
  if (missing.length) throw new Error(`the tapped pass did not observe ${missing.join(', ')}`);
  return new Map(names.map((name) => [name, out.get(name)!]));
}
