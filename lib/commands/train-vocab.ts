/** `fisherlab train-vocab`: a WordPiece vocab.txt trained on the training split of a corpus. */
import { Command, InvalidArgumentError } from 'commander';
import { corpusStats, CorpusStats, loadCorpus, splitCorpus } from '../pretrain/corpus';
import type { Document } from '../pretrain/document';
import { trainWordPiece, vocabStats, writeVocab } from '../pretrain/wordpiece-trainer';

interface TrainVocabOptions {
  corpus: string;
  vocabSize: number;
  minFrequency: number;
  heldOut: number;
  seed: number;
  output: string;
  lowerCase: boolean;
}

/** A command-line integer of at least `min`. */
const integer =
  (min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!(Number.isInteger(n) && n >= min)) throw new InvalidArgumentError(`expected an integer of at least ${min}`);
    return n;
  };

/** A command-line fraction in [0, 1). */
function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('expected a number in [0, 1)');
  return n;
}

/** Every sentence of the documents, in order. */
function* sentencesOf(docs: readonly Document[]): Generator<string> {
  for (const d of docs) for (const s of d.sentences) yield s;
}

/** One line of corpus sizes. */
const describe = (name: string, s: CorpusStats): string =>
  `${name}: ${s.documents} documents, ${s.sentences} sentences, ${s.words} words, ${s.characters} characters`;

/** Adds the `train-vocab` command. */
export function register(program: Command): void {
  program
    .command('train-vocab')
    .summary('train a WordPiece vocab.txt on a corpus')
    .description(
      'train a BERT WordPiece vocabulary (as Hugging Face WordPieceTrainer: BPE merges, ## continuations, bert-base-uncased special ids) ' +
        'on the training split of a corpus, and measure it on the held-out split',
    )
    .requiredOption(
      '--corpus <sources>',
      'comma-separated corpus sources: brown, sotu, wordnet, glue-train, a .txt or .jsonl file, a folder of .txt files',
    )
    .requiredOption('--output <file>', 'the vocab.txt to write (atomically)')
    .option('--vocab-size <n>', 'number of tokens, the 104 special tokens included', integer(1), 8192)
    .option('--min-frequency <n>', 'leave out characters and do not merge pairs seen fewer times', integer(1), 2)
    .option(
      '--held-out <fraction>',
      'share of documents held out of training (for the [UNK] rate and tokens per word)',
      fraction,
      0.05,
    )
    .option('--seed <n>', 'seed of the train / held-out split', integer(0), 0)
    .option('--no-lower-case', 'keep case and accents (a cased vocabulary)')
    .addHelpText(
      'after',
      '\nExample:\n  npx fisherlab train-vocab --corpus brown,sotu --vocab-size 8192 --output out/vocab-8k.txt',
    )
    .action((opts: TrainVocabOptions) => {
      const started = Date.now();
      const docs = loadCorpus(opts.corpus);
      const { train, heldOut } = splitCorpus(docs, { heldOutFraction: opts.heldOut, seed: opts.seed });
      const loaded = Date.now();
      console.log(describe('corpus', corpusStats(docs)));
      console.log(describe('train', corpusStats(train)));
      console.log(describe('held out', corpusStats(heldOut)));
      const tokens = trainWordPiece(sentencesOf(train), {
        vocabSize: opts.vocabSize,
        minFrequency: opts.minFrequency,
        lowerCase: opts.lowerCase,
      });
      const trained = Date.now();
      if (tokens.length < opts.vocabSize) {
        console.error(
          `warning: the vocabulary stopped at ${tokens.length} tokens: no pair occurs ${opts.minFrequency} times or more`,
        );
      }
      writeVocab(opts.output, tokens);
      console.log(`wrote ${tokens.length} tokens to ${opts.output}`);
      console.log(
        `time: loading ${((loaded - started) / 1000).toFixed(1)} s, training ${((trained - loaded) / 1000).toFixed(1)} s`,
      );
      for (const [name, part] of [
        ['train', train],
        ['held out', heldOut],
      ] as const) {
        if (part.length === 0) continue;
        const s = vocabStats(tokens, sentencesOf(part), opts.lowerCase);
        console.log(
          `${name}: ${s.tokensPerWord.toFixed(3)} tokens/word (${s.tokens} tokens, ${s.words} words after basic tokenization, punctuation included), ` +
            `[UNK] ${(100 * s.unknownRate).toFixed(3)}% of tokens (${s.unknown})`,
        );
      }
    });
}
