/** GLUE: tasks, data, protocols, metrics, fine-tuning recipes and fine-tuning. */
export * from './download';
export * from './finetune';
export * from './load';
export * from './metrics';
export * from './protocols';
export * from './recipes';
export * from './tasks';
