/** `fisherlab sweep`: fine-tuning over dropout methods × GLUE tasks × training percentages × seeds, resumable. */
import { Command, Option } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';
import { defaultJobs, initBackend, JOBS_HELP } from '../backend';
import { DROPOUT_METHODS, DropoutMethod, METHODS_HELP } from '../guided-dropout/methods';
import { finetune, FinetuneSettings } from '../glue/finetune';
import {
  describeCoverage,
  designCoverage,
  designProtocol,
  designRecords,
  DESIGNS,
  designSpecs,
  parseDesigns,
} from '../sweep/designs';
import { claimsMarkdown, describeClaim, describeRuns, paperClaims } from '../sweep/claims';
import { describeRemaining } from '../sweep/eta';
import { resolveModelDir } from '../bert/model-dir';
import type { SlurmOptions } from '../sweep/slurm-tools';
import {
  readSweepResults,
  RESULTS_FILE,
  runSweep,
  SUMMARY_FILE,
  sweepCells,
  sweepRecord,
  SweepTask,
} from '../sweep/run';
import { awaitSweep, formatStatus, mergeSweep, SLURM_DIR, submitSweep, sweepStatus } from '../sweep/slurm';
import { addTrainingOptions, DEFAULTS_HELP, glueDirOf, trainingSettings } from './finetune';
import { number, positiveInt } from './options';
import { SHIPPED } from '../shipped';

/** The comma-separated items of an option. */
function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The Slurm options of a job array, checked; an error when one is given to the local executor. */
function slurmOptions(o: Record<string, string | string[] | undefined>, slurm: boolean): SlurmOptions {
  const str = (k: string) => o[k] as string | undefined;
  const int = (k: string, flag: string) => (o[k] === undefined ? undefined : positiveInt(o[k] as string, flag));
  const options = {
    partition: str('partition'),
    time: str('time'),
    cpusPerTask: int('cpusPerTask', '--cpus-per-task'),
    gres: str('gres'),
    maxParallel: int('maxParallel', '--max-parallel'),
    sbatchArgs: (o.sbatchArg ?? []) as string[],
  };
  if (
    !slurm &&
    (Object.values(options).some((v) => v !== undefined && !Array.isArray(v)) || options.sbatchArgs.length > 0)
  ) {
    throw new Error(
      '--partition, --time, --cpus-per-task, --gres, --max-parallel and --sbatch-arg are for --executor slurm',
    );
  }
  return options;
}

/** Adds the `sweep` command. */
export function register(program: Command): void {
  const command = program
    .command('sweep')
    .summary('fine-tuning sweep: methods × tasks × percentages × seeds (resumable)')
    .description(
      `fine-tune every (method, task, training percentage, seed) cell, seeds outermost; each finished run is appended as one JSON line to OUT/${RESULTS_FILE}, and running the same command again skips finished runs (a half-written last line from a kill is dropped and redone); OUT/${SUMMARY_FILE} holds the mean ± sample std over seeds of the main score and every metric per cell; progress with ETA over runs on stderr. With --executor slurm the unfinished runs go to Slurm as one job array, and the next call merges the finished ones (docs/slurm.md)`,
    )
    .option('--tasks <list>', 'GLUE tasks, comma-separated (CoLA,SST-2,MRPC,STS-B,RTE,WNLI...); or give --design')
    .option(
      '--design <list>',
      `the paper's sweeps instead of --tasks/--pcts/--seeds/--methods, under the model's design protocol unless --protocol is given (the authors' pooled split, or the official train/dev split for a model pretrained on GLUE training text): ${DESIGNS.map((d) => d.name).join(', ')} or all (one results folder; cells shared between designs run once)`,
    )
    .option(
      '--methods <list>',
      `dropout methods, comma-separated (${DROPOUT_METHODS.join(', ')})`,
      'standard,guided,gaussian',
    )
    .option('--pcts <list>', 'training-set percentages, comma-separated', '100')
    .option('--seeds <list>', 'seeds, comma-separated', '1,2,3')
    .option(
      '--fisher <file>',
      "the pretrained model's Fisher file (safetensors from `fisherlab fisher`), needed by guided methods",
    )
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .option('--jobs <n>', `runs at a time, each in its own process (${JOBS_HELP})`, String(defaultJobs()))
    .addOption(
      new Option(
        '--executor <name>',
        'local: runs here (--jobs at a time); slurm: submits the unfinished runs as one Slurm job array (see docs/slurm.md)',
      )
        .choices(['local', 'slurm'])
        .default('local'),
    )
    .option(
      '--status',
      "say how many runs of each --design OUT holds, which cells are short of seeds and about how long the rest will take at --jobs (from the finished runs' wall times); with the Slurm executor, also which runs are done, running, pending and failed (with their logs); then exit",
    )
    .addOption(
      new Option(
        '--claims [format]',
        "say what OUT's results make of each of the paper's claims (and our two controls), from the tests of notebooks 06–08 with Holm's correction, as text or as the README's Markdown; then exit",
      ).choices(['text', 'markdown']),
    )
    .option(
      '--wait',
      "with --executor slurm: wait until the sweep's jobs end, then merge their runs and show the status",
    )
    .option('--partition <name>', 'Slurm partition')
    .option('--time <limit>', 'Slurm time limit per run (e.g. 2:00:00)')
    .option('--cpus-per-task <n>', 'Slurm CPUs per run')
    .option('--gres <spec>', 'Slurm generic resources per run (e.g. gpu:1)')
    .option('--max-parallel <n>', 'Slurm: runs at a time (the %K of --array)')
    .option(
      '--sbatch-arg <arg>',
      'a further sbatch argument, e.g. --sbatch-arg=--mem=8G (repeatable)',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    );
  addTrainingOptions(command)
    .requiredOption('--out <dir>', `folder for ${RESULTS_FILE} and ${SUMMARY_FILE}`)
    .addHelpText(
      'after',
      `\nDropout methods:\n${METHODS_HELP}\n\n${DEFAULTS_HELP}\n\nExamples:\n  npx fisherlab sweep --design all --fisher ${SHIPPED.fisher} --jobs 2 --out ${SHIPPED.results}\n  npx fisherlab sweep --tasks CoLA,MRPC --methods standard,guided,gaussian --pcts 10,25,50,100 --seeds 1,2,3 \\\n    --fisher out/fisher/embedded-1pct.safetensors --jobs 2 --out data/results/embedded\n  npx fisherlab sweep --design all --fisher F --executor slurm --partition gpu --gres gpu:1 --time 2:00:00 --max-parallel 20 --out OUT\n  npx fisherlab sweep --status --out OUT\n  npx fisherlab sweep --status --design all --out ${SHIPPED.results}\n  npx fisherlab sweep --claims --out ${SHIPPED.results}\n  npx fisherlab sweep --claims markdown --out ${SHIPPED.results}   (the README's block)`,
    )
    .action(async (o: Record<string, string>, cmd: Command) => {
      if (o.claims !== undefined) {
        const file = path.join(o.out, RESULTS_FILE);
        if (!fs.existsSync(file))
          throw new Error(`sweep --claims: ${file} does not exist (run a sweep into --out first)`);
        const records = readSweepResults(o.out);
        const claims = paperClaims(designRecords(records));
        const coverage = DESIGNS.map((d) => designCoverage(d, records));
        if (o.claims === 'markdown') console.log(claimsMarkdown(claims, coverage));
        else for (const line of [describeRuns(coverage), ...claims.map(describeClaim)]) console.log(line);
        return;
      }
      if (o.status !== undefined) {
        if (o.design !== undefined) {
          const records = fs.existsSync(path.join(o.out, RESULTS_FILE)) ? readSweepResults(o.out) : [];
          const coverages = parseDesigns(o.design).map((d) => designCoverage(d, records));
          for (const c of coverages) console.log(describeCoverage(c));
          // the designs share cells (Table 2's are Figure 4's largest sizes): each missing run once
          const missing = new Map(
            coverages.flatMap((c) =>
              c.missing.flatMap((m) =>
                m.seeds.map((seed) => [JSON.stringify([m.method, m.task, m.pct, seed]), m] as const),
              ),
            ),
          );
          console.log(describeRemaining(records, [...missing.values()], positiveInt(o.jobs, '--jobs')));
          if (!fs.existsSync(path.join(o.out, SLURM_DIR, 'plan.json'))) return;
        }
        for (const line of formatStatus(o.out, sweepStatus(o.out))) console.log(line);
        return;
      }
      const slurm = slurmOptions(o, o.executor === 'slurm');
      if ((o.tasks === undefined) === (o.design === undefined))
        throw new Error('give either --tasks (with --pcts, --seeds, --methods) or --design');
      const model = resolveModelDir(o.model);
      const training = trainingSettings(o, model, 'sweep');
      // The designs run under the model's design protocol unless --protocol says otherwise.
      if (o.design !== undefined && cmd.getOptionValueSource('protocol') !== 'cli')
        training.protocol = designProtocol(model);
      const base = { model, fisher: o.fisher, glueDir: glueDirOf(o), out: o.out, training };
      const specs =
        o.design !== undefined
          ? designSpecs(parseDesigns(o.design), base)
          : [
              {
                ...base,
                methods: list(o.methods) as DropoutMethod[],
                tasks: list(o.tasks),
                pcts: list(o.pcts).map((p) => number(p, '--pcts')),
                seeds: list(o.seeds).map((s) => number(s, '--seeds')),
              },
            ];
      if (o.executor === 'slurm') {
        if (cmd.getOptionValueSource('jobs') === 'cli')
          throw new Error('--jobs is for --executor local; with slurm, --max-parallel limits the runs at a time');
        let r = submitSweep(specs, slurm, (line) => console.error(line));
        if (o.wait !== undefined) {
          await awaitSweep(o.out);
          const merged = mergeSweep(specs, (line) => console.error(line));
          r = { ...r, done: r.total - merged.tasks.size, queued: 0 };
          for (const line of formatStatus(o.out, sweepStatus(o.out))) console.error(line);
        }
        const submitted = `${r.submitted} submitted${r.job ? ` as job ${r.job}` : ''}`;
        console.log(
          r.done === r.total
            ? `sweep: all ${r.total} runs done; results in ${path.join(o.out, RESULTS_FILE)}, summary in ${path.join(o.out, SUMMARY_FILE)}`
            : `sweep: ${r.done} of ${r.total} runs done, ${r.queued} already queued, ${submitted}; see \`fisherlab sweep --status --out ${o.out}\`, and run this command again when they end`,
        );
        return;
      }
      await initBackend();
      let ran = 0;
      const jobs = positiveInt(o.jobs, '--jobs');
      // each part's ETA counts the parts after it
      const cellsOf = specs.map(sweepCells);
      for (const [i, spec] of specs.entries())
        ran += (await runSweep(spec, { jobs, later: cellsOf.slice(i + 1).flat() })).ran;
      console.log(
        `sweep: ${ran} runs done; results in ${path.join(o.out, RESULTS_FILE)}, summary in ${path.join(o.out, SUMMARY_FILE)}`,
      );
    });

  program
    .command('sweep-run', { hidden: true })
    .description(
      'one run of a sweep in its own process: fine-tune with the settings of a JSON file and write the result as JSON (used by sweep --jobs and the Slurm tasks)',
    )
    .requiredOption('--settings <file>', 'FinetuneSettings as JSON (with --record: a SweepTask)')
    .requiredOption('--glue <dir>', 'GLUE folder')
    .requiredOption('--output <file>', 'result JSON')
    .option(
      '--record',
      'the settings file is a planned sweep run (cell, model fingerprint, Fisher file, settings); write its results.jsonl line',
    )
    .action(async (o: { settings: string; glue: string; output: string; record?: boolean }) => {
      const input = JSON.parse(fs.readFileSync(o.settings, 'utf8')) as FinetuneSettings | SweepTask;
      await initBackend();
      const result = await finetune(o.record ? (input as SweepTask).settings : (input as FinetuneSettings), o.glue);
      writeFileAtomic(o.output, JSON.stringify(o.record ? sweepRecord(input as SweepTask, result) : result) + '\n');
    });
}
