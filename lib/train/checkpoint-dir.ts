/** Checkpoint folders of a long job: a kill at any moment leaves the previous complete checkpoint or the new one. */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/atomic';

export interface CheckpointRef {
  step: number;
  /** The checkpoint's folder. */
  dir: string;
}

const LATEST = 'latest.json';

/** `root/ckpt-<step>/` folders and `root/latest.json` naming the newest complete one. */
export class CheckpointDir {
  constructor(
    readonly root: string,
    private readonly keep = 1,
  ) {}

  /** The newest complete checkpoint, or null when there is none. */
  latest(): CheckpointRef | null {
    const file = path.join(this.root, LATEST);
    if (!fs.existsSync(file)) return null;
    let ref: { step?: unknown; dir?: unknown };
    try {
      ref = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof ref.step !== 'number' || typeof ref.dir !== 'string')
      throw new Error(`${file}: expected {"step": number, "dir": string}`);
    const dir = path.join(this.root, ref.dir);
    if (!fs.existsSync(dir)) throw new Error(`${file} names ${dir}, which does not exist`);
    return { step: ref.step, dir };
  }

  /** Writes a checkpoint: `write(folder)` fills a fresh folder, which then becomes the latest; older ones are removed. */
  save(step: number, write: (dir: string) => void): CheckpointRef {
    fs.mkdirSync(this.root, { recursive: true });
    const name = `ckpt-${String(step).padStart(8, '0')}`;
    const partial = path.join(this.root, `${name}.partial`);
    fs.rmSync(partial, { recursive: true, force: true });
    fs.mkdirSync(partial);
    write(partial);
    const dir = path.join(this.root, name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(partial, dir);
    writeFileAtomic(path.join(this.root, LATEST), JSON.stringify({ step, dir: name }) + '\n');
    this.prune(name);
    return { step, dir };
  }

  /** Removes partial folders and all but the `keep` newest checkpoints. */
  private prune(current: string): void {
    const entries = fs
      .readdirSync(this.root)
      .filter((n) => n.startsWith('ckpt-'))
      .sort();
    const complete = entries.filter((n) => !n.endsWith('.partial'));
    const old = complete.slice(0, Math.max(0, complete.length - this.keep)).filter((n) => n !== current);
    for (const n of [...entries.filter((n) => n.endsWith('.partial')), ...old])
      fs.rmSync(path.join(this.root, n), { recursive: true, force: true });
  }
}
