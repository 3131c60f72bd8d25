/** The WordPiece trainer: hand-worked merges, BERT's special ids, determinism, no [UNK] on training words, statistics and the CLI. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCorpus } from '../lib/pretrain/corpus';
import { basicTokenize, Tokenizer } from '../lib/bert/tokenizer';
import {
  BERT_SPECIAL_LAYOUT,
  countWords,
  trainWordPiece,
  vocabStats,
  writeVocab,
} from '../lib/pretrain/wordpiece-trainer';

/** The classic example: word counts whose merges can be worked out by hand. */
const CLASSIC = new Map([
  ['hug', 10],
  ['pug', 5],
  ['pun', 12],
  ['bun', 4],
  ['hugs', 5],
]);
const ALPHABET = ['b', 'g', 'h', 'n', 'p', 's', 'u'];
const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');

/** Puts WordPiece tokens back together into words (a ## piece continues the previous word). */
const joinPieces = (pieces: readonly string[]): string[] =>
  pieces.reduce<string[]>(
    (words, p) => (p.startsWith('##') ? [...words.slice(0, -1), words[words.length - 1] + p.slice(2)] : [...words, p]),
    [],
  );

describe('wordpiece trainer: the classic example', () => {
  it('merges the most frequent pair first, ties by the pair in string order, until no pair is left', () => {
    // h ##u ##g ×10, p ##u ##g ×5, p ##u ##n ×12, b ##u ##n ×4, h ##u ##g ##s ×5:
    // (##u,##g) 20 → ##ug; (##u,##n) 16 → ##un; (h,##ug) 15 → hug; (p,##un) 12 → pun;
    // hugs is now hug ##s: (hug,##s) 5 and (p,##ug) 5 tie, "hug" < "p" → hugs; then pug; (b,##un) 4 → bun.
    const tokens = trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 1 });
    expect(tokens.slice(0, 104)).to.deep.equal(BERT_SPECIAL_LAYOUT);
    expect(tokens.slice(104)).to.deep.equal([
      ...ALPHABET,
      ...ALPHABET.map((c) => `##${c}`),
      '##ug',
      '##un',
      'hug',
      'pun',
      'hugs',
      'pug',
      'bun',
    ]);
  });

  it('stops exactly at vocabSize', () => {
    const tokens = trainWordPiece(CLASSIC, { vocabSize: 104 + 14 + 3, minFrequency: 1 });
    expect(tokens).to.have.length(121);
    expect(tokens.slice(-3)).to.deep.equal(['##ug', '##un', 'hug']);
  });

  it('leaves out characters and pairs rarer than minFrequency', () => {
    // With minFrequency 5, b (4 times) leaves the alphabet and "bun" the training words: (##u,##n) drops to 12, below (h,##ug) 15,
    // and ties (p,##u) 12, "##u" < "p"; (b,##un) is gone.
    const tokens = trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 5 });
    const rest = ALPHABET.filter((c) => c !== 'b');
    expect(tokens.slice(104)).to.deep.equal([
      ...rest,
      ...rest.map((c) => `##${c}`),
      '##ug',
      'hug',
      '##un',
      'pun',
      'hugs',
      'pug',
    ]);
    expect(Tokenizer.fromTokens(tokens).tokenize('bun hugs pun')).to.deep.equal(['[UNK]', 'hugs', 'pun']);
    // With 6, s (5) goes too and with it "hugs"; (p,##u) 17 → pu; (pu,##n) 12 → pun; (##u,##g) 10 ties (h,##u) 10 → ##ug; hug; pug (5) stays split.
    const six = ['g', 'h', 'n', 'p', 'u'];
    expect(trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 6 }).slice(104)).to.deep.equal([
      ...six,
      ...six.map((c) => `##${c}`),
      'pu',
      'pun',
      '##ug',
      'hug',
    ]);
  });

  it('gives the same vocabulary whatever the order of the words', () => {
    const reversed = new Map([...CLASSIC].reverse());
    expect(trainWordPiece(reversed, { vocabSize: 200, minFrequency: 1 })).to.deep.equal(
      trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 1 }),
    );
  });

  it('refuses a vocabulary too small for the special tokens and the alphabet, and bad options', () => {
    expect(() => trainWordPiece(CLASSIC, { vocabSize: 117, minFrequency: 1 })).to.throw('vocabSize 117 is too small');
    expect(() => trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 0 })).to.throw(
      'minFrequency must be an integer of at least 1',
    );
    expect(() => trainWordPiece(CLASSIC, { vocabSize: 200.5 })).to.throw('vocabSize must be an integer');
  });
});

describe('wordpiece trainer: on text', function () {
  this.timeout(60_000);
  const sentences = loadCorpus('brown')
    .slice(0, 12)
    .flatMap((d) => d.sentences);
  let tokens: string[] = [];
  before(() => {
    tokens = trainWordPiece(sentences, { vocabSize: 1500, minFrequency: 1 });
  });

  it('counts words as BERT basic tokenization splits them, whatever the whitespace', () => {
    const text = 'Héllo, WORLD!\u00a0a\u000bb c\u3000d\u2028e\tf\ufeffg hello';
    const expected = new Map<string, number>();
    for (const w of basicTokenize(text)) expected.set(w, (expected.get(w) ?? 0) + 1);
    expect(countWords([text])).to.deep.equal(expected);
    expect(countWords([text]).get('hello')).to.equal(2);
    expect(countWords(['Héllo hello'], false)).to.deep.equal(
      new Map([
        ['Héllo', 1],
        ['hello', 1],
      ]),
    );
  });

  it("has bert-base-uncased's special ids and exactly vocabSize distinct tokens", () => {
    expect(tokens).to.have.length(1500);
    expect(new Set(tokens).size).to.equal(1500);
    const tokenizer = Tokenizer.fromTokens(tokens);
    expect([tokenizer.padId, tokenizer.unkId, tokenizer.clsId, tokenizer.sepId, tokenizer.maskId]).to.deep.equal([
      0, 100, 101, 102, 103,
    ]);
    expect([tokens[1], tokens[99]]).to.deep.equal(['[unused0]', '[unused98]']);
    expect(tokens).to.include.members(['the', '.', ',', '##s', 'jury']);
  });

  it('tokenizes every training sentence without [UNK], and the pieces join back into the words', () => {
    const tokenizer = Tokenizer.fromTokens(tokens);
    for (const s of sentences) {
      const pieces = tokenizer.tokenize(s);
      expect(pieces, s).to.not.include('[UNK]');
      expect(joinPieces(pieces), s).to.deep.equal(basicTokenize(s));
    }
    const ids = tokenizer.encode('The jury said, "It is over."').input_ids;
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).to.equal('the jury said, " it is over. "');
  });

  it('is deterministic', () => {
    expect(trainWordPiece(sentences, { vocabSize: 1500, minFrequency: 1 })).to.deep.equal(tokens);
  });

  it('keeps case and accents when lowerCase is false', () => {
    const cased = trainWordPiece(['The Thé the THE'], { vocabSize: 200, minFrequency: 1, lowerCase: false });
    expect(cased).to.include.members(['T', 't', '##é', '##E', 'The', 'THE']);
    const uncased = trainWordPiece(['The Thé the THE'], { vocabSize: 200, minFrequency: 1 });
    expect(uncased.slice(104)).to.deep.equal(['e', 'h', 't', '##e', '##h', '##t', '##he', 'the']);
  });
});

describe('wordpiece trainer: statistics and vocab.txt', () => {
  it('counts words, tokens and [UNK]s', () => {
    const tokens = trainWordPiece(CLASSIC, { vocabSize: 120, minFrequency: 1 }); // alphabet, ##ug, ##un
    // hugs → h ##ug ##s, bun → b ##un, xyz → [UNK], "," → [UNK]: 4 words, 7 tokens, 2 unknown.
    expect(vocabStats(tokens, ['hugs bun', 'XYZ,'])).to.deep.equal({
      words: 4,
      tokens: 7,
      unknown: 2,
      tokensPerWord: 7 / 4,
      unknownRate: 2 / 7,
    });
    expect(vocabStats(tokens, ['HUGS'], false).unknown).to.equal(1);
  });

  it('writes one token per line with a trailing newline, read back unchanged', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-vocab-'));
    try {
      const file = path.join(dir, 'vocab.txt');
      const tokens = trainWordPiece(CLASSIC, { vocabSize: 200, minFrequency: 1 });
      writeVocab(file, tokens);
      const text = fs.readFileSync(file, 'utf8');
      expect(text.endsWith('bun\n')).to.equal(true);
      expect(text.split('\n')).to.have.length(tokens.length + 1);
      expect(Tokenizer.fromVocabFile(file).tokenize('hugs pug')).to.deep.equal(['hugs', 'pug']);
      expect(() => writeVocab(file, ['[PAD]', 'a\nb'])).to.throw(
        `${file}: token 1 ("a\\nb") is empty or holds a line break`,
      );
      expect(fs.readFileSync(file, 'utf8')).to.equal(text);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('wordpiece trainer: the train-vocab command', function () {
  this.timeout(60_000);

  it('trains on the training split, writes vocab.txt and reports held-out tokens per word and [UNK] rate', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-train-vocab-'));
    try {
      const corpus = path.join(dir, 'corpus.jsonl');
      const texts = Array.from(
        { length: 40 },
        (_, i) => `Document ${i} is about hugs and puns. The pug hugs the bun number ${i * 7}.`,
      );
      fs.writeFileSync(corpus, texts.map((t) => JSON.stringify({ text: t })).join('\n'));
      const output = path.join(dir, 'vocab.txt');
      const run = spawnSync(
        process.execPath,
        [CLI, 'train-vocab', '--corpus', corpus, '--vocab-size', '200', '--held-out', '0.1', '--output', output],
        {
          encoding: 'utf8',
          env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
        },
      );
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^corpus: 40 documents, 80 sentences, 560 words, /m);
      expect(run.stdout).to.match(/^held out: 4 documents, 8 sentences, /m);
      const m = run.stdout.match(
        /^held out: ([\d.]+) tokens\/word \((\d+) tokens, (\d+) words after basic tokenization, punctuation included\), \[UNK\] 0\.000% of tokens \(0\)$/m,
      );
      expect(m, run.stdout).to.not.equal(null);
      expect(Number(m![3])).to.equal(8 * 8); // 4 documents of 14 words and 2 periods
      expect(Number(m![1])).to.be.closeTo(Number(m![2]) / Number(m![3]), 0.0005);
      expect(fs.readFileSync(output, 'utf8').split('\n')).to.have.length(201);
      const bad = spawnSync(
        process.execPath,
        [CLI, 'train-vocab', '--corpus', corpus, '--vocab-size', 'x', '--output', output],
        { encoding: 'utf8' },
      );
      expect(bad.status).to.not.equal(0);
      expect(bad.stderr).to.include('expected an integer of at least 1');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
