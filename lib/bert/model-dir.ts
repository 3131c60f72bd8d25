/** Where model folders are found: an explicit folder, $FISHERLAB_MODEL, or the embedded default shipped in data/models. */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { defaultModelDir } from '../shipped';
import { findWeightFiles, identifyingFiles } from '../weights/files';

/** The model folder to use: `dir` if given, else $FISHERLAB_MODEL, else the embedded default; it must exist. */
export function resolveModelDir(dir?: string): string {
  const chosen = dir ?? process.env.FISHERLAB_MODEL ?? defaultModelDir();
  if (!fs.existsSync(chosen)) {
    const hint = dir
      ? ''
      : ' (no --model given; the embedded default is built by `fisherlab pretrain`; pass --model DIR for another Hugging Face BERT folder)';
    throw new Error(`model folder ${chosen} does not exist${hint}`);
  }
  return path.resolve(chosen);
}

/**
 * SHA-256 (hex, first 16 digits) of a model folder's weight files, read as one stream: the weights file, or a sharded
 * checkpoint's index followed by its shards in name order. Which weights a result was computed from; for a single
 * model.safetensors it is that file's own SHA-256, as results in data/ record.
 */
export function modelFingerprint(dir: string): string {
  const hash = createHash('sha256');
  for (const file of identifyingFiles(findWeightFiles(dir))) hash.update(fs.readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}
