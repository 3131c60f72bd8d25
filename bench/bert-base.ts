/**
 * BERT-base at its real cost: a randomly initialized model of bert-base-uncased's shape (12 layers, hidden 768,
 * vocabulary 30522) through the library paths the commands use, with their default batch sizes and the micro-batch
 * split the memory budget chooses, on every backend (bench/backends.ts): Fisher samples/s (128 tokens), landscape
 * points/s (64 × 128 tokens), fine-tuning steps/s (batch 32 × 128 tokens) and pretraining tokens/s (batch 16 × 128,
 * 15% masked), with GFLOP/s; then the wall time these rates give for the paper's full settings.
 *
 *   npx tsx bench/bert-base.ts [--fisher-samples 4] [--points 1] [--steps 1]   (a "tensors left" column above 0 is a leak)
 */
import { parseArgs } from 'util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import type { BertConfig } from '../lib/bert/config';
import { Bert } from '../lib/bert/model';
import { MASKED_LM, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { forwardFlops, trainingFlops } from '../lib/train/cost';
import { estimateFisher } from '../lib/fisher/estimate';
import { directionPair } from '../lib/landscape/directions';
import { linspace, sweep } from '../lib/landscape/surface';
import { describeSplit, microBatchCount, optimizerBytes, trainSplit } from '../lib/train/memory-budget';
import { batchPart } from '../lib/train/micro-batches';
import { MaskedExample } from '../lib/pretrain/mlm-data';
import { formatDuration } from '../lib/util/progress';
import { Rng } from '../lib/util/random';
import { train } from '../lib/train/loop';
import { benchEachBackend, headline } from './backends';
import { BERT_BASE } from '../lib/bert/config';

const { values } = parseArgs({
  options: {
    'fisher-samples': { type: 'string', default: '4' },
    points: { type: 'string', default: '1' },
    steps: { type: 'string', default: '1' },
  },
});
const [fisherSamples, points, steps] = [values['fisher-samples'], values.points, values.steps].map(Number);
const T = 128;
/** 15% of 128 positions, as BERT's collator masks them. */
const MASKED = Math.round(0.15 * T);
const config: BertConfig = BERT_BASE;
const quiet = () => {};

/** `n` sequences of T tokens ([CLS] random ids [SEP]) with MASKED positions masked (id 103) and labelled. */
function maskedExamples(n: number, seed: number): MaskedExample[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const ids = [101, ...Array.from({ length: T - 2 }, () => 1000 + rng.int(29000)), 102];
    const labels = ids.map(() => -100);
    for (let k = 0; k < MASKED; k++) {
      const at = 1 + ((k * 7 + rng.int(7)) % (T - 2));
      if (labels[at] !== -100) continue;
      labels[at] = ids[at];
      ids[at] = 103;
    }
    return { input_ids: ids, labels };
  });
}

/** Seconds of `fn`, which runs one measured unit of work. */
async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const began = Date.now();
  await fn();
  return (Date.now() - began) / 1000;
}

/** A training bench: `steps` AdamW steps of `batch` sequences under the budget's split, or the reason it cannot run. */
async function trainingRate(
  kind: 'finetune' | 'pretrain',
  batch: number,
): Promise<{ perStep: number; split: string } | string> {
  const model = Bert.random(config, kind === 'finetune' ? SEQUENCE_CLASSIFICATION : MASKED_LM, 1);
  try {
    const masked = kind === 'pretrain' ? MASKED : 0;
    let micro: number;
    let checkpoint: boolean;
    try {
      // as finetune and pretrain split a step: micro-batches, and gradient checkpointing where even one sequence does not fit
      ({ size: micro, checkpoint } = trainSplit(
        { config, kind: 'train', batch, seqLen: T, maskedPerSequence: masked },
        { batchFlag: '--batch-size', reserved: optimizerBytes(config) },
      ));
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    }
    const examples = maskedExamples(batch, 7);
    const run = (n: number) =>
      train({
        model,
        totalSteps: n,
        lr: 1e-5,
        microBatches: microBatchCount(batch, micro),
        write: quiet,
        lossAt: (_step, seed, shard) => {
          const { part, weight } = batchPart(
            examples,
            shard.index,
            shard.count,
            kind === 'pretrain' ? (e) => e.labels.filter((y) => y !== -100).length : () => 1,
          );
          const ids = { input_ids: part.map((e) => e.input_ids) };
          return tf.tidy(() =>
            tf.mul(
              kind === 'finetune'
                ? model.classificationLoss(
                    ids,
                    part.map(() => 1),
                    { training: true, seed, checkpoint },
                  )
                : model.maskedLmLoss(
                    ids,
                    part.map((e) => e.labels),
                    { training: true, seed, checkpoint },
                  ),
              weight,
            ),
          );
        },
      });
    const seconds = await timed(() => run(steps));
    return { perStep: seconds / steps, split: describeSplit(batch, micro, checkpoint) };
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  const backend = await initBackend({ quiet: true });
  console.log(
    `bert-base-uncased's shape (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocabulary ${config.vocab_size}), random weights, ${backend}`,
  );
  const perSample = trainingFlops(config, { sequences: 1, tokens: T, masked: MASKED });
  const rows: Array<{ what: string; rate: string; gflops: number; split: string; left: number }> = [];
  // tensors alive beyond those at the start, after each phase has disposed its model: a leak shows here, growing with
  // --steps, --points and --fisher-samples
  const held = tf.memory().numTensors;
  const left = () => tf.memory().numTensors - held;
  const rates: Record<string, number> = {};

  // Fisher: the command's default batch of 16, split as the budget decides.
  const fisherModel = Bert.random(config, MASKED_LM, 1);
  const fisher = await estimateFisher({
    model: fisherModel,
    examples: maskedExamples(fisherSamples, 1),
    padId: 0,
    batchSize: 16,
    write: quiet,
  });
  fisherModel.dispose();
  rates.fisher = fisherSamples / fisher.seconds;
  rows.push({
    what: 'Fisher, samples/s',
    rate: rates.fisher.toFixed(3),
    gflops: (rates.fisher * perSample) / 1e9,
    split: `batch 16 in micro-batches of ${fisher.microBatch}`,
    left: left(),
  });
  headline('Fisher samples/s', rates.fisher, (rates.fisher * perSample) / 1e9);

  // Landscape: points of a grid over a fixed 64 × 128-token evaluation set, the command's batch of 32.
  const landModel = Bert.random(config, MASKED_LM, 2);
  const pair = directionPair(landModel.toWeights(), 0);
  const evalSet = maskedExamples(64, 2);
  const grid = { x: linspace(-1, 1, points), y: [0] };
  const landSeconds = await timed(() =>
    sweep({ model: landModel, pair, grid, examples: evalSet, padId: 0, batchSize: 32, write: quiet }),
  );
  landModel.dispose();
  rates.landscape = points / landSeconds;
  const perPoint = forwardFlops(config, { sequences: 64, tokens: T, masked: 64 * MASKED });
  rows.push({
    what: 'landscape, points/s',
    rate: rates.landscape.toFixed(4),
    gflops: (rates.landscape * perPoint) / 1e9,
    split: "64 sequences in batches of 32 (or the budget's)",
    left: left(),
  });
  headline('landscape points/s', rates.landscape, (rates.landscape * perPoint) / 1e9);

  for (const [kind, batch] of [
    ['finetune', 32],
    ['pretrain', 16],
  ] as const) {
    const r = await trainingRate(kind, batch);
    const flops = trainingFlops(
      config,
      kind === 'finetune' ? { sequences: batch, tokens: T } : { sequences: batch, tokens: T, masked: batch * MASKED },
    );
    if (typeof r === 'string') {
      rows.push({
        what: kind === 'finetune' ? 'fine-tuning, steps/s' : 'pretraining, tokens/s',
        rate: 'does not fit',
        gflops: 0,
        split: r,
        left: left(),
      });
      continue;
    }
    rates[kind] = kind === 'finetune' ? 1 / r.perStep : (batch * T) / r.perStep;
    rows.push({
      what: kind === 'finetune' ? 'fine-tuning, steps/s' : 'pretraining, tokens/s',
      rate: rates[kind].toPrecision(4),
      gflops: flops / r.perStep / 1e9,
      split: r.split,
      left: left(),
    });
    headline(
      kind === 'finetune' ? 'fine-tuning steps/s' : 'pretraining tokens/s',
      rates[kind],
      flops / r.perStep / 1e9,
    );
  }

  console.log(
    `${'figure'.padEnd(24)} ${'rate'.padStart(12)} ${'GFLOP/s'.padStart(8)} ${'tensors left'.padStart(13)}  split`,
  );
  for (const r of rows)
    console.log(
      `${r.what.padEnd(24)} ${r.rate.padStart(12)} ${r.gflops.toFixed(1).padStart(8)} ${String(r.left).padStart(13)}  ${r.split}`,
    );

  // The paper's full settings at these rates. Fisher: 1% of Simple English Wikipedia (2,053 articles) at 512 tokens,
  // scaled from 128 tokens by FLOPs. Figure 1: three 16×16 surfaces over our 64 × 128-token evaluation set. Table 2:
  // 6 tasks (SST-2 at 10%) × 3 methods × 3 seeds × 3 epochs over the authors' 80% training splits, batch 32 × 128.
  const at512 = trainingFlops(config, { sequences: 1, tokens: 512, masked: Math.round(0.15 * 512) }) / perSample;
  const table2Sequences = 9 * 3 * (7675 + 5458 + 3260 + 5799 + 2213 + 564);
  const estimates = [
    ['the 1% Fisher (2,053 × 512 tokens)', rates.fisher ? (2053 * at512) / rates.fisher : NaN],
    ['Figure 1 (3 × 256 points)', rates.landscape ? 768 / rates.landscape : NaN],
    ['Table 2 sweep (54 runs, 3 epochs)', rates.finetune ? table2Sequences / 32 / rates.finetune : NaN],
  ] as const;
  console.log(`wall time of the paper's settings on ${backend}, at these rates:`);
  for (const [what, s] of estimates)
    console.log(`  ${what.padEnd(36)} ${Number.isFinite(s) ? formatDuration(s) : 'cannot run on this backend'}`);
}

if (!benchEachBackend()) await main();
