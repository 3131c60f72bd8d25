/** `fisherlab sweep`: fine-tuning over dropout methods × GLUE tasks × training percentages × seeds, resumable. */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../atomic';
import { initBackend } from '../backend';
import { DROPOUT_METHODS, DropoutMethod, METHODS_HELP } from '../dropout-methods';
import { finetune, FinetuneSettings } from '../finetune';
import { DESIGN_PROTOCOL, DESIGNS, designSpecs, parseDesigns } from '../glue-designs';
import { resolveModelDir } from '../models';
import { RESULTS_FILE, runSweep, SUMMARY_FILE } from '../sweep';
import { addTrainingOptions, DEFAULTS_HELP, glueDirOf, trainingSettings } from './finetune';
import { number, positiveInt } from './options';

/** The comma-separated items of an option. */
function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Adds the `sweep` command. */
export function register(program: Command): void {
  const command = program
    .command('sweep')
    .summary('fine-tuning sweep: methods × tasks × percentages × seeds (resumable)')
    .description(`fine-tune every (method, task, training percentage, seed) cell, seeds outermost; each finished run is appended as one JSON line to OUT/${RESULTS_FILE}, and running the same command again skips finished runs (a half-written last line from a kill is dropped and redone); OUT/${SUMMARY_FILE} holds the mean ± sample std over seeds of the main score and every metric per cell; progress with ETA over runs on stderr`)
    .option('--tasks <list>', 'GLUE tasks, comma-separated (CoLA,SST-2,MRPC,STS-B,RTE,WNLI...); or give --design')
    .option('--design <list>', `the paper's sweeps instead of --tasks/--pcts/--seeds/--methods, under the authors' protocol unless --protocol is given: ${DESIGNS.map((d) => d.name).join(', ')} or all (one results folder; cells shared between designs run once)`)
    .option('--methods <list>', `dropout methods, comma-separated (${DROPOUT_METHODS.join(', ')})`, 'standard,guided,gaussian')
    .option('--pcts <list>', 'training-set percentages, comma-separated', '100')
    .option('--seeds <list>', 'seeds, comma-separated', '1,2,3')
    .option('--fisher <file>', 'the pretrained model\'s Fisher file (safetensors from `fisherlab fisher`), needed by guided methods')
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .option('--jobs <n>', 'runs at a time, each in its own process with one wasm thread (2 uses both cores here)', '1');
  addTrainingOptions(command)
    .requiredOption('--out <dir>', `folder for ${RESULTS_FILE} and ${SUMMARY_FILE}`)
    .addHelpText('after', `\nDropout methods:\n${METHODS_HELP}\n\n${DEFAULTS_HELP}\n\nExamples:\n  npx fisherlab sweep --design all --fisher data/fisher/fisherlab-bert-l4-h128-1pct.safetensors --jobs 2 --out data/results/fisherlab-bert-l4-h128\n  npx fisherlab sweep --tasks CoLA,MRPC --methods standard,guided,gaussian --pcts 10,25,50,100 --seeds 1,2,3 \\\n    --fisher out/fisher/embedded-1pct.safetensors --jobs 2 --out data/results/embedded`)
    .action(async (o: Record<string, string>, cmd: Command) => {
      if ((o.tasks === undefined) === (o.design === undefined)) throw new Error('give either --tasks (with --pcts, --seeds, --methods) or --design');
      const model = resolveModelDir(o.model);
      const training = trainingSettings(o, model, 'sweep');
      // The designs run under the authors' protocol unless --protocol says otherwise.
      if (o.design !== undefined && cmd.getOptionValueSource('protocol') !== 'cli') training.protocol = DESIGN_PROTOCOL;
      const base = { model, fisher: o.fisher, glueDir: glueDirOf(o), out: o.out, training };
      const specs = o.design !== undefined
        ? designSpecs(parseDesigns(o.design), base)
        : [{ ...base, methods: list(o.methods) as DropoutMethod[], tasks: list(o.tasks), pcts: list(o.pcts).map((p) => number(p, '--pcts')), seeds: list(o.seeds).map((s) => number(s, '--seeds')) }];
      await initBackend();
      let ran = 0;
      for (const spec of specs) ran += (await runSweep(spec, { jobs: positiveInt(o.jobs, '--jobs') })).ran;
      console.log(`sweep: ${ran} runs done; results in ${path.join(o.out, RESULTS_FILE)}, summary in ${path.join(o.out, SUMMARY_FILE)}`);
    });

  program
    .command('sweep-run', { hidden: true })
    .description('one run of a sweep in its own process: fine-tune with the settings of a JSON file and write the result as JSON (used by sweep --jobs)')
    .requiredOption('--settings <file>', 'FinetuneSettings as JSON')
    .requiredOption('--glue <dir>', 'GLUE folder')
    .requiredOption('--output <file>', 'result JSON')
    .action(async (o: { settings: string; glue: string; output: string }) => {
      const settings = JSON.parse(fs.readFileSync(o.settings, 'utf8')) as FinetuneSettings;
      await initBackend();
      const result = await finetune(settings, o.glue);
      writeFileAtomic(o.output, JSON.stringify(result) + '\n');
    });
}
