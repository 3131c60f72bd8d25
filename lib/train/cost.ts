/**
 * The arithmetic cost of BERT's passes, counted as matMul FLOPs (a multiply-add is 2): what the benchmarks divide by
 * time to report GFLOP/s, and what long jobs multiply out to estimate their wall time before they start. The count
 * is the full pass's, as transformers computes it; fisherlab's masked-LM evaluation (the Fisher pass, the landscape)
 * runs the last layer's queries and all after its attention at the masked positions only, so the GFLOP/s benches
 * print for it are rates of equivalent work.
 */
import type { BertConfig } from '../bert/config';
import { formatDuration } from '../util/progress';

/** The shape of one pass: sequences of `tokens` tokens, `masked` of them (in all) scored by the masked-LM head. */
export interface PassShape {
  sequences: number;
  tokens: number;
  /** Positions the masked-LM head is computed at (0 for a classifier). */
  masked?: number;
}

/**
 * matMul FLOPs of one forward pass: per token and layer the q, k, v and output projections (4·H²) and the
 * feed-forward (2·H·I), twice for multiply-add; attention scores and context (2·T·H each); the masked-LM head's
 * transform and vocabulary projection at the masked positions only; a classifier's pooler per sequence.
 */
export function forwardFlops(
  c: Pick<BertConfig, 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'vocab_size'>,
  s: PassShape,
): number {
  const [H, I, L, V] = [c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.vocab_size];
  const encoder = s.sequences * L * (2 * s.tokens * (4 * H * H + 2 * H * I) + 4 * s.tokens * s.tokens * H);
  const head = s.masked !== undefined ? 2 * s.masked * (H * H + V * H) : 2 * s.sequences * H * H;
  return encoder + head;
}

/** matMul FLOPs of a forward and backward pass (the backward pass costs twice the forward; with gradient checkpointing the encoder runs forward twice, counted as a whole second forward pass). */
export function trainingFlops(c: Parameters<typeof forwardFlops>[0], s: PassShape, checkpoint = false): number {
  return (checkpoint ? 4 : 3) * forwardFlops(c, s);
}

/** The three kinds of pass whose speed differs: per-sample Fisher, evaluation, training. */
export type PassKind = 'fisher' | 'eval' | 'train';

/**
 * GFLOP/s that bert-base-uncased's shape sustains on the project's 2-core machine (bench/bert-base.ts), per backend
 * and kind of pass; smaller models run their smaller matrices less efficiently, and other machines differ.
 */
export const MEASURED_GFLOPS: Readonly<Record<string, Readonly<Record<PassKind, number>>>> = {
  tensorflow: { fisher: 19, eval: 51, train: 36 },
  // BERT-base cannot train within wasm's 4 GiB; its train figure is fisherlab-bert-l4-h128's (bench/finetune.ts)
  wasm: { fisher: 7, eval: 13, train: 14 },
};

/** One line estimating a job's wall time from its matMul FLOPs at what the backend sustains (bench/bert-base.ts). */
export function estimateLine(label: string, flops: number, kind: PassKind, backend: string): string {
  const rate = MEASURED_GFLOPS[backend]?.[kind];
  const work = `${label}: about ${formatFlops(flops)} of matMuls`;
  if (!rate) return `${work} (no measured rate for the ${backend} backend)`;
  return `${work}, about ${formatDuration(flops / (rate * 1e9))} at the ${rate} GFLOP/s ${backend} sustains on BERT-base here (the ETA follows once it runs)`;
}

/** FLOPs with a unit: 3.2 TFLOP. */
function formatFlops(flops: number): string {
  const [unit, scale] = flops >= 1e15 ? ['PFLOP', 1e15] : flops >= 1e12 ? ['TFLOP', 1e12] : ['GFLOP', 1e9];
  return `${(flops / scale).toPrecision(2)} ${unit}`;
}
