/** Masked-LM pretraining: corpus, WordPiece vocabulary, masked data, the resumable run, its shards, and the model card. */
export * from './benefit';
export * from './corpus';
export * from './document';
export * from './glue-text';
export * from './mlm-data';
export * from './mlm-eval';
export * from './model-card';
export * from './run';
export * from './settings';
export * from './shards';
export * from './wordnet-glosses';
export * from './wordpiece-trainer';
