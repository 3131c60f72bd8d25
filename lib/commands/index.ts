/** The `fisherlab` subcommands, one module each; every module exports `register(program)`. */
import type { Command } from 'commander';

type CommandModule = () => Promise<{ register: (program: Command) => void }>;

const notebooks: CommandModule = () => import('./notebooks');
const pretrain: CommandModule = () => import('./pretrain');
const sweep: CommandModule = () => import('./sweep');
const fisher: CommandModule = () => import('./fisher');

/** Each subcommand's module, by command name, in the order help lists them (hidden children name their parent's module). */
export const COMMANDS: Record<string, CommandModule> = {
  info: () => import('./info'),
  attention: () => import('./attention'),
  forward: () => import('./forward'),
  'fill-mask': () => import('./fill-mask'),
  download: () => import('./download'),
  'glue-download': () => import('./glue-download'),
  pretrain,
  'pretrain-shard': pretrain,
  finetune: () => import('./finetune'),
  schedule: () => import('./schedule'),
  sweep,
  'sweep-run': sweep,
  fisher,
  'fisher-shard': fisher,
  'fisher-stability': () => import('./fisher-stability'),
  landscape: () => import('./landscape'),
  'landscape-figure1': () => import('./landscape-figure1'),
  'model-card': () => import('./model-card'),
  lab: () => import('./lab'),
  notebooks,
  kernel: notebooks,
  tokenize: () => import('./tokenize'),
  'train-vocab': () => import('./train-vocab'),
};

/** The modules to load for a command line: only the named command's (a child process starts faster), or all for help and mistakes. */
export function commandModules(argv: readonly string[]): CommandModule[] {
  const name = argv[2];
  const one = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return one ? [one] : [...new Set(Object.values(COMMANDS))];
}
