/** The masked-LM data pipeline: exact packing, BERT masking rates, seeded determinism, batching and JSONL files. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  IGNORE_INDEX,
  batchIndices,
  collate,
  epochOrder,
  fixedMaskedSet,
  maskTokens,
  maskedExample,
  mlmBatches,
  mlmVocab,
  packSequences,
  readMaskedExamples,
  writeMaskedExamples,
} from '../lib/pretrain/mlm-data';
import { Rng, mixSeed } from '../lib/util/random';
import { Tokenizer } from '../lib/bert/tokenizer';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
/** Words a0…a19, b0…b19, c0…c19: a token's letter tells which document it came from. */
const WORDS = ['a', 'b', 'c'].flatMap((l) => Array.from({ length: 20 }, (_, i) => `${l}${i}`));
const tok = Tokenizer.fromTokens([...SPECIALS, ...WORDS]);
const id = (t: string): number => tok.tokenToId(t);
const ids = (text: string): number[] => text.split(' ').map(id);
const CLS = tok.clsId;
const SEP = tok.sepId;
const vocab = mlmVocab(tok);

/** A larger vocabulary for the rate statistics (5 specials + 200 words). */
const big = Tokenizer.fromTokens([...SPECIALS, ...Array.from({ length: 200 }, (_, i) => `w${i}`)]);
const bigVocab = mlmVocab(big);

/** `count` sequences of `length` random word ids, wrapped in [CLS] … [SEP]. */
function randomSequences(count: number, length: number, seed: number, v = bigVocab): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => [CLS, ...Array.from({ length }, () => 5 + rng.int(v.vocabSize - 5)), SEP]);
}

describe('mlm-data: packSequences', () => {
  const docs = [['a0 a1 a2', 'a3 a4 a5 a6'], ['b0 b1'], [], ['', 'c0 c1 c2 c3 c4 c5 c6 c7 c8']];

  it('cuts each document into maxLength-2 chunks, drops short tails but keeps a short only chunk', () => {
    expect(packSequences(tok, docs, { maxLength: 6 })).to.deep.equal([
      [CLS, ...ids('a0 a1 a2 a3'), SEP],
      [CLS, ...ids('b0 b1'), SEP],
      [CLS, ...ids('c0 c1 c2 c3'), SEP],
      [CLS, ...ids('c4 c5 c6 c7'), SEP],
    ]);
  });

  it('keeps trailing chunks of at least minTokens tokens and never mixes documents', () => {
    expect(packSequences(tok, docs, { maxLength: 6, minTokens: 3 })).to.deep.equal([
      [CLS, ...ids('a0 a1 a2 a3'), SEP],
      [CLS, ...ids('a4 a5 a6'), SEP],
      [CLS, ...ids('b0 b1'), SEP],
      [CLS, ...ids('c0 c1 c2 c3'), SEP],
      [CLS, ...ids('c4 c5 c6 c7'), SEP],
    ]);
  });

  it('with minTokens 1 loses no token: the chunks of a document concatenate back to it', () => {
    const rng = new Rng(3);
    const letters = ['a', 'b', 'c'];
    const documents = letters.map((l) =>
      Array.from({ length: 1 + rng.int(6) }, () =>
        Array.from({ length: rng.int(9) }, () => `${l}${rng.int(20)}`).join(' '),
      ),
    );
    const sequences = packSequences(tok, documents, { maxLength: 7, minTokens: 1 });
    for (const s of sequences) {
      expect(s[0]).to.equal(CLS);
      expect(s[s.length - 1]).to.equal(SEP);
      expect(s.length).to.be.within(3, 7);
    }
    const letterOf = (s: number[]): string => tok.idToToken(s[1])[0];
    for (const [d, l] of letters.entries()) {
      const mine = sequences.filter((s) => letterOf(s) === l);
      expect(mine.every((s) => s.slice(1, -1).every((t) => tok.idToToken(t)[0] === l))).to.equal(true);
      expect(mine.slice(0, -1).every((s) => s.length === 7)).to.equal(true);
      expect(mine.flatMap((s) => s.slice(1, -1))).to.deep.equal(documents[d].flatMap((s) => (s === '' ? [] : ids(s))));
    }
  });

  it("'truncate' gives one sequence per non-empty sentence, cut to maxLength", () => {
    expect(packSequences(tok, docs, { maxLength: 5, mode: 'truncate' })).to.deep.equal([
      [CLS, ...ids('a0 a1 a2'), SEP],
      [CLS, ...ids('a3 a4 a5'), SEP],
      [CLS, ...ids('b0 b1'), SEP],
      [CLS, ...ids('c0 c1 c2'), SEP],
    ]);
  });

  it('rejects empty input, token-less documents and a maxLength without room', () => {
    expect(() => packSequences(tok, [])).to.throw(/no documents/);
    expect(() => packSequences(tok, [[], ['', '  ']])).to.throw(/no tokens/);
    expect(() => packSequences(tok, docs, { maxLength: 2 })).to.throw(/maxLength must be an integer ≥ 3/);
  });
});

describe('mlm-data: maskTokens', () => {
  it("follows BERT's rates: 15% selected, then 80% [MASK] / 10% random / 10% kept (within 5 standard errors)", () => {
    const V = bigVocab.vocabSize;
    let candidates = 0;
    let selected = 0;
    let masked = 0;
    let kept = 0;
    const randoms: number[] = [];
    randomSequences(500, 200, 1).forEach((seq, i) => {
      const { input_ids, labels } = maskedExample(seq, i, 0, 42, bigVocab);
      seq.forEach((orig, j) => {
        if (bigVocab.specialIds.has(orig)) return;
        candidates++;
        if (labels[j] === IGNORE_INDEX) {
          expect(input_ids[j]).to.equal(orig);
          return;
        }
        expect(labels[j]).to.equal(orig);
        selected++;
        if (input_ids[j] === bigVocab.maskId) masked++;
        else if (input_ids[j] === orig) kept++;
        else randoms.push(input_ids[j]);
      });
    });
    const within = (count: number, total: number, p: number): void => {
      expect(Math.abs(count / total - p)).to.be.below(
        5 * Math.sqrt((p * (1 - p)) / total),
        `rate ${count}/${total} vs ${p}`,
      );
    };
    within(selected, candidates, 0.15);
    // A random replacement equal to [MASK] or to the original id looks masked or kept.
    within(masked, selected, 0.8 + 0.1 / V);
    within(kept, selected, 0.1 + 0.1 / V);
    within(randoms.length, selected, 0.1 * (1 - 2 / V));
    expect(Math.min(...randoms)).to.be.at.least(0);
    expect(Math.max(...randoms)).to.be.below(V);
    const mean = randoms.reduce((a, b) => a + b, 0) / randoms.length;
    expect(Math.abs(mean - (V - 1) / 2)).to.be.below(5 * Math.sqrt((V * V - 1) / 12 / randoms.length));
  });

  it('draws random replacements uniformly from the whole vocabulary, special ids included (as Hugging Face)', () => {
    const v = { vocabSize: 10, specialIds: new Set([0, 1, 2, 3, 4]), maskId: 4 };
    const seq = Array<number>(20000).fill(9);
    const { input_ids } = maskTokens(seq, { ...v, probability: 1, rng: new Rng(5) });
    const counts = Array<number>(10).fill(0);
    for (const t of input_ids) counts[t]++;
    // Each id has probability 0.1 / 10 of being the random replacement; [MASK] and the original also come from the other branches.
    const expected = [0.01, 0.01, 0.01, 0.01, 0.81, 0.01, 0.01, 0.01, 0.01, 0.11];
    counts.forEach((c, t) => {
      const p = expected[t];
      expect(Math.abs(c / seq.length - p)).to.be.below(5 * Math.sqrt((p * (1 - p)) / seq.length), `id ${t}: ${c}`);
    });
  });

  it('never selects special tokens and leaves unselected positions unchanged', () => {
    const seq = [CLS, id('a1'), tok.padId, id('a2'), tok.unkId, tok.maskId, id('a3'), SEP, tok.padId];
    for (let s = 0; s < 300; s++) {
      const { input_ids, labels } = maskTokens(seq, { ...vocab, probability: 0.9, rng: new Rng(s) });
      seq.forEach((orig, j) => {
        if (vocab.specialIds.has(orig)) {
          expect(labels[j]).to.equal(IGNORE_INDEX);
          expect(input_ids[j]).to.equal(orig);
        } else if (labels[j] === IGNORE_INDEX) {
          expect(input_ids[j]).to.equal(orig);
        } else {
          expect(labels[j]).to.equal(orig);
        }
      });
    }
  });

  it('selects every non-special token at probability 1 and does not modify its input', () => {
    const seq = [CLS, ...ids('a1 a2 a3 a4'), SEP];
    const copy = [...seq];
    const { labels } = maskTokens(seq, { ...vocab, probability: 1, rng: new Rng(0) });
    expect(labels).to.deep.equal([IGNORE_INDEX, ...ids('a1 a2 a3 a4'), IGNORE_INDEX]);
    expect(seq).to.deep.equal(copy);
  });

  it('selects one token when the draw selected none (our departure from Hugging Face)', () => {
    const seq = [CLS, ...ids('a1 a2 a3'), SEP];
    const chosen = new Set<number>();
    for (let s = 0; s < 100; s++) {
      const { labels } = maskTokens(seq, { ...vocab, probability: 1e-12, rng: new Rng(s) });
      const where = labels.flatMap((l, j) => (l === IGNORE_INDEX ? [] : [j]));
      expect(where).to.have.length(1);
      expect(labels[where[0]]).to.equal(seq[where[0]]);
      chosen.add(where[0]);
    }
    expect([...chosen].sort()).to.deep.equal([1, 2, 3]);
    for (let s = 0; s < 200; s++) {
      const { labels } = maskTokens([CLS, id('b1'), SEP], { ...vocab, rng: new Rng(s) });
      expect(labels).to.deep.equal([IGNORE_INDEX, id('b1'), IGNORE_INDEX]);
    }
  });

  it('leaves a sequence of special tokens only without labels', () => {
    const seq = [CLS, tok.unkId, SEP, tok.padId];
    expect(maskTokens(seq, { ...vocab, rng: new Rng(1) })).to.deep.equal({
      input_ids: seq,
      labels: [-100, -100, -100, -100],
    });
  });

  it('rejects a probability outside (0, 1]', () => {
    expect(() => maskTokens([CLS, SEP], { ...vocab, probability: 0, rng: new Rng(1) })).to.throw(/probability/);
    expect(() => maskTokens([CLS, SEP], { ...vocab, probability: 1.5, rng: new Rng(1) })).to.throw(/probability/);
  });
});

describe('mlm-data: seeded masks', () => {
  const [seq] = randomSequences(1, 120, 7);

  it('depends only on (seed, epoch, index): recomputable, and equal to Rng(mixSeed(seed, epoch, index))', () => {
    const a = maskedExample(seq, 5, 2, 99, bigVocab);
    expect(maskedExample(seq, 5, 2, 99, bigVocab)).to.deep.equal(a);
    expect(maskTokens(seq, { ...bigVocab, rng: new Rng(mixSeed(99, 2, 5)) })).to.deep.equal(a);
  });

  it('differs between epochs, indices and seeds', () => {
    const a = maskedExample(seq, 5, 2, 99, bigVocab).labels;
    expect(maskedExample(seq, 5, 3, 99, bigVocab).labels).to.not.deep.equal(a);
    expect(maskedExample(seq, 6, 2, 99, bigVocab).labels).to.not.deep.equal(a);
    expect(maskedExample(seq, 5, 2, 100, bigVocab).labels).to.not.deep.equal(a);
  });
});

describe('mlm-data: batching', () => {
  it('collate pads to the longest example with [PAD], attention 0, type 0 and label -100', () => {
    const P = tok.padId;
    const { batch, labels } = collate(
      [
        { input_ids: [CLS, 7, SEP], labels: [-100, 9, -100] },
        { input_ids: [CLS, 7, 8, 10, SEP], labels: [-100, -100, 8, -100, -100] },
      ],
      P,
    );
    expect(batch.input_ids).to.deep.equal([
      [CLS, 7, SEP, P, P],
      [CLS, 7, 8, 10, SEP],
    ]);
    expect(batch.attention_mask).to.deep.equal([
      [1, 1, 1, 0, 0],
      [1, 1, 1, 1, 1],
    ]);
    expect(batch.token_type_ids).to.deep.equal([
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ]);
    expect(labels).to.deep.equal([
      [-100, 9, -100, -100, -100],
      [-100, -100, 8, -100, -100],
    ]);
  });

  it('collate keeps a given attention mask and rejects mismatched lengths and empty input', () => {
    const { batch } = collate(
      [
        { input_ids: [CLS, 7, 0], attention_mask: [1, 1, 0], labels: [-100, 7, -100] },
        { input_ids: [CLS, 7, 8, SEP], labels: [-100, -100, 8, -100] },
      ],
      0,
    );
    expect(batch.attention_mask).to.deep.equal([
      [1, 1, 0, 0],
      [1, 1, 1, 1],
    ]);
    expect(() => collate([{ input_ids: [CLS, SEP], labels: [-100] }], 0)).to.throw(
      /example 0 has 2 input ids but 1 labels/,
    );
    expect(() => collate([], 0)).to.throw(/no examples/);
  });

  it('epochOrder is a seeded permutation that differs between epochs and seeds', () => {
    const range = Array.from({ length: 50 }, (_, i) => i);
    const e0 = epochOrder(50, 0, 1);
    expect([...e0].sort((a, b) => a - b)).to.deep.equal(range);
    expect([...epochOrder(50, 1, 1)].sort((a, b) => a - b)).to.deep.equal(range);
    expect(epochOrder(50, 0, 1)).to.deep.equal(e0);
    expect(e0).to.not.deep.equal(range);
    expect(epochOrder(50, 1, 1)).to.not.deep.equal(e0);
    expect(epochOrder(50, 0, 2)).to.not.deep.equal(e0);
    expect(epochOrder(0, 0, 1)).to.deep.equal([]);
  });

  it('batchIndices splits the epoch order into batches, the last one partial', () => {
    const batches = batchIndices(10, 4, 3, 8);
    expect(batches.map((b) => b.length)).to.deep.equal([4, 4, 2]);
    expect(batches.flat()).to.deep.equal(epochOrder(10, 3, 8));
    expect(() => batchIndices(10, 0, 0, 0)).to.throw(/batchSize/);
  });

  it('mlmBatches yields the collated seeded masks of each batch, and resumes at startBatch', () => {
    const sequences = randomSequences(7, 4, 5, vocab).map((s, i) => s.slice(0, 2 + (i % 4)).concat(SEP));
    const options = { ...vocab, batchSize: 3, epoch: 1, seed: 11 };
    const all = [...mlmBatches(sequences, options)];
    expect(all.map((b) => b.indices)).to.deep.equal(batchIndices(7, 3, 1, 11));
    for (const { batch, labels, indices } of all) {
      const expected = collate(
        indices.map((i) => maskedExample(sequences[i], i, 1, 11, vocab)),
        vocab.padId,
      );
      expect({ batch, labels }).to.deep.equal(expected);
      expect(labels.every((row) => row.some((l) => l !== IGNORE_INDEX))).to.equal(true);
    }
    expect([...mlmBatches(sequences, { ...options, startBatch: 1 })]).to.deep.equal(all.slice(1));
  });
});

describe('mlm-data: fixedMaskedSet', () => {
  const sequences = randomSequences(30, 40, 9);

  it('is the same every time it is built with the same seed, and different for another seed', () => {
    const a = fixedMaskedSet(sequences, 10, 3, bigVocab);
    expect(fixedMaskedSet(sequences, 10, 3, bigVocab)).to.deep.equal(a);
    expect(fixedMaskedSet(sequences, 10, 4, bigVocab)).to.not.deep.equal(a);
    const indices = a.map((e) => e.index);
    expect(new Set(indices).size).to.equal(10);
    expect(indices).to.deep.equal([...indices].sort((x, y) => x - y));
    for (const e of a) {
      const restored = e.input_ids.map((t, j) => (e.labels[j] === IGNORE_INDEX ? t : e.labels[j]));
      expect(restored).to.deep.equal(sequences[e.index]);
    }
  });

  it('rejects asking for more examples than there are sequences', () => {
    expect(() => fixedMaskedSet(sequences, 31, 3, bigVocab)).to.throw(/asked for 31 examples but there are only 30/);
  });
});

describe('mlm-data: JSONL files of masked examples', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlm-data-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Writes `lines` to a file and returns the error message of reading it. */
  function readError(name: string, lines: string[], vocabSize?: number): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, lines.join('\n'));
    try {
      readMaskedExamples(file, { vocabSize });
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('expected an error');
  }

  const good = JSON.stringify({ input_ids: [2, 7, 3], attention_mask: [1, 1, 1], labels: [-100, 8, -100] });

  it('round-trips examples, filling a missing attention mask with ones', () => {
    const file = path.join(dir, 'round.jsonl');
    const examples = [
      { input_ids: [2, 4, 9, 3, 0], attention_mask: [1, 1, 1, 1, 0], labels: [-100, 12, -100, -100, -100] },
      { input_ids: [2, 6, 3], labels: [-100, -100, -100] },
    ];
    writeMaskedExamples(file, examples);
    expect(readMaskedExamples(file, { vocabSize: 65 })).to.deep.equal([
      examples[0],
      { ...examples[1], attention_mask: [1, 1, 1] },
    ]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('names the file and line of each invalid example', () => {
    const f = (name: string): string => path.join(dir, name);
    expect(readError('json.jsonl', [good, '', '{"input_ids": [2,'])).to.match(
      new RegExp(`^${f('json.jsonl')}:3: invalid JSON`),
    );
    expect(readError('object.jsonl', ['[1, 2]'])).to.equal(`${f('object.jsonl')}:1: expected a JSON object`);
    expect(readError('len.jsonl', [good, JSON.stringify({ input_ids: [2, 7, 3], labels: [-100, 7] })])).to.equal(
      `${f('len.jsonl')}:2: "labels" has 2 values but "input_ids" has 3`,
    );
    expect(
      readError('mask.jsonl', [
        JSON.stringify({ input_ids: [2, 7, 3], attention_mask: [1, 2, 1], labels: [-100, 7, -100] }),
      ]),
    ).to.equal(`${f('mask.jsonl')}:1: attention_mask[1] = 2 is not 0 or 1`);
    expect(
      readError('label.jsonl', [good, good, JSON.stringify({ input_ids: [2, 7, 3], labels: [-100, -1, -100] })]),
    ).to.equal(`${f('label.jsonl')}:3: labels[1] = -1 is neither -100 nor a non-negative integer`);
    expect(readError('vocab.jsonl', [JSON.stringify({ input_ids: [2, 7, 3], labels: [-100, 70, -100] })], 65)).to.equal(
      `${f('vocab.jsonl')}:1: labels[1] = 70 is neither -100 nor an integer in [0, 65)`,
    );
    expect(readError('ids.jsonl', [JSON.stringify({ input_ids: [2, 7.5, 3], labels: [-100, 7, -100] })])).to.equal(
      `${f('ids.jsonl')}:1: input_ids[1] = 7.5 is not a non-negative integer`,
    );
    expect(
      readError('pad.jsonl', [
        JSON.stringify({ input_ids: [2, 7, 0], attention_mask: [1, 1, 0], labels: [-100, 7, 9] }),
      ]),
    ).to.equal(`${f('pad.jsonl')}:1: labels[2] is set on a padding position (attention_mask 0)`);
    expect(readError('missing.jsonl', [JSON.stringify({ input_ids: [2, 7, 3] })])).to.equal(
      `${f('missing.jsonl')}:1: "labels" must be an array`,
    );
    expect(readError('empty.jsonl', ['', ''])).to.equal(`${f('empty.jsonl')}: no examples`);
    expect(() => readMaskedExamples(f('absent.jsonl'))).to.throw(`${f('absent.jsonl')}: file not found`);
  });

  it('refuses to write invalid examples and leaves no file behind', () => {
    const file = path.join(dir, 'bad-write.jsonl');
    expect(() => writeMaskedExamples(file, [{ input_ids: [2, 3], labels: [-100] }])).to.throw(
      `${file}: example 0: "labels" has 1 values`,
    );
    expect(() => writeMaskedExamples(file, [])).to.throw(/no examples to write/);
    expect(fs.existsSync(file)).to.equal(false);
  });
});
