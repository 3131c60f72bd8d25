/** Where fisherlab finds its own files, the shared data folder and its outputs. */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/** The project's root folder: $FISHERLAB_ROOT, else the nearest folder above the working directory whose package.json is fisherlab's. */
export function projectRoot(): string {
  if (process.env.FISHERLAB_ROOT) return path.resolve(process.env.FISHERLAB_ROOT);
  let dir = process.cwd();
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, 'utf8')).name === 'fisherlab') return dir;
      } catch {
        /* not ours; keep looking */
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the fisherlab project root: set FISHERLAB_ROOT');
    dir = up;
  }
}

/** A path relative to the project root when it lies inside it (so records travel with a clone), else absolute. */
export function projectRelative(p: string): string {
  const abs = path.resolve(p);
  let root: string;
  try {
    root = projectRoot();
  } catch {
    return abs;
  }
  const rel = path.relative(root, abs);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : abs;
}

/** The folder of real data beside the project: $FISHERLAB_DATA, else ../shared/data from the project root (null when absent). */
export function sharedDataDir(): string | null {
  const dir = process.env.FISHERLAB_DATA ?? path.join(projectRoot(), '..', 'shared', 'data');
  return fs.existsSync(dir) ? path.resolve(dir) : null;
}

/** The folder where jobs, executed notebooks and figures go: $FISHERLAB_OUT, else out/ in the project root. */
export function outputDir(): string {
  return path.resolve(process.env.FISHERLAB_OUT ?? path.join(projectRoot(), 'out'));
}

/**
 * The default run folder of a job writing `target` (a file or folder): out/<kind>/<target's name>-<8 hex digits of
 * its absolute path>, so jobs writing the same name in different places never share (and refuse) a run folder.
 */
export function defaultRunDir(kind: string, target: string): string {
  const abs = path.resolve(target);
  const stem = path.basename(abs).replace(/\.(safetensors|json)$/, '');
  return path.join(outputDir(), kind, `${stem}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`);
}
