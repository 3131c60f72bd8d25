/**
 * The machine's fp32 matMul rate on each backend: square matMuls of several sizes and the products of the embedded
 * model's layers on one 128-token sequence (as the Fisher pass and the authors' batch-size-1 loop run them), the best
 * of `--repeats` timed loops each, kernels only (nothing read back). The best square figure on the native backend is
 * the peak the other benches divide by (PEAK_GFLOPS in bench/backends.ts). On TensorFlow it also runs one thread per
 * op (TF_NUM_INTRAOP_THREADS=1, in a child process), what each of `--jobs` processes gets, and prints PyTorch's rate
 * on the same shapes and threads beside it (bench/matmul-torch.py in .venv-hf, with its versions), the kernels under
 * the authors' loop that bench/fisher-process.ts compares against.
 *
 *   npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--shapes MxKxN,...] [--seconds 1] [--repeats 3]
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import { parseArgs } from 'node:util';
import * as path from 'path';
import { initBackend } from '../lib/backend';
import { readConfig } from '../lib/bert/config';
import { resolveModelDir } from '../lib/bert/model-dir';
import { projectRoot } from '../lib/paths';
import { benchEachBackend, headline, PEAK_GFLOPS } from './backends';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    shapes: { type: 'string' },
    seconds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    'one-thread': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
/** The embedded model's products on one 128-token sequence: Q/K/V/output, feed-forward in and out, the decoder. */
function modelShapes(): string {
  const {
    hidden_size: h,
    intermediate_size: i,
    vocab_size: v,
  } = readConfig(path.join(resolveModelDir(), 'config.json'));
  return [`128x${h}x${h}`, `128x${h}x${i}`, `128x${i}x${h}`, `128x${h}x${v}`].join(',');
}
/** Every product timed, as [M, K, N]: the squares of --sizes, then --shapes (default: the embedded model's). */
const shapes = [
  ...sizes.map((n) => [n, n, n]),
  ...(values.shapes ?? modelShapes()).split(',').map((s) => s.split('x').map(Number)),
];
if (!shapes.every((d) => d.length === 3 && d.every((x) => Number.isInteger(x) && x > 0)))
  throw new Error('--sizes: positive integers; --shapes: MxKxN, comma-separated');
const [seconds, repeats] = [Number(values.seconds), Number(values.repeats)];

if (benchEachBackend()) process.exit();
const backend = await initBackend({ quiet: true });

/** GFLOP/s of M×K · K×N matMuls: the best of `repeats` loops of about `seconds` each. */
function rate([m, k, n]: number[]): number {
  const [a, b] = [tf.randomNormal([m, k]), tf.randomNormal([k, n])];
  for (let i = 0; i < 3; i++) tf.matMul(a, b).dispose();
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    let count = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000) {
      tf.matMul(a, b).dispose();
      count++;
    }
    // the last product is read back, so a backend that queues kernels has run them all
    const check = tf.matMul(a, b);
    check.dataSync();
    check.dispose();
    best = Math.max(best, (2 * m * k * n * (count + 1)) / ((performance.now() - start) / 1000) / 1e9);
  }
  tf.dispose([a, b]);
  return best;
}

/** PyTorch's GFLOP/s on the same shapes and threads, with its versions, or why there are none. */
function torchRates(threads: number): { versions: string; gflops: number[] } | string {
  const python = path.join(projectRoot(), '.venv-hf', 'bin', 'python');
  if (!fs.existsSync(python)) return `no ${python} (bash scripts/hf-venv.sh)`;
  const r = spawnSync(
    python,
    [
      path.join(projectRoot(), 'bench', 'matmul-torch.py'),
      '--shapes',
      shapes.map((d) => d.join('x')).join(','),
      '--threads',
      String(threads),
      '--seconds',
      String(seconds),
      '--repeats',
      String(repeats),
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) return `bench/matmul-torch.py failed: ${(r.stderr ?? '').trim().split('\n').pop()}`;
  const [versions, ...rows] = r.stdout.trim().split('\n');
  return { versions, gflops: rows.map((l) => (JSON.parse(l) as { gflops: number }).gflops) };
}

const threadCount = backend.startsWith('tensorflow')
  ? Number(process.env.TF_NUM_INTRAOP_THREADS ?? os.availableParallelism())
  : 1;
const threads = !backend.startsWith('tensorflow') ? 'one thread' : `${threadCount} threads per op`;
if (!values['one-thread'])
  console.log(`fp32 matMul, backend ${backend}, ${threads}; peak used by the benches: ${PEAK_GFLOPS} GFLOP/s`);
const torch = backend.startsWith('tensorflow') ? torchRates(threadCount) : null;
if (typeof torch === 'string') console.log(`PyTorch not timed: ${torch}`);
else if (torch) console.log(`PyTorch on the same shapes and threads: ${torch.versions}`);
console.log(
  `${'M×K×N'.padStart(16)} ${'GFLOP/s'.padStart(9)}${torch && typeof torch !== 'string' ? `${'PyTorch'.padStart(9)} ${'ratio'.padStart(6)}` : ''}  ${values['one-thread'] ? '(1 thread per op)' : ''}`,
);
let best = 0;
shapes.forEach((d, i) => {
  const g = rate(d);
  if (i < sizes.length) best = Math.max(best, g); // the squares
  const t = torch && typeof torch !== 'string' ? torch.gflops[i] : null;
  const beside = t === null ? '' : `${t.toFixed(1).padStart(9)} ${`${(g / t).toFixed(2)}×`.padStart(6)}`;
  console.log(`${d.join('×').padStart(16)} ${g.toFixed(1).padStart(9)}${beside}`);
});
if (values['one-thread']) process.exit();
headline('best matMul GFLOP/s', best, best);
if (backend.startsWith('tensorflow') && !process.env.TF_NUM_INTRAOP_THREADS) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1), '--one-thread'], {
    env: { ...process.env, TF_NUM_INTRAOP_THREADS: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`the one-thread run failed (exit ${r.status ?? r.signal})`);
}
