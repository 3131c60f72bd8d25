/** Where model folders are found: an explicit folder, $FISHERLAB_MODEL, or the embedded default shipped in data/models. */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { projectRoot } from './paths';

/** The folder of the model fisherlab ships and uses by default. */
export function defaultModelDir(): string {
  return path.join(projectRoot(), 'data', 'models', 'fisherlab-bert-l4-h128');
}

/** The model folder to use: `dir` if given, else $FISHERLAB_MODEL, else the embedded default; it must exist. */
export function resolveModelDir(dir?: string): string {
  const chosen = dir ?? process.env.FISHERLAB_MODEL ?? defaultModelDir();
  if (!fs.existsSync(chosen)) {
    const hint = dir ? '' : ' (no --model given; the embedded default is built by `fisherlab pretrain`; pass --model DIR for another Hugging Face BERT folder)';
    throw new Error(`model folder ${chosen} does not exist${hint}`);
  }
  return path.resolve(chosen);
}

/** SHA-256 (hex, first 16 digits) of a model folder's model.safetensors: which weights a result was computed from. */
export function modelFingerprint(dir: string): string {
  const file = path.join(dir, 'model.safetensors');
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist`);
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}
