/** Downloads a Hugging Face BERT checkpoint (config.json, vocab.txt, weights), and any file, with resume and size checks. */
import * as fs from 'fs';
import * as path from 'path';
import { Checkpoint, readCheckpoint } from './folder';
import { WEIGHT_FILES, readShardIndex } from '../weights/files';

/** The Hub used when neither --endpoint nor $HF_ENDPOINT is set. */
export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** The files of a checkpoint folder besides its weights, smallest first so that a wrong model name fails fast. */
export const CHECKPOINT_FILES = ['config.json', 'vocab.txt'];

export interface DownloadOptions {
  /** A Hub model id: `bert-base-uncased` or `org/name`. */
  model: string;
  /** The destination folder (created when absent). */
  to: string;
  /** The Hub's address; default $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit; default main. */
  revision?: string;
  /** Seconds to wait for a server's response headers (default 10). */
  connectTimeout?: number;
  /** Seconds without a byte before a transfer counts as stalled (default 60). */
  stallTimeout?: number;
  /** Transfers tried per file; interrupted ones resume where they stopped (default 3). */
  attempts?: number;
  /** Receives progress lines; `final` is true for a file's last line. Default: stderr. */
  progress?: (line: string, final: boolean) => void;
}

/** Progress of one file's transfer. */
export interface TransferProgress {
  file: string;
  received: number;
  total: number | null;
  bytesPerSecond: number;
}

/** How `downloadFile` behaves, and what its messages advise. */
export interface TransferSettings {
  /** Milliseconds to wait for a server's response headers. */
  connectMs: number;
  /** Milliseconds without a byte before a transfer counts as stalled. */
  stallMs: number;
  /** Transfers tried; interrupted ones resume where they stopped. */
  attempts: number;
  /** Receives progress lines; `final` is true for a file's last line. */
  progress: (line: string, final: boolean) => void;
  /** Advice that follows "this machine has no network access; " when no server answers. */
  offlineAdvice: string;
  /** Text appended to "URL: HTTP STATUS TEXT" for an error status ('' for none). */
  statusHint: (status: number) => string;
}

/** A failure worth retrying: the transfer started and then broke off. */
class Interrupted extends Error {}

/** A server's answer with an error status. */
class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Downloads the checkpoint files of a Hub model into a folder (skipping complete ones), then reads it back to verify
 * it. The weights are the first the repository has of model.safetensors, model.safetensors.index.json,
 * pytorch_model.bin and pytorch_model.bin.index.json; an index brings its shards.
 */
export async function downloadModel(options: DownloadOptions): Promise<Checkpoint> {
  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const revision = options.revision ?? 'main';
  const settings: TransferSettings = {
    connectMs: 1000 * (options.connectTimeout ?? 10),
    stallMs: 1000 * (options.stallTimeout ?? 60),
    attempts: options.attempts ?? 3,
    progress: options.progress ?? stderrProgress(),
    offlineAdvice:
      'download on a machine that has one, or copy a Hugging Face BERT folder ' +
      '(config.json, model.safetensors or pytorch_model.bin, vocab.txt) here and pass --model DIR',
    statusHint: hubStatusHint,
  };
  fs.mkdirSync(options.to, { recursive: true });
  /** Downloads one file of the repository unless the folder has it; false when the repository has no such file. */
  const fetchFile = async (file: string): Promise<boolean> => {
    const dest = path.join(options.to, file);
    if (fs.existsSync(dest)) {
      settings.progress(`${file}: already complete, skipped`, true);
      return true;
    }
    try {
      await downloadFile(fileUrl(endpoint, options.model, revision, file), dest, settings);
      return true;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404 && WEIGHT_FILES.some((f) => f === file)) return false;
      throw e;
    }
  };
  for (const file of CHECKPOINT_FILES) await fetchFile(file);
  const local = WEIGHT_FILES.find((f) => fs.existsSync(path.join(options.to, f)));
  let found: string | undefined;
  for (const file of local ? [local] : WEIGHT_FILES) {
    if (await fetchFile(file)) {
      found = file;
      break;
    }
  }
  if (!found) {
    throw new Error(
      `${fileUrl(endpoint, options.model, revision, '')}: the repository has none of ${WEIGHT_FILES.join(', ')} (HTTP 404 for each); ` +
        `it may hold only TensorFlow or Flax weights: convert them with Python (from_pretrained(..., from_tf=True).save_pretrained(OUT)) and pass --model OUT.`,
    );
  }
  if (found.endsWith('.index.json')) {
    const shards = [...new Set(readShardIndex(path.join(options.to, found)).values())].sort();
    for (const shard of shards) await fetchFile(shard);
  }
  return readCheckpoint(options.to);
}

/** The Hub URL of one file of a model at a revision. */
export function fileUrl(endpoint: string, model: string, revision: string, file: string): string {
  if (!/^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/.test(model) || model.includes('..')) {
    throw new Error(
      `--model ${JSON.stringify(model)} is not a Hub model id (like bert-base-uncased or google/bert_uncased_L-2_H-128_A-2)`,
    );
  }
  return `${endpoint}/${model}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** Downloads one URL to `dest` through `dest.part`, resuming a partial file and retrying interrupted transfers. */
export async function downloadFile(url: string, dest: string, settings: TransferSettings): Promise<void> {
  const part = `${dest}.part`;
  for (let attempt = 1; ; attempt++) {
    try {
      await transfer(url, part, path.basename(dest), settings);
      break;
    } catch (e) {
      if (!(e instanceof Interrupted) || attempt >= settings.attempts) throw e;
      settings.progress(
        `${path.basename(dest)}: ${(e as Error).message}; resuming (attempt ${attempt + 1} of ${settings.attempts})`,
        true,
      );
    }
  }
  fs.renameSync(part, dest);
}

/** One HTTP transfer into `part`: appends after a 206 answer to a Range request, starts over after a 200. */
async function transfer(url: string, part: string, label: string, settings: TransferSettings): Promise<void> {
  const have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  const { response, linkedSize } = await request(url, have, settings);
  let start = 0;
  let total: number | null;
  if (response.status === 416 && have > 0) {
    // The server has nothing after `have` bytes: the partial file is complete, or longer than the file (start over).
    const size = Number(/\/(\d+)$/.exec(response.headers.get('content-range') ?? '')?.[1] ?? NaN);
    await response.body?.cancel();
    if (size === have && (linkedSize === null || linkedSize === have)) return;
    fs.rmSync(part);
    throw new Interrupted(`${url}: the partial file (${have} bytes) does not match the server's (${size} bytes)`);
  }
  if (response.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== have) {
      await response.body?.cancel();
      fs.rmSync(part);
      throw new Interrupted(
        `${url}: the server answered a Range request for bytes ${have}- with "${response.headers.get('content-range')}"`,
      );
    }
    start = have;
    total = range[3] === '*' ? null : Number(range[3]);
  } else if (response.status === 200) {
    total = contentLength(response);
  } else {
    await response.body?.cancel();
    throw new HttpError(
      `${url}: HTTP ${response.status} ${response.statusText}${settings.statusHint(response.status)}`,
      response.status,
    );
  }
  if (linkedSize !== null && total !== null && linkedSize !== total) {
    await response.body?.cancel();
    fs.rmSync(part, { force: true });
    throw new Error(
      `${url}: size mismatch: the Hub announces ${linkedSize} bytes (x-linked-size) but the server sends ${total}; nothing was saved`,
    );
  }
  const expected = linkedSize ?? total;
  const received = await receive(response, part, start, { file: label, expected, settings, url });
  if (expected !== null && received !== expected) {
    fs.rmSync(part, { force: true });
    throw new Error(
      `${url}: size mismatch: received ${received} bytes but ${expected} were announced; nothing was saved`,
    );
  }
}

/** Sends a GET (with Range when resuming), following redirects by hand to see the Hub's x-linked-size header. */
async function request(
  url: string,
  have: number,
  settings: TransferSettings,
): Promise<{ response: Response; linkedSize: number | null }> {
  let linkedSize: number | null = null;
  let current = url;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'fisherlab' };
    if (have > 0) headers.range = `bytes=${have}-`;
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(settings.connectMs);
    const onTimeout = () => controller.abort(timeout.reason);
    timeout.addEventListener('abort', onTimeout);
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual', signal: controller.signal });
    } catch (e) {
      throw new Error(unreachableMessage(current, e, settings));
    } finally {
      timeout.removeEventListener('abort', onTimeout);
    }
    const linked = response.headers.get('x-linked-size');
    if (linked !== null && linkedSize === null) linkedSize = Number(linked);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      current = new URL(location, current).href;
      continue;
    }
    return { response, linkedSize };
  }
  throw new Error(`${url}: more than 10 redirects`);
}

/** Streams a response body into `part` (appending from `start`), reporting progress; returns the final size. */
async function receive(
  response: Response,
  part: string,
  start: number,
  job: { file: string; expected: number | null; settings: TransferSettings; url: string },
): Promise<number> {
  const handle = await fs.promises.open(part, start > 0 ? 'a' : 'w');
  let received = start;
  const began = Date.now();
  let shown = 0;
  const reader = response.body!.getReader();
  let stalled = false;
  const watchdog = setTimeout(() => {
    stalled = true;
    reader.cancel().catch(() => undefined);
  }, job.settings.stallMs);
  const show = (final: boolean) => {
    const seconds = Math.max((Date.now() - began) / 1000, 1e-3);
    job.settings.progress(
      progressLine({ file: job.file, received, total: job.expected, bytesPerSecond: (received - start) / seconds }),
      final,
    );
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      watchdog.refresh();
      await handle.write(value);
      received += value.byteLength;
      if (Date.now() - shown >= 250) {
        shown = Date.now();
        show(false);
      }
    }
  } catch (e) {
    throw new Interrupted(`download of ${job.url} interrupted after ${received} bytes (${causeText(e)})`);
  } finally {
    clearTimeout(watchdog);
    await handle.close();
  }
  if (stalled)
    throw new Interrupted(
      `download of ${job.url} stalled: no data for ${job.settings.stallMs / 1000} s after ${received} bytes`,
    );
  show(true);
  return received;
}

/** One progress line: bytes so far (of the total), rate and estimated time left. */
export function progressLine(p: TransferProgress): string {
  const rate = `${formatBytes(p.bytesPerSecond)}/s`;
  if (p.total === null || p.total === 0) return `${p.file}: ${formatBytes(p.received)}  ${rate}`;
  const percent = ((100 * p.received) / p.total).toFixed(0);
  const left = p.bytesPerSecond > 0 ? (p.total - p.received) / p.bytesPerSecond : Infinity;
  return `${p.file}: ${formatBytes(p.received)} / ${formatBytes(p.total)} (${percent}%)  ${rate}  ETA ${formatSeconds(left)}`;
}

/** A byte count with a binary unit (B, KiB, MiB, GiB). */
function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** A duration as m:ss (or h:mm:ss), "?" when unknown. */
function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  const mmss = `${Math.floor((t % 3600) / 60)}:${String(t % 60).padStart(2, '0')}`;
  return t >= 3600 ? `${Math.floor(t / 3600)}:${mmss.padStart(5, '0')}` : mmss;
}

/** A progress printer for stderr: one line rewritten in place on a terminal, only final lines otherwise. */
export function stderrProgress(): (line: string, final: boolean) => void {
  return (line, final) => {
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${line}\n`);
  };
}

/** The Content-Length of an uncompressed response, or null when unknown. */
function contentLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  const length = response.headers.get('content-length');
  if (length === null || (encoding !== null && encoding !== 'identity')) return null;
  return Number(length);
}

/** What an HTTP error status from the Hub most likely means. */
function hubStatusHint(status: number): string {
  if (status === 404) return ': no such model, revision or file (check --model and --revision)';
  if (status === 401 || status === 403)
    return ': the model does not exist, or is private or gated (fisherlab sends no login)';
  return '';
}

/** The message for a request that never got an answer: no route, no DNS, refused, or timed out. */
function unreachableMessage(url: string, error: unknown, settings: TransferSettings): string {
  const cause =
    (error as Error)?.name === 'TimeoutError' ? `no answer within ${settings.connectMs / 1000} s` : causeText(error);
  return `cannot reach ${new URL(url).origin} (${cause}): this machine has no network access; ${settings.offlineAdvice}`;
}

/** The most specific code or message in an error's chain of causes (fetch wraps them in "fetch failed"). */
function causeText(error: unknown): string {
  let e = error as { code?: string; message?: string; cause?: unknown; errors?: unknown[] } | undefined;
  let text = e?.message ?? String(error);
  for (let depth = 0; e && depth < 5; depth++) {
    if (e.code) return e.message && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : (e.message ?? e.code);
    if (e.message) text = e.message;
    e = (e.cause ?? e.errors?.[0]) as typeof e;
  }
  return text;
}
