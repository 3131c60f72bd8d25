/**
 * The memory of one step of a BERT, modelled from its configuration, batch and sequence length, and the split of a
 * batch into micro-batches that fit the backend: wasm addresses at most 4 GiB, the native backends get a budget.
 * The model counts the bytes a step holds at its peak: tensors the gradient tape keeps for backward (each encoder
 * layer runs in its own tidy, so only those survive it), the attention scores B×heads×T×T, the intermediate
 * B×T×intermediate, the masked-LM head's vocabulary rows at masked positions only, parameter gradients, and for the
 * Fisher the taps, their gradients and one sample's gradients. Its coefficients were measured with tf.profile on
 * small shapes (test/memory-budget.test.ts keeps the model above the measurement, and within 2× of it).
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import type { BertConfig } from '../bert/config';
import { adamUpdateBytes, MomentPlacement, momentPlacement } from './optim';
import { MASKED_LM, parameterSpecs } from '../bert/parameters';

/** What a step does: train (forward, backward, optimizer), fisher (tapped per-sample pass) or eval (forward only). */
export type StepKind = 'train' | 'fisher' | 'eval';

/** The shape of one step. */
export interface StepShape {
  config: BertConfig;
  kind: StepKind;
  /** Sequences in the step. */
  batch: number;
  /** Tokens per sequence (after padding). */
  seqLen: number;
  /** Masked-LM positions per sequence where the vocabulary projection runs (0 for a classifier). */
  maskedPerSequence: number;
  /** Training with gradient checkpointing: each layer keeps only its input, and is recomputed in backward. */
  checkpoint?: boolean;
}

/** A step's bytes: `fixed` whatever the batch, `perSequence` for each sequence of it. */
export interface StepBytes {
  fixed: number;
  perSequence: number;
}

/** Bytes of wasm's address space (4 GiB less one 64 KiB page, emscripten's getHeapMax). */
export const WASM_HEAP_BYTES = 4294901760;
/** The modelled step is multiplied by this before it is compared with what the limit leaves (allocator slack). */
export const SAFETY = 1.1;
/**
 * On wasm, what is held and the step together are multiplied by this: its heap never shrinks and fragments, and
 * kernels allocate outside tensors (XNNPACK's packed weights). A BERT-base fine-tuning step of 1 sequence, modelled
 * at 3.4 GiB with the weights and AdamW state (then on the device), aborted the 4 GiB heap.
 */
export const WASM_SAFETY = 1.25;
const F32 = 4;

/**
 * Floats per token, as [× hidden, × intermediate, × heads·T (attention scores)]: `LAYER` for each encoder layer
 * (kept for backward: the tape's saved tensors and, in training, until backward ends, the gradients of every
 * intermediate; the Fisher's backward frees both as it goes, util/lean-gradients.ts),
 * `ONCE` for the embeddings and one layer's transients; `HEAD` floats × vocabulary per masked position; `FIXED`
 * floats × [parameters, vocabulary × hidden] whatever the batch (gradients and their running sum over
 * micro-batches, the optimizer's temporaries; the Fisher's running sums and one sample's embedding gradients).
 * Fitted to tf.profile peaks on 12 small shapes (bench/memory-calibrate.ts) and checked at bert-base-uncased's
 * shape (bench/memory-base.ts), rounded up by about 10% (the Fisher's: 1.10–1.30× the small shapes' peaks, 1.11× at
 * bert-base-uncased's with 8 sequences of 128 tokens).
 */
const LAYER: Record<StepKind, [number, number, number]> = {
  train: [120, 20, 14],
  fisher: [56, 8, 4],
  eval: [2, 0, 1],
};
const ONCE: Record<StepKind, [number, number, number]> = { train: [22, 7, 1], fisher: [2, 1, 4], eval: [40, 8, 4] };
const HEAD: Record<StepKind, number> = { train: 10, fisher: 13, eval: 8 };
const FIXED: Record<StepKind, [number, number]> = { train: [2, 4], fisher: [1, 2], eval: [0, 0.5] };
/** Floats × vocabulary × hidden that training with the masked-LM head adds (the tied decoder's gradient and its sums). */
const MLM_TRAIN_FIXED = 8;

/** The modelled bytes of one step beyond the model's weights (and, for training, its optimizer state), with AdamW's moments on `placement`. */
export function stepBytes(s: Omit<StepShape, 'batch'>, placement: MomentPlacement = momentPlacement()): StepBytes {
  const {
    hidden_size: H,
    intermediate_size: I,
    num_attention_heads: A,
    num_hidden_layers: L,
    vocab_size: V,
  } = s.config;
  const T = s.seqLen;
  const widths = [H, I, A * T];
  const dot = (c: number[]) => c.reduce((sum, k, i) => sum + k * widths[i], 0);
  // checkpointed: every layer keeps its input (and its output until the next layer's clone), one layer is live
  const layers = s.checkpoint && s.kind === 'train' ? 2 * L * H + dot(LAYER.train) : L * dot(LAYER[s.kind]);
  const perSequence = F32 * (T * (layers + dot(ONCE[s.kind])) + HEAD[s.kind] * s.maskedPerSequence * V);
  const [cP, cV] = FIXED[s.kind];
  const mlm = s.kind === 'train' && s.maskedPerSequence > 0 ? MLM_TRAIN_FIXED : 0;
  // AdamW on the device updates small tensors in flat groups, whose temporaries live together
  const update =
    s.kind === 'train' && placement === 'device'
      ? adamUpdateBytes(parameterSpecs(s.config, MASKED_LM).map((p) => p.shape.reduce((a, b) => a * b, 1)))
      : 0;
  return { fixed: F32 * (cP * parameterCount(s.config) + (cV + mlm) * V * H) + update, perSequence };
}

/** Scalars of a BERT encoder with embeddings (the heads are small next to it; the decoder is tied). */
export function parameterCount(c: BertConfig): number {
  const { hidden_size: H, intermediate_size: I, num_hidden_layers: L } = c;
  const layer = 4 * (H * H + H) + 2 * H * I + I + H + 4 * H;
  return (
    (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * H +
    2 * H +
    L * layer +
    H * H +
    3 * H +
    c.vocab_size
  );
}

/** The optimizer state's bytes within the backend's limit (AdamW: two moments per parameter; none when they are on the host). */
export function optimizerBytes(c: BertConfig, placement: MomentPlacement = momentPlacement()): number {
  return placement === 'host' ? 0 : 2 * F32 * parameterCount(c);
}

/** The memory limit of the current backend: the wasm heap, or the budget of $FISHERLAB_MEMORY_BUDGET (default half the RAM, split over $FISHERLAB_PROCESSES). */
export function memoryLimit(backend = tf.getBackend()): { bytes: number; what: string } {
  const env = process.env.FISHERLAB_MEMORY_BUDGET;
  const budget = env ? parseBytes(env, 'FISHERLAB_MEMORY_BUDGET (--memory-budget)') : null;
  if (backend === 'wasm') {
    const heap = { bytes: WASM_HEAP_BYTES, what: `the wasm backend's 4 GiB address space` };
    return budget !== null && budget < heap.bytes
      ? { bytes: budget, what: `a memory budget of ${formatBytes(budget)} on wasm` }
      : heap;
  }
  if (budget !== null)
    return { bytes: budget, what: `a memory budget of ${formatBytes(budget)} on the ${backend} backend` };
  // processes started together (`sharedEnv`) split the default between them
  const processes = Math.max(1, Math.floor(Number(process.env.FISHERLAB_PROCESSES)) || 1);
  const share = Math.floor(os.totalmem() / 2 / processes);
  const part = processes > 1 ? `half the RAM over ${processes} processes` : 'half the RAM';
  return { bytes: share, what: `a memory budget of ${formatBytes(share)} (${part}) on the ${backend} backend` };
}

/** What `microBatchSize` needs besides the step's shape. */
export interface SplitOptions {
  /** The flag that sets the batch, named in the error. */
  batchFlag: string;
  /** Bytes already held (default: every live tensor, tf.memory().numBytes). */
  allocated?: number;
  /** Bytes the step will hold besides its own (e.g. an optimizer state not yet allocated). */
  reserved?: number;
  /** The backend whose limit applies (default: the current one). */
  backend?: string;
}

/** The memory limit a step of `s.batch` sequences needs with `held` bytes already held, safety factors included. */
export function bytesNeeded(s: StepShape, held: number, backend = tf.getBackend()): number {
  const { fixed, perSequence } = stepBytes(s, momentPlacement(backend));
  const step = fixed + s.batch * perSequence;
  return backend === 'wasm' ? WASM_SAFETY * (held + step) : held + SAFETY * step;
}

/** The largest micro-batch (≤ the batch) whose modelled step fits the backend's limit; an error naming the sizes if none does. */
export function microBatchSize(s: StepShape, o: SplitOptions): number {
  const backend = o.backend ?? tf.getBackend();
  const limit = memoryLimit(backend);
  const held = (o.allocated ?? tf.memory().numBytes) + (o.reserved ?? 0);
  const none = bytesNeeded({ ...s, batch: 0 }, held, backend);
  const fits = Math.floor((limit.bytes - none) / (bytesNeeded({ ...s, batch: 1 }, held, backend) - none));
  if (fits < 1) {
    const need = bytesNeeded({ ...s, batch: 1 }, held, backend);
    const c = s.config;
    const model = `${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${formatCount(parameterCount(c))} parameters`;
    const raise = backend === 'wasm' ? 'use the native backend (FISHERLAB_BACKEND=tensorflow) with a larger' : 'raise';
    throw new Error(
      `a ${s.kind} step of this model (${model}) needs about ${formatBytes(need)} even for 1 sequence of ${s.seqLen} tokens${s.checkpoint ? ' with gradient checkpointing' : ''} ` +
        `(batch ${s.batch}, ${formatBytes(held)} already held), more than ${limit.what}. Shorten the sequences (--max-length), ` +
        `use a smaller model, or ${raise} --memory-budget (FISHERLAB_MEMORY_BUDGET); ${o.batchFlag} already runs in micro-batches`,
    );
  }
  return Math.min(s.batch, fits);
}

/**
 * How a training step runs within the limit: micro-batches of `size` sequences, recomputing each layer in backward
 * (gradient checkpointing, about a third more compute) only when not even one sequence fits without it.
 */
export function trainSplit(s: StepShape, o: SplitOptions): { size: number; checkpoint: boolean } {
  try {
    return { size: microBatchSize({ ...s, checkpoint: false }, o), checkpoint: false };
  } catch {
    return { size: microBatchSize({ ...s, checkpoint: true }, o), checkpoint: true };
  }
}

/** The number of micro-batches of at most `size` sequences that a batch of `batch` needs. */
export function microBatchCount(batch: number, size: number): number {
  return Math.ceil(batch / size);
}

/** A one-line account of a split, for logs: "batch 32 in 4 micro-batches of ≤ 8 (wasm, 4 GiB)". */
export function describeSplit(batch: number, size: number, checkpoint = false): string {
  const count = microBatchCount(batch, size);
  const split = count === 1 ? 'in one pass' : `in ${count} micro-batches of ≤ ${size}`;
  const recompute = checkpoint ? ', each layer recomputed in backward (gradient checkpointing)' : '';
  return `batch ${batch} ${split}${recompute} (${memoryLimit().what})`;
}

/** Parses a byte size: a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB), e.g. "3GiB" or "512MB". */
export function parseBytes(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.exec(text);
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  const bytes = m ? Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()] : NaN;
  if (!(bytes >= 1)) throw new Error(`${flag}: "${text}" is not a memory size (e.g. 3GiB, 512MB, 2000000000)`);
  return Math.floor(bytes);
}

/** Bytes in GiB or MiB, e.g. "3.2 GiB". */
export function formatBytes(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** A parameter count, e.g. "110M". */
function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(0)}M` : `${(n / 1e3).toFixed(0)}k`;
}
