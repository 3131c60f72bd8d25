/** Chooses the TensorFlow.js backend (tfjs-node-gpu, tfjs-node, wasm, cpu) and patches wasm's slow or missing kernels. */
import * as fs from 'fs';
import { createRequire } from 'module';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { projectRoot } from './paths';

/** Backends in order of preference, with the module that provides each. */
const CANDIDATES: Array<{ name: string; module: string | null; tfName: string }> = [
  { name: 'tensorflow-gpu', module: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow' },
  { name: 'tensorflow', module: '@tensorflow/tfjs-node', tfName: 'tensorflow' },
  { name: 'wasm', module: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm' },
  { name: 'cpu', module: null, tfName: 'cpu' },
];

let chosen: Promise<string> | null = null;
let chosenName: string | null = null;

/**
 * Initializes the best available backend once and returns its name; $FISHERLAB_BACKEND
 * (tensorflow-gpu, tensorflow, wasm or cpu) forces one.
 */
export function initBackend(opts: { quiet?: boolean } = {}): Promise<string> {
  if (!chosen) chosen = pick(opts.quiet ?? false);
  return chosen;
}

async function pick(quiet: boolean): Promise<string> {
  const forced = process.env.FISHERLAB_BACKEND;
  if (forced && !CANDIDATES.some((c) => c.name === forced)) {
    throw new Error(`FISHERLAB_BACKEND=${forced}: expected one of ${CANDIDATES.map((c) => c.name).join(', ')}`);
  }
  const candidates = forced ? CANDIDATES.filter((c) => c.name === forced) : CANDIDATES;
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '1'; // TensorFlow's INFO lines at start (CPU features) say nothing to users
  const failures: string[] = [];
  for (const c of candidates) {
    try {
      // required, not imported: an ES import of these CommonJS packages first scans TensorFlow.js's source (0.15 s);
      // CommonJS code (the command line's bundle, notebooks) has `require`, ES modules (the tests) make one
      if (c.module) {
        const load = typeof require === 'function' ? require : createRequire(path.join(projectRoot(), 'package.json'));
        load(c.module);
      }
      if (!(await tf.setBackend(c.tfName))) throw new Error('setBackend returned false');
      await tf.ready();
      if (c.tfName === 'wasm') patchWasmKernels();
      if (!quiet)
        console.error(`fisherlab: TensorFlow.js backend ${c.name}${forced ? ' (forced by FISHERLAB_BACKEND)' : ''}`);
      chosenName = c.name;
      return c.name;
    } catch (e) {
      failures.push(`${c.name}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(`no TensorFlow.js backend could start:\n  ${failures.join('\n  ')}`);
}

/** The backend initBackend chose (tensorflow-gpu, tensorflow, wasm or cpu), else TensorFlow.js's own name, for files' records. */
export function backendName(): string {
  return chosenName ?? tf.getBackend();
}

/** The backend in force, the TensorFlow version under it (native backends only) and its threads per op. */
export interface BackendInfo {
  name: string;
  tensorflow: string | null;
  threads: number;
}

/** Describes the backend that initBackend started. */
export async function backendInfo(): Promise<BackendInfo> {
  const name = await initBackend({ quiet: true });
  if (!name.startsWith('tensorflow')) return { name, tensorflow: null, threads: 1 };
  const binding = (tf.backend() as unknown as { binding: { TF_Version: string } }).binding;
  return { name, tensorflow: binding.TF_Version, threads: threadsPerOp() };
}

/** Threads per op of the backend initBackend started: TensorFlow's intra-op threads, 1 on wasm and cpu. */
export function threadsPerOp(): number {
  return chosenName?.startsWith('tensorflow') ? intraOpThreads() : 1;
}

/** TensorFlow's threads per op: $TF_NUM_INTRAOP_THREADS, else every core this process may use (TensorFlow's rule). */
function intraOpThreads(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.TF_NUM_INTRAOP_THREADS);
  return Number.isInteger(n) && n > 0 ? n : os.availableParallelism();
}

/**
 * The default process count of `--jobs` options that spread independent work (fine-tuning runs, landscape rows):
 * one per core on every backend. On TensorFlow each such process then gets one core's share of threads per op
 * (`sharedEnv`): at fisherlab-bert-l4-h128's size a second thread per op adds almost nothing, a second process nearly
 * doubles the throughput (docs/backends.md).
 */
export function defaultJobs(): number {
  return os.availableParallelism();
}

/** The default `--jobs` of data-parallel pretraining, whose processes trade weights every step: 1 on TensorFlow, one per core on wasm. */
export function defaultShardJobs(): number {
  return nativeExpected() ? 1 : os.availableParallelism();
}

/** How `--jobs` options describe their default. */
export const JOBS_HELP = 'one per core; on TensorFlow each process then uses its share of the cores';

/** How pretraining's `--jobs` describes its default. */
export const SHARD_JOBS_HELP = '1 on TensorFlow, which uses every core in one process; one per core on wasm';

/** The variables `sharedEnv` sets. */
const SHARE_KEYS = ['TF_NUM_INTRAOP_THREADS', 'FISHERLAB_PROCESSES'] as const;

/** Their values before `takeShare` set them in this process, for the children it starts (null until it does). */
let ownShare: Partial<Record<(typeof SHARE_KEYS)[number], string>> | null = null;

/**
 * The environment of a child process that shares the machine with `share` − 1 others: its share of the cores as
 * TensorFlow's threads per op, and of the native memory budget (`FISHERLAB_PROCESSES`), unless the user set them.
 * The default `env` is this process's, as it was before `takeShare`.
 */
export function sharedEnv(share: number, env: NodeJS.ProcessEnv = launchEnv()): NodeJS.ProcessEnv {
  if (!Number.isInteger(share) || share < 1)
    throw new Error(`sharedEnv: share must be a positive integer (got ${share})`);
  if (share === 1) return { ...env };
  const processes = share * (Number(env.FISHERLAB_PROCESSES) || 1);
  return {
    ...env,
    TF_NUM_INTRAOP_THREADS: env.TF_NUM_INTRAOP_THREADS ?? String(Math.max(1, Math.floor(intraOpThreads(env) / share))),
    FISHERLAB_PROCESSES: String(processes),
  };
}

/**
 * Gives this process, before its backend starts, the share of the cores and memory that `sharedEnv` gives each of
 * the `share` − 1 children it runs beside; once the backend has started (TensorFlow reads its threads once), nothing.
 */
export function takeShare(share: number): void {
  if (chosen || ownShare || share === 1) return;
  const before = launchEnv();
  const shared = sharedEnv(share, before);
  ownShare = Object.fromEntries(SHARE_KEYS.map((k) => [k, before[k]]));
  for (const k of SHARE_KEYS) process.env[k] = shared[k];
}

/** This process's environment as it was before `takeShare`. */
function launchEnv(): NodeJS.ProcessEnv {
  if (!ownShare) return process.env;
  const env = { ...process.env };
  for (const k of SHARE_KEYS) {
    if (ownShare[k] === undefined) delete env[k];
    else env[k] = ownShare[k];
  }
  return env;
}

/** Whether initBackend will pick a TensorFlow backend, judged without loading it: forced, or its addon is installed. */
function nativeExpected(): boolean {
  const forced = process.env.FISHERLAB_BACKEND;
  if (forced) return forced.startsWith('tensorflow');
  let root: string;
  try {
    root = projectRoot();
  } catch {
    return false;
  }
  return ['tfjs-node-gpu', 'tfjs-node'].some((pkg) =>
    fs.existsSync(path.join(root, 'node_modules', '@tensorflow', pkg, 'lib', 'napi-v8', 'tfjs_binding.node')),
  );
}

type KernelFunc = tf.KernelConfig['kernelFunc'];
interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface WasmBackendLike {
  disposeData(dataId: object): boolean;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

let originalBatchMatMul: KernelFunc | null = null;

/**
 * Makes wasm's BatchMatMul transpose its operands explicitly (wasm's transposed matMul is 10–40× slower),
 * which also speeds up every matMul gradient; and adds UnsortedSegmentSum (gather's gradient), which wasm lacks.
 */
export function patchWasmKernels(): void {
  if (originalBatchMatMul) return;
  const matMul = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!matMul || !transpose) throw new Error('wasm backend lacks BatchMatMul or Transpose');
  originalBatchMatMul = matMul.kernelFunc;
  const base = matMul.kernelFunc;
  const swapLast = (x: TensorInfo, backend: unknown): TensorInfo => {
    const perm = x.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return transpose.kernelFunc({
      inputs: { x } as never,
      backend: backend as never,
      attrs: { perm } as never,
    }) as TensorInfo;
  };
  const plain = { transposeA: false, transposeB: false } as never;
  // wasm multiplies stacks of matrices (batch > 1) with a slow generic loop; XNNPACK serves only single matrices,
  // so a stack is multiplied one matrix at a time, copying slices in and out of the wasm heap.
  const stacked = (a: TensorInfo, b: TensorInfo, backend: unknown): TensorInfo => {
    const size = (dims: number[]) => dims.reduce((x, y) => x * y, 1);
    const batch = size(a.shape.slice(0, -2));
    if (
      (batch <= 1 && size(b.shape.slice(0, -2)) <= 1) ||
      a.shape.slice(0, -2).join() !== b.shape.slice(0, -2).join()
    ) {
      return base({ inputs: { a, b } as never, backend: backend as never, attrs: plain }) as TensorInfo;
    }
    const wasm = backend as unknown as WasmBackendLike;
    const [M, K] = a.shape.slice(-2);
    const N = b.shape[b.shape.length - 1];
    const out = wasm.makeOutput([...a.shape.slice(0, -2), M, N], 'float32');
    const ai = wasm.makeOutput([M, K], 'float32');
    for (let i = 0; i < batch; i++) {
      // wasm caches XNNPACK's packed copy of b by tensor id: each slice of b needs a fresh tensor
      const bi = wasm.makeOutput([K, N], 'float32');
      // views are taken after every allocation: a growing heap detaches older ones
      wasm.typedArrayFromHeap(ai).set(wasm.typedArrayFromHeap(a).subarray(i * M * K, (i + 1) * M * K));
      wasm.typedArrayFromHeap(bi).set(wasm.typedArrayFromHeap(b).subarray(i * K * N, (i + 1) * K * N));
      const r = base({ inputs: { a: ai, b: bi } as never, backend: backend as never, attrs: plain }) as TensorInfo;
      wasm.typedArrayFromHeap(out).set(wasm.typedArrayFromHeap(r), i * M * N);
      wasm.disposeData(r.dataId);
      wasm.disposeData(bi.dataId);
    }
    wasm.disposeData(ai.dataId);
    return out;
  };
  const fast: KernelFunc = ({ inputs, backend, attrs }) => {
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const { a, b } = inputs as unknown as { a: TensorInfo; b: TensorInfo };
    if (!transposeA && !transposeB) return stacked(a, b, backend) as never;
    const at = transposeA ? swapLast(a, backend) : a;
    const bt = transposeB ? swapLast(b, backend) : b;
    const out = stacked(at, bt, backend);
    const wasm = backend as unknown as WasmBackendLike;
    if (transposeA) wasm.disposeData(at.dataId);
    if (transposeB) wasm.disposeData(bt.dataId);
    return out as never;
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: fast });

  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    const reshape = tf.getKernel('Reshape', 'wasm')!;
    const scatterNd = tf.getKernel('ScatterNd', 'wasm')!;
    tf.registerKernel({
      kernelName: 'UnsortedSegmentSum',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { x, segmentIds } = inputs as unknown as { x: TensorInfo; segmentIds: TensorInfo };
        const { numSegments } = attrs as unknown as { numSegments: number };
        const n = segmentIds.shape.reduce((s, d) => s * d, 1);
        const rest = x.shape.slice(segmentIds.shape.length);
        const indices = reshape.kernelFunc({
          inputs: { x: segmentIds } as never,
          backend,
          attrs: { shape: [n, 1] } as never,
        }) as TensorInfo;
        const updates = reshape.kernelFunc({
          inputs: { x } as never,
          backend,
          attrs: { shape: [n, ...rest] } as never,
        }) as TensorInfo;
        const out = scatterNd.kernelFunc({
          inputs: { indices, updates } as never,
          backend,
          attrs: { shape: [numSegments, ...rest] } as never,
        });
        const wasm = backend as unknown as WasmBackendLike;
        wasm.disposeData(indices.dataId);
        wasm.disposeData(updates.dataId);
        return out;
      },
    });
  }
}

/** Restores wasm's own BatchMatMul kernel (for benchmarks that compare with and without the patch). */
export function unpatchWasmMatMul(): void {
  if (!originalBatchMatMul) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: originalBatchMatMul });
  originalBatchMatMul = null;
}
