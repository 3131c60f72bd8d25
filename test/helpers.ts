/** Shared test helpers: backend start-up, the test configurations (of ./configs), seeded weights, error messages, and a local HTTP server. */
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../lib/util/random';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { initBackend } from '../lib/backend';
import type { BertConfig } from '../lib/bert/config';
import type { BertParts } from '../lib/bert/parameters';
import { NamedArray, writeSafetensors } from '../lib/weights/safetensors';
import { randomWeights } from './reference/bert-f64';

export { MICRO_CONFIG, sentimentConfig, tinyConfig, weightFileConfig } from './configs';

/** Starts the backend once, quietly. */
export async function setupBackend(): Promise<string> {
  return initBackend({ quiet: true });
}

/** The sentence pair `forward` is checked on against the references: 10 tokens, the second segment 3 long. */
export const FORWARD_INPUT_IDS = [2, 17, 9, 33, 41, 8, 3, 12, 25, 3];
export const FORWARD_TOKEN_TYPES = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1];

/** The arguments of `forward` (fisherlab's and the Python references') on FORWARD_INPUT_IDS and FORWARD_TOKEN_TYPES. */
export function forwardArgs(model: string, output: string): string[] {
  return [
    'forward',
    '--model',
    model,
    '--input-ids',
    FORWARD_INPUT_IDS.join(','),
    '--token-type-ids',
    FORWARD_TOKEN_TYPES.join(','),
    '--output',
    output,
  ];
}

/** Seeded random weights (as `randomWeights` of the f64 reference draws them) as a list of named tensors in canonical order. */
export function randomTensors(config: BertConfig, parts: BertParts, seed = 1): NamedArray[] {
  return Array.from(randomWeights(config, parts, seed), ([name, tensor]) => ({ name, ...tensor }));
}

/** Largest absolute difference between two equally long numeric arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** The message of the error `f` throws ('' when it does not throw). */
export function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

/** The message of the error a promise rejects with ('' when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

/** An HTTP server on a free port of 127.0.0.1: its base URL, and `close`, which also drops open connections. */
export async function localServer(handler: http.RequestListener): Promise<{ base: string; close: () => void }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** A port of 127.0.0.1 that was free a moment ago and has no listener: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Answers with `bytes`: from the start of a `Range: bytes=N-` request (206, or 416 past the end) when `ranges`, else whole (200). */
export function sendBytes(req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer, ranges = true): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range && ranges) {
    const start = Number(range[1]);
    if (start >= bytes.length) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` }).end();
      return;
    }
    res.writeHead(206, {
      'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}`,
      'content-length': bytes.length - start,
    });
    res.end(bytes.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
}

/** Announces all of `bytes` but sends the first half, then cuts the connection. */
export function sendHalfAndCut(res: http.ServerResponse, bytes: Buffer): void {
  res.writeHead(200, { 'content-length': bytes.length });
  res.write(bytes.subarray(0, bytes.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
}

/** The vocabulary of a synthetic sentiment task over `words`: BERT's special tokens, "good", "bad", then the words. */
export function sentimentVocab(words: string[]): string[] {
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'good', 'bad', ...words];
}

/** Writes an SST-2-shaped folder whose label is 1 when "good" appears and 0 when "bad" does (3 to 2+extraWords other words). */
export function writeSentimentTask(
  root: string,
  o: { words: string[]; train: number; dev: number; seed: number; extraWords: number },
): void {
  const rng = new Rng(o.seed);
  const sentence = (label: number) => {
    const words = Array.from({ length: 3 + rng.int(o.extraWords) }, () => o.words[rng.int(o.words.length)]);
    words.splice(rng.int(words.length + 1), 0, label ? 'good' : 'bad');
    return words.join(' ');
  };
  const rows = (n: number) => Array.from({ length: n }, (_, i) => `${sentence(i % 2)}\t${i % 2}`).join('\n');
  fs.mkdirSync(path.join(root, 'SST-2'), { recursive: true });
  fs.writeFileSync(path.join(root, 'SST-2', 'train.tsv'), `sentence\tlabel\n${rows(o.train)}\n`);
  fs.writeFileSync(path.join(root, 'SST-2', 'dev.tsv'), `sentence\tlabel\n${rows(o.dev)}\n`);
}

/** Writes `tensors` as `count` safetensors shards with an index, as transformers names them. */
export function writeShardedSafetensors(dir: string, tensors: NamedArray[], count: number): Record<string, string> {
  const map: Record<string, string> = {};
  for (let k = 0; k < count; k++) {
    const shard = `model-${String(k + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
    const part = tensors.filter((_, i) => i % count === k);
    writeSafetensors(path.join(dir, shard), part, { format: 'pt' });
    for (const t of part) map[t.name] = shard;
  }
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: map }),
  );
  return map;
}
