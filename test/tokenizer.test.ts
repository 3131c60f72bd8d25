/** The WordPiece tokenizer: hand-checked greedy matching on a tiny vocabulary, parity with Hugging Face's BertTokenizer, and the CLI. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sharedDataDir } from '../lib/paths';
import {
  basicTokenize,
  isChineseChar,
  isPunctuation,
  loadTokenizer,
  Tokenizer,
  truncateLongestFirst,
} from '../lib/bert/tokenizer';

/** A tiny vocabulary whose greedy longest-match results can be worked out by hand. */
const SMALL = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'un',
  '##aff',
  '##able',
  'unaff',
  'a',
  'ab',
  '##bc',
  'x',
  '##x',
  '!',
  'the',
];
const small = (): Tokenizer => Tokenizer.fromTokens(SMALL);

const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');

/** Runs `fisherlab tokenize ARGS`, returning its exit status and output. */
function tokenizeCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, 'tokenize', ...args], {
    encoding: 'utf8',
    env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
  });
}

describe('tokenizer: character classes and basic tokenization', () => {
  it('treats ASCII symbols and Unicode P* as punctuation, letters and digits not', () => {
    expect(['$', '^', '`', '~', '+', '<', '!', '«', '¿', '—', '。'].map(isPunctuation)).to.deep.equal(
      Array(11).fill(true),
    );
    expect(['a', 'Z', '5', 'é', '中', '☃', ' '].map(isPunctuation)).to.deep.equal(Array(7).fill(false));
  });

  it("recognizes CJK ideographs in Hugging Face's ranges only (not kana or hangul)", () => {
    expect([0x4e00, 0x9fff, 0x3400, 0xf900, 0x20000, 0x2f800].map(isChineseChar)).to.deep.equal(Array(6).fill(true));
    expect([0x3042, 0x30a2, 0xac00, 0x4dff, 0x2fa20, 0x41].map(isChineseChar)).to.deep.equal(Array(6).fill(false));
  });

  it('removes NUL, U+FFFD, control and format characters, and maps odd whitespace to spaces', () => {
    expect(basicTokenize('a\u0000b\uFFFDc\u0007d')).to.deep.equal(['abcd']);
    expect(basicTokenize('zero\u200bwidth')).to.deep.equal(['zerowidth']);
    expect(basicTokenize('tab\tnew\nline\r\u00a0nbsp\u3000ideo')).to.deep.equal(['tab', 'new', 'line', 'nbsp', 'ideo']);
    expect(basicTokenize('line\u2028sep')).to.deep.equal(['line', 'sep']);
  });

  it('lower-cases and strips accents by default; keeps both when doLowerCase is false; stripAccents alone', () => {
    expect(basicTokenize('Héllo WÖRLD!')).to.deep.equal(['hello', 'world', '!']);
    expect(basicTokenize('Héllo WÖRLD!', { doLowerCase: false })).to.deep.equal(['Héllo', 'WÖRLD', '!']);
    expect(basicTokenize('Héllo WÖRLD!', { doLowerCase: false, stripAccents: true })).to.deep.equal([
      'Hello',
      'WORLD',
      '!',
    ]);
    expect(basicTokenize('«¿Qué?»')).to.deep.equal(['«', '¿', 'que', '?', '»']);
  });

  it('composes characters (NFC) before splitting, so a decomposed é matches the precomposed one', () => {
    expect(basicTokenize('cafe\u0301', { doLowerCase: false })).to.deep.equal(['caf\u00e9']);
  });

  it('splits every ASCII symbol off, even those outside Unicode P*', () => {
    expect(basicTokenize('$5 ^_^ `a` ~b~')).to.deep.equal(['$', '5', '^', '_', '^', '`', 'a', '`', '~', 'b', '~']);
  });

  it('puts each CJK ideograph in its own word', () => {
    expect(basicTokenize('东京tokyo')).to.deep.equal(['东', '京', 'tokyo']);
  });

  it('leaves never-split words whole', () => {
    expect(basicTokenize('is [MASK] here', {}, new Set(['[MASK]']))).to.deep.equal(['is', '[MASK]', 'here']);
    expect(basicTokenize('is [MASK] here')).to.deep.equal(['is', '[', 'mask', ']', 'here']);
  });
});

describe('tokenizer: WordPiece on a hand-made vocabulary', () => {
  it('takes the longest match first, then continues with ## pieces', () => {
    expect(small().tokenize('unaffable')).to.deep.equal(['unaff', '##able']);
    expect(small().tokenize('abbc un')).to.deep.equal(['ab', '##bc', 'un']);
  });

  it('turns a whole word into one [UNK] when a piece has no match, even if another split existed', () => {
    // greedy takes "ab", then "##c" is missing; "a ##bc" would have worked but WordPiece does not backtrack
    expect(small().tokenize('abc')).to.deep.equal(['[UNK]']);
    expect(small().tokenize('Un!Aff the')).to.deep.equal(['un', '!', '[UNK]', 'the']);
  });

  it('tokenizes a 100-character word and turns a 101-character word into [UNK]', () => {
    expect(small().tokenize('x'.repeat(100))).to.deep.equal(['x', ...Array(99).fill('##x')]);
    expect(small().tokenize('x'.repeat(101))).to.deep.equal(['[UNK]']);
  });

  it('encodes with [CLS] A [SEP] B [SEP], segment ids, and looks tokens up both ways', () => {
    const t = small();
    expect(t.encode('the unaffable', 'ab!')).to.deep.equal({
      tokens: ['[CLS]', 'the', 'unaff', '##able', '[SEP]', 'ab', '!', '[SEP]'],
      input_ids: [2, 15, 8, 7, 3, 10, 14, 3],
      token_type_ids: [0, 0, 0, 0, 0, 1, 1, 1],
      attention_mask: [1, 1, 1, 1, 1, 1, 1, 1],
    });
    expect([t.vocabSize, t.clsId, t.sepId, t.padId, t.maskId, t.unkId]).to.deep.equal([16, 2, 3, 0, 4, 1]);
    expect([t.tokenToId('##bc'), t.tokenToId('nope'), t.idToToken(11)]).to.deep.equal([11, 1, '##bc']);
    expect(() => t.idToToken(16)).to.throw(/token id 16 is outside the vocabulary \(size 16\)/);
  });

  it('pads to maxLength with [PAD], type 0 and attention 0', () => {
    expect(small().encode('the x', undefined, { maxLength: 6, padding: 'max_length' })).to.deep.equal({
      tokens: ['[CLS]', 'the', 'x', '[SEP]', '[PAD]', '[PAD]'],
      input_ids: [2, 15, 12, 3, 0, 0],
      token_type_ids: [0, 0, 0, 0, 0, 0],
      attention_mask: [1, 1, 1, 1, 0, 0],
    });
    expect(() => small().encode('the', undefined, { padding: 'max_length' })).to.throw(/needs maxLength/);
  });

  it('batch-encodes padded to the longest, to maxLength, or not at all', () => {
    const t = small();
    const longest = t.encodeBatch(['the', 'the un ab'], ['x', 'x']);
    expect(longest.map((e) => e.input_ids)).to.deep.equal([
      [2, 15, 3, 12, 3, 0, 0],
      [2, 15, 5, 10, 3, 12, 3],
    ]);
    expect(longest.map((e) => e.attention_mask)).to.deep.equal([
      [1, 1, 1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1, 1, 1],
    ]);
    expect(longest.map((e) => e.token_type_ids)).to.deep.equal([
      [0, 0, 0, 1, 1, 0, 0],
      [0, 0, 0, 0, 0, 1, 1],
    ]);
    const fixed = t.encodeBatch(['the', 'the un ab'], undefined, { maxLength: 4, padding: 'max_length' });
    expect(fixed.map((e) => e.input_ids)).to.deep.equal([
      [2, 15, 3, 0],
      [2, 15, 5, 3],
    ]);
    expect(
      t.encodeBatch(['the', 'un ab'], undefined, { padding: 'none' }).map((e) => e.input_ids.length),
    ).to.deep.equal([3, 4]);
    expect(() => t.encodeBatch(['a', 'b'], ['c'])).to.throw(/2 texts but 1 text pairs/);
  });

  it("decodes ids back to text, joining ## pieces and tightening punctuation like Hugging Face's decode", () => {
    const t = small();
    expect(t.decode([2, 15, 8, 7, 14, 3])).to.equal('[CLS] the unaffable! [SEP]');
    expect(t.decode([2, 15, 8, 7, 14, 3], { skipSpecialTokens: true })).to.equal('the unaffable!');
  });

  it('rejects an empty vocabulary, missing special tokens and duplicates, naming the line', () => {
    expect(() => Tokenizer.fromTokens([])).to.throw(/vocabulary: the vocabulary is empty/);
    expect(() => Tokenizer.fromTokens(SMALL.filter((t) => t !== '[MASK]' && t !== '[PAD]'))).to.throw(
      /lacks the special token\(s\) \[PAD\] \[MASK\]/,
    );
    expect(() => Tokenizer.fromTokens([...SMALL, 'un'])).to.throw(
      /vocabulary:17: duplicate token "un" \(first on line 6\)/,
    );
  });
});

describe('tokenizer: vocab.txt and model folders', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-tokenizer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads one token per line (LF or CRLF, final newline optional), id = line number - 1', () => {
    const file = path.join(dir, 'vocab.txt');
    fs.writeFileSync(file, SMALL.join('\r\n'));
    const t = Tokenizer.fromVocabFile(file);
    expect([t.vocabSize, t.tokenToId('the'), t.tokenToId('[MASK]')]).to.deep.equal([16, 15, 4]);
    fs.writeFileSync(file, SMALL.join('\n') + '\n');
    expect(Tokenizer.fromVocabFile(file).vocabSize).to.equal(16);
  });

  it('names the file (and line) for a missing, empty, incomplete or duplicated vocabulary', () => {
    const file = path.join(dir, 'vocab.txt');
    expect(() => Tokenizer.fromVocabFile(file)).to.throw(`${file}: vocabulary file not found`);
    fs.writeFileSync(file, '');
    expect(() => Tokenizer.fromVocabFile(file)).to.throw(`${file}: the vocabulary file is empty`);
    fs.writeFileSync(file, 'the\n[PAD]\n');
    expect(() => Tokenizer.fromVocabFile(file)).to.throw(
      `${file}: the vocabulary lacks the special token(s) [UNK] [SEP] [CLS] [MASK]`,
    );
    fs.writeFileSync(file, [...SMALL.slice(0, 6), 'x', 'un', 'x'].join('\n'));
    expect(() => Tokenizer.fromVocabFile(file)).to.throw(`${file}:8: duplicate token "un" (first on line 6)`);
  });

  it('loads a model folder, taking do_lower_case from tokenizer_config.json (default true)', () => {
    fs.writeFileSync(path.join(dir, 'vocab.txt'), [...SMALL, 'The'].join('\n'));
    expect(loadTokenizer(dir).tokenize('The')).to.deep.equal(['the']);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: false }));
    expect(loadTokenizer(dir).tokenize('The')).to.deep.equal(['The']);
    expect(loadTokenizer(dir, { doLowerCase: true }).tokenize('The')).to.deep.equal(['the']);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{"do_lower_case": ');
    expect(() => loadTokenizer(dir)).to.throw(`${path.join(dir, 'tokenizer_config.json')}: invalid JSON`);
  });
});

describe("tokenizer: longest_first truncation (Hugging Face's slow tokenizer)", () => {
  const seq = (n: number, tag: string): string[] => Array.from({ length: n }, (_, i) => `${tag}${i}`);

  it('cuts a single sequence from the end', () => {
    expect(truncateLongestFirst(seq(5, 'a'), null, 5)).to.deep.equal([['a0', 'a1', 'a2'], null]);
  });

  it('cuts the longer sequence until both are equal, then alternates starting with the second', () => {
    expect(truncateLongestFirst(seq(9, 'a'), seq(3, 'b'), 10)).to.deep.equal([seq(4, 'a'), seq(3, 'b')]);
    expect(truncateLongestFirst(seq(4, 'a'), seq(3, 'b'), 6)).to.deep.equal([seq(2, 'a'), seq(1, 'b')]);
    expect(truncateLongestFirst(seq(2, 'a'), seq(6, 'b'), 7)).to.deep.equal([seq(2, 'a'), seq(2, 'b')]);
    expect(truncateLongestFirst(seq(3, 'a'), seq(3, 'b'), 8)).to.deep.equal([seq(3, 'a'), seq(2, 'b')]);
  });

  it('leaves short input alone and refuses a maxLength with no room for text', () => {
    expect(truncateLongestFirst(seq(2, 'a'), seq(2, 'b'), 7)).to.deep.equal([seq(2, 'a'), seq(2, 'b')]);
    expect(() => truncateLongestFirst(seq(2, 'a'), seq(2, 'b'), 2)).to.throw(/maxLength 2 leaves no room/);
  });
});

describe('tokenizer: parity with BertTokenizer on the real bert-base-uncased vocabulary', () => {
  let bert: Tokenizer;
  before(function () {
    const data = sharedDataDir();
    if (!data || !fs.existsSync(path.join(data, 'bert-base-uncased', 'vocab.txt'))) {
      console.warn('    skipped: the shared data (bert-base-uncased/vocab.txt) is missing; set FISHERLAB_DATA');
      this.skip();
    }
    bert = loadTokenizer(path.join(data!, 'bert-base-uncased'));
  });

  it('has the 30522 tokens and the usual special ids', () => {
    expect([bert.vocabSize, bert.padId, bert.unkId, bert.clsId, bert.sepId, bert.maskId]).to.deep.equal([
      30522, 0, 100, 101, 102, 103,
    ]);
  });

  it('encodes "Hello, my dog is cute" to the known ids', () => {
    const e = bert.encode('Hello, my dog is cute');
    expect(e.input_ids).to.deep.equal([101, 7592, 1010, 2026, 3899, 2003, 10140, 102]);
    expect(e.tokens).to.deep.equal(['[CLS]', 'hello', ',', 'my', 'dog', 'is', 'cute', '[SEP]']);
    expect(e.token_type_ids).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  // Every expected value below was produced by transformers' BertTokenizer (slow, Python) with this vocab.txt.
  const cases: Array<[string, string, string[], number[]?]> = [
    [
      'word pieces',
      'I have a new GPU!',
      ['i', 'have', 'a', 'new', 'gp', '##u', '!'],
      [1045, 2031, 1037, 2047, 14246, 2226, 999],
    ],
    ['accents stripped', 'Héllo wörld', ['hello', 'world'], [7592, 2088]],
    ['diaeresis and acute', 'naïve café', ['naive', 'cafe'], [15743, 7668]],
    [
      'CJK, one token per ideograph (爱 is not in the vocabulary)',
      '我爱北京',
      ['我', '[UNK]', '北', '京'],
      [1855, 100, 1781, 1755],
    ],
    ['CJK mixed with latin', 'I love 北京 and Tokyo東京!', ['i', 'love', '北', '京', 'and', 'tokyo', '東', '京', '!']],
    ['apostrophe', "don't", ['don', "'", 't'], [2123, 1005, 1056]],
    ['abbreviation', 'U.S.A.', ['u', '.', 's', '.', 'a', '.']],
    ['repeated punctuation', 'hello!!!', ['hello', '!', '!', '!']],
    ['hyphen', 'e-mail', ['e', '-', 'mail'], [1041, 1011, 5653]],
    ['decimal', '3.14', ['3', '.', '14'], [1017, 1012, 2403]],
    ['thousands', '1,000,000', ['1', ',', '000', ',', '000'], [1015, 1010, 2199, 1010, 2199]],
    ['year', '2024', ['202', '##4'], [16798, 2549]],
    ['greedy pieces', 'unaffable', ['una', '##ffa', '##ble'], [14477, 20961, 3468]],
    ['NUL, tab, no-break space, zero-width space', 'a\u0000b\tc\u00a0d\u200be', ['ab', 'c', 'de'], [11113, 1039, 2139]],
    ['a symbol with no vocabulary match', '☃ snowman', ['[UNK]', 'snow', '##man'], [100, 4586, 2386]],
    ['upper-case accents and ß', 'ÅNGSTRÖM straße', ['ang', '##strom', 'st', '##raße'], [17076, 15687, 2358, 27807]],
    [
      '[MASK] kept whole',
      'the capital is [MASK] .',
      ['the', 'capital', 'is', '[MASK]', '.'],
      [1996, 3007, 2003, 103, 1012],
    ],
    ['[MASK] next to punctuation', 'the capital is [MASK].', ['the', 'capital', 'is', '[MASK]', '.']],
    // the fast (Rust) tokenizer gives ##ο ##σ here: it lower-cases without the final-sigma rule
    ['final sigma (Python and JS lower-case it to ς)', 'ΣΊΣΥΦΟΣ', ['σ', '##ι', '##σ', '##υ', '##φ', '##ος']],
  ];
  for (const [label, text, tokens, ids] of cases) {
    it(`${label}: ${JSON.stringify(text)}`, () => {
      expect(bert.tokenize(text)).to.deep.equal(tokens);
      if (ids) expect(tokens.map((t) => bert.tokenToId(t))).to.deep.equal(ids);
    });
  }

  it('splits special tokens out of the text first, but not lower-case lookalikes', () => {
    expect(bert.tokenize('foo[MASK]bar')).to.deep.equal(['foo', '[MASK]', 'bar']);
    expect(bert.tokenize('[mask]')).to.deep.equal(['[', 'mask', ']']);
  });

  it('tokenizes a 100-character word and turns a 101-character word into [UNK]', () => {
    expect(bert.tokenize('x'.repeat(100))).to.deep.equal(['xx', ...Array(49).fill('##xx')]);
    expect(bert.tokenize('x'.repeat(101))).to.deep.equal(['[UNK]']);
  });

  it('pads to maxLength with [PAD] = 0 and attention mask 0', () => {
    const e = bert.encode('Hello, my dog is cute', undefined, { maxLength: 12, padding: 'max_length' });
    expect(e.input_ids).to.deep.equal([101, 7592, 1010, 2026, 3899, 2003, 10140, 102, 0, 0, 0, 0]);
    expect(e.attention_mask).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('truncates a sentence pair with longest_first to the exact tokens Hugging Face keeps', () => {
    const a = 'The quick brown fox jumps over the lazy dog';
    const e10 = bert.encode(a, 'A dog sleeps', { maxLength: 10 });
    expect(e10.input_ids).to.deep.equal([101, 1996, 4248, 2829, 4419, 102, 1037, 3899, 25126, 102]);
    expect(e10.token_type_ids).to.deep.equal([0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
    expect(bert.encode(a, 'A dog sleeps', { maxLength: 9 }).tokens).to.deep.equal([
      '[CLS]',
      'the',
      'quick',
      'brown',
      '[SEP]',
      'a',
      'dog',
      'sleeps',
      '[SEP]',
    ]);
    expect(bert.encode('The quick brown fox', 'A dog sleeps', { maxLength: 6 }).tokens).to.deep.equal([
      '[CLS]',
      'the',
      'quick',
      '[SEP]',
      'a',
      '[SEP]',
    ]);
    expect(bert.encode(a, undefined, { maxLength: 6 }).tokens).to.deep.equal([
      '[CLS]',
      'the',
      'quick',
      'brown',
      'fox',
      '[SEP]',
    ]);
    expect(bert.encode(a, undefined, { maxLength: 6, truncation: false }).tokens).to.have.length(11);
  });

  it('pads a batch to its longest sequence', () => {
    const batch = bert.encodeBatch(['Hello, my dog is cute', 'hi', 'a b']);
    expect(batch.map((e) => e.input_ids)).to.deep.equal([
      [101, 7592, 1010, 2026, 3899, 2003, 10140, 102],
      [101, 7632, 102, 0, 0, 0, 0, 0],
      [101, 1037, 1038, 102, 0, 0, 0, 0],
    ]);
    expect(batch.map((e) => e.attention_mask)).to.deep.equal([
      [1, 1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0, 0, 0],
      [1, 1, 1, 1, 0, 0, 0, 0],
    ]);
  });

  it('decodes like Hugging Face', () => {
    expect(bert.decode([101, 7592, 1010, 2026, 3899, 2003, 10140, 102])).to.equal('[CLS] hello, my dog is cute [SEP]');
    expect(bert.decode(bert.encode('I have a new GPU!').input_ids, { skipSpecialTokens: true })).to.equal(
      'i have a new gpu!',
    );
  });
});

describe('fisherlab tokenize (CLI)', function () {
  this.timeout(60_000);
  let dir = '';
  let vocab = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-tokenize-cli-'));
    vocab = path.join(dir, 'vocab.txt');
    fs.writeFileSync(vocab, SMALL.join('\n') + '\n');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes one line of tokens, ids and segment ids per input line, truncated to --max-length', () => {
    const input = path.join(dir, 'in.jsonl');
    const output = path.join(dir, 'out.jsonl');
    fs.writeFileSync(
      input,
      ['{"text": "The unaffable"}', '', '{"text": "un x x x", "text_pair": "ab abc"}'].join('\n') + '\n',
    );
    const r = tokenizeCli(['--vocab', vocab, '--input', input, '--output', output, '--max-length', '7']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.contain('tokenized 2 lines');
    const lines = fs
      .readFileSync(output, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).to.deep.equal([
      {
        tokens: ['[CLS]', 'the', 'unaff', '##able', '[SEP]'],
        input_ids: [2, 15, 8, 7, 3],
        token_type_ids: [0, 0, 0, 0, 0],
      },
      {
        tokens: ['[CLS]', 'un', 'x', '[SEP]', 'ab', '[UNK]', '[SEP]'],
        input_ids: [2, 5, 12, 3, 10, 1, 3],
        token_type_ids: [0, 0, 0, 0, 1, 1, 1],
      },
    ]);
  });

  it('keeps case with --no-lower-case', () => {
    const input = path.join(dir, 'case.jsonl');
    const output = path.join(dir, 'case-out.jsonl');
    fs.writeFileSync(input, '{"text": "The the"}\n');
    const r = tokenizeCli(['--vocab', vocab, '--input', input, '--output', output, '--no-lower-case']);
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(fs.readFileSync(output, 'utf8')).tokens).to.deep.equal(['[CLS]', '[UNK]', 'the', '[SEP]']);
  });

  it('names the file and line of a malformed JSON line or a missing "text", and writes no output', () => {
    const input = path.join(dir, 'bad.jsonl');
    const output = path.join(dir, 'bad-out.jsonl');
    fs.writeFileSync(input, '{"text": "the"}\n{"text": "un"\n');
    let r = tokenizeCli(['--vocab', vocab, '--input', input, '--output', output]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`${input}:2: invalid JSON`);
    fs.writeFileSync(input, '{"text": "the"}\n{"text": "un"}\n{"txt": "un"}\n');
    r = tokenizeCli(['--vocab', vocab, '--input', input, '--output', output]);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(`${input}:3: missing string field "text"`);
    expect(fs.existsSync(output)).to.equal(false);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('asks for exactly one of --model and --vocab', () => {
    const r = tokenizeCli(['--input', 'x.jsonl', '--output', 'y.jsonl']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain('give exactly one of --model DIR or --vocab FILE');
  });

  it('reads the model folder of the real bert-base-uncased vocabulary', function () {
    const data = sharedDataDir();
    if (!data || !fs.existsSync(path.join(data, 'bert-base-uncased', 'vocab.txt'))) {
      console.warn('    skipped: the shared data (bert-base-uncased/vocab.txt) is missing; set FISHERLAB_DATA');
      this.skip();
    }
    const input = path.join(dir, 'hello.jsonl');
    const output = path.join(dir, 'hello-out.jsonl');
    fs.writeFileSync(input, '{"text": "Hello, my dog is cute"}\n');
    const r = tokenizeCli(['--model', path.join(data!, 'bert-base-uncased'), '--input', input, '--output', output]);
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(fs.readFileSync(output, 'utf8')).input_ids).to.deep.equal([
      101, 7592, 1010, 2026, 3899, 2003, 10140, 102,
    ]);
  });
});
