/**
 * Downloads GLUE tasks into the official layout (DIR/TASK/train.tsv, dev*.tsv, test*.tsv) from the sources the
 * well-known `download_glue_data.py` (nyu-mll/GLUE-baselines) uses: a zip per task from dl.fbaipublicfiles.com, and
 * for MRPC the SentEval copies of the Microsoft files, split into train/dev by GLUE's list of dev ids.
 *
 * Each task is fetched into DIR/.TASK.download/ (transfers resume from a `.part` file; a complete zip is reused),
 * unzipped there by a small built-in zip reader (stored and deflated entries, CRC-checked), read back with the task
 * loader, and only then moved into DIR/TASK: files already there are kept, so a complete task is skipped and an
 * incomplete one is filled in.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Transform } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import { TransferSettings, downloadFile, stderrProgress } from '../bert/hub';
import { loadTask } from './load';
import { TASKS, TaskName, TaskSpec, taskSplits } from './tasks';

/** Where a task's data comes from: one zip, or MRPC's three source files. */
export type GlueSource = { zip: string } | { mrpc: { train: string; test: string; devIds: string } };

/** The host of the GLUE zips. */
const FAIR = 'https://dl.fbaipublicfiles.com';

/** The URLs of `download_glue_data.py` (QQP and QNLI are the "clean" and "v2" zips; MRPC's dev ids as Hugging Face datasets fetch them). */
export const GLUE_SOURCES: Record<TaskName, GlueSource> = {
  CoLA: { zip: `${FAIR}/glue/data/CoLA.zip` },
  'SST-2': { zip: `${FAIR}/glue/data/SST-2.zip` },
  MRPC: {
    mrpc: {
      train: `${FAIR}/senteval/senteval_data/msr_paraphrase_train.txt`,
      test: `${FAIR}/senteval/senteval_data/msr_paraphrase_test.txt`,
      devIds: `${FAIR}/glue/data/mrpc_dev_ids.tsv`,
    },
  },
  'STS-B': { zip: `${FAIR}/glue/data/STS-B.zip` },
  QQP: { zip: `${FAIR}/glue/data/QQP-clean.zip` },
  MNLI: { zip: `${FAIR}/glue/data/MNLI.zip` },
  QNLI: { zip: `${FAIR}/glue/data/QNLIv2.zip` },
  RTE: { zip: `${FAIR}/glue/data/RTE.zip` },
  WNLI: { zip: `${FAIR}/glue/data/WNLI.zip` },
};

export interface GlueDownloadOptions {
  tasks: TaskName[];
  /** The GLUE root folder (created when absent). */
  to: string;
  /** Replaces GLUE_SOURCES entries (tests serve their own zips). */
  sources?: Partial<Record<TaskName, GlueSource>>;
  /** Seconds to wait for a server's response headers (default 10). */
  connectTimeout?: number;
  /** Seconds without a byte before a transfer counts as stalled (default 60). */
  stallTimeout?: number;
  /** Receives progress lines; `final` is true for a step's last line. Default: stderr. */
  progress?: (line: string, final: boolean) => void;
}

/** What happened to one task: skipped (already complete) or downloaded, with its example count per split. */
export interface GlueTaskResult {
  task: TaskName;
  status: 'complete' | 'downloaded';
  rows: Record<string, number>;
}

/** Downloads, unzips, checks and installs GLUE tasks into a folder, skipping complete ones. */
export async function downloadGlue(options: GlueDownloadOptions): Promise<GlueTaskResult[]> {
  const settings: TransferSettings = {
    connectMs: 1000 * (options.connectTimeout ?? 10),
    stallMs: 1000 * (options.stallTimeout ?? 60),
    attempts: 3,
    progress: options.progress ?? stderrProgress(),
    offlineAdvice:
      'run glue-download on a machine that has one (or use download_glue_data.py) and copy the task folders here, ' +
      'or point $FISHERLAB_DATA at a folder with glue/',
    statusHint: (status) => (status === 404 ? ' (the file has moved or is gone)' : ''),
  };
  fs.mkdirSync(options.to, { recursive: true });
  const results: GlueTaskResult[] = [];
  for (const name of options.tasks) {
    const task = TASKS[name];
    const target = path.join(options.to, task.folder);
    if (missingFiles(task, target).length === 0) {
      settings.progress(`${name}: already complete in ${target}, skipped`, true);
      results.push({ task: name, status: 'complete', rows: {} });
      continue;
    }
    const work = path.join(options.to, `.${task.folder}.download`);
    fs.mkdirSync(work, { recursive: true });
    try {
      const rows = await installTask(task, options.sources?.[name] ?? GLUE_SOURCES[name], work, target, settings);
      fs.rmSync(work, { recursive: true, force: true });
      settings.progress(
        `${name}: ${Object.entries(rows)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')} → ${target}`,
        true,
      );
      results.push({ task: name, status: 'downloaded', rows });
    } catch (e) {
      if (fs.readdirSync(work).length === 0) fs.rmdirSync(work);
      throw e;
    }
  }
  return results;
}

/** Fetches a task's sources into `work`, unpacks and reads them back there, then moves missing files into `target`; returns rows per split. */
async function installTask(
  task: TaskSpec,
  source: GlueSource,
  work: string,
  target: string,
  settings: TransferSettings,
): Promise<Record<string, number>> {
  const staged = path.join(work, 'glue');
  fs.rmSync(staged, { recursive: true, force: true });
  if ('zip' in source) {
    const zip = path.join(work, `${task.folder}.zip`);
    await fetchOnce(source.zip, zip, settings);
    await extractZip(zip, path.join(staged, task.folder));
  } else {
    const files = {
      train: 'msr_paraphrase_train.txt',
      test: 'msr_paraphrase_test.txt',
      devIds: 'dev_ids.tsv',
    } as const;
    for (const key of ['train', 'test', 'devIds'] as const)
      await fetchOnce(source.mrpc[key], path.join(work, files[key]), settings);
    formatMrpc(
      path.join(work, files.train),
      path.join(work, files.test),
      path.join(work, files.devIds),
      path.join(staged, task.folder),
    );
  }
  const absent = missingFiles(task, path.join(staged, task.folder));
  if (absent.length > 0)
    throw new Error(
      `${task.name}: the download lacks ${absent.join(', ')} (is ${sourceUrls(source)} still in GLUE's layout?); nothing was installed`,
    );
  const rows = Object.fromEntries(taskSplits(task).map((split) => [split, loadTask(staged, task.name, split).length]));
  moveMissing(path.join(staged, task.folder), target);
  return rows;
}

/** The split files (NAME.tsv) a task folder lacks. */
function missingFiles(task: TaskSpec, folder: string): string[] {
  return taskSplits(task)
    .map((split) => `${split}.tsv`)
    .filter((f) => !fs.existsSync(path.join(folder, f)));
}

/** A source's URLs, for messages. */
function sourceUrls(source: GlueSource): string {
  return 'zip' in source ? source.zip : Object.values(source.mrpc).join(', ');
}

/** Moves every file under `from` to the same place under `to` unless one is already there. */
function moveMissing(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dest = path.join(to, entry.name);
    if (entry.isDirectory()) moveMissing(src, dest);
    else if (!fs.existsSync(dest)) fs.renameSync(src, dest);
  }
}

/** Downloads a URL to `dest` unless it is already there (a complete file from an earlier run is reused). */
async function fetchOnce(url: string, dest: string, settings: TransferSettings): Promise<void> {
  if (!fs.existsSync(dest)) await downloadFile(url, dest, settings);
}

/** One file in a zip archive, from its central directory. */
interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

/**
 * Unzips an archive into `dest`, dropping its single top-level folder (CoLA.zip holds CoLA/…) and macOS metadata.
 * Only stored and deflated entries without encryption or ZIP64 are supported, which is what the GLUE zips use.
 */
export async function extractZip(zipFile: string, dest: string): Promise<void> {
  const fd = fs.openSync(zipFile, 'r');
  try {
    const files = readCentralDirectory(fd, zipFile).filter(
      (e) => !e.name.endsWith('/') && !/(^|\/)(__MACOSX\/|\.DS_Store$)/.test(e.name),
    );
    if (files.length === 0) throw new Error(`${zipFile}: the archive holds no files`);
    const top = files[0].name.split('/')[0];
    const strip = files.every((e) => e.name.startsWith(`${top}/`)) ? top.length + 1 : 0;
    for (const entry of files) {
      const relative = entry.name.slice(strip);
      if (relative.split('/').some((part) => part === '..' || part === '') || entry.name.includes('\\')) {
        throw new Error(`${zipFile}: refusing the entry name ${JSON.stringify(entry.name)}`);
      }
      const out = path.join(dest, ...relative.split('/'));
      fs.mkdirSync(path.dirname(out), { recursive: true });
      await extractEntry(fd, zipFile, entry, out);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The entries listed in a zip's central directory. */
function readCentralDirectory(fd: number, zipFile: string): ZipEntry[] {
  const size = fs.fstatSync(fd).size;
  const tailSize = Math.min(size, 22 + 0xffff);
  const tail = Buffer.alloc(tailSize);
  fs.readSync(fd, tail, 0, tailSize, size - tailSize);
  let eocd = -1;
  for (let i = tailSize - 22; i >= 0 && eocd < 0; i--) if (tail.readUInt32LE(i) === 0x06054b50) eocd = i;
  if (eocd < 0)
    throw new Error(`${zipFile}: not a zip archive (no end-of-central-directory record); delete it and run again`);
  const count = tail.readUInt16LE(eocd + 10);
  const dirSize = tail.readUInt32LE(eocd + 12);
  const dirOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirOffset === 0xffffffff)
    throw new Error(`${zipFile}: ZIP64 archives are not supported; unzip it with \`unzip\``);
  if (dirOffset + dirSize > size)
    throw new Error(`${zipFile}: truncated (the central directory ends after the file); delete it and run again`);
  const dir = Buffer.alloc(dirSize);
  fs.readSync(fd, dir, 0, dirSize, dirOffset);
  const entries: ZipEntry[] = [];
  for (let at = 0, k = 0; k < count; k++) {
    if (at + 46 > dirSize || dir.readUInt32LE(at) !== 0x02014b50)
      throw new Error(`${zipFile}: damaged central directory at entry ${k + 1}`);
    const nameLength = dir.readUInt16LE(at + 28);
    const entry: ZipEntry = {
      name: dir.toString('utf8', at + 46, at + 46 + nameLength),
      method: dir.readUInt16LE(at + 10),
      crc: dir.readUInt32LE(at + 16),
      compressedSize: dir.readUInt32LE(at + 20),
      size: dir.readUInt32LE(at + 24),
      headerOffset: dir.readUInt32LE(at + 42),
    };
    if (dir.readUInt16LE(at + 8) & 1) throw new Error(`${zipFile}: ${entry.name} is encrypted`);
    if (entry.method !== 0 && entry.method !== 8)
      throw new Error(
        `${zipFile}: ${entry.name} uses compression method ${entry.method} (only stored and deflated are supported)`,
      );
    if ([entry.compressedSize, entry.size, entry.headerOffset].includes(0xffffffff))
      throw new Error(`${zipFile}: ZIP64 archives are not supported; unzip it with \`unzip\``);
    entries.push(entry);
    at += 46 + nameLength + dir.readUInt16LE(at + 30) + dir.readUInt16LE(at + 32);
  }
  return entries;
}

/** Writes one entry's bytes to `out` (through a temporary file), checking its size and CRC-32. */
async function extractEntry(fd: number, zipFile: string, entry: ZipEntry, out: string): Promise<void> {
  const header = Buffer.alloc(30);
  fs.readSync(fd, header, 0, 30, entry.headerOffset);
  if (header.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipFile}: damaged local header of ${entry.name}`);
  const dataStart = entry.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const tmp = `${out}.tmp`;
  const input = fs.createReadStream('', {
    fd,
    autoClose: false,
    start: dataStart,
    end: dataStart + entry.compressedSize - 1,
  });
  const stages = entry.method === 8 ? [zlib.createInflateRaw()] : [];
  try {
    if (entry.compressedSize === 0) fs.writeFileSync(tmp, '');
    else await pipeline([input, ...stages, check, fs.createWriteStream(tmp)]);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${zipFile}: cannot unpack ${entry.name} (${(e as Error).message}); delete the zip and run again`);
  }
  if (size !== entry.size || crc !== entry.crc) {
    fs.rmSync(tmp, { force: true });
    throw new Error(
      `${zipFile}: ${entry.name} is damaged (size ${size} of ${entry.size}, CRC ${crc.toString(16)} instead of ${entry.crc.toString(16)}); delete the zip and run again`,
    );
  }
  fs.renameSync(tmp, out);
}

/** The CRC-32 (zip's polynomial) lookup table. */
const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** Continues a CRC-32 over more bytes (start with 0). */
function crc32(bytes: Uint8Array, crc: number): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/**
 * Builds MRPC's train.tsv, dev.tsv and test.tsv in `dir` as `download_glue_data.py` does: the train file's rows go
 * to dev.tsv when their (#1 ID, #2 ID) is in dev_ids.tsv, else to train.tsv, both under the train file's header;
 * test.tsv gets the header `index, #1 ID, #2 ID, #1 String, #2 String` and rows numbered from 0.
 */
export function formatMrpc(trainFile: string, testFile: string, devIdsFile: string, dir: string): void {
  const rows = (file: string) => {
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.replace(/\r$/, ''));
    if (lines[lines.length - 1] === '') lines.pop();
    return lines;
  };
  const fields = (line: string, file: string, at: number) => {
    const cells = line.trim().split('\t');
    if (cells.length !== 5)
      throw new Error(
        `${file}:${at}: expected 5 tab-separated columns (Quality, #1 ID, #2 ID, #1 String, #2 String), found ${cells.length}`,
      );
    return cells;
  };
  const devIds = new Set(rows(devIdsFile).map((l) => l.trim().split('\t').join('\t')));
  const [header, ...train] = rows(trainFile);
  const kept: string[] = [header];
  const dev: string[] = [header];
  train.forEach((line, i) => {
    const cells = fields(line, trainFile, i + 2);
    (devIds.has(`${cells[1]}\t${cells[2]}`) ? dev : kept).push(cells.join('\t'));
  });
  const test = [
    'index\t#1 ID\t#2 ID\t#1 String\t#2 String',
    ...rows(testFile)
      .slice(1)
      .map((line, i) => [i, ...fields(line, testFile, i + 2).slice(1)].join('\t')),
  ];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'train.tsv'), `${kept.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'dev.tsv'), `${dev.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'test.tsv'), `${test.join('\n')}\n`);
}
