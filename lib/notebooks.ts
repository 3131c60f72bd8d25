/** Headless notebook runs: the tslab kernel's registration, then execution and HTML export by lib/notebooks.py. */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from './paths';

/** The Jupyter kernel every notebook uses. */
export const KERNEL = 'tslab';

/** The Python that has Jupyter (Debian's): $FISHERLAB_PYTHON, else /usr/bin/python3. */
export function jupyterPython(): string {
  return process.env.FISHERLAB_PYTHON ?? '/usr/bin/python3';
}

/** Runs a command to completion; returns its exit status and output (status null when it cannot start). */
function run(command: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { status: r.error ? null : r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

/** The command that starts a registered kernel, or null when it is not registered. */
export function kernelCommand(name = KERNEL): string[] | null {
  const r = run(jupyterPython(), ['-m', 'jupyter', 'kernelspec', 'list', '--json']);
  if (r.status === null || /No module named/.test(r.stderr)) {
    throw new Error(`${jupyterPython()} has no Jupyter: run scripts/setup.sh (or apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client)`);
  }
  if (r.status !== 0) throw new Error(`jupyter kernelspec list failed: ${r.stderr.trim()}`);
  const spec = JSON.parse(r.stdout).kernelspecs?.[name]?.spec;
  return spec ? (spec.argv as string[]) : null;
}

/** Registers the tslab kernel with Jupyter unless a working one is registered (or `force`); returns whether it registered. */
export function ensureKernel(force = false): boolean {
  const argv = kernelCommand();
  if (!force && argv && fs.existsSync(argv[0])) return false;
  const tslab = path.join(projectRoot(), 'node_modules', '.bin', 'tslab');
  if (!fs.existsSync(tslab)) throw new Error(`${tslab} is missing: run npm ci first`);
  const r = run(tslab, ['install', `--python=${jupyterPython()}`, `--binary=${tslab}`]);
  if (r.status !== 0) throw new Error(`tslab install failed: ${(r.stderr || r.stdout).trim()}`);
  if (!kernelCommand()) throw new Error('tslab install ran but Jupyter still lists no tslab kernel');
  return true;
}

/** The project's notebooks, notebooks/NN-*.ipynb, sorted by name. */
export function listNotebooks(dir = path.join(projectRoot(), 'notebooks')): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** How to run notebooks. */
export interface RunOptions {
  /** Output folder: executed notebooks and HTML go to <out>/notebooks, figures to <out>/figures. */
  outDir: string;
  /** Run in full mode (FISHERLAB_FULL=1) instead of quick mode. */
  full: boolean;
  /** Seconds each cell may take; 0 for no limit. */
  timeout: number;
}

/** The outcome of one notebook's run. */
export interface NotebookResult {
  notebook: string;
  ok: boolean;
  seconds: number;
  /** The failing cell and its error (from nbconvert's output) when the run failed. */
  error?: string;
  /** The executed notebook and its HTML page, as far as the run got. */
  outputs: string[];
}

/** Runs a command with extra environment variables; resolves with its exit status and stderr. */
function runAsync(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ status: null, stderr: stderr + String(e) }));
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

/** The part of the runner's stderr that explains a failure: the failing cell's report, else the last lines. */
export function failureMessage(stderr: string): string {
  const plain = stderr.replace(/\x1b\[[0-9;]*m/g, '');
  const start = plain.search(/^(cell \d+|the notebook) failed:$/m);
  return (start >= 0 ? plain.slice(start) : plain.split('\n').slice(-30).join('\n')).trim();
}

/**
 * Executes one notebook headless with the tslab kernel through nbconvert's ExecutePreprocessor (lib/notebooks.py),
 * stopping at the first failing cell, and saves it as .ipynb and .html in <out>/notebooks, even when it failed.
 */
export async function runNotebook(notebook: string, options: RunOptions): Promise<NotebookResult> {
  const started = Date.now();
  const dest = path.join(options.outDir, 'notebooks');
  const name = path.basename(notebook, '.ipynb');
  const outputs = [path.join(dest, `${name}.ipynb`), path.join(dest, `${name}.html`)];
  for (const stale of outputs) fs.rmSync(stale, { force: true });
  const env = {
    FISHERLAB_ROOT: projectRoot(),
    FISHERLAB_OUT: options.outDir,
    FISHERLAB_FIGURES: path.join(options.outDir, 'figures'),
    FISHERLAB_FULL: options.full ? '1' : '0',
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
  };
  const script = path.join(projectRoot(), 'lib', 'notebooks.py');
  const timeout = String(options.timeout > 0 ? options.timeout : -1);
  const r = await runAsync(jupyterPython(), [script, notebook, dest, KERNEL, timeout], env);
  const seconds = (Date.now() - started) / 1000;
  const written = outputs.filter((f) => fs.existsSync(f));
  if (r.status === 0 && written.length === outputs.length) return { notebook, ok: true, seconds, outputs: written };
  return { notebook, ok: false, seconds, error: failureMessage(r.stderr), outputs: written };
}
