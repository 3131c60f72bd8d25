/** GLUE sweeps: the paper's designs, resumable runs in processes or on Slurm, results, floors and summaries. */
export * from './baselines';
export * from './claims';
export * from './designs';
export * from './eta';
export * from './results';
export * from './robustness';
export * from './run';
export * from './slurm';
export * from './slurm-tools';
