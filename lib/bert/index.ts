/** BERT in TensorFlow.js with Hugging Face names: configuration, parameters, the model, its tokenizer, and its folders. */
export * from './attention-offsets';
export * from './config';
export * from './dropout';
export * from './fill-mask';
export * from './folder';
export * from './hub';
export * from './load';
export * from './model';
export * from './model-dir';
export * from './parameters';
export * from './plots';
export * from './tokenizer';
