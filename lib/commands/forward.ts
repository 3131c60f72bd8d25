/** `fisherlab forward`: one sequence through a model folder, every output written as JSON. */
import { Command } from 'commander';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic';
import { initBackend } from '../backend';
import { loadBert } from '../bert/load';
import { resolveModelDir } from '../bert/model-dir';
import { loadTokenizer } from '../bert/tokenizer';

/** Parses a comma-separated list of integers, naming the option on error. */
export function parseIdList(text: string, option: string): number[] {
  const ids = text.split(',').map((s) => s.trim());
  const bad = ids.find((s) => !/^\d+$/.test(s));
  if (bad !== undefined) throw new Error(`${option}: "${bad}" is not a non-negative integer`);
  return ids.map(Number);
}

interface ForwardOpts {
  model?: string;
  text?: string;
  textPair?: string;
  inputIds?: string;
  tokenTypeIds?: string;
  maxLength?: string;
  output: string;
}

/** Adds the `forward` command. */
export function register(program: Command): void {
  program
    .command('forward')
    .summary('one sequence through the model, outputs as JSON')
    .description(
      'run one sequence through the model in evaluation mode and write input_ids, token_type_ids, attention_mask, last_hidden_state [T][H], pooled_output [H] (with a pooler) and mlm_logits [T][V] (with a masked-LM head) as JSON',
    )
    .option('--model <dir>', 'Hugging Face BERT folder (default: the embedded model)')
    .option('--text <text>', "text to tokenize with the folder's vocab.txt")
    .option('--text-pair <text>', 'second segment (token type 1)')
    .option('--input-ids <ids>', 'comma-separated token ids instead of --text, e.g. 101,7592,102')
    .option('--token-type-ids <ids>', 'comma-separated token types for --input-ids (default all 0)')
    .option('--max-length <n>', 'truncate the tokenized text to n tokens')
    .requiredOption('--output <file>', 'JSON file to write')
    .addHelpText(
      'after',
      '\nExamples:\n  npx fisherlab forward --model DIR --text "hello world" --output out.json\n  npx fisherlab forward --model DIR --input-ids 101,7592,102 --output out.json',
    )
    .action(async (opts: ForwardOpts) => {
      if ((opts.text === undefined) === (opts.inputIds === undefined))
        throw new Error('give exactly one of --text and --input-ids');
      await initBackend();
      const dir = resolveModelDir(opts.model);
      const { model } = loadBert(dir);
      let inputIds: number[];
      let tokenTypeIds: number[];
      if (opts.text !== undefined) {
        const enc = loadTokenizer(dir).encode(opts.text, opts.textPair, {
          maxLength: opts.maxLength ? Number(opts.maxLength) : model.config.max_position_embeddings,
        });
        inputIds = enc.input_ids;
        tokenTypeIds = enc.token_type_ids;
      } else {
        inputIds = parseIdList(opts.inputIds!, '--input-ids');
        tokenTypeIds = opts.tokenTypeIds ? parseIdList(opts.tokenTypeIds, '--token-type-ids') : inputIds.map(() => 0);
        if (tokenTypeIds.length !== inputIds.length)
          throw new Error(`--token-type-ids has ${tokenTypeIds.length} values for ${inputIds.length} input ids`);
      }
      const attentionMask = inputIds.map(() => 1);
      const out = model.forward({
        input_ids: [inputIds],
        token_type_ids: [tokenTypeIds],
        attention_mask: [attentionMask],
      });
      const result: Record<string, unknown> = {
        input_ids: inputIds,
        token_type_ids: tokenTypeIds,
        attention_mask: attentionMask,
        last_hidden_state: out.lastHiddenState.arraySync()[0],
      };
      if (out.pooledOutput) result.pooled_output = out.pooledOutput.arraySync()[0];
      if (out.mlmLogits) result.mlm_logits = out.mlmLogits.arraySync()[0];
      if (out.logits) result.logits = out.logits.arraySync()[0];
      tf.dispose(Object.values(out));
      model.dispose();
      writeFileAtomic(opts.output, JSON.stringify(result));
      console.error(`wrote ${opts.output} (${Object.keys(result).join(', ')})`);
    });
}
