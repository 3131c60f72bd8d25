/** Weight files in every layout Hugging Face uses: safetensors, PyTorch zip and pickle, sharded indexes. */
export * from './files';
export * from './pickle';
export * from './pytorch';
export * from './safetensors';
