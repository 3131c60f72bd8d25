/**
 * Forward and forward+backward time of one BERT encoder layer on the current backend, with and without the
 * wasm transposed-matMul patch, and the GFLOP/s achieved (matMul FLOPs only).
 *
 *   npx tsx bench/encoder-layer.ts [--hidden 256] [--heads 4] [--intermediate 1024] [--batch 8] [--seq 128] [--reps 5]
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initBackend, patchWasmKernels, unpatchWasmMatMul } from '../lib/backend';
import { parseConfig } from '../lib/bert/config';
import { Bert } from '../lib/bert/model';
import { benchEachBackend, headline } from './backends';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '256' },
    heads: { type: 'string', default: '4' },
    intermediate: { type: 'string', default: '1024' },
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
    reps: { type: 'string', default: '5' },
  },
});
const [H, heads, I, B, T, reps] = [
  values.hidden,
  values.heads,
  values.intermediate,
  values.batch,
  values.seq,
  values.reps,
].map(Number);

if (benchEachBackend()) process.exit();
const backend = await initBackend();
const config = parseConfig({
  vocab_size: 64,
  hidden_size: H,
  num_hidden_layers: 1,
  num_attention_heads: heads,
  intermediate_size: I,
  max_position_embeddings: T,
  type_vocab_size: 2,
});
const model = Bert.random(config, { pooler: false, mlm: false, classifier: false }, 0);
const batch = { input_ids: Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7 + t) % 64)) };

// matMul FLOPs of one layer: q, k, v, attention output (4·H²), FFN (2·H·I) per token; scores and context (2·T·H) per token.
const forwardFlops = 2 * B * T * (4 * H * H + 2 * H * I) + 2 * 2 * B * T * T * H;
const backwardFlops = 2 * forwardFlops;

async function time(fn: () => void): Promise<number> {
  fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}
const forward = () =>
  tf.tidy(() => {
    model.forward(batch).lastHiddenState.dataSync();
  });
const forwardBackward = () => {
  const { value, grads } = tf.variableGrads(
    () => tf.mean(tf.square(model.forward(batch).lastHiddenState)) as tf.Scalar,
  );
  Object.values(grads)[0].dataSync();
  tf.dispose([value, grads]);
};

const rows: Array<[string, number, number]> = [];
async function run(label: string) {
  const f = await time(forward);
  const fb = await time(forwardBackward);
  rows.push([label, f, fb]);
}
console.log(
  `backend ${backend}; one encoder layer H=${H} heads=${heads} I=${I}, batch ${B} × ${T} tokens, ${reps} reps`,
);
await run(backend === 'wasm' ? 'patched (explicit transpose)' : 'as is');
if (backend === 'wasm') {
  unpatchWasmMatMul();
  await run("wasm's own transposed matMul");
  patchWasmKernels();
}
const gf = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(1);
console.log('variant                          forward ms  GFLOP/s   fwd+bwd ms  GFLOP/s');
for (const [label, f, fb] of rows) {
  console.log(
    `${label.padEnd(32)} ${f.toFixed(1).padStart(10)} ${gf(forwardFlops, f).padStart(8)} ${fb.toFixed(1).padStart(12)} ${gf(forwardFlops + backwardFlops, fb).padStart(8)}`,
  );
}
if (rows.length === 2)
  console.log(
    `speed-up of the patch: forward ${(rows[1][1] / rows[0][1]).toFixed(2)}×, forward+backward ${(rows[1][2] / rows[0][2]).toFixed(2)}×`,
  );
headline('fwd+bwd passes/s', 1000 / rows[0][2], (forwardFlops + backwardFlops) / rows[0][2] / 1e6);
model.dispose();
