/**
 * The empirical Fisher diagonal (the paper's Eq. 3): F_j = (1/n) Σ_i (∂L_i/∂θ_j)² for every parameter tensor of a
 * BertForMaskedLM, L_i being sample i's own masked-LM loss under its own mask, in evaluation mode (no dropout).
 * Batches give per-sample squared gradients in one backward pass (per-sample-grads.ts); running sums are kept in
 * float64, checkpointed atomically, and a resumed run ends bitwise equal to an uninterrupted one. Unlike the
 * authors' script, every sample counts (theirs drops the last partial block of 100 but still divides by n).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic';
import { openRunDir, RunControl } from '../util/run-dir';
import { backendName } from '../backend';
import { readConfig } from '../bert/config';
import type { Bert } from '../bert/model';
import { MASKED_LM, parameterSpecs } from '../bert/parameters';
import { CheckpointDir } from '../train/checkpoint-dir';
import { estimateLine, trainingFlops } from '../train/cost';
import { collate, IGNORE_INDEX, MaskedExample } from '../pretrain/mlm-data';
import { projectRoot } from '../paths';
import { microBatchSize } from '../train/memory-budget';
import { squaredGradSumsInParts } from './per-sample-grads';
import { Progress } from '../util/progress';
import { NamedArray, readSafetensors, writeSafetensors } from '../weights/safetensors';

/** What `estimateFisher` needs; `shouldStop` is polled after every batch. */
export interface FisherOptions extends RunControl {
  model: Bert;
  /** The masked examples, in the order they are processed; every one counts. */
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>;
  padId: number;
  /** Samples per forward/backward pass (default 16). */
  batchSize?: number;
  /** Folder for checkpoints; a run with a checkpoint there resumes from it. */
  runDir?: string;
  /** Descriptive settings that must match for `runDir` to resume (the examples, model weights and batch size always must). */
  settings?: Record<string, string | number>;
  /** Samples between checkpoints (default 1000); one is always written when the run stops before its end. */
  checkpointEvery?: number;
  /** Stop (saving a checkpoint) at the first batch boundary at or after this many samples. */
  stopAfter?: number;
}

export interface FisherResult {
  /** F per parameter tensor in `namedParameters()` order, or null when the run stopped before the last sample. */
  fisher: Map<string, NamedArray> | null;
  /** Samples done so far (all of them when `fisher` is set). */
  samples: number;
  /** Samples done by earlier sittings (0 for a fresh run). */
  resumedFrom: number;
  /** Mean per-sample masked-LM loss over the samples done. */
  meanLoss: number;
  /** Wall time of this call, in seconds. */
  seconds: number;
  /** Samples per forward/backward pass: the batch, or less when a batch does not fit in memory at once (the sums do not change). */
  microBatch: number;
  /** The float64 running sums Σ_i g_i² in `namedParameters()` order, and the sum of the per-sample losses, over the samples done. */
  sums: Float64Array[];
  lossSum: number;
}

/** The `kind` metadata of a Fisher file. */
export const FISHER_KIND = 'empirical-fisher-diagonal';

const SUMS_FILE = 'sums.f64';
const STATE_FILE = 'state.json';

/** Estimates the empirical Fisher diagonal over `examples`, resuming from `runDir` when it holds a checkpoint. */
export async function estimateFisher(o: FisherOptions): Promise<FisherResult> {
  const { model, examples } = o;
  const n = examples.length;
  const batchSize = o.batchSize ?? 16;
  const checkpointEvery = o.checkpointEvery ?? 1000;
  if (n === 0) throw new Error('fisher: no examples');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`fisher: batch size must be a positive integer (got ${batchSize})`);
  if (!Number.isInteger(checkpointEvery) || checkpointEvery < 1)
    throw new Error(`fisher: checkpointEvery must be a positive integer (got ${checkpointEvery})`);
  if (!model.parts.mlm)
    throw new Error(
      'fisher: the model has no masked-LM head (cls.predictions.*); the Fisher of the pretraining loss needs a BertForMaskedLM',
    );
  const names = model.namedParameters().map(([name]) => name);
  const sums = model.namedParameters().map(([, v]) => new Float64Array(v.size));
  let lossSum = 0;
  let start = 0;
  let ckpts: CheckpointDir | null = null;
  if (o.runDir) {
    openRunDir(
      o.runDir,
      {
        ...o.settings,
        samples: n,
        batch_size: batchSize,
        examples_sha256: fingerprintExamples(examples),
        weights_sha256: fingerprintWeights(model),
      },
      'Fisher run',
    );
    ckpts = new CheckpointDir(path.join(o.runDir, 'checkpoints'));
    const latest = ckpts.latest();
    if (latest) ({ samples: start, lossSum } = readSums(latest.dir, names, sums));
  }
  const save = (done: number) => ckpts?.save(done, (dir) => writeSums(dir, names, sums, done, lossSum));

  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (start > 0) say(`fisher: resuming after ${start} of ${n} samples`);
  const masked = (e: MaskedExample) => e.labels.filter((y) => y !== IGNORE_INDEX).length;
  const work = examples
    .slice(start)
    .reduce(
      (f, e) => f + trainingFlops(model.config, { sequences: 1, tokens: e.input_ids.length, masked: masked(e) }),
      0,
    );
  if (start < n) say(estimateLine(`fisher: ${n - start} samples`, work, 'fisher', tf.getBackend()));
  const progress = new Progress('fisher', n, {
    startDone: start,
    write: o.write,
    intervalMs: o.progressIntervalMs,
    unit: 'samples',
  });
  const seqLen = Math.max(...examples.map((e) => e.input_ids.length));
  const maskedPerSequence = Math.max(...examples.map(masked));
  const micro = microBatchSize(
    { config: model.config, kind: 'fisher', batch: Math.min(batchSize, n), seqLen, maskedPerSequence },
    { batchFlag: '--batch-size' },
  );
  const began = Date.now();
  let done = start;
  while (done < n) {
    const chunk = examples.slice(done, Math.min(done + batchSize, n));
    const { batch, labels } = collate(chunk, o.padId);
    const result = squaredGradSumsInParts(model, batch, labels, micro);
    const bad = result.losses.findIndex((l) => !Number.isFinite(l));
    if (bad >= 0) {
      tf.dispose([...result.sums.values()]);
      throw new Error(
        `fisher: the masked-LM loss of sample ${done + bad} is ${result.losses[bad]}; the model's weights or the example are broken (nothing was written)`,
      );
    }
    names.forEach((name, k) => {
      const part = result.sums.get(name)!.dataSync();
      const sum = sums[k];
      for (let i = 0; i < sum.length; i++) sum[i] += part[i];
    });
    tf.dispose([...result.sums.values()]);
    for (const l of result.losses) lossSum += l;
    const before = done;
    done += chunk.length;
    const stop = done >= (o.stopAfter ?? Infinity) || (o.shouldStop?.() ?? false);
    // a finished run is not saved: its result goes to the output file at once, and the sums of a large model take
    // seconds to write in float64 (880 MB at BERT-base's size)
    if (done < n && (Math.floor(done / checkpointEvery) > Math.floor(before / checkpointEvery) || stop)) save(done);
    progress.update(done, `mean loss ${(lossSum / done).toFixed(4)}`);
    if (stop && done < n) break;
    await new Promise((r) => setImmediate(r)); // lets signals be handled
  }
  const fisher = done === n ? meanTensors(model, sums, n) : null;
  return {
    fisher,
    samples: done,
    resumedFrom: start,
    meanLoss: lossSum / done,
    seconds: (Date.now() - began) / 1000,
    microBatch: micro,
    sums,
    lossSum,
  };
}

/** The running sums divided by n, as float32 tensors by name; a non-finite value is an error. */
export function meanTensors(model: Bert, sums: Float64Array[], n: number): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  model.namedParameters().forEach(([name, v], k) => {
    const [sum, data] = [sums[k], new Float32Array(sums[k].length)];
    let finite = true;
    for (let i = 0; i < data.length; i++) {
      data[i] = sum[i] / n;
      finite &&= data[i] - data[i] === 0; // false for ±Infinity and NaN
    }
    if (!finite) {
      const bad = data.findIndex((x) => !Number.isFinite(x));
      throw new Error(`fisher: ${name}[${bad}] is ${data[bad]} (a gradient overflowed or is not a number)`);
    }
    out.set(name, { name, shape: [...v.shape], data });
  });
  return out;
}

/** Writes running sums (float64, in `names` order) with their sample count and loss sum to a folder, atomically. */
export function writeSums(dir: string, names: string[], sums: Float64Array[], samples: number, lossSum: number): void {
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(
    path.join(dir, SUMS_FILE),
    sums.map((s) => new Uint8Array(s.buffer, s.byteOffset, s.byteLength)),
  );
  writeFileAtomic(
    path.join(dir, STATE_FILE),
    JSON.stringify({ samples, lossSum, tensors: names.map((name, k) => [name, sums[k].length]) }) + '\n',
  );
}

/**
 * Reads the running sums written by `writeSums` into `sums` (in place; with `add`, added to what `sums` holds),
 * returning the samples done and the loss sum.
 */
export function readSums(
  dir: string,
  names: string[],
  sums: Float64Array[],
  { add = false } = {},
): { samples: number; lossSum: number } {
  const state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as {
    samples: number;
    lossSum: number;
    tensors: Array<[string, number]>;
  };
  const expected = names.map((name, k) => [name, sums[k].length]);
  if (JSON.stringify(state.tensors) !== JSON.stringify(expected))
    throw new Error(`${dir}: the checkpoint's tensors do not match the model's`);
  const bytes = fs.readFileSync(path.join(dir, SUMS_FILE));
  const total = sums.reduce((a, s) => a + s.byteLength, 0);
  if (bytes.byteLength !== total)
    throw new Error(`${path.join(dir, SUMS_FILE)}: ${bytes.byteLength} bytes, expected ${total}`);
  // a small file's Buffer lies in Node's shared pool, 8-byte aligned today but not by contract: copied when it is not
  const own = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  const values = new Float64Array(own.buffer, own.byteOffset, total / 8);
  let offset = 0;
  for (const sum of sums) {
    if (add) for (let i = 0; i < sum.length; i++) sum[i] += values[offset + i];
    else sum.set(values.subarray(offset, offset + sum.length));
    offset += sum.length;
  }
  return { samples: state.samples, lossSum: state.lossSum };
}

/** SHA-256 of the examples (ids, masks and labels), so a run folder only resumes on the same data. */
export function fingerprintExamples(examples: FisherOptions['examples']): string {
  const hash = createHash('sha256');
  for (const e of examples) hash.update(JSON.stringify([e.input_ids, e.labels, e.attention_mask ?? null]));
  return hash.digest('hex');
}

/** SHA-256 of every weight, so a run folder only resumes on the same model. */
export function fingerprintWeights(model: Bert): string {
  const hash = createHash('sha256');
  for (const [name, v] of model.namedParameters()) {
    const data = v.dataSync() as Float32Array;
    hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** fisherlab's version, from its package.json. */
export function fisherlabVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** Writes Fisher tensors as safetensors, atomically, with `kind`, `samples`, `mode`, `fisherlab_version` and `backend` added to the metadata. */
export function writeFisher(
  file: string,
  fisher: Map<string, NamedArray>,
  samples: number,
  metadata: Record<string, string> = {},
): void {
  writeSafetensors(file, fisher, {
    kind: FISHER_KIND,
    samples: String(samples),
    mode: 'eval',
    fisherlab_version: fisherlabVersion(),
    backend: backendName(),
    ...metadata,
  });
}

/** A Fisher file as read by `readFisher`. */
export interface FisherFile {
  /** F per parameter tensor, by Hugging Face name, in file order (parameterSpecs order when written by fisherlab). */
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
  /** The number of samples averaged. */
  samples: number;
}

/**
 * Reads and validates a Fisher file written by `writeFisher` (every value finite and non-negative) and, given a model
 * folder, checks that it holds exactly that model's BertForMaskedLM tensors with their shapes; errors name the file.
 */
export function readFisher(file: string, opts: { model?: string } = {}): FisherFile {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.kind !== FISHER_KIND)
    throw new Error(
      `${file}: not a Fisher file (its metadata has kind ${JSON.stringify(metadata.kind ?? null)}, expected "${FISHER_KIND}"; \`fisherlab fisher\` writes them)`,
    );
  const samples = Number(metadata.samples);
  if (!Number.isInteger(samples) || samples < 1)
    throw new Error(
      `${file}: metadata "samples" is ${JSON.stringify(metadata.samples ?? null)}, expected a positive integer`,
    );
  if (tensors.size === 0) throw new Error(`${file}: holds no tensors`);
  for (const [name, t] of tensors) {
    const bad = t.data.findIndex((x) => !(x >= 0 && x < Infinity));
    if (bad >= 0)
      throw new Error(
        `${file}: tensor "${name}" has the value ${t.data[bad]} at index ${bad}; a Fisher diagonal is finite and non-negative`,
      );
  }
  if (opts.model !== undefined) checkFisherFits(file, tensors, opts.model);
  return { tensors, metadata, samples };
}

/** Throws unless a Fisher's tensors are exactly the BertForMaskedLM parameters of a model folder's config.json, with their shapes. */
function checkFisherFits(file: string, tensors: Map<string, NamedArray>, modelDir: string): void {
  const specs = parameterSpecs(readConfig(path.join(modelDir, 'config.json')), MASKED_LM);
  const expected = new Set(specs.map((s) => s.name));
  const problems = [
    ...specs.filter((s) => !tensors.has(s.name)).map((s) => `missing ${s.name}`),
    ...[...tensors.keys()].filter((n) => !expected.has(n)).map((n) => `not a parameter of the model: ${n}`),
    ...specs
      .filter((s) => tensors.has(s.name) && tensors.get(s.name)!.shape.join() !== s.shape.join())
      .map(
        (s) => `${s.name} has shape [${tensors.get(s.name)!.shape.join(', ')}], the model's is [${s.shape.join(', ')}]`,
      ),
  ];
  if (problems.length > 0) {
    const shown = problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '');
    throw new Error(
      `${file} is not a Fisher of the model in ${modelDir} (${specs.length} BertForMaskedLM tensors expected): ${shown}`,
    );
  }
}
