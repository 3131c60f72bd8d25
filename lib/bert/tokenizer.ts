/** WordPiece tokenizer that reproduces Hugging Face's BertTokenizer from a vocab.txt. */
import * as fs from 'fs';
import * as path from 'path';

/** The special tokens every BERT vocabulary must hold; the text is split on them before anything else. */
export const SPECIAL_TOKENS = ['[UNK]', '[SEP]', '[PAD]', '[CLS]', '[MASK]'] as const;

/** Words longer than this many characters become [UNK] (Hugging Face's max_input_chars_per_word). */
export const MAX_INPUT_CHARS_PER_WORD = 100;

/** How text is normalized before WordPiece; Hugging Face's do_lower_case and strip_accents. */
export interface TokenizerOptions {
  /** Lower-case the text (default true, as for bert-base-uncased). */
  doLowerCase?: boolean;
  /** Strip accents (combining marks after NFD); by default the same as doLowerCase. */
  stripAccents?: boolean;
}

/** Options of `encode`: truncation (longest_first, from the end) and padding to maxLength. */
export interface EncodeOptions {
  /** Maximum length including [CLS] and [SEP]; truncation is on by default when it is set. */
  maxLength?: number;
  /** Truncate to maxLength with Hugging Face's 'longest_first' strategy (default: true when maxLength is set). */
  truncation?: boolean;
  /** 'max_length' pads with [PAD] up to maxLength; 'none' (default) does not pad. */
  padding?: 'max_length' | 'none';
}

/** Options of `encodeBatch`: like `encode`, and 'longest' (the default) pads to the longest sequence of the batch. */
export interface BatchEncodeOptions {
  maxLength?: number;
  truncation?: boolean;
  padding?: 'longest' | 'max_length' | 'none';
}

/** One encoded sequence, with Hugging Face's field names. */
export interface Encoding {
  tokens: string[];
  input_ids: number[];
  token_type_ids: number[];
  attention_mask: number[];
}

const isControl = (ch: string): boolean => ch !== '\t' && ch !== '\n' && ch !== '\r' && /\p{C}/u.test(ch);
const isWhitespace = (ch: string): boolean =>
  ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);

/** Whether a character is punctuation for BERT: every non-alphanumeric printable ASCII character, or Unicode category P*. */
export function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
    return true;
  return /\p{P}/u.test(ch);
}

/** Whether a code point is a CJK ideograph, in the blocks Hugging Face's _is_chinese_char lists. */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Drops NUL, U+FFFD and control characters, turns whitespace into spaces and puts spaces around CJK ideographs. */
function cleanText(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) out += ' ';
    else if (isChineseChar(cp)) out += ` ${ch} `;
    else out += ch;
  }
  return out;
}

/** Splits on whitespace the way Python's str.split() does once the text is cleaned. */
const splitWhitespace = (text: string): string[] => text.split(/\s+/u).filter((w) => w !== '');

/** Splits a word into runs of non-punctuation and single punctuation characters. */
function splitOnPunctuation(word: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const ch of word) {
    if (isPunctuation(ch)) {
      if (current) out.push(current);
      out.push(ch);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) out.push(current);
  return out;
}

/** BERT's basic tokenization (Hugging Face's BasicTokenizer): the words WordPiece then splits; `neverSplit` words stay as they are. */
export function basicTokenize(
  text: string,
  options: TokenizerOptions = {},
  neverSplit: ReadonlySet<string> = new Set(),
): string[] {
  const lower = options.doLowerCase ?? true;
  const strip = options.stripAccents ?? lower;
  const words: string[] = [];
  for (let word of splitWhitespace(cleanText(text).normalize('NFC'))) {
    if (neverSplit.has(word)) {
      words.push(word);
      continue;
    }
    if (lower) word = word.toLowerCase();
    if (strip) word = word.normalize('NFD').replace(/\p{Mn}/gu, '');
    words.push(...splitOnPunctuation(word));
  }
  return words;
}

/** Splits one word into WordPiece tokens, greedy longest match first; [UNK] when a piece has no match or the word is too long. */
export function wordpiece(word: string, vocab: ReadonlyMap<string, number>): string[] {
  const chars = Array.from(word);
  if (chars.length > MAX_INPUT_CHARS_PER_WORD) return ['[UNK]'];
  const pieces: string[] = [];
  for (let start = 0; start < chars.length;) {
    let end = chars.length;
    let piece: string | null = null;
    for (; end > start; end--) {
      const candidate = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
      if (vocab.has(candidate)) {
        piece = candidate;
        break;
      }
    }
    if (piece === null) return ['[UNK]'];
    pieces.push(piece);
    start = end;
  }
  return pieces;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const SPECIAL_SET: ReadonlySet<string> = new Set(SPECIAL_TOKENS);
const SPECIAL_SPLIT = new RegExp(`(${SPECIAL_TOKENS.map(escapeRegExp).join('|')})`);

/** Hugging Face's clean_up_tokenization replacements, applied in this order. */
const CLEAN_UP: ReadonlyArray<[string, string]> = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

/** A BERT WordPiece tokenizer over a fixed vocabulary (id = position in the token list). */
export class Tokenizer {
  readonly doLowerCase: boolean;
  readonly stripAccents: boolean;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly maskId: number;
  readonly unkId: number;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly tokens: readonly string[];

  private constructor(tokens: readonly string[], vocab: ReadonlyMap<string, number>, options: TokenizerOptions) {
    this.tokens = tokens;
    this.vocab = vocab;
    this.doLowerCase = options.doLowerCase ?? true;
    this.stripAccents = options.stripAccents ?? this.doLowerCase;
    this.clsId = vocab.get('[CLS]')!;
    this.sepId = vocab.get('[SEP]')!;
    this.padId = vocab.get('[PAD]')!;
    this.maskId = vocab.get('[MASK]')!;
    this.unkId = vocab.get('[UNK]')!;
  }

  /** Builds a tokenizer from a token list (id = index); errors name `source` and the 1-based position, like a line of vocab.txt. */
  static fromTokens(tokens: readonly string[], options: TokenizerOptions = {}, source = 'vocabulary'): Tokenizer {
    if (tokens.length === 0) throw new Error(`${source}: the vocabulary is empty`);
    const vocab = new Map<string, number>();
    tokens.forEach((token, i) => {
      const first = vocab.get(token);
      if (first !== undefined)
        throw new Error(`${source}:${i + 1}: duplicate token ${JSON.stringify(token)} (first on line ${first + 1})`);
      vocab.set(token, i);
    });
    const missing = SPECIAL_TOKENS.filter((t) => !vocab.has(t));
    if (missing.length > 0)
      throw new Error(`${source}: the vocabulary lacks the special token(s) ${missing.join(' ')}`);
    return new Tokenizer([...tokens], vocab, options);
  }

  /** Reads a vocab.txt (one token per line, id = line number - 1); errors name the file and line. */
  static fromVocabFile(file: string, options: TokenizerOptions = {}): Tokenizer {
    if (!fs.existsSync(file)) throw new Error(`${file}: vocabulary file not found`);
    const text = fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
    if (text === '') throw new Error(`${file}: the vocabulary file is empty`);
    const lines = text.split(/\r\n|\r|\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    return Tokenizer.fromTokens(lines, options, file);
  }

  /** Number of tokens in the vocabulary. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The id of a token, or the [UNK] id when the vocabulary lacks it. */
  tokenToId(token: string): number {
    return this.vocab.get(token) ?? this.unkId;
  }

  /** The token of an id; throws when the id is outside the vocabulary. */
  idToToken(id: number): string {
    const token = this.tokens[id];
    if (token === undefined)
      throw new RangeError(`token id ${id} is outside the vocabulary (size ${this.tokens.length})`);
    return token;
  }

  /** Splits a text into WordPiece tokens, without [CLS]/[SEP]; special tokens written in the text stay whole. */
  tokenize(text: string): string[] {
    const options = { doLowerCase: this.doLowerCase, stripAccents: this.stripAccents };
    const out: string[] = [];
    for (const part of text.split(SPECIAL_SPLIT)) {
      if (SPECIAL_SET.has(part)) out.push(part);
      else for (const word of basicTokenize(part, options, SPECIAL_SET)) out.push(...wordpiece(word, this.vocab));
    }
    return out;
  }

  /** Encodes a text (and an optional second text) as [CLS] A [SEP] (B [SEP]), truncated and padded as asked. */
  encode(text: string, textPair?: string, options: EncodeOptions = {}): Encoding {
    let a = this.tokenize(text);
    let b = textPair === undefined ? null : this.tokenize(textPair);
    const { maxLength } = options;
    if (maxLength !== undefined && (options.truncation ?? true)) [a, b] = truncateLongestFirst(a, b, maxLength);
    const tokens = ['[CLS]', ...a, '[SEP]', ...(b ? [...b, '[SEP]'] : [])];
    const typeIds = tokens.map((_, i) => (i < a.length + 2 ? 0 : 1));
    const encoding: Encoding = {
      tokens,
      input_ids: tokens.map((t) => this.tokenToId(t)),
      token_type_ids: typeIds,
      attention_mask: tokens.map(() => 1),
    };
    if (options.padding !== 'max_length') return encoding;
    if (maxLength === undefined) throw new Error("encode: padding 'max_length' needs maxLength");
    return this.pad(encoding, maxLength);
  }

  /** Encodes several texts (with optional pairs), padded to the longest of the batch by default, or to maxLength. */
  encodeBatch(texts: readonly string[], textPairs?: readonly string[], options: BatchEncodeOptions = {}): Encoding[] {
    if (textPairs && textPairs.length !== texts.length) {
      throw new Error(`encodeBatch: ${texts.length} texts but ${textPairs.length} text pairs`);
    }
    const padding = options.padding ?? 'longest';
    const encodings = texts.map((t, i) =>
      this.encode(t, textPairs?.[i], { maxLength: options.maxLength, truncation: options.truncation }),
    );
    if (padding === 'none') return encodings;
    if (padding === 'max_length' && options.maxLength === undefined)
      throw new Error("encodeBatch: padding 'max_length' needs maxLength");
    const length =
      padding === 'max_length' ? options.maxLength! : Math.max(0, ...encodings.map((e) => e.input_ids.length));
    return encodings.map((e) => this.pad(e, length));
  }

  /** Turns ids back into text as Hugging Face's decode does: wordpieces joined, spaces before punctuation and contractions removed. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const tokens = ids
      .map((id) => this.idToToken(id))
      .filter((t) => !(options.skipSpecialTokens && SPECIAL_SET.has(t)));
    const text = tokens.join(' ').replace(/ ##/g, '').trim();
    return CLEAN_UP.reduce((t, [from, to]) => t.split(from).join(to), text);
  }

  /** Pads an encoding with [PAD] (type 0, attention 0) up to `length`; longer encodings are left as they are. */
  private pad(e: Encoding, length: number): Encoding {
    const n = Math.max(0, length - e.input_ids.length);
    return {
      tokens: [...e.tokens, ...Array<string>(n).fill('[PAD]')],
      input_ids: [...e.input_ids, ...Array<number>(n).fill(this.padId)],
      token_type_ids: [...e.token_type_ids, ...Array<number>(n).fill(0)],
      attention_mask: [...e.attention_mask, ...Array<number>(n).fill(0)],
    };
  }
}

/** Hugging Face's 'longest_first' truncation: removes tokens from the end of the longer sequence (of B on a tie) until [CLS] A [SEP] (B [SEP]) fits. */
export function truncateLongestFirst<T>(a: readonly T[], b: readonly T[] | null, maxLength: number): [T[], T[] | null] {
  const specials = b ? 3 : 2;
  const excess = a.length + (b?.length ?? 0) + specials - maxLength;
  if (excess <= 0) return [[...a], b && [...b]];
  if (excess > a.length + (b?.length ?? 0)) {
    throw new Error(`maxLength ${maxLength} leaves no room for text: the special tokens alone take ${specials}`);
  }
  let na = a.length;
  let nb = b?.length ?? 0;
  for (let i = 0; i < excess; i++) {
    if (b === null || na > nb) na--;
    else nb--;
  }
  return [a.slice(0, na), b && b.slice(0, nb)];
}

/** Loads the tokenizer of a model folder: DIR/vocab.txt, with do_lower_case and strip_accents from DIR/tokenizer_config.json when present, then `overrides`. */
export function loadTokenizer(dir: string, overrides: TokenizerOptions = {}): Tokenizer {
  const configFile = path.join(dir, 'tokenizer_config.json');
  const options: TokenizerOptions = {};
  if (fs.existsSync(configFile)) {
    let config: unknown;
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new Error(`${configFile}: invalid JSON (${(e as Error).message})`);
    }
    const c = (config ?? {}) as { do_lower_case?: unknown; strip_accents?: unknown };
    if (c.do_lower_case !== undefined) {
      if (typeof c.do_lower_case !== 'boolean') throw new Error(`${configFile}: "do_lower_case" must be true or false`);
      options.doLowerCase = c.do_lower_case;
    }
    if (c.strip_accents !== undefined && c.strip_accents !== null) {
      if (typeof c.strip_accents !== 'boolean')
        throw new Error(`${configFile}: "strip_accents" must be true, false or null`);
      options.stripAccents = c.strip_accents;
    }
  }
  return Tokenizer.fromVocabFile(path.join(dir, 'vocab.txt'), { ...options, ...overrides });
}
