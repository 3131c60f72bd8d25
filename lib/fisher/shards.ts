/**
 * The Fisher pass split over processes: the examples cut into contiguous shards of whole batches, one hidden
 * `fisherlab fisher-shard` child per shard (each resumable in its own folder), and the shards' float64 sums added
 * in shard order. Every batch is computed as the one-process pass computes it, so the result differs from that
 * pass only by the order of float64 additions; the same `jobs` gives the same bits.
 */
import * as fs from 'fs';
import * as path from 'path';
import { availableParallelism } from 'os';
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

/** Samples each process gets at least under the default `jobs`: below this, a child's start-up and first batch (about 1.3 s) cost more than its share saves. */
export const MIN_SHARD_SAMPLES = 128;

/** The default number of Fisher processes for `n` samples: one per core, as long as each gets MIN_SHARD_SAMPLES. */
export function defaultFisherJobs(n: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(cores, Math.floor(n / MIN_SHARD_SAMPLES)));
}

/** Contiguous shards [from, to) of `n` samples in whole batches of `batchSize`, at most `jobs` of them, as even as batches allow. */
export function fisherShards(n: number, batchSize: number, jobs: number): Array<[number, number]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`fisher: --jobs must be a positive integer (got ${jobs})`);
  const batches = Math.ceil(n / batchSize);
  const count = Math.min(jobs, batches);
  return Array.from({ length: count }, (_, j) => {
    const [a, b] = [Math.round((j * batches) / count), Math.round(((j + 1) * batches) / count)];
    return [a * batchSize, Math.min(n, b * batchSize)] as [number, number];
  });
}

/** What `fisherOverProcesses` needs; the model is only read for its parameter names and shapes. */
export interface ShardedFisherOptions extends RunControl {
  model: Bert;
  modelDir: string;
  examples: ReadonlyArray<MaskedExample & { attention_mask?: number[] }>;
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

/** Estimates the Fisher over `examples` in `jobs` child processes, resuming each shard from its folder under `runDir`. */
export async function fisherOverProcesses(o: ShardedFisherOptions): Promise<FisherResult> {
  const n = o.examples.length;
  const shards = fisherShards(n, o.batchSize, o.jobs);
  // the one-process run's settings and the split: a run folder resumes with the --jobs it began with
  const settings = {
    ...o.settings,
    samples: n,
    batch_size: o.batchSize,
    examples_sha256: fingerprintExamples(o.examples),
    weights_sha256: fingerprintWeights(o.model),
    jobs: shards.length,
  };
  openRunDir(o.runDir, settings, 'Fisher run');
  const say = o.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  say(
    `fisher: ${n} samples over ${shards.length} processes (samples ${shards.map(([a, b]) => `${a}–${b - 1}`).join(', ')})`,
  );
  // compiled here once, the fused kernels are found in the cache by every child instead of compiled by each
  fusedOps();
  const names = o.model.namedParameters().map(([name]) => name);
  const fresh = () => o.model.namedParameters().map(([, v]) => new Float64Array(v.size));
  const began = Date.now();
  const doneBefore = shards.map(([a, b]) => shardDone(path.join(o.runDir, `shard-${a}-${b}`)));
  const parts = await runLanes(shards, shards.length, async ([a, b]) => {
    const dir = path.join(o.runDir, `shard-${a}-${b}`);
    const result = path.join(dir, RESULT);
    if (!fs.existsSync(path.join(result, RECORD))) {
      const examplesFile = path.join(o.runDir, `shard-${a}-${b}.jsonl`);
      writeMaskedExamples(examplesFile, o.examples.slice(a, b));
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
        ...(o.stopAfter !== undefined ? ['--stop-after', String(Math.ceil((o.stopAfter * (b - a)) / n))] : []),
      ];
      await runFisherlab(args, {
        onLine: (line) => say(`[samples ${a}–${b - 1}] ${line}`),
        interruptOk: true,
        share: shards.length,
        shouldStop: o.shouldStop,
      });
    }
    if (!fs.existsSync(path.join(result, RECORD))) return null;
    const record = JSON.parse(fs.readFileSync(path.join(result, RECORD), 'utf8')) as ShardRecord;
    return { dir: result, samples: b - a, microBatch: record.microBatch };
  });
  const seconds = (Date.now() - began) / 1000;
  const resumedFrom = doneBefore.reduce((s, d) => s + d.samples, 0);
  if (parts.some((p) => p === null)) {
    // stopped: report what the shards have saved so far
    const now = shards.map(([a, b]) => shardDone(path.join(o.runDir, `shard-${a}-${b}`)));
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
  // the shards' sums added in shard order, the first read as it is (0 + x is x)
  const sums = fresh();
  let lossSum = 0;
  parts.forEach((part, j) => {
    const read = readSums(part!.dir, names, sums, { add: j > 0 });
    if (read.samples !== part!.samples)
      throw new Error(`${part!.dir}: holds ${read.samples} samples, the shard has ${part!.samples}`);
    lossSum += read.lossSum;
  });
  return {
    fisher: meanTensors(o.model, sums, n),
    samples: n,
    resumedFrom,
    meanLoss: lossSum / n,
    seconds,
    microBatch: Math.min(...parts.map((p) => p!.microBatch)),
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

/** One Fisher estimate: split over processes when a model folder is given and `jobs` (default `defaultFisherJobs`) asks for more than one batch's worth, else in this process. */
export async function fisherPass(
  o: FisherOptions & { modelDir?: string; jobs?: number },
): Promise<FisherResult & { processes: number }> {
  const batchSize = o.batchSize ?? 16;
  if (o.jobs !== undefined && !(Number.isInteger(o.jobs) && o.jobs >= 1))
    throw new Error(`fisher: --jobs must be a positive integer (got ${o.jobs})`);
  const jobs = o.modelDir
    ? Math.min(o.jobs ?? defaultFisherJobs(o.examples.length), Math.ceil(o.examples.length / batchSize))
    : 1;
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
