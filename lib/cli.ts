/** The `fisherlab` command line: one subcommand per long job or tool; each lives in lib/commands/. */
import { Command } from 'commander';

/** Subcommand modules; each exports `register(program)`. */
const COMMANDS = [
  () => import('./commands/info'),
  () => import('./commands/attention'),
  () => import('./commands/forward'),
  () => import('./commands/fill-mask'),
  () => import('./commands/download'),
  () => import('./commands/glue-download'),
  () => import('./commands/pretrain'),
  () => import('./commands/finetune'),
  () => import('./commands/schedule'),
  () => import('./commands/sweep'),
  () => import('./commands/fisher'),
  () => import('./commands/fisher-stability'),
  () => import('./commands/landscape'),
  () => import('./commands/landscape-figure1'),
  () => import('./commands/model-card'),
  () => import('./commands/lab'),
  () => import('./commands/notebooks'),
  () => import('./commands/tokenize'),
  () => import('./commands/train-vocab'),
] as Array<() => Promise<{ register: (program: Command) => void }>>;

/** Parses argv and runs the chosen subcommand; exits non-zero with the error's message on failure. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('fisherlab')
    .description('Fisher information in language models: BERT in TensorFlow.js, guided dropout, loss landscapes.')
    .showHelpAfterError();
  for (const load of COMMANDS) (await load()).register(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    console.error(`fisherlab: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
