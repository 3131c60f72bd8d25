/** `fisherlab pretrain`: masked-LM pretraining from scratch, resumable, ending in a Hugging Face model folder. */
import { Command, Option } from 'commander';
import { defaultShardJobs, initBackend, SHARD_JOBS_HELP } from '../backend';
import { defaultRunDir } from '../paths';
import * as tf from '@tensorflow/tfjs';
import { pretrain, pretrainMicroBatches, pretrainProblem } from '../pretrain/run';
import {
  ATTENTION_INITS,
  POSITION_INITS,
  PRETRAIN_DEFAULTS,
  PretrainSettings,
  SHORT_STEPS_SHARE,
} from '../pretrain/settings';
import type { ShardReply, ShardRequest } from '../pretrain/shards';
import { formatDuration } from '../util/progress';
import { stopOnInterrupt } from '../util/run-dir';
import { SHIPPED } from '../shipped';

const NUMBERS: Array<[keyof PretrainSettings, string, string]> = [
  ['layers', '--layers <n>', 'encoder layers'],
  ['shortLength', '--short-length <n>', 'tokens per sequence during the sequence-length warm-up'],
  ['hidden', '--hidden <n>', 'hidden size'],
  ['heads', '--heads <n>', 'attention heads'],
  ['intermediate', '--intermediate <n>', 'feed-forward size'],
  ['maxLength', '--max-length <n>', 'tokens per sequence (documents are packed into sequences of this length)'],
  ['batchSize', '--batch-size <n>', 'sequences per step'],
  ['steps', '--steps <n>', 'optimizer steps'],
  ['lr', '--lr <x>', 'peak learning rate (AdamW)'],
  ['warmupSteps', '--warmup-steps <n>', 'linear warm-up steps, then linear decay to 0'],
  ['weightDecay', '--weight-decay <x>', 'AdamW weight decay (not on biases and LayerNorm)'],
  [
    'dropout',
    '--dropout <p>',
    'dropout probability at every site while pretraining (the saved config keeps 0.1 for fine-tuning)',
  ],
  [
    'jobs',
    '--jobs <n>',
    `processes that share each batch (data parallelism; the result depends on it; ${SHARD_JOBS_HELP})`,
  ],
  [
    'initializerRange',
    '--initializer-range <x>',
    "standard deviation of the initial weights (BERT's 0.02 suits hidden size 768)",
  ],
  [
    'maskProbability',
    '--mask-probability <p>',
    'share of tokens selected for the masked-LM loss in training (held-out evaluation: 0.15)',
  ],
  ['seed', '--seed <n>', 'seed of initialization, data order, masks and dropout'],
  ['heldOutFraction', '--held-out-fraction <x>', 'share of documents held out for evaluation'],
  ['evalExamples', '--eval-examples <n>', 'held-out sequences in the fixed evaluation set'],
  ['evalEvery', '--eval-every <n>', 'steps between held-out evaluations'],
  ['checkpointEvery', '--checkpoint-every <n>', 'steps between checkpoints'],
];

/** Adds the `pretrain` command (and its hidden shard worker). */
export function register(program: Command): void {
  registerShard(program);
  const cmd = program
    .command('pretrain')
    .summary('pretrain a BERT with masked LM (resumable)')
    .description(
      'pretrain a BERT from scratch with the masked-LM objective on a corpus; progress with ETA on stderr, atomic checkpoints in --run-dir, and running the same command again resumes where it stopped (Ctrl-C saves and stops); at the end writes a Hugging Face folder (config.json, model.safetensors, vocab.txt) with pretrain-report.json and pretrain-log.jsonl',
    )
    .requiredOption('--vocab <file>', 'WordPiece vocab.txt (see `fisherlab train-vocab`)')
    .requiredOption('--out <dir>', 'model folder to write at the end')
    .option(
      '--corpus <sources>',
      'comma-separated corpus sources: brown, sotu, wordnet, glue-train (the GLUE training splits under FISHERLAB_DATA, dev sentences removed), .txt/.jsonl files or folders',
      PRETRAIN_DEFAULTS.corpus,
    )
    .option(
      '--run-dir <dir>',
      'checkpoints and log (default: out/pretrain/<name of --out>-<hash of its absolute path>)',
    )
    .addOption(
      new Option(
        '--position-init <kind>',
        "initial position embeddings: BERT's normal init, or the sinusoidal table at the same scale (learned either way)",
      )
        .choices([...POSITION_INITS])
        .default(PRETRAIN_DEFAULTS.positionInit),
    )
    .addOption(
      new Option(
        '--attention-init <kind>',
        "initial attention: BERT's normal init, or mimetic (each key weight starts equal to its query weight, so attention starts by similarity)",
      )
        .choices([...ATTENTION_INITS])
        .default(PRETRAIN_DEFAULTS.attentionInit),
    )
    .option(
      '--short-steps <n>',
      `first steps trained on --short-length sequences, in batches holding as many tokens (attention over fewer positions learns word order sooner); 0: none (default: ${SHORT_STEPS_SHARE * 100}% of --steps)`,
    )
    .option('--stop-after <n>', 'stop after this many steps (a checkpoint is saved); run again to continue');
  for (const [key, flags, help] of NUMBERS)
    cmd.addOption(
      new Option(flags, help).default(
        String(key === 'jobs' ? defaultShardJobs() : PRETRAIN_DEFAULTS[key as keyof typeof PRETRAIN_DEFAULTS]),
      ),
    );
  cmd.addHelpText(
    'after',
    `\nThe defaults rebuild fisherlab-bert-l4-h128, whose corpus needs no download:\n  npx fisherlab pretrain --vocab data/vocab/brown-sotu-8k.txt --out data/models/NAME\nThe embedded model (${SHIPPED.model}) used other settings; its MODEL.md gives its exact command.`,
  );
  cmd.action(async (opts: Record<string, string>) => {
    const num = (k: keyof PretrainSettings, flag: string) => {
      const v = Number(opts[k]);
      if (!Number.isFinite(v)) throw new Error(`${flag}: "${opts[k]}" is not a number`);
      return v;
    };
    const settings = {
      corpus: opts.corpus,
      vocabFile: opts.vocab,
      positionInit: opts.positionInit,
      attentionInit: opts.attentionInit,
    } as PretrainSettings;
    for (const [key, flags] of NUMBERS)
      (settings as unknown as Record<string, number>)[key] = num(key, flags.split(' ')[0]);
    settings.shortSteps =
      opts.shortSteps === undefined
        ? Math.round(SHORT_STEPS_SHARE * settings.steps)
        : num('shortSteps', '--short-steps');
    await initBackend();
    const runDir = opts.runDir ?? defaultRunDir('pretrain', opts.out);
    const interrupt = stopOnInterrupt('pretrain', 'a checkpoint after this step');
    const report = await pretrain(settings, {
      runDir,
      out: opts.out,
      stopAfter: opts.stopAfter === undefined ? undefined : num('stopAfter' as keyof PretrainSettings, '--stop-after'),
      shouldStop: interrupt.stopped,
    }).finally(interrupt.dispose);
    if (report) {
      const h = report.heldOut;
      console.log(
        `wrote ${opts.out}: ${report.steps} steps, ${report.tokensSeen.toLocaleString('en-US')} tokens, ${formatDuration(report.wallSeconds)}`,
      );
      console.log(
        `held-out MLM loss ${h.model.loss.toFixed(3)} (untrained ${h.untrained.loss.toFixed(3)}, unigram ${h.unigram.loss.toFixed(3)}, neighbour bigrams ${h.bigram!.loss.toFixed(3)}); accuracy ${h.model.accuracy.toFixed(3)} (untrained ${h.untrained.accuracy.toFixed(3)}, unigram ${h.unigram.accuracy.toFixed(3)})`,
      );
    }
  });
}

/** Adds the hidden `pretrain-shard` command: the child process of `pretrain --jobs N` for one shard of every batch. */
function registerShard(program: Command): void {
  program
    .command('pretrain-shard', { hidden: true })
    .requiredOption('--settings <json>', "the run's settings")
    .requiredOption('--shard <i>', "this process's shard")
    .requiredOption('--shards <n>', 'shards per batch')
    .action(async (opts: { settings: string; shard: string; shards: string }) => {
      if (!process.send) throw new Error('pretrain-shard runs only as a child of `fisherlab pretrain --jobs N`');
      process.on('SIGINT', () => {}); // the parent handles Ctrl-C and stops this process when it has saved
      await initBackend();
      const settings = JSON.parse(opts.settings) as PretrainSettings;
      const problem = pretrainProblem(settings);
      const { checkpoint } = pretrainMicroBatches(settings, problem.config);
      const shard = { index: Number(opts.shard), count: Number(opts.shards) };
      const model = problem.newModel();
      const params = model.namedParameters();
      const send = (reply: ShardReply) => process.send!(reply);
      process.on('message', (m: ShardRequest) => {
        for (const [name, v] of params) tf.tidy(() => v.assign(tf.tensor(m.weights.get(name)!, v.shape)));
        const { value, grads } = tf.variableGrads(
          () => problem.shardLoss(model, m.step, m.seed, shard, checkpoint),
          params.map(([, v]) => v),
        );
        const reply = {
          loss: value.dataSync()[0],
          grads: new Map(params.map(([name, v]) => [name, grads[v.name].dataSync() as Float32Array])),
        };
        tf.dispose([value, ...Object.values(grads)]);
        send(reply);
      });
      send({ ready: true });
      await new Promise((resolve) => process.once('disconnect', resolve));
      model.dispose();
    });
}
