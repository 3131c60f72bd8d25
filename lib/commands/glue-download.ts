/** `fisherlab glue-download`: fetch GLUE tasks into the official folder layout. */
import { Command, InvalidArgumentError } from 'commander';
import { GLUE_SOURCES, downloadGlue } from '../glue/download';
import { TASK_NAMES, TaskName, taskSpec } from '../glue/tasks';

/** A comma-separated list of GLUE task names, or `all`. */
function taskList(value: string): TaskName[] {
  if (value.trim().toLowerCase() === 'all') return [...TASK_NAMES];
  try {
    return [
      ...new Set(
        value
          .split(',')
          .filter((t) => t.trim() !== '')
          .map((t) => taskSpec(t).name),
      ),
    ];
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** A positive number of seconds from the command line. */
function seconds(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

/** Adds the `glue-download` subcommand to the program. */
export function register(program: Command): void {
  const urls = TASK_NAMES.map((t) => {
    const s = GLUE_SOURCES[t];
    return `  ${t.padEnd(6)} ${'zip' in s ? s.zip : `${s.mrpc.train}\n         ${s.mrpc.test}\n         ${s.mrpc.devIds}`}`;
  }).join('\n');
  program
    .command('glue-download')
    .summary('download GLUE tasks into DIR/TASK/*.tsv (resumable)')
    .description(
      'download GLUE tasks from their official sources into the standard GLUE layout (DIR/TASK/train.tsv, dev.tsv, test.tsv)',
    )
    .requiredOption('--tasks <list>', `comma-separated tasks (${TASK_NAMES.join(',')}) or all`, taskList)
    .requiredOption('--to <dir>', 'the GLUE root folder (created when absent), e.g. ../shared/data/glue')
    .option('--timeout <seconds>', 'give up when a server does not answer within this time', seconds, 10)
    .addHelpText(
      'after',
      `
Sources (those of download_glue_data.py from nyu-mll/GLUE-baselines; MRPC's dev ids from the address Hugging Face
datasets uses). These addresses were taken from those scripts and could not be tried from this project's machines;
if one has moved, the command stops with its HTTP status:
${urls}

MRPC is built as download_glue_data.py builds it: SentEval's copy of the Microsoft corpus (tokenized, as in
Hugging Face datasets) split into train.tsv/dev.tsv by the dev ids. A task whose folder already holds every split
file is skipped; missing files are filled in and existing files are never overwritten. Interrupted transfers
resume: run the command again. Each task is unzipped and read back (every row parsed) before it is installed.

Without network access, download on a machine that has it and copy the task folders, then point
$FISHERLAB_DATA at the folder that holds glue/.

Example:
  fisherlab glue-download --tasks CoLA,SST-2,MRPC,STS-B,RTE --to ../shared/data/glue`,
    )
    .action(async (opts: { tasks: TaskName[]; to: string; timeout: number }) => {
      const results = await downloadGlue({ tasks: opts.tasks, to: opts.to, connectTimeout: opts.timeout });
      for (const r of results) {
        const rows = Object.entries(r.rows)
          .map(([split, n]) => `${split} ${n}`)
          .join(', ');
        console.log(`${r.task}: ${r.status === 'complete' ? 'already complete' : `downloaded (${rows})`}`);
      }
    });
}
