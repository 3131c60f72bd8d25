/** `fisherlab finetune`: one fine-tuning run on a GLUE task, results as JSON; also the training options `sweep` shares. */
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../util/atomic';
import { initBackend } from '../backend';
import {
  DROPOUT_METHODS,
  DropoutMethod,
  methodDropout,
  METHODS_HELP,
  modelDropoutSites,
} from '../guided-dropout/methods';
import { FINETUNE_DEFAULTS, finetune, FinetuneSettings } from '../glue/finetune';
import { glueDataDir } from '../glue/load';
import { TASK_NAMES } from '../glue/tasks';
import { resolveModelDir } from '../bert/model-dir';
import type { TrainingSettings } from '../sweep/run';
import { describeRecipe, modelRecipe, PAPER_RECIPE_MIN_HIDDEN, RECIPE_FILE, RECIPES } from '../glue/recipes';
import { number } from './options';

/** Adds the options of the training settings (protocol, caps, epochs, batch size, optimizer, length) and --glue. */
export function addTrainingOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--protocol <name>', 'official: train → dev; authors: pooled train+dev, 80/20 split by seed')
        .choices(['official', 'authors'])
        .default(FINETUNE_DEFAULTS.protocol),
    )
    .option('--max-train <n>', 'cap on training examples (0: none)', String(FINETUNE_DEFAULTS.maxTrainExamples))
    .option('--max-eval <n>', 'cap on examples per evaluation set (0: none)', String(FINETUNE_DEFAULTS.maxEvalExamples))
    .option(
      '--recipe <name|file>',
      `fine-tuning recipe: ${Object.keys(RECIPES).join(', ')} or a JSON file (default: the model's, see below)`,
    )
    .option('--epochs <n>', "epochs (default: the recipe's)")
    .option('--batch-size <n>', "sequences per step (default: the recipe's)")
    .option('--lr <x>', "peak learning rate, AdamW with linear decay (default: the recipe's)")
    .option('--warmup-ratio <x>', "share of steps with linear warm-up (default: the recipe's)")
    .option('--weight-decay <x>', "AdamW weight decay (default: the recipe's)")
    .option('--max-length <n>', "tokens per sequence, pairs truncated longest-first (default: the recipe's)")
    .option('--glue <dir>', 'GLUE folder (default: $FISHERLAB_DATA/glue, i.e. ../shared/data/glue)');
}

/** The training settings from the options `addTrainingOptions` adds: the model's recipe (printed), overridden by flags given. */
export function trainingSettings(o: Record<string, string>, modelDir: string, label: string): TrainingSettings {
  const recipe = modelRecipe(modelDir, o.recipe);
  const or = (key: string, flag: string, fallback: number) => (o[key] === undefined ? fallback : number(o[key], flag));
  const settings: TrainingSettings = {
    protocol: o.protocol as FinetuneSettings['protocol'],
    maxTrainExamples: number(o.maxTrain, '--max-train'),
    maxEvalExamples: number(o.maxEval, '--max-eval'),
    epochs: or('epochs', '--epochs', recipe.epochs),
    batchSize: or('batchSize', '--batch-size', recipe.batchSize),
    lr: or('lr', '--lr', recipe.lr),
    warmupRatio: or('warmupRatio', '--warmup-ratio', recipe.warmupRatio),
    weightDecay: or('weightDecay', '--weight-decay', recipe.weightDecay),
    maxLength: or('maxLength', '--max-length', recipe.maxLength),
  };
  const overridden = ['epochs', 'batchSize', 'lr', 'warmupRatio', 'weightDecay', 'maxLength'].filter(
    (k) => o[k] !== undefined,
  );
  console.error(
    `${label}: ${describeRecipe(recipe)}${overridden.length ? `; overridden by flags: ${overridden.map((k) => `${k} ${settings[k as keyof TrainingSettings]}`).join(', ')}` : ''}`,
  );
  return settings;
}

/** The GLUE folder: --glue, else $FISHERLAB_DATA/glue; an error when neither is there. */
export function glueDirOf(o: Record<string, string>): string {
  const glue = o.glue ?? glueDataDir();
  if (!glue)
    throw new Error(
      'no GLUE folder: pass --glue DIR or set FISHERLAB_DATA (get the data with `fisherlab glue-download`)',
    );
  return glue;
}

/** Help text on the defaults, shared by finetune and sweep. */
export const DEFAULTS_HELP = [
  `Recipes (epochs, batch, lr, warm-up, weight decay, max length) follow the model: --recipe, else the folder's ${RECIPE_FILE}`,
  `(the embedded model ships one), else "paper" for models of hidden size ≥ ${PAPER_RECIPE_MIN_HIDDEN} and "small" below. Flags override single fields.`,
  ...Object.entries(RECIPES).map(
    ([name, r]) =>
      `  ${name.padEnd(6)} lr ${r.lr}, batch ${r.batchSize}, ${r.epochs} epochs, warm-up ${r.warmupRatio}, weight decay ${r.weightDecay}, max length ${r.maxLength}`,
  ),
  'The run prints the recipe in force when it starts.',
].join('\n');

/** Adds the `finetune` command. */
export function register(program: Command): void {
  const command = program
    .command('finetune')
    .summary('fine-tune on a GLUE task, results as JSON')
    .description(
      'fine-tune a BERT folder on one GLUE task (classification, or regression for STS-B), evaluating after every epoch; writes the settings, per-epoch metrics, final metrics and wall time as JSON',
    )
    .addOption(new Option('--task <name>', 'GLUE task').choices([...TASK_NAMES]).makeOptionMandatory())
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .addOption(
      new Option(
        '--init <kind>',
        "start from the folder's weights, or from a random initialization of the same architecture",
      )
        .choices(['pretrained', 'random'])
        .default('pretrained'),
    )
    .option(
      '--train-pct <pct>',
      'train on this percentage of the shuffled training split',
      String(FINETUNE_DEFAULTS.trainPct),
    )
    .option('--seed <n>', 'seed of the split, data order, classifier initialization and dropout', '0')
    .addOption(
      new Option(
        '--dropout <method>',
        "dropout method at every site (default: the model config's dropout); guided ones need --fisher",
      ).choices([...DROPOUT_METHODS]),
    )
    .option(
      '--fisher <file>',
      "the pretrained model's Fisher file (safetensors from `fisherlab fisher`), for --dropout guided / guided-authors",
    );
  addTrainingOptions(command)
    .requiredOption('--output <file>', 'JSON file for the results')
    .addHelpText(
      'after',
      `\nDropout methods:\n${METHODS_HELP}\n\n${DEFAULTS_HELP}\n\nExamples:\n  npx fisherlab finetune --task SST-2 --train-pct 10 --seed 1 --output out/sst2.json\n  npx fisherlab finetune --task CoLA --dropout guided --fisher out/fisher/embedded-1pct.safetensors --output out/cola-guided.json`,
    )
    .action(async (o: Record<string, string>) => {
      const glue = glueDirOf(o);
      const model = resolveModelDir(o.model);
      if (o.fisher !== undefined && !o.dropout?.startsWith('guided'))
        throw new Error('--fisher is used by --dropout guided or guided-authors only');
      const dropout =
        o.dropout === undefined
          ? undefined
          : methodDropout(o.dropout as DropoutMethod, modelDropoutSites(model), {
              fisher: o.fisher,
              model,
              seed: number(o.seed, '--seed'),
            });
      const settings: FinetuneSettings = {
        ...trainingSettings(o, model, 'finetune'),
        task: o.task,
        model,
        init: o.init as FinetuneSettings['init'],
        trainPct: number(o.trainPct, '--train-pct'),
        seed: number(o.seed, '--seed'),
        ...(dropout ? { dropout } : {}),
      };
      await initBackend();
      const result = await finetune(settings, glue);
      writeFileAtomic(o.output, JSON.stringify({ ...result, dropoutMethod: o.dropout ?? null }, null, 1) + '\n');
      for (const e of result.epochs)
        console.log(
          `epoch ${e.epoch}: ${Object.entries(e.scores)
            .map(([n, sc]) => `${n} ${JSON.stringify(sc.metrics)}`)
            .join('; ')}`,
        );
      console.log(`wrote ${o.output} (${result.trainExamples} training examples, ${result.wallSeconds.toFixed(0)} s)`);
    });
}
