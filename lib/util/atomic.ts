/** Atomic file writes: a temporary file in the same folder, then a rename over the target. */
import * as fs from 'fs';
import * as path from 'path';

/** Data that `writeFileAtomic` accepts: text (UTF-8), bytes, or a list of byte chunks written in order. */
export type AtomicData = string | Uint8Array | readonly Uint8Array[];

/** Writes a file so that a reader (or a crash) sees either the old content or the new, never a partial file. */
export function writeFileAtomic(file: string, data: AtomicData): void {
  const tmp = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`,
  );
  const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
  let fd: number | null = null;
  try {
    fd = fs.openSync(tmp, 'w');
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = null;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw new Error(`${file}: cannot write (${(e as Error).message})`);
  }
}
