/** `fisherlab finetune`: one fine-tuning run on a GLUE task, results as JSON. */
import { Command, Option } from 'commander';
import { writeFileAtomic } from '../atomic';
import { initBackend } from '../backend';
import { FINETUNE_DEFAULTS, finetune, FinetuneSettings } from '../finetune';
import { glueDataDir } from '../glue/load';
import { TASK_NAMES } from '../glue/tasks';
import { resolveModelDir } from '../models';

/** Adds the `finetune` command. */
export function register(program: Command): void {
  program
    .command('finetune')
    .summary('fine-tune on a GLUE task, results as JSON')
    .description('fine-tune a BERT folder on one GLUE task (classification, or regression for STS-B), evaluating after every epoch; writes the settings, per-epoch metrics, final metrics and wall time as JSON')
    .addOption(new Option('--task <name>', 'GLUE task').choices([...TASK_NAMES]).makeOptionMandatory())
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .addOption(new Option('--init <kind>', 'start from the folder\'s weights, or from a random initialization of the same architecture').choices(['pretrained', 'random']).default('pretrained'))
    .addOption(new Option('--protocol <name>', 'official: train → dev; authors: pooled train+dev, 80/20 split by seed').choices(['official', 'authors']).default(FINETUNE_DEFAULTS.protocol))
    .option('--train-pct <pct>', 'train on this percentage of the shuffled training split', String(FINETUNE_DEFAULTS.trainPct))
    .option('--max-train <n>', 'cap on training examples (0: none)', String(FINETUNE_DEFAULTS.maxTrainExamples))
    .option('--max-eval <n>', 'cap on examples per evaluation set (0: none)', String(FINETUNE_DEFAULTS.maxEvalExamples))
    .option('--epochs <n>', 'epochs', String(FINETUNE_DEFAULTS.epochs))
    .option('--batch-size <n>', 'sequences per step', String(FINETUNE_DEFAULTS.batchSize))
    .option('--lr <x>', 'peak learning rate (AdamW, linear decay)', String(FINETUNE_DEFAULTS.lr))
    .option('--warmup-ratio <x>', 'share of steps with linear warm-up', String(FINETUNE_DEFAULTS.warmupRatio))
    .option('--weight-decay <x>', 'AdamW weight decay', String(FINETUNE_DEFAULTS.weightDecay))
    .option('--max-length <n>', 'tokens per sequence (pairs truncated longest-first)', String(FINETUNE_DEFAULTS.maxLength))
    .option('--seed <n>', 'seed of the split, data order, classifier initialization and dropout', '0')
    .option('--glue <dir>', 'GLUE folder (default: $FISHERLAB_DATA/glue, i.e. ../shared/data/glue)')
    .requiredOption('--output <file>', 'JSON file for the results')
    .addHelpText('after', `\nDefaults suit the embedded model (lr ${FINETUNE_DEFAULTS.lr}, batch ${FINETUNE_DEFAULTS.batchSize}, ${FINETUNE_DEFAULTS.epochs} epochs, max length ${FINETUNE_DEFAULTS.maxLength});\nthe authors used lr 2e-5, batch 18, 3 epochs, max length 512 for BERT-base.\n\nExample:\n  npx fisherlab finetune --task SST-2 --train-pct 10 --seed 1 --output out/sst2.json`)
    .action(async (o: Record<string, string>) => {
      const num = (flag: string, v: string) => {
        const x = Number(v);
        if (!Number.isFinite(x)) throw new Error(`${flag}: "${v}" is not a number`);
        return x;
      };
      const glue = o.glue ?? glueDataDir();
      if (!glue) throw new Error('no GLUE folder: pass --glue DIR or set FISHERLAB_DATA (get the data with `fisherlab glue-download`)');
      const settings: FinetuneSettings = {
        task: o.task, model: resolveModelDir(o.model), init: o.init as FinetuneSettings['init'], protocol: o.protocol as FinetuneSettings['protocol'],
        trainPct: num('--train-pct', o.trainPct), maxTrainExamples: num('--max-train', o.maxTrain), maxEvalExamples: num('--max-eval', o.maxEval),
        epochs: num('--epochs', o.epochs), batchSize: num('--batch-size', o.batchSize), lr: num('--lr', o.lr), warmupRatio: num('--warmup-ratio', o.warmupRatio),
        weightDecay: num('--weight-decay', o.weightDecay), maxLength: num('--max-length', o.maxLength), seed: num('--seed', o.seed),
      };
      await initBackend();
      const result = await finetune(settings, glue);
      writeFileAtomic(o.output, JSON.stringify(result, null, 1) + '\n');
      for (const e of result.epochs) console.log(`epoch ${e.epoch}: ${Object.entries(e.scores).map(([n, sc]) => `${n} ${JSON.stringify(sc.metrics)}`).join('; ')}`);
      console.log(`wrote ${o.output} (${result.trainExamples} training examples, ${result.wallSeconds.toFixed(0)} s)`);
    });
}
