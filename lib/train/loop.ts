/**
 * The training loop shared by pretraining and fine-tuning: AdamW with linear warm-up and decay, gradient
 * clipping, progress with ETA, periodic evaluation, atomic checkpoints, and exact resume.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import type { Bert } from '../bert/model';
import { CheckpointDir } from './checkpoint-dir';
import { addGradients } from './micro-batches';
import { AdamW, clipGradNorm, warmupLinearDecay } from './optim';
import { Progress } from '../util/progress';
import { mixSeed } from '../util/random';
import { readSafetensors, writeSafetensors } from '../weights/safetensors';

/** One of `count` parts of a step's batch (as equal as the batch allows). */
export interface Shard {
  index: number;
  count: number;
}

/** The gradient of one shard of a step's batch, computed elsewhere (another process). */
export interface ShardGradient {
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Processes that compute shards 1..count-1 of every step from the current weights (data parallelism). */
export interface RemoteShards {
  /** Shards per step, including shard 0 (computed in this process). */
  count: number;
  /** Sends the step to the other processes: `sent` settles once the requests are written, `gradients` with their answers. */
  request(
    step: number,
    seed: number,
    weights: Map<string, Float32Array>,
  ): { sent: Promise<void>; gradients: Promise<ShardGradient[]> };
}

export interface TrainOptions {
  model: Bert;
  totalSteps: number;
  /**
   * Shard `shard` of step `step`'s loss (0-based step), with dropout seeded by `seed`; called inside the gradient tape.
   * The shards' losses add up to the loss of the whole batch (a single shard: the batch's loss).
   */
  lossAt: (step: number, seed: number, shard: Shard) => tf.Scalar;
  /** Shards 1.. of every step, computed by other processes; their losses and gradients are added to shard 0's. */
  remote?: RemoteShards;
  /**
   * Micro-batches per step in this process (default 1): shard 0 is computed as shards 0..n-1 of n times as many,
   * one after the other, and their gradients added up (gradient accumulation, for batches that do not fit in memory).
   */
  microBatches?: number;
  lr: number;
  warmupSteps?: number;
  weightDecay?: number;
  maxGradNorm?: number;
  /** Seeds the dropout masks of every step. */
  seed?: number;
  /** Folder for checkpoints and log.jsonl; a run with an existing checkpoint there resumes from it. */
  runDir?: string;
  /** Steps between checkpoints (default: 200); one is always written at the end. */
  checkpointEvery?: number;
  /** Metrics on held-out data, called every `evalEvery` steps and at the end. */
  evaluate?: () => Record<string, number>;
  evalEvery?: number;
  /** Stop once this many steps are done (saving a checkpoint), to split a run over sittings. */
  stopAfter?: number;
  /** Polled after every step; true saves a checkpoint and stops (e.g. after Ctrl-C). */
  shouldStop?: () => boolean;
  label?: string;
  /** Progress lines (default: stderr every 5 s). */
  write?: (line: string) => void;
  progressIntervalMs?: number;
}

export interface LogEntry {
  step: number;
  loss?: number;
  lr?: number;
  grad_norm?: number;
  seconds?: number;
  eval?: Record<string, number>;
}

export interface TrainResult {
  /** Steps completed (equals totalSteps unless stopped early). */
  step: number;
  resumedFrom: number;
  log: LogEntry[];
  /** Wall time of this call, in seconds. */
  seconds: number;
}

/** Trains `model` in place for `totalSteps` steps, resuming from `runDir` when it holds a checkpoint. */
export async function train(o: TrainOptions): Promise<TrainResult> {
  const { model } = o;
  const warmup = o.warmupSteps ?? 0;
  const maxGradNorm = o.maxGradNorm ?? 1;
  const seed = o.seed ?? 0;
  const checkpointEvery = o.checkpointEvery ?? 200;
  const params = model.namedParameters();
  const optimizer = new AdamW(params, { weightDecay: o.weightDecay ?? 0.01 });
  const ckpts = o.runDir ? new CheckpointDir(path.join(o.runDir, 'checkpoints')) : null;
  const logFile = o.runDir ? path.join(o.runDir, 'log.jsonl') : null;
  let log: LogEntry[] = [];

  let start = 0;
  const latest = ckpts?.latest();
  if (latest) {
    const weights = readSafetensors(path.join(latest.dir, 'model.safetensors')).tensors;
    model.assignWeights(weights);
    const state = JSON.parse(fs.readFileSync(path.join(latest.dir, 'state.json'), 'utf8')) as {
      step: number;
      t: number;
    };
    optimizer.loadState(readSafetensors(path.join(latest.dir, 'optimizer.safetensors')).tensors, state.t);
    start = state.step;
  }
  if (logFile) {
    // entries after the checkpoint are recomputed on resume
    log = fs.existsSync(logFile) ? readLog(logFile, true).filter((e) => e.step <= start) : [];
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.writeFileSync(logFile, log.map((e) => JSON.stringify(e) + '\n').join(''));
  }
  const append = (e: LogEntry) => {
    log.push(e);
    if (logFile) fs.appendFileSync(logFile, JSON.stringify(e) + '\n');
  };
  const save = (step: number) => {
    ckpts?.save(step, (dir) => {
      writeSafetensors(
        path.join(dir, 'model.safetensors'),
        [...model.toWeights()].map(([name, w]) => ({ name, ...w })),
      );
      writeSafetensors(path.join(dir, 'optimizer.safetensors'), optimizer.stateArrays());
      fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ step, t: optimizer.t }) + '\n');
    });
  };
  const evaluate = (step: number) => {
    if (!o.evaluate) return undefined;
    const metrics = o.evaluate();
    append({ step, eval: metrics });
    return metrics;
  };

  const label = o.label ?? 'train';
  const progress = new Progress(label, o.totalSteps, {
    startDone: start,
    write: o.write,
    intervalMs: o.progressIntervalMs,
  });
  if (start > 0)
    (o.write ?? ((l: string) => process.stderr.write(`${l}\n`)))(
      `${label}: resuming from the checkpoint at step ${start}`,
    );
  const began = Date.now();
  const end = Math.min(o.totalSteps, o.stopAfter ?? Infinity);
  let step = start;
  let lastEval: Record<string, number> | undefined;
  let smoothed = NaN;
  while (step < end) {
    const lr = warmupLinearDecay(step, o.lr, warmup, o.totalSteps);
    const stepSeed = mixSeed(seed, step);
    const pending = o.remote?.request(
      step,
      stepSeed,
      new Map(params.map(([name, v]) => [name, v.dataSync() as Float32Array])),
    );
    // the requests must leave before this process blocks on its own shard, or the others would wait for it
    if (pending) await pending.sent;
    const micro = o.microBatches ?? 1;
    let loss = 0;
    let named: Map<string, tf.Tensor> | null = null;
    for (let index = 0; index < micro; index++) {
      const { value, grads } = tf.variableGrads(
        () => o.lossAt(step, stepSeed, { index, count: micro * (o.remote?.count ?? 1) }),
        params.map(([, v]) => v),
      );
      loss += value.dataSync()[0];
      value.dispose();
      named = addGradients(named, new Map(params.map(([name, v]) => [name, grads[v.name]])));
    }
    if (!named) throw new Error(`${o.label ?? 'train'}: microBatches must be a positive integer (got ${micro})`);
    for (const shard of pending ? await pending.gradients : []) {
      loss += shard.loss;
      for (const [name, g] of named) {
        named.set(
          name,
          tf.tidy(() => tf.add(g, tf.tensor(shard.grads.get(name)!, g.shape))),
        );
        g.dispose();
      }
    }
    if (!Number.isFinite(loss)) {
      tf.dispose([...named.values()]);
      const at = ckpts?.latest();
      throw new Error(
        `${label}: the loss is ${loss} at step ${step}; stopped without saving it${at ? ` (the last checkpoint, step ${at.step}, is in ${at.dir})` : ''}. Try a lower learning rate.`,
      );
    }
    const gradNorm = clipGradNorm(named, maxGradNorm);
    optimizer.step(named, lr);
    tf.dispose([...named.values()]);
    step += 1;
    smoothed = Number.isNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
    append({ step, loss, lr, grad_norm: gradNorm, seconds: (Date.now() - began) / 1000 });
    if (o.evalEvery && step % o.evalEvery === 0 && step < o.totalSteps) lastEval = evaluate(step);
    const stop = o.shouldStop?.() ?? false;
    if (step % checkpointEvery === 0 || step === end || stop) save(step);
    progress.update(step, `loss ${smoothed.toFixed(4)}${lastEval ? `, eval ${formatMetrics(lastEval)}` : ''}`);
    if (stop) break;
    if (step % 10 === 0) await new Promise((r) => setImmediate(r)); // lets signals be handled
  }
  if (step === o.totalSteps && !log.some((e) => e.step === step && e.eval)) evaluate(step);
  optimizer.dispose();
  return { step, resumedFrom: start, log, seconds: (Date.now() - began) / 1000 };
}

/** Reads a log.jsonl written by `train`; a cut-off last line (a kill mid-write) is dropped when `partialLastLine` is set. */
export function readLog(file: string, partialLastLine = false): LogEntry[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: LogEntry[] = [];
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    try {
      out.push(JSON.parse(l) as LogEntry);
    } catch {
      const last = lines.slice(i + 1).every((rest) => !rest.trim());
      if (!(partialLastLine && last)) throw new Error(`${file}:${i + 1}: not valid JSON`);
    }
  });
  return out;
}

function formatMetrics(m: Record<string, number>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${v.toFixed(4)}`)
    .join(', ');
}
