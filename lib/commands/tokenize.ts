/** `fisherlab tokenize`: a JSONL file of texts (and text pairs) to BERT token ids. */
import * as fs from 'fs';
import { Command } from 'commander';
import { writeFileAtomic } from '../util/atomic';
import { JsonlRow, readJsonl } from '../util/jsonl';
import { loadTokenizer, Tokenizer } from '../bert/tokenizer';

interface TokenizeOptions {
  model?: string;
  vocab?: string;
  input: string;
  output: string;
  maxLength?: string;
  lowerCase: boolean;
}

/** Reads one input row's {text, text_pair?}; errors name the file and line. */
function textFields({ value, where }: JsonlRow): { text: string; textPair?: string } {
  const { text, text_pair: textPair } = value;
  if (typeof text !== 'string') throw new Error(`${where}: missing string field "text"`);
  if (textPair !== undefined && textPair !== null && typeof textPair !== 'string')
    throw new Error(`${where}: field "text_pair" must be a string`);
  return { text, textPair: typeof textPair === 'string' ? textPair : undefined };
}

/** Adds the `tokenize` command. */
export function register(program: Command): void {
  program
    .command('tokenize')
    .summary('tokenize a JSONL file with BERT WordPiece')
    .description(
      'tokenize a JSONL file of {"text", "text_pair"?} lines into {"tokens", "input_ids", "token_type_ids"} lines (BERT WordPiece, as Hugging Face BertTokenizer)',
    )
    .option('--model <dir>', 'model folder with vocab.txt (and tokenizer_config.json for do_lower_case)')
    .option('--vocab <file>', 'a vocab.txt file, instead of --model')
    .requiredOption(
      '--input <file>',
      'input JSONL: one {"text": "...", "text_pair": "..."} per line (text_pair optional; blank lines skipped)',
    )
    .requiredOption('--output <file>', 'output JSONL, one line per input line, written atomically')
    .option(
      '--max-length <n>',
      'truncate each sequence to n tokens including [CLS]/[SEP] (longest_first for pairs); no padding',
    )
    .option('--no-lower-case', 'keep case and accents (for cased vocabularies); overrides tokenizer_config.json')
    .addHelpText(
      'after',
      '\nExample:\n' +
        '  echo \'{"text": "Hello, my dog is cute", "text_pair": "He is."}\' > in.jsonl\n' +
        '  npx fisherlab tokenize --vocab ../shared/data/bert-base-uncased/vocab.txt --input in.jsonl --output out.jsonl --max-length 128',
    )
    .action(function (this: Command, opts: TokenizeOptions) {
      if ((opts.model === undefined) === (opts.vocab === undefined))
        throw new Error('tokenize: give exactly one of --model DIR or --vocab FILE');
      const maxLength = opts.maxLength === undefined ? undefined : Number(opts.maxLength);
      if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 3)) {
        throw new Error(`--max-length must be an integer of at least 3 (got ${opts.maxLength})`);
      }
      const overrides = this.getOptionValueSource('lowerCase') === 'cli' ? { doLowerCase: opts.lowerCase } : {};
      const tokenizer =
        opts.vocab !== undefined
          ? Tokenizer.fromVocabFile(opts.vocab, overrides)
          : loadTokenizer(opts.model!, overrides);
      if (!fs.existsSync(opts.input)) throw new Error(`${opts.input}: input file not found`);
      const out: string[] = [];
      for (const row of readJsonl(opts.input, 'a JSON object with a "text" field')) {
        const { where } = row;
        const { text, textPair } = textFields(row);
        let enc;
        try {
          enc = tokenizer.encode(text, textPair, { maxLength });
        } catch (e) {
          throw new Error(`${where}: ${(e as Error).message}`);
        }
        out.push(
          JSON.stringify({ tokens: enc.tokens, input_ids: enc.input_ids, token_type_ids: enc.token_type_ids }) + '\n',
        );
      }
      writeFileAtomic(opts.output, out.join(''));
      console.log(`tokenized ${out.length} lines into ${opts.output}`);
    });
}
