/**
 * The Fisher pass split over processes: the examples cut into contiguous shards of whole batches, each resumable in
 * its own folder, and the shards' float64 sums added in shard order. The first shard is computed in this process
 * when its threads per op fit its share of the cores (`takeShare` before the backend starts), with a batch more than
 * an even share for the children's start-up; the others each in a hidden `fisherlab fisher-shard` child. Every
 * batch is computed as the one-process pass computes it, so the result differs from that pass only by the order of
 * float64 additions; the same split gives the same bits.
 */
import * as fs from 'fs';
import * as path from 'path';
import { availableParallelism } from 'os';
import { threadsPerOp } from '../backend';
import type { Bert } from '../bert/model';
import { CheckpointDir } from '../train/checkpoint-dir';
import { writeMaskedExamples, type MaskedExample } from '../pretrain/mlm-data';
import { runFisherlab, runLanes } from '../util/child-process';
import { fusedOps } from './fused-ops';
import { writeFileAtomic } from '../util/atomic';
import { openRunDir, type RunControl } from '../util/run-dir';
import {
  estimateFisher,
  fingerprintExamples,
  fingerprintWeights,
  FisherOptions,
  FisherResult,
  meanTensors,
  readSums,
  writeSums,
} from './estimate';

/**
 * Samples each process gets at least under the default `jobs`: a child needs about 0.7 s to start, so on this
 * 2-core machine one process was 4% faster over 64 samples, two 6% faster over 96 (docs/backends.md).
 */
export const MIN_SHARD_SAMPLES = 48;

/** Batches the first shard gets beyond an even share when this process computes it: its head start on a child, which needs about a batch's time to start. */
export const PARENT_LEAD_BATCHES = 1;

/** The default number of Fisher processes for `n` samples: one per core, as long as each gets MIN_SHARD_SAMPLES. */
export function defaultFisherJobs(n: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, Math.floor(n / MIN_SHARD_SAMPLES)));
}

/** The processes a Fisher pass over `n` samples runs in: `jobs` (default `defaultFisherJobs`), at most one per batch. */
export function fisherJobs(n: number, batchSize: number, jobs?: number): number {
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
    throw new Error(`fisher: --jobs must be a positive integer (got ${jobs})`);
  return Math.max(1, Math.min(jobs ?? defaultFisherJobs(n), Math.ceil(n / batchSize)));
}

/**
 * Contiguous shards [from, to) of `n` samples in whole batches of `batchSize`, at most `jobs` of them: the first
 * gets `lead` batches more than an even share (leaving the others one each at least), the rest are as even as
 * batches allow.
 */
export function fisherShards(n: number, batchSize: number, jobs: number, lead = 0): Array<[number, number]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`fisher: --jobs must be a positive integer (got ${jobs})`);
  const batches = Math.ceil(n / batchSize);
  const count = Math.min(jobs, batches);
  const first = Math.min(batches - count + 1, Math.round((batches + lead * (count - 1)) / count));
  const ends = [0, first];
  for (let j = 1; j < count; j++) ends.push(first + Math.round((j * (batches - first)) / (count - 1)));
  return ends.slice(1).map((b, j) => [ends[j] * batchSize, Math.min(n, b * batchSize)] as [number, number]);
}

/** How the run log and settings name shards: first–last sample of each. */
function describeShards(shards: Array<[number, number]>): string {
  return shards.map(([a, b]) => `${a}–${b - 1}`).join(', ');
}

/** What `fisherOverProcesses` needs; the model computes the first shard when this process does, else it is read for its parameter names and shapes. */
export interface ShardedFisherOptions extends RunControl {
  model: Bert;
  modelDir: string;
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>;
  padId: number;
  batchSize: number;
  jobs: number;
  runDir: string;
  /** Settings that must match for `runDir` to resume. */
  settings: Record<string, string | number>;
  checkpointEvery?: number;
  stopAfter?: number;
}

/** The finished shard's record beside its sums. */
interface ShardRecord {
  microBatch: number;
}

const RESULT = 'result';
const RECORD = 'shard.json';

/** Writes a finished shard's sums and record to `runDir/result` (the child's last act). */
export function writeShardResult(runDir: string, model: Bert, result: FisherResult): void {
  const dir = path.join(runDir, RESULT);
  writeSums(
    dir,
    model.namedParameters().map(([name]) => name),
    result.sums,
    result.samples,
    result.lossSum,
  );
  writeFileAtomic(
    path.join(dir, RECORD),
    JSON.stringify({ microBatch: result.microBatch } satisfies ShardRecord) + '\n',
  );
}

/** A finished shard: its sums in memory (computed here) or in its result folder (by a child, or an earlier sitting). */
type ShardPart = { samples: number; microBatch: number } & (
  { dir: string } | { sums: Float64Array[]; lossSum: number }
);

/** Estimates the Fisher over `examples` split `jobs` ways (this process computing the first shard when its threads fit), resuming each shard from its folder under `runDir`. */
export async function fisherOverProcesses(o: ShardedFisherOptions): Promise<FisherResult> {
  const n = o.examples.length;
  const own = threadsPerOp() <= Math.max(1, Math.floor(availableParallelism() / o.jobs));
  const shards = fisherShards(n, o.batchSize, o.jobs, own ? PARENT_LEAD_BATCHES : 0);
  // the one-process run's settings and the split: a run folder resumes with the split it began with
  const settings = {
    ...o.settings,
    samples: n,
    batch_size: o.batchSize,
    examples_sha256: fingerprintExamples(o.examples),
    weights_sha256: fingerprintWeights(o.model),
    jobs: shards.length,
    shards: describeShards(shards),
  };
  // folders from before the first shard's lead split evenly
  const upgrade = (saved: Record<string, unknown>) => ({
    shards: describeShards(fisherShards(n, o.batchSize, Number(saved.jobs) || 1)),
    ...saved,
  });
  openRunDir(o.runDir, settings, 'Fisher run', { upgrade });
  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  say(
    `fisher: ${n} samples over ${shards.length} processes (samples ${describeShards(shards)}${own ? '; the first in this one' : ''})`,
  );
  // compiled here once, the fused kernels are found in the cache by every child instead of compiled by each
  fusedOps();
  const names = o.model.namedParameters().map(([name]) => name);
  const began = Date.now();
  const shardDir = ([a, b]: [number, number]) => path.join(o.runDir, `shard-${a}-${b}`);
  const doneBefore = shards.map((s) => shardDone(shardDir(s)));
  // a failed shard stops the others, which save where they are
  let failed = false;
  const shouldStop = () => failed || (o.shouldStop?.() ?? false);
  // this process's finished shard, kept in memory; written to its folder only when the run does not end here
  let mine: { dir: string; result: FisherResult } | null = null;
  const keepMine = () => mine && writeShardResult(mine.dir, o.model, mine.result);
  const stopShare = (a: number, b: number) =>
    o.stopAfter !== undefined ? Math.ceil((o.stopAfter * (b - a)) / n) : undefined;
  let parts: Array<ShardPart | null>;
  try {
    parts = await runLanes(shards, shards.length, async ([a, b], j): Promise<ShardPart | null> => {
      const dir = shardDir([a, b]);
      const result = path.join(dir, RESULT);
      const log = (line: string) => say(`[samples ${a}–${b - 1}] ${line}`);
      try {
        if (!fs.existsSync(path.join(result, RECORD))) {
          if (own && j === 0) {
            await new Promise((r) => setImmediate(r)); // the children start first: a batch here runs without a break
            const r = await estimateFisher({
              model: o.model,
              examples: o.examples.slice(a, b),
              padId: o.padId,
              batchSize: o.batchSize,
              runDir: dir,
              checkpointEvery: o.checkpointEvery,
              stopAfter: stopShare(a, b),
              shouldStop,
              write: log,
              progressIntervalMs: o.progressIntervalMs,
            });
            if (!r.fisher) return null;
            mine = { dir, result: r };
            return { samples: b - a, microBatch: r.microBatch, sums: r.sums, lossSum: r.lossSum };
          }
          const examplesFile = path.join(o.runDir, `shard-${a}-${b}.jsonl`);
          writeMaskedExamples(examplesFile, o.examples.slice(a, b));
          const stopAfter = stopShare(a, b);
          const args = [
            'fisher-shard',
            '--model',
            o.modelDir,
            '--examples',
            examplesFile,
            '--batch-size',
            String(o.batchSize),
            '--run-dir',
            dir,
            '--checkpoint-every',
            String(o.checkpointEvery ?? 1000),
            ...(stopAfter !== undefined ? ['--stop-after', String(stopAfter)] : []),
          ];
          await runFisherlab(args, { onLine: log, interruptOk: true, share: shards.length, shouldStop });
        }
        if (!fs.existsSync(path.join(result, RECORD))) return null;
        const record = JSON.parse(fs.readFileSync(path.join(result, RECORD), 'utf8')) as ShardRecord;
        return { dir: result, samples: b - a, microBatch: record.microBatch };
      } catch (error) {
        failed = true;
        throw error;
      }
    });
  } catch (error) {
    keepMine();
    throw error;
  }
  const seconds = (Date.now() - began) / 1000;
  const resumedFrom = doneBefore.reduce((s, d) => s + d.samples, 0);
  if (parts.some((p) => p === null)) {
    // stopped: report what the shards have saved so far
    keepMine();
    const now = shards.map((s) => shardDone(shardDir(s)));
    const samples = now.reduce((s, d) => s + d.samples, 0);
    const lossSum = now.reduce((s, d) => s + d.lossSum, 0);
    return {
      fisher: null,
      samples,
      resumedFrom,
      meanLoss: lossSum / Math.max(samples, 1),
      seconds,
      microBatch: 0,
      sums: [],
      lossSum,
    };
  }
  // the shards' sums added in shard order, the first taken as it is (0 + x is x)
  const done = parts as ShardPart[];
  const sums = 'sums' in done[0] ? done[0].sums : o.model.namedParameters().map(([, v]) => new Float64Array(v.size));
  let lossSum = 0;
  done.forEach((part, j) => {
    if ('sums' in part) {
      lossSum += part.lossSum; // the first shard's, computed here: `sums` already holds it
      return;
    }
    const read = readSums(part.dir, names, sums, { add: j > 0 });
    if (read.samples !== part.samples)
      throw new Error(`${part.dir}: holds ${read.samples} samples, the shard has ${part.samples}`);
    lossSum += read.lossSum;
  });
  return {
    fisher: meanTensors(o.model, sums, n),
    samples: n,
    resumedFrom,
    meanLoss: lossSum / n,
    seconds,
    microBatch: Math.min(...done.map((p) => p.microBatch)),
    sums,
    lossSum,
  };
}

/** Samples a shard's folder holds (finished, or up to its latest checkpoint) and their loss sum; 0 for a new shard. */
function shardDone(dir: string): { samples: number; lossSum: number } {
  const result = path.join(dir, RESULT);
  const from = fs.existsSync(path.join(result, RECORD))
    ? result
    : new CheckpointDir(path.join(dir, 'checkpoints')).latest()?.dir;
  if (!from || !fs.existsSync(from)) return { samples: 0, lossSum: 0 };
  const state = JSON.parse(fs.readFileSync(path.join(from, 'state.json'), 'utf8')) as {
    samples: number;
    lossSum: number;
  };
  return { samples: state.samples, lossSum: state.lossSum };
}

/** One Fisher estimate: split over processes when a model folder and a run folder are given and `fisherJobs` gives more than one, else in this process. */
export async function fisherPass(
  o: FisherOptions & { modelDir?: string; jobs?: number },
): Promise<FisherResult & { processes: number }> {
  const batchSize = o.batchSize ?? 16;
  const jobs = o.modelDir ? fisherJobs(o.examples.length, batchSize, o.jobs) : 1;
  if (jobs <= 1 || !o.runDir) return { ...(await estimateFisher(o)), processes: 1 };
  const result = await fisherOverProcesses({
    ...o,
    modelDir: o.modelDir!,
    batchSize,
    jobs,
    runDir: o.runDir,
    settings: o.settings ?? {},
  });
  return { ...result, processes: jobs };
}
