/** `fisherlab attention`: how much each head attends to the tokens at fixed offsets (does the model read word order?). */
import { Command } from 'commander';
import { attentionByOffset, heldOutSequences } from '../bert/attention-offsets';
import { initBackend } from '../backend';
import { loadBert } from '../bert/load';
import { resolveModelDir } from '../bert/model-dir';

/** Adds the `attention` command. */
export function register(program: Command): void {
  program
    .command('attention')
    .summary('attention by relative offset, per layer and head')
    .description(
      "print, for every layer and head, the mean attention a token gives to the tokens at each offset (held-out sequences of the model's pretraining corpus, full length, no padding; the embedded model's corpus includes the GLUE training text, so FISHERLAB_DATA must hold glue/); uniform attention gives 1/T everywhere, a head that reads its neighbours stands out at ±1",
    )
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .option('--sequences <n>', 'held-out sequences to average over', '8')
    .option('--offsets <list>', 'comma-separated offsets', '-2,-1,0,1,2')
    .addHelpText('after', '\nExample:\n  npx fisherlab attention --sequences 16')
    .action(async (opts: { model?: string; sequences: string; offsets: string }) => {
      await initBackend();
      const offsets = opts.offsets.split(',').map(Number);
      if (offsets.some((o) => !Number.isInteger(o)))
        throw new Error(`--offsets: "${opts.offsets}" is not a list of integers`);
      const n = Number(opts.sequences);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--sequences: "${opts.sequences}" is not a positive integer`);
      const dir = resolveModelDir(opts.model);
      const { model } = loadBert(dir);
      const { tokens, heads } = attentionByOffset(model, heldOutSequences(dir, n), offsets);
      model.dispose();
      console.log(
        `mean attention at each offset over ${n} held-out sequences of ${tokens} tokens (uniform: ${(1 / tokens).toFixed(4)})`,
      );
      console.log(`layer head ${offsets.map((o) => (o > 0 ? `+${o}` : String(o)).padStart(7)).join('')}`);
      for (const h of heads)
        console.log(
          `${String(h.layer).padStart(5)} ${String(h.head).padStart(4)} ${h.mass.map((m) => m.toFixed(4).padStart(7)).join('')}`,
        );
    });
}
