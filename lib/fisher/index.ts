/** The empirical Fisher: per-sample gradients and their fused native kernels, the estimate, building a Fisher file and the 1% one, aggregation, stability, the study and its plots. */
export * from './aggregate';
export * from './build';
export * from './distribution';
export * from './estimate';
export * from './fused-ops';
export * from './one-percent';
export * from './per-sample-grads';
export * from './plots';
export * from './samples';
export * from './shards';
export * from './stability';
export * from './study';
