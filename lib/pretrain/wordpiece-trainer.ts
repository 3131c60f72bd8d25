/** Training a BERT WordPiece vocabulary from text, as Hugging Face tokenizers' WordPieceTrainer does (BPE merges with ## continuations). */
import { writeFileAtomic } from '../util/atomic';
import { basicTokenize, isChineseChar, isPunctuation, MAX_INPUT_CHARS_PER_WORD, wordpiece } from '../bert/tokenizer';

/** Options of `trainWordPiece`. */
export interface WordPieceTrainerOptions {
  /** The number of tokens of the vocabulary, special tokens included; fewer only when no pair is frequent enough to merge. */
  vocabSize: number;
  /** Characters rarer than this are left out of the alphabet (their words become [UNK]) and rarer pairs are not merged (default 2). */
  minFrequency?: number;
  /** Lower-case and strip accents before counting words, as the uncased BERT tokenizer does (default true). */
  lowerCase?: boolean;
}

/** How a vocabulary tokenizes a text: words after basic tokenization, WordPiece tokens and [UNK] tokens. */
export interface VocabStats {
  words: number;
  tokens: number;
  unknown: number;
  /** Tokens per word. */
  tokensPerWord: number;
  /** Share of tokens that are [UNK] (each [UNK] stands for one whole word). */
  unknownRate: number;
}

/** bert-base-uncased's first 104 tokens: [PAD] 0, [unused0]..[unused98] 1–99, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103. */
export const BERT_SPECIAL_LAYOUT: readonly string[] = [
  '[PAD]',
  ...Array.from({ length: 99 }, (_, i) => `[unused${i}]`),
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
];

/** Pair keys a·KEY_BASE + b stay exact in a double for ids below KEY_BASE. */
const KEY_BASE = 2 ** 21;

/** The characters BERT's basic tokenization turns into spaces, so it tokenizes the pieces between them independently. */
const BERT_WHITESPACE = /[ \t\n\r\p{Zs}]+/u;

/** Counts the words of sentences after BERT's basic tokenization. */
export function countWords(sentences: Iterable<string>, lowerCase = true): Map<string, number> {
  const chunks = new Map<string, number>();
  for (const sentence of sentences) {
    for (const chunk of sentence.split(BERT_WHITESPACE))
      if (chunk !== '') chunks.set(chunk, (chunks.get(chunk) ?? 0) + 1);
  }
  const counts = new Map<string, number>();
  const options = { doLowerCase: lowerCase };
  for (const [chunk, n] of chunks)
    for (const word of basicTokenize(chunk, options)) counts.set(word, (counts.get(word) ?? 0) + n);
  return counts;
}

/** Whether a character can follow another inside a word after basic tokenization (punctuation and CJK ideographs stand alone). */
const canContinue = (ch: string): boolean => !isPunctuation(ch) && !isChineseChar(ch.codePointAt(0)!);

/** A max-heap of (count, pair) entries, ties broken by the pair's first then second token, in code-unit order. */
class PairHeap {
  private readonly items: Array<{ count: number; a: number; b: number }> = [];
  constructor(private readonly tokens: readonly string[]) {}

  /** Whether entry x comes out before entry y. */
  private before(x: { count: number; a: number; b: number }, y: { count: number; a: number; b: number }): boolean {
    if (x.count !== y.count) return x.count > y.count;
    const [xa, ya] = [this.tokens[x.a], this.tokens[y.a]];
    if (xa !== ya) return xa < ya;
    return this.tokens[x.b] < this.tokens[y.b];
  }

  /** Adds an entry. */
  push(item: { count: number; a: number; b: number }): void {
    const h = this.items;
    h.push(item);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  /** Removes and returns the first entry, or undefined when the heap is empty. */
  pop(): { count: number; a: number; b: number } | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2];
        let best = i;
        if (l < h.length && this.before(h[l], h[best])) best = l;
        if (r < h.length && this.before(h[r], h[best])) best = r;
        if (best === i) break;
        [h[i], h[best]] = [h[best], h[i]];
        i = best;
      }
    }
    return top;
  }
}

/** The alphabet: characters of the words occurring at least `minFrequency` times (weighted by word counts), in code-point order. */
function alphabetOf(counts: ReadonlyMap<string, number>, minFrequency: number): string[] {
  const chars = new Map<string, number>();
  for (const [word, n] of counts) {
    const letters = Array.from(word);
    if (letters.length > MAX_INPUT_CHARS_PER_WORD) continue; // such words are [UNK] whatever the vocabulary
    for (const ch of letters) chars.set(ch, (chars.get(ch) ?? 0) + n);
  }
  return [...chars]
    .filter(([, n]) => n >= minFrequency)
    .map(([ch]) => ch)
    .sort((x, y) => x.codePointAt(0)! - y.codePointAt(0)!);
}

/** Trains a WordPiece vocabulary on sentences (or on counts of already basic-tokenized words); returns the tokens in BERT's order (id = index). */
export function trainWordPiece(
  input: Iterable<string> | ReadonlyMap<string, number>,
  options: WordPieceTrainerOptions,
): string[] {
  const { vocabSize } = options;
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize >= KEY_BASE)
    throw new Error(`vocabSize must be an integer below ${KEY_BASE} (got ${vocabSize})`);
  if (!(Number.isInteger(minFrequency) && minFrequency >= 1))
    throw new Error(`minFrequency must be an integer of at least 1 (got ${minFrequency})`);
  const counts =
    input instanceof Map
      ? (input as ReadonlyMap<string, number>)
      : countWords(input as Iterable<string>, options.lowerCase ?? true);

  const alphabet = alphabetOf(counts, minFrequency);
  const tokens = [...BERT_SPECIAL_LAYOUT, ...alphabet, ...alphabet.filter(canContinue).map((ch) => `##${ch}`)];
  if (tokens.length > vocabSize) {
    throw new Error(
      `vocabSize ${vocabSize} is too small: the ${BERT_SPECIAL_LAYOUT.length} special tokens and the alphabet of ${alphabet.length} characters (with ## forms) take ${tokens.length}`,
    );
  }
  const ids = new Map(tokens.map((t, i) => [t, i]));

  // Word types as symbol ids (first character plain, the others ## forms), with their counts.
  const words: number[][] = [];
  const wordCounts: number[] = [];
  for (const [word, n] of counts) {
    const chars = Array.from(word);
    if (chars.length < 2 || chars.length > MAX_INPUT_CHARS_PER_WORD) continue;
    const symbols = chars.map((ch, i) => ids.get(i === 0 ? ch : `##${ch}`) ?? -1);
    if (symbols.includes(-1)) continue; // a character outside the alphabet: the word is [UNK]
    words.push(symbols);
    wordCounts.push(n);
  }

  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  /** Adds `delta` occurrences of every adjacent pair of word w (and, for additions, records that w holds them). */
  const countPairs = (w: number, symbols: readonly number[], delta: number, changed: Set<number>): void => {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] * KEY_BASE + symbols[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
      changed.add(key);
      if (delta > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };

  const heap = new PairHeap(tokens);
  const pushChanged = (changed: Set<number>): void => {
    for (const key of changed) {
      const count = pairCounts.get(key)!;
      if (count > 0) heap.push({ count, a: Math.floor(key / KEY_BASE), b: key % KEY_BASE });
      else pairCounts.delete(key);
    }
  };
  const initial = new Set<number>();
  words.forEach((symbols, w) => countPairs(w, symbols, wordCounts[w], initial));
  pushChanged(initial);

  while (tokens.length < vocabSize) {
    const top = heap.pop();
    if (!top || top.count < minFrequency) break;
    const key = top.a * KEY_BASE + top.b;
    if (pairCounts.get(key) !== top.count) continue; // stale: the pair's current count has its own entry
    const merged = tokens[top.a] + tokens[top.b].slice(2);
    let id = ids.get(merged);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(merged);
      ids.set(merged, id);
    }
    const changed = new Set<number>();
    for (const w of where.get(key) ?? []) {
      const old = words[w];
      const next: number[] = [];
      for (let i = 0; i < old.length; i++) {
        if (i + 1 < old.length && old[i] === top.a && old[i + 1] === top.b) {
          next.push(id);
          i++;
        } else next.push(old[i]);
      }
      if (next.length === old.length) continue;
      countPairs(w, old, -wordCounts[w], changed);
      countPairs(w, next, wordCounts[w], changed);
      words[w] = next;
    }
    where.delete(key);
    pushChanged(changed);
  }
  return tokens;
}

/** Tokenizes sentences with a vocabulary and counts words, tokens and [UNK]s, for model cards and for choosing a vocabulary size. */
export function vocabStats(tokens: readonly string[], sentences: Iterable<string>, lowerCase = true): VocabStats {
  const vocab = new Map(tokens.map((t, i) => [t, i]));
  const stats: VocabStats = { words: 0, tokens: 0, unknown: 0, tokensPerWord: 0, unknownRate: 0 };
  for (const [word, n] of countWords(sentences, lowerCase)) {
    const pieces = wordpiece(word, vocab);
    stats.words += n;
    stats.tokens += n * pieces.length;
    if (pieces[0] === '[UNK]') stats.unknown += n;
  }
  stats.tokensPerWord = stats.words === 0 ? 0 : stats.tokens / stats.words;
  stats.unknownRate = stats.tokens === 0 ? 0 : stats.unknown / stats.tokens;
  return stats;
}

/** Writes a vocabulary as vocab.txt (one token per line, trailing newline), atomically. */
export function writeVocab(file: string, tokens: readonly string[]): void {
  tokens.forEach((t, i) => {
    if (t === '' || /[\r\n]/.test(t))
      throw new Error(`${file}: token ${i} (${JSON.stringify(t)}) is empty or holds a line break`);
  });
  writeFileAtomic(file, tokens.join('\n') + '\n');
}
