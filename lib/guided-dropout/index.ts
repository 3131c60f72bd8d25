/** Guided dropout: Fisher-ranked dropout schedules and the dropout methods compared in the paper. */
export * from './check';
export * from './methods';
export * from './schedule';
