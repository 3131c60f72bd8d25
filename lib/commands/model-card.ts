/** `fisherlab model-card`: MODEL.md for a pretrained model folder, optionally after the SST-2 pretraining check. */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { defaultJobs, JOBS_HELP } from '../backend';
import { glueDataDir } from '../glue/load';
import { modelCard } from '../pretrain/model-card';
import { BenefitReport, pretrainingBenefit } from '../pretrain/benefit';
import type { PretrainReport } from '../pretrain/run';
import { number, positiveInt } from './options';

/** Adds the `model-card` command. */
export function register(program: Command): void {
  program
    .command('model-card')
    .summary('write MODEL.md for a model fisherlab pretrained')
    .description(
      'write MODEL.md in a folder made by `fisherlab pretrain` from its pretrain-report.json (and its sst2-benefit.json when present); with --check-sst2, first fine-tune it and a randomly initialized twin on SST-2 at each training-set size, learning rate and seed, and record the comparison (each start at its best learning rate) in sst2-benefit.json; finished runs are reused from --runs-dir',
    )
    .requiredOption('--model <dir>', 'folder written by `fisherlab pretrain`')
    .option('--check-sst2', 'run (or reuse) the SST-2 comparison of pretrained against random initialization')
    .option('--seeds <list>', 'seeds of the SST-2 comparison', '1,2,3')
    .option(
      '--max-train <list>',
      'SST-2 training sentences per run: one comparison per size, comma-separated',
      '3000,1000',
    )
    .option(
      '--lrs <list>',
      'fine-tuning learning rates tried for both initializations (each is compared at its best)',
      '1e-4,3e-4,1e-3',
    )
    .option('--runs-dir <dir>', 'finished fine-tuning runs, reused by name (default: out/sst2-check)')
    .option('--jobs <n>', `fine-tuning processes at a time (${JOBS_HELP})`, String(defaultJobs()))
    .option('--glue <dir>', 'GLUE folder (default: $FISHERLAB_DATA/glue)')
    .addHelpText(
      'after',
      '\nExample:\n  npx fisherlab model-card --model data/models/fisherlab-bert-l4-h128 --check-sst2',
    )
    .action(
      async (o: {
        model: string;
        checkSst2?: boolean;
        seeds: string;
        maxTrain: string;
        lrs: string;
        runsDir?: string;
        jobs: string;
        glue?: string;
      }) => {
        const reportFile = path.join(o.model, 'pretrain-report.json');
        if (!fs.existsSync(reportFile))
          throw new Error(`${reportFile} not found: MODEL.md is written for folders made by \`fisherlab pretrain\``);
        const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as PretrainReport;
        const benefitFile = path.join(o.model, 'sst2-benefit.json');
        let benefits: BenefitReport[] = fs.existsSync(benefitFile)
          ? JSON.parse(fs.readFileSync(benefitFile, 'utf8'))
          : [];
        if (!Array.isArray(benefits))
          throw new Error(`${benefitFile}: expected a list of SST-2 comparisons (redo it with --check-sst2)`);
        if (o.checkSst2) {
          const glue = o.glue ?? glueDataDir();
          if (!glue) throw new Error('no GLUE folder for the SST-2 check: pass --glue DIR or set FISHERLAB_DATA');
          const seeds = o.seeds.split(',').map(Number);
          if (seeds.some((x) => !Number.isInteger(x) || x < 0))
            throw new Error(`--seeds: "${o.seeds}" is not a list of non-negative integers`);
          const lrs = o.lrs.split(',').map((x) => number(x, '--lrs'));
          benefits = [];
          for (const size of o.maxTrain.split(',').map((x) => positiveInt(x, '--max-train'))) {
            benefits.push(
              await pretrainingBenefit(
                o.model,
                glue,
                seeds,
                { maxTrainExamples: size, lrs, jobs: positiveInt(o.jobs, '--jobs'), runsDir: o.runsDir },
                (l) => console.error(l),
              ),
            );
          }
          writeFileAtomic(benefitFile, JSON.stringify(benefits, null, 1) + '\n');
        }
        const file = path.join(o.model, 'MODEL.md');
        writeFileAtomic(file, modelCard(path.basename(path.resolve(o.model)), report, benefits));
        console.log(`wrote ${file}`);
      },
    );
}
