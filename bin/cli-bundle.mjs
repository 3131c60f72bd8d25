/**
 * The command line as one bundle: lib/cli.ts and the lib modules it reaches, built by esbuild into
 * .fisherlab-cache/cli/cli.cjs (packages stay external) and rebuilt when anything under lib/ changes. Node starts the
 * bundle about 0.4 s sooner than tsx starts the sources, a cost every child process of a sweep, a landscape or the
 * Fisher pass pays again. It is CommonJS because the packages it requires are: an ES module importing them has Node
 * scan each package's source for its exports first (0.15 s for TensorFlow.js's).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const STAMP = 'sources.json';

/** The newest modification time (ms) under `dir`: files, and folders (which change when an entry is added or removed). */
function newestUnder(dir) {
  let newest = fs.statSync(dir).mtimeMs;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** The newest modification time of what the bundle is built from: lib/, tsconfig.json and this file. */
function sourcesTime(root) {
  const files = [path.join(root, 'tsconfig.json'), fileURLToPath(import.meta.url)].filter((f) => fs.existsSync(f));
  return Math.max(newestUnder(path.join(root, 'lib')), ...files.map((f) => fs.statSync(f).mtimeMs));
}

/** Writes a file by renaming a temporary beside it, so a process reading it never sees part of it. */
function writeAtomic(file, contents) {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  fs.writeFileSync(tmp, contents);
  fs.renameSync(tmp, file);
}

/**
 * The bundle's entry file for the project at `root`, built first when missing or older than its sources; null where
 * it cannot be written (a read-only install), so the caller runs the sources instead. A build error names the file
 * and line.
 */
export async function cliBundle(root) {
  const out = path.join(root, '.fisherlab-cache', 'cli');
  const entry = path.join(out, 'cli.cjs');
  const sources = sourcesTime(root);
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(out, STAMP), 'utf8'));
    if (stamp.sources === sources && fs.existsSync(entry)) return entry;
  } catch {
    // no bundle yet, or an unreadable stamp: build
  }
  try {
    fs.mkdirSync(out, { recursive: true });
    fs.accessSync(out, fs.constants.W_OK);
  } catch {
    return null;
  }
  const { build } = await import('esbuild');
  let result;
  try {
    result = await build({
      entryPoints: [path.join(root, 'lib', 'cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      sourcemap: true,
      outfile: entry,
      write: false,
      logLevel: 'silent',
    });
  } catch (e) {
    const where = (m) => (m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '');
    const errors = e.errors ?? [];
    throw new Error(
      `fisherlab: cannot build the command line from lib/: ${errors.map((m) => where(m) + m.text).join('; ') || e.message}`,
    );
  }
  // the entry and its source map, then the stamp
  const files = result.outputFiles;
  for (const f of files) writeAtomic(f.path, f.contents);
  const keep = new Set([...files.map((f) => path.basename(f.path)), STAMP]);
  for (const name of fs.readdirSync(out))
    // (another process building at the same time may have removed it already)
    if (!keep.has(name) && !name.endsWith('.tmp')) fs.rmSync(path.join(out, name), { force: true });
  writeAtomic(path.join(out, STAMP), JSON.stringify({ sources }) + '\n');
  return entry;
}
