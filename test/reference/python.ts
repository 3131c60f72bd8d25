/** Runs the numpy reference (bert_numpy.py) from tests. */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { fileURLToPath } from 'url';

export const NUMPY_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bert_numpy.py');

/** The first of .venv's Python (scripts/setup.sh), /usr/bin/python3 and python3 that imports numpy, or null. */
export function findPython(): string | null {
  const venv = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '.venv', 'bin', 'python');
  for (const exe of [venv, '/usr/bin/python3', 'python3']) {
    if (spawnSync(exe, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0) return exe;
  }
  return null;
}

/** Runs bert_numpy.py with arguments, failing with its stderr. */
export function runScript(python: string, args: string[]): void {
  const r = spawnSync(python, [NUMPY_SCRIPT, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bert_numpy.py ${args[0]} failed (${r.status}): ${r.stderr}`);
}

/** In a `before` hook: skips the suite, saying why, when findPython found no python3 with numpy. */
export function skipWithoutNumpy(context: Mocha.Context, python: string | null): void {
  if (!python) {
    console.warn('    skipped: no python3 with numpy (run bash scripts/setup.sh, which installs it into .venv/)');
    context.skip();
  }
}
