/** `fisherlab fisher`: the empirical Fisher diagonal of a masked-LM BERT over corpus samples or pre-masked examples. */
import { Command } from 'commander';
import { initBackend } from '../backend';
import { resolveModelDir } from '../bert/model-dir';
import { buildFisher } from '../fisher/build';
import { describeSplit } from '../train/memory-budget';
import { formatDuration } from '../util/progress';
import { number } from './options';
import { stopOnInterrupt } from '../util/run-dir';
import { loadMaskedLm } from '../bert/load';
import { estimateFisher } from '../fisher/estimate';
import { MIN_SHARD_SAMPLES, writeShardResult } from '../fisher/shards';
import { readMaskedExamples } from '../pretrain/mlm-data';

interface FisherOpts {
  model?: string;
  samples?: string;
  fraction?: string;
  examples?: string;
  corpus?: string;
  seed: string;
  batchSize: string;
  maxLength?: string;
  output: string;
  runDir?: string;
  checkpointEvery: string;
  stopAfter?: string;
  jobs?: string;
}

/** Adds the `fisher` command and its hidden child, `fisher-shard`. */
export function register(program: Command): void {
  registerShard(program);
  program
    .command('fisher')
    .summary('empirical Fisher diagonal of a masked-LM BERT (resumable)')
    .description(
      "estimate the empirical Fisher diagonal F = mean over samples of the squared gradient of each sample's own masked-LM loss (the paper's Eq. 3), in evaluation mode (no dropout), for every parameter tensor; over a seeded sub-sample of the training split of the pretraining corpus (packed and masked 15% as pretraining does; corpus, split and length come from the model's pretrain-report.json when it has one) or over pre-masked examples; writes a safetensors file with one tensor per parameter name and the settings as metadata; progress with ETA on stderr, atomic checkpoints in --run-dir, and running the same command again resumes (Ctrl-C saves and stops)",
    )
    .option('--model <dir>', 'Hugging Face BertForMaskedLM folder (default: the embedded model)')
    .option('--samples <n>', 'number of training sequences to sample')
    .option('--fraction <f>', 'fraction of the training sequences to sample (the paper: 0.01)')
    .option('--examples <file>', 'JSONL of pre-masked examples {input_ids, labels, attention_mask?}, used as they are')
    .option(
      '--corpus <sources>',
      "corpus sources for --samples/--fraction (default: the model's pretraining corpus, else brown,sotu; the embedded model's includes glue-train, read from FISHERLAB_DATA/glue)",
    )
    .option('--seed <n>', 'seed of the sub-sample and of its masks', '0')
    .option('--batch-size <n>', 'samples per forward/backward pass', '16')
    .option('--max-length <n>', "tokens per packed sequence (default: the model's pretraining length, else 128)")
    .requiredOption('--output <file>', 'safetensors file to write')
    .option('--run-dir <dir>', 'checkpoints (default: out/fisher/<name of --output>-<hash of its absolute path>)')
    .option('--checkpoint-every <n>', 'samples between checkpoints', '1000')
    .option('--stop-after <n>', 'stop after about this many samples (a checkpoint is saved); run again to continue')
    .option(
      '--jobs <n>',
      `processes, each summing a contiguous shard of the samples, this one the first (default: one per core, as long as each gets ${MIN_SHARD_SAMPLES} samples; on TensorFlow each process then uses its share of the cores)`,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  npx fisherlab fisher --fraction 0.01 --output out/fisher/embedded-1pct.safetensors\n  npx fisherlab fisher --model DIR --examples masked.jsonl --output fisher.safetensors',
    )
    .action(async (opts: FisherOpts) => {
      if ([opts.samples, opts.fraction, opts.examples].filter((x) => x !== undefined).length !== 1)
        throw new Error('give exactly one of --samples, --fraction and --examples');
      const seed = number(opts.seed, '--seed');
      // buildFisher starts the backend once it knows how many processes share the cores
      const dir = resolveModelDir(opts.model);
      const interrupt = stopOnInterrupt('fisher', 'a checkpoint after this batch');
      const batchSize = number(opts.batchSize, '--batch-size');
      const result = await buildFisher({
        model: dir,
        output: opts.output,
        size:
          opts.samples !== undefined
            ? { samples: number(opts.samples, '--samples') }
            : opts.fraction !== undefined
              ? { fraction: number(opts.fraction, '--fraction') }
              : undefined,
        examples: opts.examples,
        corpus: opts.corpus,
        maxLength: opts.maxLength === undefined ? undefined : number(opts.maxLength, '--max-length'),
        seed,
        batchSize,
        runDir: opts.runDir,
        checkpointEvery: number(opts.checkpointEvery, '--checkpoint-every'),
        stopAfter: opts.stopAfter === undefined ? undefined : number(opts.stopAfter, '--stop-after'),
        jobs: opts.jobs === undefined ? undefined : number(opts.jobs, '--jobs'),
        shouldStop: interrupt.stopped,
      }).finally(interrupt.dispose);
      if (!result.fisher) {
        console.error(
          `fisher: stopped after ${result.samples} of ${result.examples} samples; run the same command again to resume`,
        );
      } else {
        const split =
          describeSplit(Math.min(batchSize, result.examples), result.microBatch) +
          (result.processes > 1 ? `, in ${result.processes} processes` : '');
        console.log(
          `wrote ${opts.output}: ${result.fisher.size} tensors over ${result.samples} samples, mean masked-LM loss ${result.meanLoss.toFixed(4)}, ${formatDuration(result.seconds)}; ${split}`,
        );
      }
    });
}

/** Adds the hidden `fisher-shard` command: the child process of `fisher --jobs N` for one contiguous shard of the samples. */
function registerShard(program: Command): void {
  program
    .command('fisher-shard', { hidden: true })
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--examples <file>', "the shard's pre-masked examples")
    .requiredOption('--batch-size <n>', 'samples per forward/backward pass')
    .requiredOption('--run-dir <dir>', "the shard's folder: checkpoints, then its sums in result/")
    .requiredOption('--checkpoint-every <n>', 'samples between checkpoints')
    .option('--stop-after <n>', 'stop after about this many samples (a checkpoint is saved)')
    .action(
      async (opts: {
        model: string;
        examples: string;
        batchSize: string;
        runDir: string;
        checkpointEvery: string;
        stopAfter?: string;
      }) => {
        await initBackend();
        const model = loadMaskedLm(opts.model, 'fisher');
        const interrupt = stopOnInterrupt('fisher', 'a checkpoint after this batch');
        try {
          const result = await estimateFisher({
            model,
            examples: readMaskedExamples(opts.examples, { vocabSize: model.config.vocab_size }),
            padId: model.config.pad_token_id,
            batchSize: number(opts.batchSize, '--batch-size'),
            runDir: opts.runDir,
            checkpointEvery: number(opts.checkpointEvery, '--checkpoint-every'),
            stopAfter: opts.stopAfter === undefined ? undefined : number(opts.stopAfter, '--stop-after'),
            shouldStop: interrupt.stopped,
          });
          if (result.fisher) writeShardResult(opts.runDir, model, result);
        } finally {
          interrupt.dispose();
          model.dispose();
        }
      },
    );
}
