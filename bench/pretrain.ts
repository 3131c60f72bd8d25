/**
 * Pretraining throughput on the embedded model's recipe and corpus, in one process and with each batch split over
 * worker processes (`--jobs`): steps/s, tokens/s and GFLOP/s, counting the matMul FLOPs of the forward pass
 * (encoder, attention, MLM head at the masked positions) times 3 for forward + backward.
 *
 *   npx tsx bench/pretrain.ts [--steps 12] [--batch-size 16] [--jobs 1,2]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { initBackend } from '../lib/backend';
import { trainingFlops } from '../lib/train/cost';
import { resolveModelDir } from '../lib/bert/model-dir';
import { pretrainProblem } from '../lib/pretrain/run';
import { completeSettings, PretrainSettings } from '../lib/pretrain/settings';
import { ShardProcesses } from '../lib/pretrain/shards';
import { train } from '../lib/train/loop';
import { IGNORE_INDEX, maskedExample } from '../lib/pretrain/mlm-data';
import { benchEachBackend, headline } from './backends';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '12' },
    'batch-size': { type: 'string', default: '16' },
    jobs: { type: 'string', default: '1,2' },
  },
});
if (benchEachBackend()) process.exit();
const steps = Number(values.steps);
const backend = await initBackend({ quiet: true });
const modelDir = resolveModelDir();
const recipe = (
  JSON.parse(fs.readFileSync(path.join(modelDir, 'pretrain-report.json'), 'utf8')) as { settings: PretrainSettings }
).settings;
const settings: PretrainSettings = {
  // full-length steps only: the sequence-length warm-up's short steps are cheaper
  ...completeSettings(recipe),
  vocabFile: path.join(modelDir, 'vocab.txt'),
  batchSize: Number(values['batch-size']),
  dropout: 0,
  steps: 1000,
  shortSteps: 0,
};
const problem = pretrainProblem(settings);
const config = problem.config;
const { hidden_size: H, num_hidden_layers: L, vocab_size: V } = config;

/** Forward + backward matMul FLOPs of steps [from, from + n). */
function flops(from: number, n: number): { tokens: number; flops: number } {
  let tokens = 0;
  let total = 0;
  for (let step = from; step < from + n; step++) {
    const { pool, indices, epoch, seed } = problem.batchAt(step);
    const examples = indices.map((i) =>
      maskedExample(pool[i], i, epoch, seed, { ...problem.vocab, probability: settings.maskProbability }),
    );
    const T = Math.max(...examples.map((e) => e.input_ids.length)); // padded to the longest
    const masked = examples.reduce((a, e) => a + e.labels.filter((l) => l !== IGNORE_INDEX).length, 0);
    tokens += examples.reduce((a, e) => a + e.input_ids.length, 0);
    total += trainingFlops(config, { sequences: examples.length, tokens: T, masked });
  }
  return { tokens, flops: total };
}

console.log(
  `pretraining L${L} H${H} V${V}, batch ${settings.batchSize} × ≤${settings.maxLength} tokens, backend ${backend}, ${os.cpus().length} cores; ${steps} steps after 2 warm-up steps`,
);
console.log(`${'processes'.padEnd(10)} ${'steps/s'.padStart(8)} ${'tokens/s'.padStart(9)} ${'GFLOP/s'.padStart(8)}`);
let best = { rate: 0, gflops: 0 };
for (const jobs of values.jobs.split(',').map(Number)) {
  const model = problem.newModel();
  const remote = jobs > 1 ? await ShardProcesses.start({ ...settings, jobs }, jobs) : undefined;
  const run = (totalSteps: number) =>
    train({
      model,
      totalSteps,
      lr: 1e-3,
      lossAt: (step, seed, shard) => problem.shardLoss(model, step, seed, shard),
      remote,
      write: () => {},
    });
  await run(2);
  const began = performance.now();
  await run(steps); // the steps 0..steps-1 again, from the warmed-up weights: the same shapes as a real run
  const seconds = (performance.now() - began) / 1000;
  remote?.close();
  model.dispose();
  const w = flops(0, steps);
  console.log(
    `${String(jobs).padEnd(10)} ${(steps / seconds).toFixed(3).padStart(8)} ${(w.tokens / seconds).toFixed(0).padStart(9)} ${(w.flops / seconds / 1e9).toFixed(2).padStart(8)}`,
  );
  if (w.tokens / seconds > best.rate) best = { rate: w.tokens / seconds, gflops: w.flops / seconds / 1e9 };
}
headline('tokens/s (best --jobs)', best.rate, best.gflops);
