/** Training: AdamW and its schedule, the loop, checkpoint folders, micro-batches within a memory budget, FLOP counts. */
export * from './checkpoint-dir';
export * from './cost';
export * from './loop';
export * from './memory-budget';
export * from './micro-batches';
export * from './optim';
