/** `fisherlab landscape-figure1`: the paper's Figure 1 for one model, three surfaces along the same directions. */
import { Command } from 'commander';
import * as path from 'path';
import { defaultJobs, initBackend, JOBS_HELP } from '../backend';
import { readConfig } from '../bert/config';
import { computeFigure1, FIGURE1_GRIDS, FIGURE1_SETS, figure1Descriptors } from '../landscape/figure1';
import { resolveModelDir } from '../bert/model-dir';
import { defaultRunDir, outputDir } from '../paths';
import { parseGrid } from './landscape';
import { number, positiveInt } from './options';
import { stopOnInterrupt } from '../util/run-dir';
import { SHIPPED } from '../shipped';

interface Figure1Opts {
  model?: string;
  fisher: string;
  out?: string;
  runDir?: string;
  grid: string;
  range: string;
  evalExamples: string;
  evalSeed: string;
  examples?: string;
  seed: string;
  jobs: string;
  hdf5: boolean;
}

/** Adds the `landscape-figure1` command. */
export function register(program: Command): void {
  program
    .command('landscape-figure1')
    .summary(
      "the paper's Figure 1: loss surfaces perturbing all, the top-50% and the bottom-50% Fisher tensors (resumable)",
    )
    .description(
      "compute the three surfaces of Figure 1 for one model along one pair of seeded, filter-normalized directions (the same directions for all three, as the authors' dir files): all tensors, the top-50% tensors by mean Fisher, the bottom-50% (by tensor count; 1-D tensors not perturbed). Writes all.json, top50.json, bottom50.json (and .h5 in the loss-landscape layout) to --out and prints their descriptors. Each surface is a `fisherlab landscape` run with its own folder under --run-dir; running the same command again resumes.",
    )
    .option('--model <dir>', 'Hugging Face BertForMaskedLM folder (default: the embedded model)')
    .requiredOption('--fisher <file>', 'Fisher file of `fisherlab fisher` (the top/bottom split)')
    .option('--out <dir>', 'folder of the three surfaces (default: out/landscape/<model>)')
    .option(
      '--run-dir <dir>',
      'directions and partial results (default: out/landscape/<name of --out>-<hash of its absolute path>-runs)',
    )
    .option('--grid <n>', 'points per axis: N or NXxNY', String(FIGURE1_GRIDS.full.points))
    .option('--range <min,max>', 'range of both axes', FIGURE1_GRIDS.full.range.join(','))
    .option('--eval-examples <n>', 'sequences in the fixed evaluation set', '64')
    .option('--eval-seed <n>', "seed of the evaluation set's choice and masks", '0')
    .option(
      '--examples <file>',
      'JSONL of pre-masked examples {input_ids, labels, attention_mask?} to evaluate on, instead of the corpus',
    )
    .option('--seed <n>', 'seed of the two directions', '0')
    .option('--jobs <n>', `processes per surface (${JOBS_HELP})`, String(defaultJobs()))
    .option('--no-hdf5', 'do not write the .h5 files')
    .addHelpText(
      'after',
      `\nExample (the shipped surfaces: 768 points):\n  npx fisherlab landscape-figure1 --fisher ${SHIPPED.fisher} \\\n    --out ${SHIPPED.landscape} --jobs 2`,
    )
    .action(async (opts: Figure1Opts) => {
      const dir = resolveModelDir(opts.model);
      const name = path.basename(dir);
      const grid = parseGrid(opts.grid, opts.range);
      await initBackend();
      const interrupt = stopOnInterrupt('landscape-figure1', 'after this point');
      const outDir = opts.out ?? path.join(outputDir(), 'landscape', name);
      const surfaces = await computeFigure1({
        model: dir,
        fisher: opts.fisher,
        outDir,
        runDir: opts.runDir ?? `${defaultRunDir('landscape', outDir)}-runs`,
        grid,
        evalExamples: positiveInt(opts.evalExamples, '--eval-examples'),
        evalSeed: number(opts.evalSeed, '--eval-seed'),
        examples: opts.examples,
        seed: number(opts.seed, '--seed'),
        jobs: positiveInt(opts.jobs, '--jobs'),
        hdf5: opts.hdf5,
        shouldStop: interrupt.stopped,
      }).finally(interrupt.dispose);
      if (!surfaces) {
        console.error('landscape-figure1: stopped; run the same command again to resume');
        return;
      }
      const rows = figure1Descriptors([
        { model: name, vocabSize: readConfig(path.join(dir, 'config.json')).vocab_size, surfaces },
      ]);
      console.log(`wrote ${FIGURE1_SETS.map((s) => `${s.name}.json`).join(', ')} to ${outDir}`);
      console.log('set        centre      min   basin(≤centre+1)   plateau   ln V');
      for (const r of rows)
        console.log(
          `${r.set.padEnd(9)} ${r.centre.toFixed(3).padStart(7)} ${r.min.toFixed(3).padStart(8)} ${`${r.basinPoints}/${r.points}`.padStart(18)} ${r.plateau.toFixed(3).padStart(9)} ${r.uniformLoss!.toFixed(3).padStart(6)}`,
        );
    });
}
