/**
 * BERT in TensorFlow.js, computing what Hugging Face's modeling_bert.py computes, with its parameter and
 * dropout-site names. Weights keep PyTorch's layout (nn.Linear is [out, in]) so files interchange unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { BertConfig, isRegression } from './config';
import { BertParts, ParameterSpec, dropoutSiteNames, parameterSpecs } from './parameters';
import { DropoutSites } from './dropout';
import { Rng, mixSeed } from '../util/random';
import { type FusedOps, fusedOps } from '../fisher/fused-ops';
import { tapedOp } from '../util/taped-op';

/** A batch of token ids with Hugging Face's field names; token types default to 0 and the mask to 1. */
export interface Batch {
  input_ids: number[][];
  token_type_ids?: number[][];
  attention_mask?: number[][];
}

/**
 * Observation points of a forward pass, for per-sample gradients. Sites are named by their parameters' prefix:
 * every linear layer and LayerNorm, `bert.embeddings` (the sum of the three embeddings, before its LayerNorm) and
 * `cls.predictions.decoder` (the tied vocabulary projection). At each site the pass records the id of the site's
 * output in `outputs` (for `leanValueAndGradsAt`, which differentiates with respect to it) and, kept from tidy, its
 * input in `inputs` (x of a linear layer, the normalized x̂ of a LayerNorm). Taps
 * observe evaluation passes of `maskedLmLogits`, where the sites of `maskedRowSites` have one row per masked position
 * and the others one per token.
 */
export interface Taps {
  outputs: Map<string, number>;
  inputs: Map<string, tf.Tensor>;
}

/** Options of one forward pass; dropout acts only when `training` is true, seeded by `seed`. */
export interface ForwardOptions {
  training?: boolean;
  seed?: number;
  /** Observe the pass at every site (see `Taps`); honoured by `maskedLmLogits` and `maskedLmLoss`. */
  taps?: Taps;
  /**
   * Gradient checkpointing (Chen et al. 2016): keep only each encoder layer's input for backward and recompute the
   * layer there, so training holds one layer's activations instead of all of them, for about a third more compute.
   * The gradients are those of the plain pass (dropout masks are seeded, so the recomputation draws the same).
   */
  checkpoint?: boolean;
}

/** The tap sites computed only at the masked positions in a masked-LM evaluation pass: the head's, and the last layer's queries and all after its attention. */
export function maskedRowSites(config: BertConfig): Set<string> {
  const last = `bert.encoder.layer.${config.num_hidden_layers - 1}`;
  const layer = [
    'attention.self.query',
    'attention.output.dense',
    'attention.output.LayerNorm',
    'intermediate.dense',
    'output.dense',
    'output.LayerNorm',
  ];
  const head = ['cls.predictions.transform.dense', 'cls.predictions.transform.LayerNorm', 'cls.predictions.decoder'];
  return new Set([...layer.map((site) => `${last}.${site}`), ...head]);
}

/** What `encode` observes, keeps and returns besides the hidden states. */
interface EncodeOptions {
  taps?: Taps;
  /** Attention probabilities of each layer are pushed here, kept. */
  attentions?: tf.Tensor[];
  checkpoint?: boolean;
  /** Return only these rows of the hidden states [B·T, H], in increasing order. */
  rows?: number[];
}

/** The rows the last layer computes in a masked-LM evaluation pass, and how its attention lays them out by sample. */
interface KeptRows {
  /** The rows of [B·T, H], row-major: each sample's in order, the samples in order. */
  ids: tf.Tensor1D;
  /** Samples, and the most rows any of them has. */
  batch: number;
  most: number;
  /** For [B·most] slots, sample by sample, the kept row each holds, or the row count (a zero row) past a sample's own. */
  pack: tf.Tensor1D;
  /** For each kept row, its slot in [B·most]. */
  unpack: tf.Tensor1D;
}

/** The layout of `rows` (increasing indices into [B·T]) for attention whose queries are those rows alone. */
function keptRows(rows: number[], B: number, T: number): KeptRows {
  const count = new Array<number>(B).fill(0);
  for (const r of rows) count[Math.floor(r / T)]++;
  const most = Math.max(...count);
  const start = count.map((_, n) => count.slice(0, n).reduce((a, b) => a + b, 0));
  const pack = count.flatMap((c, n) => Array.from({ length: most }, (_, j) => (j < c ? start[n] + j : rows.length)));
  const unpack = rows.map((r, m) => Math.floor(r / T) * most + (m - start[Math.floor(r / T)]));
  return {
    ids: tf.tensor1d(rows, 'int32'),
    batch: B,
    most,
    pack: tf.tensor1d(pack, 'int32'),
    unpack: tf.tensor1d(unpack, 'int32'),
  };
}

export interface BertOutput {
  /** [B, T, H] */
  lastHiddenState: tf.Tensor3D;
  /** [B, H] when the model has a pooler. */
  pooledOutput?: tf.Tensor2D;
  /** [B, T, V] when the model has a masked-LM head. */
  mlmLogits?: tf.Tensor3D;
  /** [B, num_labels] when the model has a classifier. */
  logits?: tf.Tensor2D;
}

/** A plain weight array with its shape (row-major). */
export interface WeightArray {
  shape: number[];
  data: Float32Array;
}

const NEG_INF_MASK = -1e9;
const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** GELU, erf form (Hugging Face's "gelu"), with its closed-form gradient Φ(x) + x·φ(x); in fused kernels when given. */
function gelu(x: tf.Tensor, fused: FusedOps | null = null): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    if (fused) {
      const [value, cdf] = fused.gelu(input);
      save([input, cdf]);
      return {
        value,
        gradFunc: (dys: tf.Tensor | tf.Tensor[], [xs, phi]: tf.Tensor[]) => fused.geluGrad(dys as tf.Tensor, xs, phi),
      };
    }
    const cdf = tf.mul(tf.add(tf.erf(tf.mul(input, SQRT1_2)), 1), 0.5); // Φ(x)
    save([input, cdf]);
    return {
      value: tf.mul(input, cdf),
      gradFunc: (dys: tf.Tensor | tf.Tensor[], [xs, phi]: tf.Tensor[]) => {
        const density = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), INV_SQRT_2PI); // φ(x)
        return tf.mul(dys as tf.Tensor, tf.add(phi, tf.mul(xs, density)));
      },
    };
  });
  return op(x);
}

/**
 * (x − mean) / √(variance + eps) over the last axis, with its closed-form gradient
 * dx = (dy − mean(dy) − x̂·mean(dy·x̂)) / √(variance + eps): seven kernels each way, fewer than autodiff's, which also
 * fills a tensor of ones in JavaScript for the gradient of every mean.
 */
function normalize(x: tf.Tensor, eps: number): tf.Tensor {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const centered = tf.sub(input, tf.mean(input, -1, true));
    const inverseStd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), -1, true), eps));
    const normed = tf.mul(centered, inverseStd);
    save([normed, inverseStd]);
    return {
      value: normed,
      gradFunc: (dys: tf.Tensor | tf.Tensor[], [xHat, inv]: tf.Tensor[]) => {
        const dy = dys as tf.Tensor;
        return tf.mul(
          tf.sub(tf.sub(dy, tf.mean(dy, -1, true)), tf.mul(xHat, tf.mean(tf.mul(dy, xHat), -1, true))),
          inv,
        );
      },
    };
  });
  return op(x);
}

/**
 * LayerNorm x̂ γ + β in one fused kernel each way, and x̂ (kept: the caller disposes it). The gradients of γ and β are
 * computed only when asked for: the tapped pass needs x's alone.
 */
function fusedLayerNorm(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  fused: FusedOps,
): { y: tf.Tensor; normed: tf.Tensor } {
  let normed: tf.Tensor | undefined;
  const y = tapedOp(
    { x, gamma, beta },
    (save) => {
      const [value, xHat, inverseStd] = fused.layerNorm(x, gamma, beta, eps);
      normed = tf.keep(xHat); // the forward runs in a scope of its own
      save([xHat, inverseStd]);
      return value;
    },
    (dy, [xHat, inv]) => {
      const rows = (t: tf.Tensor) => tf.reshape(t, [-1, t.shape[t.rank - 1]]);
      return {
        x: () => fused.layerNormGrad(dy, gamma, xHat, inv),
        gamma: () => tf.sum(tf.mul(rows(dy), rows(xHat)), 0),
        beta: () => tf.sum(rows(dy), 0),
      };
    },
  );
  return { y, normed: normed! };
}

/** x [N, w] + b in one fused kernel; b's gradient is computed only when asked for. */
function fusedBiasAdd(x: tf.Tensor, bias: tf.Tensor, fused: FusedOps): tf.Tensor {
  return tapedOp(
    { x, bias },
    () => fused.biasAdd(x, bias),
    (dy) => ({ x: () => tf.reshape(dy, x.shape), bias: () => tf.sum(dy, 0) }),
  );
}

/** Attention weights softmax(scale · scores + mask) in one fused kernel each way (the mask is a constant). */
function fusedAttentionSoftmax(scores: tf.Tensor, mask: tf.Tensor, scale: number, fused: FusedOps): tf.Tensor {
  return tapedOp(
    { scores },
    (save) => {
      const weights = fused.attentionSoftmax(scores, mask, scale);
      save([weights]);
      return weights;
    },
    (dy, [weights]) => ({ scores: () => fused.attentionSoftmaxGrad(dy, weights, scale) }),
  );
}

export class Bert {
  readonly config: BertConfig;
  readonly parts: BertParts;
  readonly dropout: DropoutSites;
  private readonly specs: ParameterSpec[];
  private readonly params = new Map<string, tf.Variable>();

  private constructor(config: BertConfig, parts: BertParts, weights: (spec: ParameterSpec) => tf.Tensor) {
    this.config = config;
    this.parts = parts;
    this.specs = parameterSpecs(config, parts);
    for (const spec of this.specs) {
      const init = weights(spec);
      this.params.set(spec.name, tf.variable(init, true));
      init.dispose();
    }
    this.dropout = new DropoutSites(dropoutSiteNames(config, parts), (name) => ({
      kind: 'bernoulli',
      p: name.endsWith('attention.self.dropout') ? config.attention_probs_dropout_prob : config.hidden_dropout_prob,
    }));
  }

  /** A model initialized as Hugging Face initializes BERT (normal(0, initializer_range), zero biases, unit LayerNorm), seeded. */
  static random(config: BertConfig, parts: BertParts, seed = 0): Bert {
    const rng = new Rng(mixSeed(seed, 0x1b3a7));
    return new Bert(config, parts, ({ name, shape }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      if (name.includes('LayerNorm.weight')) data.fill(1);
      else if (shape.length === 2) {
        for (let i = 0; i < size; i++) data[i] = rng.normal() * config.initializer_range;
        if (name === 'bert.embeddings.word_embeddings.weight')
          data.fill(0, config.pad_token_id * shape[1], (config.pad_token_id + 1) * shape[1]);
      }
      return tf.tensor(data, shape);
    });
  }

  /** A model from named weight arrays (canonical Hugging Face names); every parameter must be present with its shape. */
  static fromWeights(config: BertConfig, parts: BertParts, weights: Map<string, WeightArray>): Bert {
    const problems: string[] = [];
    for (const { name, shape } of parameterSpecs(config, parts)) {
      const w = weights.get(name);
      if (!w) problems.push(`missing ${name}`);
      else if (w.shape.join() !== shape.join()) problems.push(`${name} has shape [${w.shape}], expected [${shape}]`);
      else if (w.data.length !== shape.reduce((a, b) => a * b, 1))
        problems.push(`${name} has ${w.data.length} values for shape [${shape}]`);
    }
    if (problems.length) throw new Error(`weights do not fit the configuration:\n  ${problems.join('\n  ')}`);
    return new Bert(config, parts, ({ name, shape }) => tf.tensor(weights.get(name)!.data, shape));
  }

  /** Parameters as [Hugging Face name, variable] in `named_parameters()` order. */
  namedParameters(): Array<[string, tf.Variable]> {
    return this.specs.map((s) => [s.name, this.params.get(s.name)!]);
  }

  /** One parameter by its Hugging Face name. */
  parameter(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`unknown parameter "${name}"`);
    return v;
  }

  /** Dropout site names in forward order. */
  dropoutSites(): string[] {
    return this.dropout.names();
  }

  /** Total number of scalar parameters (the tied decoder counted once). */
  parameterCount(): number {
    return this.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** Copies of all weights as plain arrays, by name, in Hugging Face order. */
  toWeights(): Map<string, WeightArray> {
    const out = new Map<string, WeightArray>();
    for (const [name, v] of this.namedParameters())
      out.set(name, { shape: [...v.shape], data: v.dataSync() as Float32Array });
    return out;
  }

  /** Overwrites weights by name (any subset). */
  assignWeights(weights: Map<string, WeightArray>): void {
    for (const [name, w] of weights) {
      const v = this.parameter(name);
      if (w.shape.join() !== v.shape.join()) throw new Error(`${name}: shape [${w.shape}] does not match [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(w.data, v.shape)));
    }
  }

  /** Frees every variable. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }

  // ---- forward pass ----------------------------------------------------------------------------

  private p(name: string): tf.Variable {
    return this.params.get(name)!;
  }

  /** `output`, recorded with `input` (when given) at the site in a tapped pass. */
  private tap<T extends tf.Tensor>(site: string, input: tf.Tensor | null, output: T, taps: Taps | undefined): T {
    if (!taps) return output;
    taps.outputs.set(site, output.id);
    if (input) taps.inputs.set(site, tf.keep(input));
    return output;
  }

  /** x [N, in] · Wᵀ + b with W [out, in] named `${prefix}.weight`; the bias in a fused kernel in a tapped pass where they load. */
  private linear(prefix: string, x: tf.Tensor2D, taps?: Taps): tf.Tensor2D {
    const product = tf.matMul(x, this.p(`${prefix}.weight`), false, true);
    const bias = this.p(`${prefix}.bias`);
    const fused = taps ? fusedOps() : null;
    return this.tap(
      prefix,
      x,
      (fused ? fusedBiasAdd(product, bias, fused) : tf.add(product, bias)) as tf.Tensor2D,
      taps,
    );
  }

  private layerNorm(prefix: string, x: tf.Tensor, taps?: Taps): tf.Tensor {
    const [gamma, beta] = [this.p(`${prefix}.weight`), this.p(`${prefix}.bias`)];
    const fused = taps ? fusedOps() : null;
    if (fused) {
      const { y, normed } = fusedLayerNorm(x, gamma, beta, this.config.layer_norm_eps, fused);
      return this.tap(prefix, normed, y, taps);
    }
    const normed = normalize(x, this.config.layer_norm_eps);
    return this.tap(prefix, normed, tf.add(tf.mul(normed, gamma), beta), taps);
  }

  private drop(site: string, x: tf.Tensor, seed: number | undefined): tf.Tensor {
    return this.dropout.apply(site, x, seed);
  }

  /**
   * Embeddings and encoder: hidden states [B·T, H] (row-major over batch then position), or only the rows `rows`
   * of them. Without dropout or checkpointing, the last layer then computes its queries, and everything after
   * attention, at those rows only (keys and values at every row); with dropout, every row is computed so that the
   * masks are drawn as in the full pass.
   */
  private encode(batch: Batch, seed: number | undefined, opts: EncodeOptions = {}): tf.Tensor2D {
    const { taps, attentions, checkpoint = false, rows } = opts;
    if (checkpoint && (taps || attentions)) throw new Error('checkpoint cannot be combined with taps or attentions');
    const c = this.config;
    const B = batch.input_ids.length;
    const T = batch.input_ids[0]?.length ?? 0;
    checkBatch(batch, c);
    const H = c.hidden_size;
    const heads = c.num_attention_heads;
    const d = H / heads;

    const ids = tf.tensor1d(batch.input_ids.flat(), 'int32');
    const types = tf.tensor1d(batch.token_type_ids ? batch.token_type_ids.flat() : new Array(B * T).fill(0), 'int32');
    const positions = tf.tile(tf.range(0, T, 1, 'int32'), [B]);
    let h = tf.add(
      tf.add(
        tf.gather(this.p('bert.embeddings.word_embeddings.weight'), ids),
        tf.gather(this.p('bert.embeddings.position_embeddings.weight'), positions),
      ),
      tf.gather(this.p('bert.embeddings.token_type_embeddings.weight'), types),
    ) as tf.Tensor2D;
    h = this.tap('bert.embeddings', null, h, taps);
    h = this.layerNorm('bert.embeddings.LayerNorm', h, taps) as tf.Tensor2D;
    h = this.drop('bert.embeddings.dropout', h, seed) as tf.Tensor2D;

    // Additive mask over keys: 0 where attended, a large negative number at padding; [B, 1, 1, T].
    const mask = batch.attention_mask ? tf.tensor(batch.attention_mask.flat(), [B, 1, 1, T], 'float32') : null;
    const maskAdd = mask ? tf.mul(tf.sub(1, mask), NEG_INF_MASK) : null;
    const splitHeads = (x: tf.Tensor2D) => tf.transpose(tf.reshape(x, [B, T, heads, d]), [0, 2, 1, 3]);

    // a checkpointed layer reruns in backward, after the caller's tidy has freed `rows`: it keeps every row
    const early = rows && seed === undefined && !checkpoint ? keptRows(rows, B, T) : undefined;
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const l = `bert.encoder.layer.${i}`;
      const keep = i === c.num_hidden_layers - 1 ? early : undefined;
      const run = (x: tf.Tensor2D, m: tf.Tensor | null) =>
        this.layer(l, x, splitHeads, m, seed, taps, attentions, keep);
      // one tidy per layer: only the layer's output and what the gradient tape saves for backward outlive it
      h = checkpoint ? this.checkpointed(l, h, maskAdd, run) : tf.tidy(() => run(h, maskAdd));
    }
    return rows && !early ? tf.gather(h, tf.tensor1d(rows, 'int32')) : h;
  }

  /**
   * `run(x)` as one taped operation whose inputs are x and the layer's parameters: the forward keeps nothing but x,
   * and the backward runs the layer again under a tape of its own to get the gradients of x and the parameters.
   */
  private checkpointed(
    layer: string,
    x: tf.Tensor2D,
    mask: tf.Tensor | null,
    run: (x: tf.Tensor2D, mask: tf.Tensor | null) => tf.Tensor2D,
  ): tf.Tensor2D {
    const params = [...this.params].filter(([name]) => name.startsWith(`${layer}.`)).map(([, v]) => v);
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      // the forward pass's tensors are gone when backward runs: keep the input and the mask
      save(mask ? [x, mask] : [x]);
      return {
        value: run(x, mask),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          // The outer backward pass is running; a nested tape would replace and then clear the engine's active
          // tape, which the outer pass still needs for its own cleanup, so it is put back.
          const engine = tf.engine() as unknown as { state: { activeTape: unknown } };
          const outer = engine.state.activeTape;
          const input = saved[0] as tf.Tensor2D;
          try {
            const { value, grads } = tf
              .engine()
              .gradients(() => run(input, saved[1] ?? null), [input, ...params], dy as tf.Tensor);
            value.dispose();
            return grads;
          } finally {
            engine.state.activeTape = outer;
          }
        },
      };
    });
    return op(x, ...params) as tf.Tensor2D;
  }

  /** softmax(scale · scores + mask) over the keys: one fused kernel each way in a tapped pass where they load. */
  private attentionWeights(scores: tf.Tensor, maskAdd: tf.Tensor | null, scale: number, taps?: Taps): tf.Tensor {
    const fused = taps ? fusedOps() : null;
    if (fused) {
      const [B, , , S] = scores.shape;
      return fusedAttentionSoftmax(scores, maskAdd ?? tf.zeros([B, S]), scale, fused);
    }
    const scaled = tf.mul(scores, scale);
    return tf.softmax(maskAdd ? tf.add(scaled, maskAdd) : scaled);
  }

  /** One encoder layer on hidden states [B·T, H]; with `keep`, its output at those rows alone. */
  private layer(
    l: string,
    h: tf.Tensor2D,
    splitHeads: (x: tf.Tensor2D) => tf.Tensor,
    maskAdd: tf.Tensor | null,
    seed: number | undefined,
    taps?: Taps,
    attentions?: tf.Tensor[],
    keep?: KeptRows,
  ): tf.Tensor2D {
    const { hidden_size: H, num_attention_heads: heads } = this.config;
    const d = H / heads;
    // each row's output depends on its own query alone: with `keep`, queries only at the kept rows, each sample's
    // padded with zero rows to the most any sample has ([B, heads, most, d]), which the context drops again
    const residual = keep ? tf.gather(h, keep.ids) : h;
    const query = this.linear(`${l}.attention.self.query`, residual, taps);
    const q = keep
      ? tf.transpose(
          tf.reshape(tf.gather(tf.concat([query, tf.zeros([1, H])]), keep.pack), [keep.batch, keep.most, heads, d]),
          [0, 2, 1, 3],
        )
      : splitHeads(query);
    const k = splitHeads(this.linear(`${l}.attention.self.key`, h, taps));
    const v = splitHeads(this.linear(`${l}.attention.self.value`, h, taps));
    const weights = this.attentionWeights(tf.matMul(q, k, false, true), maskAdd, 1 / Math.sqrt(d), taps);
    if (attentions) attentions.push(tf.keep(weights));
    const probs = this.drop(`${l}.attention.self.dropout`, weights, seed);
    const slots = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [-1, H]) as tf.Tensor2D;
    // from here on each row is computed from its own row alone
    const context = keep ? tf.gather(slots, keep.unpack) : slots;
    const attnOut = this.drop(
      `${l}.attention.output.dropout`,
      this.linear(`${l}.attention.output.dense`, context, taps),
      seed,
    );
    const a = this.layerNorm(`${l}.attention.output.LayerNorm`, tf.add(attnOut, residual), taps) as tf.Tensor2D;
    const inter = gelu(this.linear(`${l}.intermediate.dense`, a, taps), taps ? fusedOps() : null) as tf.Tensor2D;
    const out = this.drop(`${l}.output.dropout`, this.linear(`${l}.output.dense`, inter, taps), seed);
    return this.layerNorm(`${l}.output.LayerNorm`, tf.add(out, a), taps) as tf.Tensor2D;
  }

  /** Attention probabilities of every layer in evaluation mode, [B, heads, T, T] each (Hugging Face's output_attentions); the caller disposes. */
  attentions(batch: Batch): tf.Tensor4D[] {
    const out: tf.Tensor[] = [];
    tf.tidy(() => {
      this.encode(batch, undefined, { attentions: out });
    });
    return out as tf.Tensor4D[];
  }

  /** Pooler: tanh(dense(hidden state of [CLS])) → [B, H]. */
  private pool(h: tf.Tensor2D, B: number, T: number): tf.Tensor2D {
    const cls = tf.reshape(tf.slice(tf.reshape(h, [B, T, -1]), [0, 0, 0], [B, 1, -1]), [B, -1]) as tf.Tensor2D;
    return tf.tanh(this.linear('bert.pooler.dense', cls));
  }

  /** Masked-LM head on hidden states [N, H] → logits [N, V], the decoder tied to the word embeddings. */
  private mlmHead(h: tf.Tensor2D, taps?: Taps): tf.Tensor2D {
    const t = this.layerNorm(
      'cls.predictions.transform.LayerNorm',
      gelu(this.linear('cls.predictions.transform.dense', h, taps), taps ? fusedOps() : null),
      taps,
    ) as tf.Tensor2D;
    const logits = tf.add(
      tf.matMul(t, this.p('bert.embeddings.word_embeddings.weight'), false, true),
      this.p('cls.predictions.bias'),
    ) as tf.Tensor2D;
    return this.tap('cls.predictions.decoder', t, logits, taps);
  }

  /** Classifier on the pooled output (after the `dropout` site) → [B, num_labels]. */
  private classify(pooled: tf.Tensor2D, seed: number | undefined): tf.Tensor2D {
    return this.linear('classifier', this.drop('dropout', pooled, seed) as tf.Tensor2D);
  }

  /** Every output the model's parts give; the caller disposes them. */
  forward(batch: Batch, opts: ForwardOptions = {}): BertOutput {
    const seed = dropoutSeed(opts);
    const B = batch.input_ids.length;
    const T = batch.input_ids[0]?.length ?? 0;
    return tf.tidy(() => {
      const h = this.encode(batch, seed);
      const out: BertOutput = { lastHiddenState: tf.reshape(h, [B, T, -1]) as tf.Tensor3D };
      if (this.parts.pooler) out.pooledOutput = this.pool(h, B, T);
      if (this.parts.mlm) out.mlmLogits = tf.reshape(this.mlmHead(h), [B, T, -1]) as tf.Tensor3D;
      if (this.parts.classifier) out.logits = this.classify(out.pooledOutput!, seed);
      return out as unknown as tf.TensorContainer;
    }) as unknown as BertOutput;
  }

  /**
   * Masked-LM logits [M, V] at the M positions whose label is not -100 (row-major over batch and position), with
   * those labels. The head, and in evaluation the last layer's queries and all after its attention, are computed
   * only there: the same numbers as the full pass for less work.
   */
  maskedLmLogits(
    batch: Batch,
    labels: number[][],
    opts: ForwardOptions = {},
  ): { logits: tf.Tensor2D; targets: number[] } {
    if (!this.parts.mlm) throw new Error('this model has no masked-LM head (cls.predictions.*)');
    const seed = dropoutSeed(opts);
    if (opts.taps && seed !== undefined) throw new Error('taps observe evaluation passes only (training: false)');
    const flat = labels.flat();
    if (flat.length !== batch.input_ids.flat().length) throw new Error('labels must have the shape of input_ids');
    const rows: number[] = [];
    const targets: number[] = [];
    flat.forEach((y, i) => {
      if (y !== -100) {
        if (!Number.isInteger(y) || y < 0 || y >= this.config.vocab_size)
          throw new Error(`label ${y} at position ${i} is not a token id`);
        rows.push(i);
        targets.push(y);
      }
    });
    if (rows.length === 0) throw new Error('no masked positions in the batch (every label is -100)');
    const logits = tf.tidy(() =>
      this.mlmHead(this.encode(batch, seed, { taps: opts.taps, checkpoint: opts.checkpoint, rows }), opts.taps),
    );
    return { logits, targets };
  }

  /** Masked-LM loss: mean cross-entropy over positions whose label is not -100. */
  maskedLmLoss(batch: Batch, labels: number[][], opts: ForwardOptions = {}): tf.Scalar {
    return tf.tidy(() => {
      const { logits, targets } = this.maskedLmLogits(batch, labels, opts);
      return crossEntropy(logits, targets);
    });
  }

  /** Sequence classification loss: mean cross-entropy, or mean squared error for regression (num_labels = 1). */
  classificationLoss(batch: Batch, labels: number[], opts: ForwardOptions = {}): tf.Scalar {
    if (!this.parts.classifier) throw new Error('this model has no classifier head');
    const seed = dropoutSeed(opts);
    if (labels.length !== batch.input_ids.length)
      throw new Error(`got ${labels.length} labels for ${batch.input_ids.length} sequences`);
    return tf.tidy(() => {
      const B = batch.input_ids.length;
      const T = batch.input_ids[0].length;
      const logits = this.classify(this.pool(this.encode(batch, seed, { checkpoint: opts.checkpoint }), B, T), seed);
      if (isRegression(this.config))
        return tf.mean(tf.square(tf.sub(tf.reshape(logits, [-1]), tf.tensor1d(labels)))) as tf.Scalar;
      labels.forEach((y, i) => {
        if (!Number.isInteger(y) || y < 0 || y >= this.config.num_labels)
          throw new Error(`label ${y} of sequence ${i} is not in 0..${this.config.num_labels - 1}`);
      });
      return crossEntropy(logits, labels);
    });
  }
}

/** Mean cross-entropy of logits [N, C] against integer targets. */
export function crossEntropy(logits: tf.Tensor2D, targets: number[]): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), logits.shape[1])), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

function dropoutSeed(opts: ForwardOptions): number | undefined {
  return opts.training ? (opts.seed ?? 0) : undefined;
}

/** Checks a batch's shape and ids against the configuration, naming the first bad field. */
function checkBatch(batch: Batch, c: BertConfig): void {
  const B = batch.input_ids.length;
  if (B === 0) throw new Error('empty batch');
  const T = batch.input_ids[0].length;
  if (T === 0) throw new Error('empty sequences');
  if (T > c.max_position_embeddings)
    throw new Error(`sequence length ${T} exceeds max_position_embeddings ${c.max_position_embeddings}`);
  const check = (field: keyof Batch, limit: number) => {
    const rows = batch[field];
    if (!rows) return;
    if (rows.length !== B) throw new Error(`${field} has ${rows.length} rows, input_ids has ${B}`);
    rows.forEach((r, i) => {
      if (r.length !== T) throw new Error(`${field}[${i}] has length ${r.length}, expected ${T} (pad the batch)`);
      for (const v of r)
        if (!Number.isInteger(v) || v < 0 || v >= limit)
          throw new Error(`${field}[${i}] contains ${v}, outside 0..${limit - 1}`);
    });
  };
  check('input_ids', c.vocab_size);
  check('token_type_ids', c.type_vocab_size);
  check('attention_mask', 2);
}
