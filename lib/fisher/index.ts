/** The empirical Fisher: per-sample gradients, the estimate and its 1% file, aggregation, how it is spread, stability, the study and its plots. */
export * from './aggregate';
export * from './distribution';
export * from './estimate';
export * from './one-percent';
export * from './per-sample-grads';
export * from './plots';
export * from './samples';
export * from './stability';
export * from './study';
