/**
 * WordNet's glosses as English text: each synset becomes "Lemma, lemma: definition." followed by its example sentences,
 * and every 64 consecutive synsets of a part of speech make one document. Dictionary text says what single words
 * mean, the knowledge that Brown and the State of the Union addresses hold least of.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Document } from './document';

/** The database files read, in this order. */
export const WORDNET_PARTS = ['noun', 'verb', 'adj', 'adv'] as const;

/** Synsets per document. */
export const SYNSETS_PER_DOCUMENT = 64;

/** The text of one line of a WordNet data file ("offset lexfile type count word lexid … | gloss"), or null for a license line. */
export function synsetText(line: string, where: string): string | null {
  if (line.startsWith('  ') || line.trim() === '') return null;
  const bar = line.indexOf(' | ');
  if (bar < 0) throw new Error(`${where}: no " | " before the gloss (not a WordNet data line)`);
  const fields = line.slice(0, bar).split(' ');
  const count = parseInt(fields[3] ?? '', 16);
  if (!Number.isInteger(count) || count < 1 || fields.length < 4 + 2 * count)
    throw new Error(`${where}: bad word count ${JSON.stringify(fields[3])}`);
  const lemmas = Array.from({ length: count }, (_, i) =>
    fields[4 + 2 * i].replace(/\((a|p|ip)\)$/, '').replaceAll('_', ' '),
  );
  const gloss = line.slice(bar + 3).trim();
  const quote = gloss.indexOf('"');
  const definition = (quote < 0 ? gloss : gloss.slice(0, quote)).trim().replace(/;+$/, '').trim();
  const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim()).filter((e) => e !== '');
  return [`${[...new Set(lemmas)].join(', ')}: ${definition}`, ...examples]
    .map((s) => sentence(capitalize(s)))
    .join(' ');
}

/** The glosses of the WordNet database in `dictDir` (data.noun, data.verb, data.adj, data.adv) as documents. */
export function loadWordnetGlosses(dictDir: string, split: (text: string) => string[]): Document[] {
  const docs: Document[] = [];
  for (const part of WORDNET_PARTS) {
    const file = path.join(dictDir, `data.${part}`);
    if (!fs.existsSync(file)) throw new Error(`${file}: missing WordNet data file`);
    let block: string[] = [];
    let n = 0;
    const flush = () => {
      if (block.length > 0)
        docs.push({ id: `wordnet/${part}/${++n}`, sentences: split(block.join('\n')), source: 'wordnet', genre: part });
      block = [];
    };
    fs.readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const text = synsetText(line, `${file}:${i + 1}`);
        if (text === null) return;
        block.push(text);
        if (block.length === SYNSETS_PER_DOCUMENT) flush();
      });
    flush();
  }
  return docs;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** The text ending in . ! or ? (closing quotes and brackets allowed after it); a period is added otherwise. */
const sentence = (s: string): string => (/[.!?]["')]*$/.test(s) ? s : `${s}.`);
