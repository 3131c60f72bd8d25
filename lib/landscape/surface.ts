/**
 * A loss surface: the masked-LM loss at θ0 + x·d_x + y·d_y over a grid, on one fixed evaluation set (the same
 * masked positions at every point), in evaluation mode. Points stream in flat order k = nx·iy + ix (the authors'
 * layout), with progress and ETA; finished points are saved atomically and a rerun resumes to the same surface.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic';
import type { Batch, Bert } from '../bert/model';
import { estimateLine, forwardFlops } from '../train/cost';
import { microBatchSize } from '../train/memory-budget';
import { collate, IGNORE_INDEX, MaskedExample } from '../pretrain/mlm-data';
import { Progress } from '../util/progress';
import { openRunDir, RunControl } from '../util/run-dir';
import type { DirectionPair } from './directions';

/** The coordinates of a surface: loss k sits at (x[k % nx], y[floor(k / nx)]). */
export interface Grid {
  x: number[];
  y: number[];
}

/** `n` evenly spaced values from `min` to `max` inclusive, as numpy.linspace computes them (the last one exactly `max`). */
export function linspace(min: number, max: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new Error(`linspace: n must be a positive integer (got ${n})`);
  if (n === 1) return [min];
  const step = (max - min) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? max : min + i * step));
}

/** Weights of a model moved along two directions: `set(a, b)` makes the active tensors θ0 + a·d_x + b·d_y, `restore()` puts θ0 back bitwise. */
export class Perturbation {
  /** Tensors with a non-zero direction on either axis, in parameter order; no other tensor is ever written. */
  readonly active: string[];
  private readonly parts: Array<{ v: tf.Variable; w0: Float32Array; dx: Float32Array; dy: Float32Array }> = [];

  constructor(model: Bert, pair: DirectionPair) {
    this.active = [];
    for (const [name, v] of model.namedParameters()) {
      const dx = pair.x.get(name);
      const dy = pair.y.get(name);
      if (!dx || !dy) throw new Error(`landscape: no direction for parameter ${name}`);
      for (const d of [dx, dy])
        if (d.shape.join() !== v.shape.join())
          throw new Error(`landscape: direction of ${name} has shape [${d.shape}], the weights [${v.shape}]`);
      if (dx.data.every((z) => z === 0) && dy.data.every((z) => z === 0)) continue;
      this.active.push(name);
      this.parts.push({ v, w0: (v.dataSync() as Float32Array).slice(), dx: dx.data, dy: dy.data });
    }
  }

  /** Sets every active tensor to θ0 + a·d_x + b·d_y, computed in float64 and rounded once to float32 (one pass per tensor). */
  set(a: number, b: number): void {
    for (const { v, w0, dx, dy } of this.parts) {
      const out = new Float32Array(w0.length);
      for (let i = 0; i < out.length; i++) out[i] = w0[i] + a * dx[i] + b * dy[i];
      tf.tidy(() => v.assign(tf.tensor(out, v.shape)));
    }
  }

  /** Assigns the original weights back to the active tensors. */
  restore(): void {
    for (const { v, w0 } of this.parts) tf.tidy(() => v.assign(tf.tensor(w0.slice(), v.shape)));
  }
}

/** A fixed evaluation set, collated once: its batches with their masked-token counts. */
interface EvalBatch {
  batch: Batch;
  labels: number[][];
  count: number;
}

/** Collates the examples once into batches of `batchSize`, counting masked tokens. */
function evalBatches(examples: SweepOptions['examples'], padId: number, batchSize: number): EvalBatch[] {
  const out: EvalBatch[] = [];
  for (let i = 0; i < examples.length; i += batchSize) {
    const { batch, labels } = collate(examples.slice(i, i + batchSize), padId);
    out.push({ batch, labels, count: labels.flat().filter((y) => y !== IGNORE_INDEX).length });
  }
  return out;
}

/** Mean masked-LM cross-entropy over every masked token of the set (each batch's mean weighted by its count), read once. */
function setLoss(model: Bert, batches: readonly EvalBatch[], total: number): number {
  let sum: tf.Tensor | null = null;
  for (const b of batches) {
    // one batch at a time: its activations are freed before the next one runs
    const before: tf.Tensor | null = sum;
    sum = tf.tidy(() => {
      const term = tf.mul(model.maskedLmLoss(b.batch, b.labels), b.count / total);
      return before ? tf.add(before, term) : term;
    });
    before?.dispose();
  }
  try {
    return sum!.dataSync()[0];
  } finally {
    sum!.dispose();
  }
}

/** What `sweep` needs; `shouldStop` is polled after every point. */
export interface SweepOptions extends RunControl {
  model: Bert;
  /** The directions, already masked (tensors outside the mask all zero). */
  pair: DirectionPair;
  grid: Grid;
  /** The fixed evaluation set (pre-masked: the same positions at every point). */
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>;
  padId: number;
  /** Sequences per forward pass (default 32, the authors' eval batch). */
  batchSize?: number;
  /** Folder for partial results; a run with one there resumes from it. */
  runDir?: string;
  /** Descriptive settings that must match for `runDir` to resume (grid, data, weights and directions always must). */
  settings?: Record<string, string | number>;
  /** Stop (saving) once this many points are done in total; run again to continue. */
  stopAfter?: number;
}

/** What `sweep` returns. */
export interface SweepResult {
  /** Loss at every point (k = nx·iy + ix), or null when stopped before the last point. */
  loss: number[] | null;
  /** Points done in total. */
  done: number;
  /** Points done by earlier sittings. */
  resumedFrom: number;
  /** Masked tokens in the evaluation set. */
  maskedTokens: number;
  /** Wall time of this call, in seconds. */
  seconds: number;
  /** Points computed per second in this call. */
  pointsPerSecond: number;
}

const POINTS_FILE = 'points.json';

/** Computes the loss surface over `grid`, resuming from `runDir`; the model's weights are θ0 again afterwards, bitwise. */
export async function sweep(o: SweepOptions): Promise<SweepResult> {
  const { model, grid } = o;
  const nx = grid.x.length;
  const total = nx * grid.y.length;
  const batchSize = o.batchSize ?? 32;
  if (total === 0) throw new Error('landscape: empty grid');
  if (![...grid.x, ...grid.y].every(Number.isFinite)) throw new Error('landscape: grid coordinates must be finite');
  if (o.examples.length === 0) throw new Error('landscape: no evaluation examples');
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`landscape: batch size must be a positive integer (got ${batchSize})`);
  const seqLen = Math.max(...o.examples.map((e) => e.input_ids.length));
  const maskedPerSequence = Math.max(...o.examples.map((e) => e.labels.filter((y) => y !== IGNORE_INDEX).length));
  // batches that do not fit in memory are evaluated in micro-batches (the loss changes only by float rounding)
  const batches = evalBatches(
    o.examples,
    o.padId,
    microBatchSize(
      { config: model.config, kind: 'eval', batch: batchSize, seqLen, maskedPerSequence },
      { batchFlag: '--batch-size' },
    ),
  );
  const maskedTokens = batches.reduce((s, b) => s + b.count, 0);
  if (maskedTokens === 0) throw new Error('landscape: the evaluation set has no masked positions');

  const loss: Array<number | null> = new Array(total).fill(null);
  let start = 0;
  if (o.runDir) {
    openRunDir(
      o.runDir,
      {
        ...o.settings,
        x: JSON.stringify(grid.x),
        y: JSON.stringify(grid.y),
        batch_size: batchSize,
        ...fingerprints(o),
      },
      'landscape run',
      { keysOnly: true },
    );
    const file = path.join(o.runDir, POINTS_FILE);
    if (fs.existsSync(file)) {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { done: number; loss: number[] };
      if (!(Number.isInteger(saved.done) && saved.done <= total && saved.loss.length === saved.done))
        throw new Error(`${file}: not a partial surface of this grid`);
      saved.loss.forEach((l, k) => (loss[k] = l));
      start = saved.done;
    }
  }
  const save = (done: number) =>
    o.runDir &&
    writeFileAtomic(path.join(o.runDir, POINTS_FILE), JSON.stringify({ done, loss: loss.slice(0, done) }) + '\n');

  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (start > 0 && start < total) say(`landscape: resuming after ${start} of ${total} points`);
  const perPoint = o.examples.reduce(
    (f, e) =>
      f +
      forwardFlops(model.config, {
        sequences: 1,
        tokens: e.input_ids.length,
        masked: e.labels.filter((y) => y !== IGNORE_INDEX).length,
      }),
    0,
  );
  if (start < total)
    say(estimateLine(`landscape: ${total - start} points`, (total - start) * perPoint, 'eval', tf.getBackend()));
  const progress = new Progress('landscape', total, {
    startDone: start,
    write: o.write,
    intervalMs: o.progressIntervalMs,
    unit: 'points',
  });
  const perturbation = new Perturbation(model, o.pair);
  const began = Date.now();
  let done = start;
  try {
    while (done < total) {
      perturbation.set(grid.x[done % nx], grid.y[Math.floor(done / nx)]);
      const value = setLoss(model, batches, maskedTokens);
      if (!Number.isFinite(value))
        throw new Error(
          `landscape: the loss at point ${done} (x ${grid.x[done % nx]}, y ${grid.y[Math.floor(done / nx)]}) is ${value}; the earlier points are saved`,
        );
      loss[done] = value;
      done += 1;
      save(done);
      progress.update(done, `loss ${value.toFixed(4)}`);
      if (done < total && (done >= (o.stopAfter ?? Infinity) || (o.shouldStop?.() ?? false))) break;
      await new Promise((r) => setImmediate(r)); // lets signals be handled
    }
  } finally {
    perturbation.restore();
  }
  const seconds = (Date.now() - began) / 1000;
  return {
    loss: done === total ? (loss as number[]) : null,
    done,
    resumedFrom: start,
    maskedTokens,
    seconds,
    pointsPerSecond: (done - start) / Math.max(seconds, 1e-9),
  };
}

/** SHA-256 fingerprints of the evaluation set, the weights and the (masked) directions, so a run folder only resumes on the same inputs. */
function fingerprints(o: SweepOptions): Record<string, string> {
  const examples = createHash('sha256');
  for (const e of o.examples) examples.update(JSON.stringify([e.input_ids, e.labels, e.attention_mask ?? null]));
  const weights = createHash('sha256');
  const directions = createHash('sha256');
  for (const [name, v] of o.model.namedParameters()) {
    weights.update(name).update(bytes(v.dataSync() as Float32Array));
    directions
      .update(name)
      .update(bytes(o.pair.x.get(name)?.data ?? new Float32Array()))
      .update(bytes(o.pair.y.get(name)?.data ?? new Float32Array()));
  }
  return {
    examples_sha256: examples.digest('hex'),
    weights_sha256: weights.digest('hex'),
    directions_sha256: directions.digest('hex'),
  };
}

/** The bytes of a Float32Array (a view). */
function bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
