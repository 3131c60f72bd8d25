/**
 * The machine's fp32 matMul rate on each backend: square matMuls of several sizes, the best of `--repeats` timed
 * loops each, kernels only (nothing read back). The best figure on the native backend is the peak the other benches
 * divide by (PEAK_GFLOPS in bench/backends.ts). On TensorFlow it also runs one thread per op
 * (TF_NUM_INTRAOP_THREADS=1, in a child process), what each of `--jobs` processes gets.
 *
 *   npx tsx bench/matmul.ts [--sizes 256,512,1024,2048] [--seconds 1] [--repeats 3]
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'child_process';
import * as os from 'os';
import { parseArgs } from 'node:util';
import { initBackend } from '../lib/backend';
import { benchEachBackend, headline, PEAK_GFLOPS } from './backends';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    seconds: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    'one-thread': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const [seconds, repeats] = [Number(values.seconds), Number(values.repeats)];

if (benchEachBackend()) process.exit();
const backend = await initBackend({ quiet: true });

/** GFLOP/s of n×n · n×n matMuls: the best of `repeats` loops of about `seconds` each. */
function rate(n: number): number {
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])];
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
    best = Math.max(best, (2 * n ** 3 * (count + 1)) / ((performance.now() - start) / 1000) / 1e9);
  }
  tf.dispose([a, b]);
  return best;
}

const threads = !backend.startsWith('tensorflow')
  ? 'one thread'
  : `${process.env.TF_NUM_INTRAOP_THREADS ?? os.availableParallelism()} threads per op`;
if (!values['one-thread'])
  console.log(`fp32 matMul, backend ${backend}, ${threads}; peak used by the benches: ${PEAK_GFLOPS} GFLOP/s`);
console.log(`${'size'.padStart(6)} ${'GFLOP/s'.padStart(9)}  ${values['one-thread'] ? '(1 thread per op)' : ''}`);
let best = 0;
for (const n of sizes) {
  const g = rate(n);
  best = Math.max(best, g);
  console.log(`${String(n).padStart(6)} ${g.toFixed(1).padStart(9)}`);
}
if (values['one-thread']) process.exit();
headline('best matMul GFLOP/s', best, best);
if (backend.startsWith('tensorflow') && !process.env.TF_NUM_INTRAOP_THREADS) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1), '--one-thread'], {
    env: { ...process.env, TF_NUM_INTRAOP_THREADS: '1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`the one-thread run failed (exit ${r.status ?? r.signal})`);
}
