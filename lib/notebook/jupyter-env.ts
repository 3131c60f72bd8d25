/** The project's Jupyter: the virtual environment scripts/setup.sh makes (.venv/) and the tslab kernel in it. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from '../paths';

/** The Jupyter kernel every notebook uses. */
export const KERNEL = 'tslab';

/** The Python that has Jupyter: $FISHERLAB_PYTHON, else the project's .venv (made by scripts/setup.sh). */
export function jupyterPython(): string {
  if (process.env.FISHERLAB_PYTHON) return process.env.FISHERLAB_PYTHON;
  const venv = path.join(projectRoot(), '.venv');
  return process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python');
}

/** The environment for Jupyter processes: kernels registered in the Jupyter Python's prefix win over the user's. */
export function jupyterEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, JUPYTER_PREFER_ENV_PATH: '1', PYDEVD_DISABLE_FILE_VALIDATION: '1', ...extra };
}

/** The Jupyter Python's sys.prefix; fails with what to do when that Python is missing or lacks Jupyter. */
export function jupyterPrefix(): string {
  const python = jupyterPython();
  if (!fs.existsSync(python)) throw new Error(`no Jupyter environment at ${python}: run bash scripts/setup.sh`);
  const r = spawnSync(python, ['-c', 'import sys, jupyter_client; print(sys.prefix)'], { encoding: 'utf8' });
  const why = (r.stderr || String(r.error)).trim().split('\n').pop();
  if (r.status !== 0) throw new Error(`${python} has no Jupyter (${why}): run bash scripts/setup.sh`);
  return r.stdout.trim();
}

/** The command in the tslab kernel spec registered in the Jupyter Python's prefix, or null when there is none. */
export function kernelCommand(name = KERNEL): string[] | null {
  const spec = path.join(jupyterPrefix(), 'share', 'jupyter', 'kernels', name, 'kernel.json');
  if (!fs.existsSync(spec)) return null;
  return JSON.parse(fs.readFileSync(spec, 'utf8')).argv as string[];
}

/** Registers the tslab kernel in the Jupyter Python's prefix unless it is there (or `force`); returns whether it did. */
export function ensureKernel(force = false): boolean {
  const argv = kernelCommand();
  const tslab = path.join(projectRoot(), 'node_modules', '.bin', 'tslab');
  if (!force && argv && argv[0] === tslab && fs.existsSync(tslab)) return false;
  if (!fs.existsSync(tslab)) throw new Error(`${tslab} is missing: run npm ci first`);
  const args = ['install', `--python=${jupyterPython()}`, '--sys-prefix', `--binary=${tslab}`];
  const r = spawnSync(tslab, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tslab install failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  if (!kernelCommand()) throw new Error(`tslab install ran but ${jupyterPrefix()} still holds no tslab kernel`);
  return true;
}
