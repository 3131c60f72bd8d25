/** Fisher information from first principles, for notebook 01: closed forms, finite differences, small models. */
export * from './bernoulli';
export * from './cramer-rao';
export * from './dropout';
export * from './experiments';
export * from './finite-differences';
export * from './gaussian';
export * from './linalg';
export * from './logistic';
export * from './plots';
export * from './statistics';
