/**
 * Fine-tuning throughput of the embedded model on SST-2 batches under each dropout method, in one process: the
 * paper's claim that guided dropout costs nothing extra, measured. Prints steps/s, sequences/s and GFLOP/s
 * (the encoder's matMul FLOPs of the forward pass times 3 for forward + backward) and the time per step relative
 * to standard dropout. Every method trains the same batches from the same weights; methods take turns and each
 * keeps its fastest of `--repeats` rounds.
 *
 *   npx tsx bench/finetune.ts [--steps 20] [--batch-size 32] [--methods standard,guided,gaussian,none] [--repeats 3]
 */
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { initBackend } from '../lib/backend';
import { readConfig } from '../lib/bert/config';
import { trainingFlops } from '../lib/train/cost';
import { loadBert } from '../lib/bert/load';
import { Bert } from '../lib/bert/model';
import { SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { methodDropout, modelDropoutSites, parseDropoutMethod } from '../lib/guided-dropout/methods';
import { shippedPath } from '../lib/shipped';
import { glueDataDir, loadTask } from '../lib/glue/load';
import { batchIndices } from '../lib/pretrain/mlm-data';
import { resolveModelDir } from '../lib/bert/model-dir';
import { loadTokenizer } from '../lib/bert/tokenizer';
import { train } from '../lib/train/loop';
import { benchEachBackend, headline } from './backends';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    'batch-size': { type: 'string', default: '32' },
    methods: { type: 'string', default: 'standard,guided,gaussian,none' },
    repeats: { type: 'string', default: '3' },
  },
});
const steps = Number(values.steps);
const repeats = Number(values.repeats);
const batchSize = Number(values['batch-size']);
const methods = values.methods.split(',').map(parseDropoutMethod);
if (benchEachBackend()) process.exit();
const backend = await initBackend({ quiet: true });
const glue = glueDataDir();
if (!glue)
  throw new Error(
    'bench/finetune: no GLUE data found; set FISHERLAB_DATA to a folder holding glue/SST-2 (see docs/data.md)',
  );

const modelDir = resolveModelDir();
const tokenizer = loadTokenizer(modelDir);
const examples = loadTask(glue, 'SST-2', 'train').map((ex) => ({
  ids: tokenizer.encode(ex.text, ex.textPair, { maxLength: 128 }).input_ids,
  label: ex.label as number,
}));
const order = batchIndices(examples.length, batchSize, 0, 1);
const batch = (step: number) => {
  const rows = order[step % order.length].map((i) => examples[i]);
  const T = Math.max(...rows.map((r) => r.ids.length));
  return {
    rows,
    T,
    input: {
      input_ids: rows.map((r) => [...r.ids, ...new Array(T - r.ids.length).fill(tokenizer.padId)]),
      attention_mask: rows.map((r) => [...r.ids.map(() => 1), ...new Array(T - r.ids.length).fill(0)]),
    },
  };
};

const sites = modelDropoutSites(modelDir);
const config = readConfig(path.join(modelDir, 'config.json'));
let flops = 0;
let sequences = 0;
for (let s = 0; s < steps; s++) {
  const { rows, T } = batch(2 + s);
  sequences += rows.length;
  flops += trainingFlops(config, { sequences: rows.length, tokens: T });
}

console.log(
  `fine-tuning SST-2, L${config.num_hidden_layers} H${config.hidden_size}, batch ${batchSize} (padded to the longest, ≤128 tokens), backend ${backend}, ${os.cpus().length} cores; ${steps} steps after 2 warm-up steps, best of ${repeats} rounds`,
);
console.log(
  `${'method'.padEnd(10)} ${'steps/s'.padStart(8)} ${'seq/s'.padStart(7)} ${'GFLOP/s'.padStart(8)} ${'time/step vs standard'.padStart(22)}`,
);
// Methods take turns, `repeats` rounds, and each keeps its fastest round: drift of the machine hits all alike.
const models = methods.map((method) => {
  const model = loadBert(modelDir, {
    parts: SEQUENCE_CLASSIFICATION,
    configOverrides: { num_labels: 2 },
    seed: 1,
  }).model;
  for (const [site, setting] of Object.entries(
    methodDropout(method, sites, { fisher: shippedPath('fisher'), model: modelDir }),
  ))
    model.dropout.set(site, setting);
  return model;
});
const run = (model: Bert, from: number, n: number) =>
  train({
    model,
    totalSteps: n,
    lr: 1e-4,
    seed: 1,
    write: () => {},
    lossAt: (step, seed) => {
      const { rows, input } = batch(from + step);
      return model.classificationLoss(
        input,
        rows.map((r) => r.label),
        { training: true, seed },
      );
    },
  });
const best = methods.map(() => Infinity);
for (const model of models) await run(model, 0, 2);
for (let round = 0; round < repeats; round++) {
  for (const [m, model] of models.entries()) {
    const began = performance.now();
    await run(model, 2, steps);
    best[m] = Math.min(best[m], (performance.now() - began) / 1000);
  }
}
models.forEach((model) => model.dispose());
const standard = methods.indexOf('standard');
for (const [m, method] of methods.entries()) {
  const seconds = best[m];
  const relative = standard < 0 ? '—' : `${((seconds / best[standard] - 1) * 100).toFixed(1)}%`;
  console.log(
    `${method.padEnd(10)} ${(steps / seconds).toFixed(3).padStart(8)} ${(sequences / seconds).toFixed(1).padStart(7)} ${(flops / seconds / 1e9).toFixed(2).padStart(8)} ${relative.padStart(22)}`,
  );
}
headline(`${methods[0]} steps/s`, steps / best[0], flops / best[0] / 1e9);
