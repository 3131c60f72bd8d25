/** `fisherlab model-card`: MODEL.md for a pretrained model folder, optionally after pretraining-benefit checks on GLUE tasks. */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { defaultJobs, JOBS_HELP } from '../backend';
import { glueDataDir } from '../glue/load';
import { taskSpec } from '../glue/tasks';
import { benefitSection, modelCard } from '../pretrain/model-card';
import {
  BenefitReport,
  DEFAULT_ALPHA,
  defaultMaxTrain,
  mergeBenefits,
  pretrainingBenefit,
  readBenefitReports,
} from '../pretrain/benefit';
import type { PretrainReport } from '../pretrain/run';
import { number, positiveInt } from './options';
import { SHIPPED } from '../shipped';

/** The values of a comma-separated option, each parsed, without repeats. */
function list<T>(value: string, flag: string, parse: (x: string) => T): T[] {
  const items = value.split(',').map((x) => parse(x.trim()));
  if (new Set(items).size !== items.length) throw new Error(`${flag}: "${value}" repeats a value`);
  return items;
}

/** Adds the `model-card` command. */
export function register(program: Command): void {
  program
    .command('model-card')
    .summary('write MODEL.md for a model fisherlab pretrained')
    .description(
      'write MODEL.md in a folder made by `fisherlab pretrain` from its pretrain-report.json (and its pretraining-benefit.json when present); with --check, first fine-tune it and a randomly initialized twin on each GLUE task at each training-set size, learning rate and seed, and record in pretraining-benefit.json each comparison: each start at its best learning rate, paired by seed, with a one-sided paired t-test; finished runs are reused from --runs-dir. --check also takes any other BERT folder (e.g. one from `fisherlab download`): it then writes pretraining-benefit.json and prints the comparison, without a MODEL.md',
    )
    .requiredOption('--model <dir>', 'folder written by `fisherlab pretrain` (with --check, any BERT folder)')
    .option('--check <tasks>', 'GLUE tasks to compare pretrained against random initialization on, e.g. SST-2,CoLA')
    .option('--seeds <list>', 'seeds of each comparison (at least two: the t-test pairs them)', '1,2,3,4,5')
    .option(
      '--confirm-seeds <list>',
      'fresh seeds (none of --seeds) on which each start runs again at the learning rate --seeds chose for it; the verdict then rests on this test, whose learning rates were not picked on its own seeds',
    )
    .option(
      '--max-train <list>',
      'training examples per run, one comparison per size and task, 0 = the whole training set (default: 3000 for SST-2, 0 for other tasks)',
    )
    .option(
      '--lrs <list>',
      'fine-tuning learning rates tried for both initializations (each is compared at its best; a best at either end of the grid is flagged)',
      '3e-4,1e-3,3e-3',
    )
    .option(
      '--runs-dir <dir>',
      'finished fine-tuning runs, reused by name (default: out/pretraining-benefit; SST-2 runs in the former default, out/sst2-check, keep their names: move them there to reuse them)',
    )
    .option(
      '--alpha <p>',
      `one-sided p below which the verdict claims a difference, fixed before the runs (default ${DEFAULT_ALPHA}; e.g. 0.005 for a second test of a claim already tested once)`,
    )
    .option(
      '--add',
      "keep the folder's other comparisons (other tasks or sizes) in pretraining-benefit.json, replacing only those this --check redoes; a comparison confirmed again on other fresh seeds keeps its earlier confirmations, each with its threshold, and the card shows them all (refused if the grid's scores changed, which would drop them)",
    )
    .option('--jobs <n>', `fine-tuning processes at a time (${JOBS_HELP})`, String(defaultJobs()))
    .option('--glue <dir>', 'GLUE folder (default: $FISHERLAB_DATA/glue)')
    .addHelpText(
      'after',
      `\nExample:\n  npx fisherlab model-card --model ${SHIPPED.model} --check SST-2,CoLA --confirm-seeds 6,7,8,9,10,11,12,13,14,15`,
    )
    .action(
      async (o: {
        model: string;
        check?: string;
        seeds: string;
        confirmSeeds?: string;
        maxTrain?: string;
        lrs: string;
        runsDir?: string;
        alpha?: string;
        add?: boolean;
        jobs: string;
        glue?: string;
      }) => {
        const reportFile = path.join(o.model, 'pretrain-report.json');
        const report = fs.existsSync(reportFile)
          ? (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as PretrainReport)
          : null;
        if (!report && o.check === undefined)
          throw new Error(
            `${reportFile} not found: MODEL.md is written for folders made by \`fisherlab pretrain\` (for any other BERT folder, --check compares it with a random start)`,
          );
        const benefitFile = path.join(o.model, 'pretraining-benefit.json');
        let benefits: BenefitReport[] = fs.existsSync(benefitFile) ? readBenefitReports(benefitFile) : [];
        if (o.check !== undefined) {
          const tasks = list(o.check, '--check', (x) => taskSpec(x).name);
          const seedList = (value: string, flag: string) => {
            const v = list(value, flag, (x) => {
              const n = number(x, flag);
              if (!Number.isInteger(n) || n < 0)
                throw new Error(`${flag}: "${value}" is not a list of non-negative integers`);
              return n;
            });
            if (v.length < 2) throw new Error(`${flag}: the paired t-test needs at least two seeds (got "${value}")`);
            return v;
          };
          const seeds = seedList(o.seeds, '--seeds');
          const confirmSeeds = o.confirmSeeds === undefined ? undefined : seedList(o.confirmSeeds, '--confirm-seeds');
          const shared = confirmSeeds?.filter((s) => seeds.includes(s)) ?? [];
          if (shared.length)
            throw new Error(
              `--confirm-seeds: seed ${shared.join(', ')} is also in --seeds, which choose the learning rates; confirm on fresh seeds`,
            );
          const lrs = list(o.lrs, '--lrs', (x) => {
            const v = number(x, '--lrs');
            if (v <= 0) throw new Error(`--lrs: learning rates must be positive (got "${x}")`);
            return v;
          });
          const sizes = o.maxTrain
            ? list(o.maxTrain, '--max-train', (x) => {
                const v = number(x, '--max-train');
                if (!Number.isInteger(v) || v < 0)
                  throw new Error(`--max-train: "${x}" is not a non-negative integer (0: the whole training set)`);
                return v;
              })
            : undefined;
          const alpha = o.alpha === undefined ? undefined : number(o.alpha, '--alpha');
          if (alpha !== undefined && !(alpha > 0 && alpha < 1))
            throw new Error(`--alpha: "${o.alpha}" is not a probability between 0 and 1`);
          const jobs = positiveInt(o.jobs, '--jobs');
          const glue = o.glue ?? glueDataDir();
          if (!glue) throw new Error('no GLUE folder for --check: pass --glue DIR or set FISHERLAB_DATA');
          const added: BenefitReport[] = [];
          for (const task of tasks)
            for (const size of sizes ?? [defaultMaxTrain(task)])
              added.push(
                await pretrainingBenefit(
                  task,
                  o.model,
                  glue,
                  seeds,
                  { maxTrainExamples: size, lrs, jobs, runsDir: o.runsDir, confirmSeeds, alpha },
                  (l) => console.error(l),
                ),
              );
          benefits = o.add ? mergeBenefits(benefits, added) : added;
          writeFileAtomic(benefitFile, JSON.stringify(benefits, null, 1) + '\n');
        }
        if (!report) {
          // a folder fisherlab did not pretrain (e.g. a Hugging Face download): the comparison, but no model card
          console.log(benefitSection(benefits).join('\n'));
          console.log(`wrote ${benefitFile} (no MODEL.md: ${reportFile} not found)`);
          return;
        }
        const file = path.join(o.model, 'MODEL.md');
        writeFileAtomic(file, modelCard(path.basename(path.resolve(o.model)), report, benefits));
        console.log(`wrote ${file}`);
      },
    );
}
