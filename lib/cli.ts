/** The `fisherlab` command line: one subcommand per long job or tool; each lives in lib/commands/. */
import { Command } from 'commander';
import { commandModules } from './commands';
import { memoryLimit, parseBytes } from './train/memory-budget';

/** Commands that run a model, and so take --memory-budget. */
const MODEL_COMMANDS = [
  'pretrain',
  'finetune',
  'sweep',
  'fisher',
  'fisher-stability',
  'landscape',
  'landscape-figure1',
  'model-card',
  'notebooks',
];

const MEMORY_BUDGET_HELP =
  "memory the tensors may use (e.g. 3GiB; default: wasm's 4 GiB heap, half the RAM on native backends); batches that do not fit run in micro-batches, and training steps where not even one sequence fits recompute each layer in backward (gradient checkpointing)";

/** Adds --memory-budget to the commands that run a model; it sets $FISHERLAB_MEMORY_BUDGET, which child processes inherit. */
function addMemoryBudgetOption(program: Command): void {
  for (const command of program.commands.filter((c) => MODEL_COMMANDS.includes(c.name()))) {
    command.option('--memory-budget <size>', MEMORY_BUDGET_HELP);
  }
  program.hook('preAction', (_program, action) => {
    const budget = (action.opts() as { memoryBudget?: string }).memoryBudget;
    if (budget === undefined) return;
    parseBytes(budget, '--memory-budget');
    process.env.FISHERLAB_MEMORY_BUDGET = budget;
  });
}

/** Parses argv and runs the chosen subcommand; exits non-zero with the error's message on failure. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('fisherlab')
    .description('Fisher information in language models: BERT in TensorFlow.js, guided dropout, loss landscapes.')
    .showHelpAfterError();
  for (const load of commandModules(argv)) (await load()).register(program);
  addMemoryBudgetOption(program);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    console.error(`fisherlab: ${explainOutOfMemory((e as Error).message)}`);
    process.exitCode = 1;
  }
}

/** wasm's own out-of-memory messages, said in the user's terms (a step outgrew the model of lib/train/memory-budget). */
function explainOutOfMemory(message: string): string {
  if (!/memory access out of bounds|^Aborted\(|Invalid typed array length/.test(message)) return message;
  return (
    `the TensorFlow.js backend ran out of memory (${message.split('\n')[0]}): a step needed more than its ${memoryLimit().what} ` +
    'allows; give a smaller --memory-budget so that batches run in smaller micro-batches, or shorten the sequences (--max-length)'
  );
}
