/** `fisherlab fisher-stability`: the sub-sample stability study of the Fisher estimate (the paper's Table 1), resumable. */
import { MIN_SHARD_SAMPLES } from '../fisher/shards';
import { Command } from 'commander';
import * as path from 'path';
import { initBackend } from '../backend';
import { KeepFisher, runFisherStudy, studyInputs, TABLE_CSV } from '../fisher/study';
import { resolveModelDir } from '../bert/model-dir';
import { formatDuration } from '../util/progress';
import { showTable } from '../notebook/table';
import { number } from './options';
import { stopOnInterrupt } from '../util/run-dir';
import { SHIPPED } from '../shipped';

interface StabilityOpts {
  model?: string;
  fractions: string;
  seeds: string;
  referenceFraction: string;
  referenceSeed: string;
  corpus?: string;
  maxLength?: string;
  batchSize: string;
  keep: KeepFisher[];
  out: string;
  jobs?: string;
}

/** Parses a comma-separated list of numbers. */
function numbers(value: string, flag: string): number[] {
  return value.split(',').map((x) => number(x, flag));
}

/** Collects one `--keep PERCENT:SEED:FILE` into the list. */
function keepOption(value: string, list: KeepFisher[]): KeepFisher[] {
  const m = /^([^:]+):([^:]+):(.+)$/.exec(value);
  if (!m) throw new Error(`--keep: "${value}" is not PERCENT:SEED:FILE`);
  return [...list, { percent: number(m[1], '--keep'), seed: number(m[2], '--keep'), file: path.resolve(m[3]) }];
}

/** Adds the `fisher-stability` command. */
export function register(program: Command): void {
  program
    .command('fisher-stability')
    .summary("stability of the Fisher estimate under sub-sampling (the paper's Table 1; resumable)")
    .description(
      'estimate the empirical Fisher diagonal (as `fisherlab fisher --fraction` does) on seeded sub-samples of the training split at several percentages and seeds, and once on a larger reference sub-sample; keep per estimate only a summary (per-tensor means, group and dropout-site scores) in OUT/estimates/, and write the stability table (Spearman correlation of per-tensor means and of site scores with the reference, whether the site order and the guided-dropout schedule change) to OUT/stability.json and OUT/stability.csv. Each estimate runs in its own folder with checkpoints; running the same command again skips finished estimates and resumes the unfinished one (Ctrl-C saves and stops)',
    )
    .option('--model <dir>', 'Hugging Face BertForMaskedLM folder (default: the embedded model)')
    .option(
      '--fractions <list>',
      'sub-sample sizes in PERCENT of the training split, comma-separated',
      '0.25,0.5,1,2,5',
    )
    .option('--seeds <list>', 'seeds of the sub-samples and their masks, comma-separated', '1,2,3')
    .option('--reference-fraction <percent>', 'size of the reference estimate, in percent', '10')
    .option(
      '--reference-seed <n>',
      'seed of the reference (keep it out of --seeds: a sub-sample of the same seed is nested in it)',
      '0',
    )
    .option('--corpus <sources>', "corpus sources (default: the model's pretraining corpus, else brown,sotu)")
    .option('--max-length <n>', "tokens per packed sequence (default: the model's pretraining length, else 128)")
    .option('--batch-size <n>', 'samples per forward/backward pass', '16')
    .option(
      '--keep <percent:seed:file>',
      'also write the full Fisher tensors of this estimate to FILE (repeatable)',
      keepOption,
      [],
    )
    .option(
      '--jobs <n>',
      `processes each estimate is split over (default: one per core, as long as each gets ${MIN_SHARD_SAMPLES} samples)`,
    )
    .requiredOption('--out <dir>', 'study folder (summaries, run folders, stability table)')
    .addHelpText(
      'after',
      `\nExample (the shipped study: 36.25% of the corpus's training sequences in all):\n  npx fisherlab fisher-stability --fractions 0.25,0.5,1,2,5 --seeds 1,2,3 --reference-fraction 10 \\\n    --keep 1:1:${SHIPPED.fisher} --out ${SHIPPED.fisherStability}`,
    )
    .action(async (opts: StabilityOpts) => {
      await initBackend();
      const maxLength = opts.maxLength === undefined ? undefined : number(opts.maxLength, '--max-length');
      const inputs = studyInputs(resolveModelDir(opts.model), { corpus: opts.corpus, maxLength });
      const { recipe } = inputs;
      console.error(
        `fisher-stability: ${inputs.sequences.length} training sequences (corpus ${recipe.corpus}, ${recipe.maxLength} tokens; recipe: ${recipe.source})`,
      );
      const interrupt = stopOnInterrupt('fisher-stability', 'a checkpoint after this batch');
      const began = Date.now();
      const result = await runFisherStudy({
        ...inputs,
        percents: numbers(opts.fractions, '--fractions'),
        seeds: numbers(opts.seeds, '--seeds'),
        referencePercent: number(opts.referenceFraction, '--reference-fraction'),
        referenceSeed: number(opts.referenceSeed, '--reference-seed'),
        outDir: path.resolve(opts.out),
        batchSize: number(opts.batchSize, '--batch-size'),
        keep: opts.keep,
        jobs: opts.jobs === undefined ? undefined : number(opts.jobs, '--jobs'),
        shouldStop: interrupt.stopped,
      }).finally(interrupt.dispose);
      inputs.model.dispose();
      if (result.rows) {
        showTable(result.rows.map((r) => ({ ...r })));
        console.log(
          `wrote ${path.join(opts.out, TABLE_CSV)}: ${result.computed.length} estimates computed, ${result.skipped.length} skipped, ${formatDuration((Date.now() - began) / 1000)}`,
        );
      }
    });
}
