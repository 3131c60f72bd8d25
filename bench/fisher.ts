/**
 * Samples/s and GFLOP/s of the batched per-sample Fisher pass (one forward + backward per batch) against the
 * per-sample loop (one tf.variableGrads of batch size 1 per sample, squared and summed on the backend), on a model
 * folder (default: the embedded model if present) or else a random model of the embedded shape.
 * GFLOP/s counts the same nominal work for both: the matMul FLOPs of one forward pass per sample (encoder, attention,
 * MLM head at the masked positions) times 3 for forward + backward. A batch that does not fit in memory runs in
 * micro-batches, as `fisherlab fisher` runs it (the split is printed).
 *
 *   npx tsx bench/fisher.ts [--model DIR] [--batch 16] [--seq 128] [--batches 3] [--loop-samples 16]
 */
import * as fs from 'fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { parseConfig } from '../lib/bert/config';
import { trainingFlops } from '../lib/train/cost';
import { loadMaskedLm } from '../lib/bert/load';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { collate, MaskedExample, maskTokens } from '../lib/pretrain/mlm-data';
import { defaultModelDir } from '../lib/shipped';
import { describeSplit, microBatchSize } from '../lib/train/memory-budget';
import { squaredGradSumsInParts } from '../lib/fisher/per-sample-grads';
import { Rng } from '../lib/util/random';
import { benchEachBackend, headline } from './backends';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '128' },
    batches: { type: 'string', default: '3' },
    'loop-samples': { type: 'string', default: '16' },
  },
});
const [B, T, batches, loopSamples] = [values.batch, values.seq, values.batches, values['loop-samples']].map(Number);

if (benchEachBackend()) process.exit();
const backend = await initBackend();
const modelDir = values.model ?? (fs.existsSync(defaultModelDir()) ? defaultModelDir() : null);
const model = modelDir
  ? loadMaskedLm(modelDir, 'bench/fisher')
  : Bert.random(
      parseConfig({
        vocab_size: 8192,
        hidden_size: 128,
        num_hidden_layers: 4,
        num_attention_heads: 2,
        intermediate_size: 512,
        max_position_embeddings: T,
        type_vocab_size: 2,
      }),
      MASKED_LM,
      0,
    );
const { hidden_size: H, intermediate_size: I, num_hidden_layers: L, vocab_size: V } = model.config;

// Masked sequences of T tokens: [CLS] random ids [SEP], 15% masked as BERT does (ids 0-4 are the special tokens).
const rng = new Rng(0);
const example = (): MaskedExample =>
  maskTokens([2, ...Array.from({ length: T - 2 }, () => 5 + rng.int(V - 5)), 3], {
    vocabSize: V,
    specialIds: new Set([0, 1, 2, 3, 4]),
    maskId: 4,
    rng,
  });
const examples = Array.from({ length: Math.max(B * (batches + 1), loopSamples + 1) }, example);
const masked = examples.reduce((a, e) => a + e.labels.filter((y) => y !== -100).length, 0) / examples.length;
const flopsPerSample = trainingFlops(model.config, { sequences: 1, tokens: T, masked });

const maskedPerSequence = Math.max(...examples.map((e) => e.labels.filter((y) => y !== -100).length));
const micro = microBatchSize(
  { config: model.config, kind: 'fisher', batch: B, seqLen: T, maskedPerSequence },
  { batchFlag: '--batch' },
);

/** Batched: one tapped forward + backward per micro-batch of a batch of B. */
function batched(list: MaskedExample[]): void {
  const { batch, labels } = collate(list, 0);
  const { sums } = squaredGradSumsInParts(model, batch, labels, micro);
  for (const t of sums.values()) t.dataSync();
  tf.dispose([...sums.values()]);
}

/** The loop: one backward pass per sample, squared and accumulated on the backend. */
function loop(list: MaskedExample[]): void {
  const vars = model.namedParameters().map(([, v]) => v);
  let acc: tf.Tensor[] = vars.map((v) => tf.zerosLike(v));
  for (const e of list) {
    const { batch, labels } = collate([e], 0);
    const { value, grads } = tf.variableGrads(() => model.maskedLmLoss(batch, labels), vars);
    const next = vars.map((v, k) => tf.tidy(() => tf.add(acc[k], tf.square(grads[v.name]))));
    tf.dispose([value, grads, acc]);
    acc = next;
  }
  for (const t of acc) t.dataSync();
  tf.dispose(acc);
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

console.log(
  `backend ${backend}; ${modelDir ?? 'random model of the embedded shape'}: L=${L} H=${H} I=${I} V=${V}; ${T} tokens, ${masked.toFixed(1)} masked on average; ${describeSplit(B, micro)}`,
);
batched(examples.slice(0, B)); // warm-up
loop(examples.slice(0, 1));
let batchedSeconds = 0;
for (let b = 1; b <= batches; b++) batchedSeconds += time(() => batched(examples.slice(b * B, (b + 1) * B)));
const loopSeconds = time(() => loop(examples.slice(1, 1 + loopSamples)));
const rows = [
  { variant: `batched (batch ${B}, ${Math.ceil(B / micro)} backward)`, samples: batches * B, seconds: batchedSeconds },
  { variant: 'per-sample loop (batch 1)', samples: loopSamples, seconds: loopSeconds },
].map((r) => ({ ...r, rate: r.samples / r.seconds }));
console.log(
  `${'variant'.padEnd(36)} ${'samples'.padStart(8)} ${'seconds'.padStart(8)} ${'samples/s'.padStart(10)} ${'GFLOP/s'.padStart(8)}`,
);
for (const r of rows) {
  console.log(
    `${r.variant.padEnd(36)} ${String(r.samples).padStart(8)} ${r.seconds.toFixed(2).padStart(8)} ${r.rate.toFixed(2).padStart(10)} ${((r.rate * flopsPerSample) / 1e9).toFixed(2).padStart(8)}`,
  );
}
console.log(`speed-up of the batched pass: ${(rows[0].rate / rows[1].rate).toFixed(2)}×`);
headline('batched samples/s', rows[0].rate, (rows[0].rate * flopsPerSample) / 1e9);
model.dispose();
