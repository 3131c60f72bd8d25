/**
 * A slow, readable float64 reference of Hugging Face BERT's forward pass (eval mode, no dropout), with plain
 * arrays and loops: a test oracle for the TensorFlow.js model, independent of it and of the safetensors reader.
 */
import type { BertConfig } from '../../lib/bert/config';
import { isRegression } from '../../lib/bert/config';
import type { BertParts } from '../../lib/bert/parameters';
import { parameterSpecs } from '../../lib/bert/parameters';

/** A named tensor: its shape and its values in row-major order. */
export interface ReferenceTensor {
  shape: number[];
  data: ArrayLike<number>;
}

/** Weights by canonical Hugging Face name (as `parameterSpecs` lists them). */
export type ReferenceWeights = Map<string, ReferenceTensor>;

/** A batch of token ids, with optional token types (default 0) and attention mask (default 1). */
export interface ReferenceInputs {
  inputIds: number[][];
  tokenTypeIds?: number[][];
  attentionMask?: number[][];
}

/** The forward pass's outputs; the optional ones exist when the weights include that head. */
export interface ReferenceOutputs {
  /** [B][T][H] */
  lastHiddenState: number[][][];
  /** [B][H], when bert.pooler.dense.* is present. */
  pooledOutput?: number[][];
  /** [B][T][V], when cls.predictions.* is present. */
  mlmLogits?: number[][][];
  /** [B][num_labels], when classifier.* is present. */
  logits?: number[][];
  /** Attention probabilities [layer][B][head][T][T] (Hugging Face's output_attentions). */
  attentions?: number[][][][][];
}

/** The additive attention mask for padded keys: float32's most negative value, as Hugging Face uses. */
const MASK_VALUE = -3.4028234663852886e38;

/** Labels equal to this are ignored by the masked-LM loss (PyTorch's ignore_index). */
const IGNORE_INDEX = -100;

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(|x|) for |x| < 3 by the all-positive series 2/√π·e^(-x²)·Σ (2x²)ⁿ·x / (1·3·…·(2n+1)). */
function erfSeries(a: number): number {
  let term = a;
  let sum = a;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-a * a) * sum;
}

/** erfc(x) for x ≥ 3 by the continued fraction e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))). */
function erfcContinuedFraction(x: number): number {
  let f = x;
  for (let n = 120; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** The error function, to about 1e-15 relative accuracy (series below 3, continued fraction above). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  let r: number;
  if (a < 3) r = erfSeries(a);
  else if (a < 6) r = 1 - erfcContinuedFraction(a);
  else r = 1;
  return x < 0 ? -r : r;
}

/** GELU in its exact erf form: 0.5·x·(1 + erf(x/√2)). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Which heads a weight map includes, from the presence of their first tensor. */
function partsOf(weights: ReferenceWeights): BertParts {
  return {
    pooler: weights.has('bert.pooler.dense.weight'),
    mlm: weights.has('cls.predictions.bias'),
    classifier: weights.has('classifier.weight'),
  };
}

/** The weights as Float64Arrays, after checking every expected name is present with the expected shape. */
function float64Weights(config: BertConfig, weights: ReferenceWeights): Map<string, Float64Array> {
  const parts = partsOf(weights);
  if (parts.classifier && !parts.pooler) throw new Error('classifier.* present without bert.pooler.dense.*');
  const out = new Map<string, Float64Array>();
  for (const { name, shape } of parameterSpecs(config, parts)) {
    const t = weights.get(name);
    if (!t) throw new Error(`missing weight ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`weight ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new Error(`weight ${name} has ${t.data.length} values, expected ${size}`);
    out.set(name, Float64Array.from(t.data));
  }
  return out;
}

/** The named weight, which float64Weights guarantees to exist. */
function get(W: Map<string, Float64Array>, name: string): Float64Array {
  const t = W.get(name);
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

/** x·Wᵀ + b for rows x of length `inp` and an nn.Linear weight W of shape [out, inp]. */
function linear(x: number[][], W: Float64Array, b: Float64Array, out: number, inp: number): number[][] {
  return x.map((row) => {
    const y = new Array<number>(out);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inp; i++) s += row[i] * W[o * inp + i];
      y[o] = s;
    }
    return y;
  });
}

/** The nn.Linear called `prefix`, applied to rows x. */
function dense(x: number[][], W: Map<string, Float64Array>, prefix: string, out: number, inp: number): number[][] {
  return linear(x, get(W, `${prefix}.weight`), get(W, `${prefix}.bias`), out, inp);
}

/** LayerNorm of each row (biased variance), with weight `${prefix}.weight` and bias `${prefix}.bias`. */
function layerNorm(x: number[][], W: Map<string, Float64Array>, prefix: string, eps: number): number[][] {
  const w = get(W, `${prefix}.weight`);
  const b = get(W, `${prefix}.bias`);
  return x.map((row) => {
    const n = row.length;
    const mean = row.reduce((a, v) => a + v, 0) / n;
    const variance = row.reduce((a, v) => a + (v - mean) * (v - mean), 0) / n;
    const inv = 1 / Math.sqrt(variance + eps);
    return row.map((v, i) => (v - mean) * inv * w[i] + b[i]);
  });
}

/** Elementwise sum of two equally shaped row lists. */
function add(a: number[][], b: number[][]): number[][] {
  return a.map((row, t) => row.map((v, i) => v + b[t][i]));
}

/** Softmax of one row, shifted by its maximum. */
function softmax(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** log Σ exp(row), shifted by the maximum. */
function logSumExp(row: number[]): number {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
}

/** Multi-head self-attention of one sequence x [T][H]; mask[t] = 0 removes key t. */
function selfAttention(
  x: number[][],
  mask: number[],
  W: Map<string, Float64Array>,
  p: string,
  cfg: BertConfig,
  probsOut?: number[][][],
): number[][] {
  const H = cfg.hidden_size;
  const heads = cfg.num_attention_heads;
  const d = H / heads;
  const q = dense(x, W, `${p}.attention.self.query`, H, H);
  const k = dense(x, W, `${p}.attention.self.key`, H, H);
  const v = dense(x, W, `${p}.attention.self.value`, H, H);
  const T = x.length;
  const context = x.map(() => new Array<number>(H).fill(0));
  for (let h = 0; h < heads; h++) {
    const off = h * d;
    for (let i = 0; i < T; i++) {
      const scores = new Array<number>(T);
      for (let j = 0; j < T; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q[i][off + c] * k[j][off + c];
        scores[j] = s / Math.sqrt(d) + (mask[j] ? 0 : MASK_VALUE);
      }
      const probs = softmax(scores);
      if (probsOut) (probsOut[h] ??= [])[i] = probs;
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let j = 0; j < T; j++) s += probs[j] * v[j][off + c];
        context[i][off + c] = s;
      }
    }
  }
  return context;
}

/** One BertLayer on one sequence: attention, dense + residual LayerNorm, GELU feed-forward + residual LayerNorm. */
function encoderLayer(
  x: number[][],
  mask: number[],
  W: Map<string, Float64Array>,
  layer: number,
  cfg: BertConfig,
  probsOut?: number[][][],
): number[][] {
  const H = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const eps = cfg.layer_norm_eps;
  const p = `bert.encoder.layer.${layer}`;
  const context = selfAttention(x, mask, W, p, cfg, probsOut);
  const attn = layerNorm(
    add(dense(context, W, `${p}.attention.output.dense`, H, H), x),
    W,
    `${p}.attention.output.LayerNorm`,
    eps,
  );
  const inter = dense(attn, W, `${p}.intermediate.dense`, I, H).map((row) => row.map(gelu));
  return layerNorm(add(dense(inter, W, `${p}.output.dense`, H, I), attn), W, `${p}.output.LayerNorm`, eps);
}

/** Embeddings of one sequence: word + position + token type, then LayerNorm. */
function embed(ids: number[], types: number[], W: Map<string, Float64Array>, cfg: BertConfig): number[][] {
  const H = cfg.hidden_size;
  const word = get(W, 'bert.embeddings.word_embeddings.weight');
  const pos = get(W, 'bert.embeddings.position_embeddings.weight');
  const type = get(W, 'bert.embeddings.token_type_embeddings.weight');
  const x = ids.map((id, t) => {
    const row = new Array<number>(H);
    for (let i = 0; i < H; i++) row[i] = word[id * H + i] + pos[t * H + i] + type[types[t] * H + i];
    return row;
  });
  return layerNorm(x, W, 'bert.embeddings.LayerNorm', cfg.layer_norm_eps);
}

/** Checks the batch is rectangular with ids in range; returns token types and mask with their defaults filled. */
function checkedInputs(cfg: BertConfig, inputs: ReferenceInputs): { types: number[][]; mask: number[][] } {
  const ids = inputs.inputIds;
  if (ids.length === 0 || ids[0].length === 0) throw new Error('empty batch');
  const T = ids[0].length;
  if (T > cfg.max_position_embeddings)
    throw new Error(`sequence length ${T} exceeds max_position_embeddings ${cfg.max_position_embeddings}`);
  const types = inputs.tokenTypeIds ?? ids.map((r) => r.map(() => 0));
  const mask = inputs.attentionMask ?? ids.map((r) => r.map(() => 1));
  const check = (rows: number[][], what: string, lo: number, hi: number) => {
    if (rows.length !== ids.length) throw new Error(`${what} has ${rows.length} rows, expected ${ids.length}`);
    for (const row of rows) {
      if (row.length !== T) throw new Error(`${what} rows must all have length ${T}`);
      for (const v of row)
        if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${what} value ${v} outside [${lo}, ${hi}]`);
    }
  };
  check(ids, 'inputIds', 0, cfg.vocab_size - 1);
  check(types, 'tokenTypeIds', 0, cfg.type_vocab_size - 1);
  check(mask, 'attentionMask', 0, 1);
  return { types, mask };
}

/** The float64 forward pass of Hugging Face BERT in eval mode, with whichever heads the weights include. */
export function referenceForward(
  config: BertConfig,
  weights: ReferenceWeights,
  inputs: ReferenceInputs,
): ReferenceOutputs {
  const W = float64Weights(config, weights);
  const parts = partsOf(weights);
  const { types, mask } = checkedInputs(config, inputs);
  const H = config.hidden_size;
  const V = config.vocab_size;
  const attentions = Array.from({ length: config.num_hidden_layers }, () => [] as number[][][][]);
  const lastHiddenState = inputs.inputIds.map((ids, b) => {
    let x = embed(ids, types[b], W, config);
    for (let l = 0; l < config.num_hidden_layers; l++)
      x = encoderLayer(x, mask[b], W, l, config, (attentions[l][b] = []));
    return x;
  });
  const out: ReferenceOutputs = { lastHiddenState, attentions };
  if (parts.pooler) {
    const first = lastHiddenState.map((x) => x[0]);
    out.pooledOutput = dense(first, W, 'bert.pooler.dense', H, H).map((row) => row.map(Math.tanh));
  }
  if (parts.mlm) {
    const word = get(W, 'bert.embeddings.word_embeddings.weight');
    const bias = get(W, 'cls.predictions.bias');
    out.mlmLogits = lastHiddenState.map((x) => {
      const t0 = dense(x, W, 'cls.predictions.transform.dense', H, H).map((row) => row.map(gelu));
      const t = layerNorm(t0, W, 'cls.predictions.transform.LayerNorm', config.layer_norm_eps);
      return linear(t, word, bias, V, H);
    });
  }
  if (parts.classifier && out.pooledOutput) {
    out.logits = dense(out.pooledOutput, W, 'classifier', config.num_labels, H);
  }
  return out;
}

/** Mean masked-LM cross-entropy over the positions whose label is not -100 (NaN when there are none, as PyTorch). */
export function referenceMlmLoss(
  config: BertConfig,
  weights: ReferenceWeights,
  inputs: ReferenceInputs,
  labels: number[][],
): number {
  const { mlmLogits } = referenceForward(config, weights, inputs);
  if (!mlmLogits) throw new Error('referenceMlmLoss: the weights have no cls.predictions.* head');
  let sum = 0;
  let count = 0;
  labels.forEach((row, b) =>
    row.forEach((label, t) => {
      if (label === IGNORE_INDEX) return;
      if (!Number.isInteger(label) || label < 0 || label >= config.vocab_size)
        throw new Error(`MLM label ${label} outside [0, ${config.vocab_size})`);
      const logits = mlmLogits[b][t];
      sum += logSumExp(logits) - logits[label];
      count++;
    }),
  );
  return sum / count;
}

/** Mean cross-entropy of the classifier's logits, or mean squared error for regression (num_labels = 1). */
export function referenceClassificationLoss(
  config: BertConfig,
  weights: ReferenceWeights,
  inputs: ReferenceInputs,
  labels: number[],
): number {
  const { logits } = referenceForward(config, weights, inputs);
  if (!logits) throw new Error('referenceClassificationLoss: the weights have no classifier.* head');
  if (labels.length !== logits.length) throw new Error(`${labels.length} labels for a batch of ${logits.length}`);
  if (isRegression(config)) {
    if (config.num_labels !== 1) throw new Error('regression with num_labels ≠ 1 is not supported');
    return labels.reduce((a, y, b) => a + (logits[b][0] - y) ** 2, 0) / labels.length;
  }
  return (
    labels.reduce((a, y, b) => {
      if (!Number.isInteger(y) || y < 0 || y >= config.num_labels)
        throw new Error(`class label ${y} outside [0, ${config.num_labels})`);
      return a + logSumExp(logits[b]) - logits[b][y];
    }, 0) / labels.length
  );
}

/** mulberry32: a small seeded PRNG of uniform numbers in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples by Box–Muller over mulberry32. */
function normalSampler(seed: number): () => number {
  const uniform = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Seeded random weights in canonical names: matrices N(0, 0.2), LayerNorm weights 1 + N(0, 0.1), biases N(0, 0.1). */
export function randomWeights(
  config: BertConfig,
  parts: BertParts,
  seed: number,
): Map<string, { shape: number[]; data: Float32Array }> {
  const normal = normalSampler(seed);
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const { name, shape } of parameterSpecs(config, parts)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    const [mean, std] = shape.length === 2 ? [0, 0.2] : name.endsWith('LayerNorm.weight') ? [1, 0.1] : [0, 0.1];
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    out.set(name, { shape, data });
  }
  return out;
}
