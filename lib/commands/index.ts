/** The `fisherlab` subcommands, one module each; every module exports `register(program)`. */
import type { Command } from 'commander';

/** Subcommand modules; each exports `register(program)`. */
export const COMMANDS = [
  () => import('./info'),
  () => import('./attention'),
  () => import('./forward'),
  () => import('./fill-mask'),
  () => import('./download'),
  () => import('./glue-download'),
  () => import('./pretrain'),
  () => import('./finetune'),
  () => import('./schedule'),
  () => import('./sweep'),
  () => import('./fisher'),
  () => import('./fisher-stability'),
  () => import('./landscape'),
  () => import('./landscape-figure1'),
  () => import('./model-card'),
  () => import('./lab'),
  () => import('./notebooks'),
  () => import('./tokenize'),
  () => import('./train-vocab'),
] as Array<() => Promise<{ register: (program: Command) => void }>>;
