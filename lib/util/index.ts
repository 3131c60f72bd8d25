/** Small shared tools: atomic writes, JSON lines, seeded randomness, progress lines, child processes, statistics. */
export * from './atomic';
export * from './child-process';
export * from './jsonl';
export * from './progress';
export * from './random';
export * from './stats';
