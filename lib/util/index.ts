/** Small shared tools: atomic writes, JSON lines, seeded randomness, progress lines, child processes, run folders and Ctrl-C, statistics. */
export * from './atomic';
export * from './child-process';
export * from './jsonl';
export * from './progress';
export * from './random';
export * from './run-dir';
export * from './stats';
