/** `fisherlab fill-mask`: the most probable tokens at each [MASK] of a text. */
import { Command } from 'commander';
import { initBackend } from '../backend';
import { loadMaskedLm } from '../bert/load';
import { fillMask } from '../bert/fill-mask';
import { resolveModelDir } from '../bert/model-dir';
import { loadTokenizer } from '../bert/tokenizer';

/** Adds the `fill-mask` command. */
export function register(program: Command): void {
  program
    .command('fill-mask')
    .summary('top-k tokens at each [MASK] of a text')
    .description('print the top-k tokens, with probabilities, at every [MASK] of a text')
    .option('--model <dir>', 'Hugging Face BERT folder with a masked-LM head (default: the embedded model)')
    .requiredOption('--text <text>', 'text containing one or more [MASK] tokens')
    .option('--top-k <k>', 'number of candidates per mask', '5')
    .option('--json', 'print JSON instead of a table')
    .addHelpText('after', '\nExample:\n  npx fisherlab fill-mask --text "the capital of france is [MASK] ."')
    .action(async (opts: { model?: string; text: string; topK: string; json?: boolean }) => {
      const topK = Number(opts.topK);
      if (!Number.isInteger(topK) || topK < 1) throw new Error(`--top-k must be a positive integer (got ${opts.topK})`);
      await initBackend({ quiet: opts.json });
      const dir = resolveModelDir(opts.model);
      const model = loadMaskedLm(dir, 'fill-mask', opts.json ? () => {} : undefined);
      const predictions = fillMask(model, loadTokenizer(dir), opts.text, topK);
      model.dispose();
      if (opts.json) {
        console.log(JSON.stringify(predictions, null, 1));
        return;
      }
      for (const { position, candidates } of predictions) {
        console.log(`[MASK] at token ${position}:`);
        for (const c of candidates) console.log(`  ${c.token.padEnd(20)} ${c.probability.toFixed(4)}`);
      }
    });
}
