/** The weight files of a Hugging Face model folder: which of the four layouts it uses, read as one set of tensors. */
import * as fs from 'fs';
import * as path from 'path';
import { readPytorch } from './pytorch';
import { SafetensorsContents, readSafetensors } from './safetensors';

/** The weight files fisherlab reads, in order of precedence: the first one a folder has is read. */
export const WEIGHT_FILES = [
  'model.safetensors',
  'model.safetensors.index.json',
  'pytorch_model.bin',
  'pytorch_model.bin.index.json',
] as const;
/** Weight files of other frameworks, named in the error for a folder that has only those. */
const OTHER_FRAMEWORKS = [
  'tf_model.h5',
  'tf_model.h5.index.json',
  'flax_model.msgpack',
  'flax_model.msgpack.index.json',
];

/** Where a folder's tensors are. */
export interface WeightFiles {
  /** The file read: a weights file, or the index of a sharded checkpoint. */
  main: string;
  /** The files holding the tensors: `main` itself, or the index's shards in name order. */
  shards: string[];
  /** For a sharded checkpoint: each tensor's shard (a file name in the folder), as the index says; else null. */
  weightMap: Map<string, string> | null;
  /** Weight files the folder also has, ignored by precedence. */
  ignored: string[];
}

/** The tensors of all of a folder's weight files. */
export interface WeightTensors extends Pick<SafetensorsContents, 'tensors' | 'dtypes'> {
  /** The file each tensor came from. */
  origin: Map<string, string>;
}

/** Finds a folder's weight files by precedence, checking a sharded checkpoint's index against the folder. */
export function findWeightFiles(dir: string): WeightFiles {
  const present = WEIGHT_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
  if (present.length === 0) throw new Error(missingWeightsMessage(dir));
  const main = path.join(dir, present[0]);
  const ignored = present.slice(1).map((f) => path.join(dir, f));
  if (!main.endsWith('.index.json')) return { main, shards: [main], weightMap: null, ignored };
  const weightMap = readShardIndex(main);
  const shards = [...new Set(weightMap.values())].sort();
  for (const shard of shards) {
    if (!fs.existsSync(path.join(dir, shard))) {
      const tensor = [...weightMap].find(([, s]) => s === shard)![0];
      throw new Error(`${main}: shard ${shard} (holding ${tensor}, among others) is missing from ${dir}`);
    }
  }
  return { main, shards: shards.map((s) => path.join(dir, s)), weightMap, ignored };
}

/** The files that identify a folder's weights, in a fixed order: the weights file, or the index and then its shards. */
export function identifyingFiles(files: WeightFiles): string[] {
  return files.weightMap ? [files.main, ...files.shards] : [files.main];
}

/** Reads every tensor of a folder's weight files (non-float tensors only by dtype), checking each shard against the index. */
export function readWeightFiles(files: WeightFiles): WeightTensors {
  const tensors: WeightTensors['tensors'] = new Map();
  const dtypes = new Map<string, string>();
  const origin = new Map<string, string>();
  for (const file of files.shards) {
    const read = file.endsWith('.safetensors') ? readSafetensors : readPytorch;
    const contents = read(file, { skipNonFloat: true });
    for (const [name, dtype] of contents.dtypes) {
      const earlier = origin.get(name);
      if (earlier !== undefined) throw new Error(`${file}: tensor ${name} is also in ${earlier}`);
      const listed = files.weightMap?.get(name);
      if (files.weightMap && listed !== path.basename(file)) {
        throw new Error(
          `${file}: holds tensor ${name}, but ${files.main} ${listed ? `puts it in ${listed}` : 'does not list it'}`,
        );
      }
      origin.set(name, file);
      dtypes.set(name, dtype);
      const t = contents.tensors.get(name);
      if (t) tensors.set(name, t);
    }
  }
  for (const [name, shard] of files.weightMap ?? []) {
    if (!origin.has(name)) throw new Error(`${files.main}: tensor ${name} should be in ${shard} but is not`);
  }
  return { tensors, dtypes, origin };
}

/** An index's `weight_map` (tensor name to shard file name), validated: every shard a file name in the same folder. */
export function readShardIndex(file: string): Map<string, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read the shard index (${(e as Error).message})`);
  }
  const map = (raw as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new Error(`${file}: no "weight_map" object of tensor names to shard files`);
  }
  const out = new Map<string, string>();
  const suffix = path
    .basename(file)
    .replace(/\.index\.json$/, '')
    .replace(/^.*\./, '.');
  for (const [tensor, shard] of Object.entries(map)) {
    if (
      typeof shard !== 'string' ||
      path.basename(shard) !== shard ||
      !shard.endsWith(suffix) ||
      shard.startsWith('.')
    ) {
      throw new Error(
        `${file}: tensor ${tensor}: shard ${JSON.stringify(shard)} is not a ${suffix} file name in the same folder`,
      );
    }
    out.set(tensor, shard);
  }
  if (out.size === 0) throw new Error(`${file}: "weight_map" lists no tensors`);
  return out;
}

/** The error for a folder without weights fisherlab reads, explaining how to convert other frameworks' weights. */
function missingWeightsMessage(dir: string): string {
  const others = OTHER_FRAMEWORKS.filter((f) => fs.existsSync(path.join(dir, f)));
  const wanted = `${WEIGHT_FILES.slice(0, -1).join(', ')} or ${WEIGHT_FILES.at(-1)}`;
  if (others.length === 0) return `${dir}: no weights in the folder (looked for ${wanted})`;
  return (
    `${dir}: has ${others.join(', ')} but no PyTorch weights (${wanted}); ` +
    `fisherlab does not read TensorFlow or Flax weights. Convert them with Python:\n` +
    `  python -c "from transformers import BertForMaskedLM as M; ` +
    `M.from_pretrained('${dir}', ${others[0].startsWith('tf') ? 'from_tf' : 'from_flax'}=True).save_pretrained('OUT')"\n` +
    `(use BertForSequenceClassification for a fine-tuned classifier), then copy vocab.txt and the tokenizer files into OUT and pass OUT.`
  );
}
