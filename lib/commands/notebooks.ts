/** `fisherlab notebooks` and `fisherlab kernel`: run the notebooks headless; register the tslab kernel. */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { ensureKernel } from '../notebook/jupyter-env';
import { listNotebooks, runNotebook } from '../notebook/run';
import type { NotebookResult } from '../notebook/run';
import { outputDir } from '../paths';

interface NotebooksOpts {
  full?: boolean;
  out?: string;
  timeout: string;
}

/** Indents every line of a text block. */
function indent(text: string, prefix = '    '): string {
  return text
    .split('\n')
    .map((line) => prefix + line)
    .join('\n');
}

/** Adds the `notebooks` and `kernel` commands. */
export function register(program: Command): void {
  program
    .command('notebooks')
    .summary('execute the notebooks headless (quick or --full)')
    .description(
      "execute notebooks headless with the tslab kernel (nbconvert's ExecutePreprocessor; a notebook stops at its first failing cell), saving each executed notebook and its HTML page in <out>/notebooks (failed ones too, as far as they ran) and figures in <out>/figures; exits non-zero when any notebook fails",
    )
    .argument('[files...]', 'notebooks to run (default: every notebooks/NN-*.ipynb, in order)')
    .option('--full', 'full mode: FISHERLAB_FULL=1 (real data and sizes) instead of the quick mode')
    .option('--out <dir>', 'output folder (default: $FISHERLAB_OUT, else out/)')
    .option('--timeout <seconds>', 'seconds each cell may run before the notebook fails; 0 for no limit', '600')
    .addHelpText(
      'after',
      '\nThe tslab kernel is registered first when Jupyter lacks it (see `fisherlab kernel`).\n' +
        'Each notebook prints PASS or FAIL with its wall time; a failure shows the failing cell and its error.\n' +
        'The last line reads "notebooks: N passed, M failed".\n\n' +
        'Examples:\n  npx fisherlab notebooks\n  npx fisherlab notebooks notebooks/01-tour.ipynb --timeout 120\n  npx fisherlab notebooks --full --timeout 0 --out /data/fisherlab-out',
    )
    .action(async (files: string[], opts: NotebooksOpts) => {
      const timeout = Number(opts.timeout);
      if (!Number.isFinite(timeout) || timeout < 0)
        throw new Error(`--timeout: "${opts.timeout}" is not a number of seconds`);
      const notebooks = files.length > 0 ? files.map((f) => path.resolve(f)) : listNotebooks();
      const missing = notebooks.filter((f) => !fs.existsSync(f));
      if (missing.length > 0) throw new Error(`no such notebook: ${missing.join(', ')}`);
      const outDir = path.resolve(opts.out ?? outputDir());
      if (ensureKernel()) console.log('registered the tslab kernel in the Jupyter environment');
      console.log(
        `notebooks: running ${notebooks.length} in ${opts.full ? 'full' : 'quick'} mode; output in ${path.join(outDir, 'notebooks')}`,
      );
      const started = Date.now();
      const results: NotebookResult[] = [];
      for (const notebook of notebooks) {
        const result = await runNotebook(notebook, { outDir, full: Boolean(opts.full), timeout });
        results.push(result);
        console.log(`${result.ok ? 'PASS' : 'FAIL'} ${path.basename(notebook)} (${result.seconds.toFixed(1)} s)`);
        if (result.error) console.log(indent(result.error));
      }
      const failed = results.filter((r) => !r.ok).length;
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(`notebooks: ${results.length - failed} passed, ${failed} failed (${seconds} s)`);
      if (failed > 0) process.exitCode = 1;
    });

  program
    .command('kernel')
    .summary('register the tslab Jupyter kernel')
    .description(
      "register the tslab kernel in the project's Jupyter environment (.venv/, or $FISHERLAB_PYTHON's) unless a working one is there",
    )
    .option('--force', 'register again even if a working tslab kernel is registered')
    .action((opts: { force?: boolean }) => {
      console.log(
        ensureKernel(Boolean(opts.force)) ? 'registered the tslab kernel' : 'the tslab kernel is already registered',
      );
    });
}
