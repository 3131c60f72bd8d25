/** `fisherlab download`: fetch a Hugging Face BERT checkpoint folder from the Hub. */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_ENDPOINT, downloadModel } from '../bert/hub';

/** A positive number of seconds from the command line. */
function seconds(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** Adds the `download` subcommand to the program. */
export function register(program: Command): void {
  program
    .command('download')
    .summary('download a Hugging Face BERT folder (resumable)')
    .description(
      'download a Hugging Face BERT checkpoint (config.json, vocab.txt, and model.safetensors, sharded safetensors or pytorch_model.bin) into a folder',
    )
    .requiredOption('--model <id>', 'model id on the Hub, e.g. bert-base-uncased or google/bert_uncased_L-2_H-128_A-2')
    .requiredOption('--to <dir>', 'destination folder (created when absent)')
    .option('--endpoint <url>', `Hub address (default: $HF_ENDPOINT, else ${DEFAULT_ENDPOINT})`)
    .option('--revision <rev>', 'branch, tag or commit', 'main')
    .option('--timeout <seconds>', 'give up when a server does not answer within this time', seconds, 10)
    .addHelpText(
      'after',
      `
Files go to DIR/FILE.part first and are renamed once their size is checked; run the command again after an
interruption and it resumes with a Range request. Files already in DIR are skipped. The folder is verified
at the end (every tensor against config.json).

The weights are the first the repository has of model.safetensors, model.safetensors.index.json (with its
shards), pytorch_model.bin and pytorch_model.bin.index.json (with its shards). Without network access, copy a
Hugging Face BERT folder (config.json, those weights, vocab.txt) from a machine that has one and pass it to
other commands with --model DIR.

Example:
  fisherlab download --model bert-base-uncased --to models/bert-base-uncased`,
    )
    .action(async (opts: { model: string; to: string; endpoint?: string; revision: string; timeout: number }) => {
      const checkpoint = await downloadModel({
        model: opts.model,
        to: opts.to,
        endpoint: opts.endpoint,
        revision: opts.revision,
        connectTimeout: opts.timeout,
      });
      for (const w of checkpoint.warnings) console.error(`warning: ${w}`);
      const values = [...checkpoint.weights.values()].reduce((n, t) => n + t.data.length, 0);
      const parts =
        Object.entries(checkpoint.parts)
          .filter(([, on]) => on)
          .map(([k]) => k)
          .join(', ') || 'encoder only';
      console.log(`${opts.to}: ${checkpoint.weights.size} tensors, ${values} parameters (${parts}), verified`);
    });
}
