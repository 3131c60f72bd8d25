/** Headless notebook runs: execution and HTML export by lib/notebook/run.py in the project's Jupyter environment. */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { jupyterEnv, jupyterPython, KERNEL } from './jupyter-env';
import { projectRoot } from '../paths';

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
function runAsync(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: jupyterEnv(env), stdio: ['ignore', 'ignore', 'pipe'] });
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
 * Executes one notebook headless with the tslab kernel through nbconvert's ExecutePreprocessor (lib/notebook/run.py),
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
  };
  const script = path.join(projectRoot(), 'lib', 'notebook', 'run.py');
  const timeout = String(options.timeout > 0 ? options.timeout : -1);
  const r = await runAsync(jupyterPython(), [script, notebook, dest, KERNEL, timeout], env);
  const seconds = (Date.now() - started) / 1000;
  const written = outputs.filter((f) => fs.existsSync(f));
  if (r.status === 0 && written.length === outputs.length) return { notebook, ok: true, seconds, outputs: written };
  return { notebook, ok: false, seconds, error: failureMessage(r.stderr), outputs: written };
}
