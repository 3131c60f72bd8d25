/** Small shared tools: atomic writes, JSON lines, seeded randomness, progress lines, child processes, run folders and Ctrl-C, statistics, gradients in less memory, taped ops with gradients of their own. */
export * from './atomic';
export * from './child-process';
export * from './jsonl';
export * from './lean-gradients';
export * from './progress';
export * from './random';
export * from './run-dir';
export * from './stats';
export * from './taped-op';
