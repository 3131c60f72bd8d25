/**
 * The Fisher pass as a user runs it, whole process with start-up: `fisherlab fisher --examples` on wasm and on
 * tensorflow (default `--jobs`) against the authors' batch-size-1 loop in PyTorch (float32; `per-sample-fisher` of
 * test/reference/hf_transformers.py in .venv-hf), on the same pre-masked corpus examples of a model folder (default:
 * the embedded model). Each run goes over every count of `--examples`; with two or more counts, the cost of each
 * further sample (the slope between the smallest and largest count) is printed as well: the rate a long pass
 * approaches once start-up is paid. Prints samples/s, GFLOP/s (lib/train/cost.ts: a forward and backward pass per
 * sample, as PyTorch's loop computes it; fisherlab's pass runs the last layer's queries and all after its
 * attention at masked positions only, so its figure is the rate of equivalent work) and the ratio to PyTorch. Each run is timed `--repeats` times and keeps its fastest: PyTorch's loop varies
 * by up to a third between runs on this machine.
 *
 *   npx tsx bench/fisher-process.ts [--model DIR] [--examples 128,512] [--backends wasm,tensorflow] [--repeats 2]
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { readConfig } from '../lib/bert/config';
import { trainingFlops } from '../lib/train/cost';
import { corpusSamples, pretrainingRecipe } from '../lib/fisher/samples';
import { IGNORE_INDEX, writeMaskedExamples } from '../lib/pretrain/mlm-data';
import { resolveModelDir } from '../lib/bert/model-dir';
import { projectRoot } from '../lib/paths';
import { loadTokenizer } from '../lib/bert/tokenizer';
import { PEAK_GFLOPS } from './backends';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    examples: { type: 'string', default: '128,512' },
    backends: { type: 'string', default: 'wasm,tensorflow' },
    repeats: { type: 'string', default: '2' },
  },
});
const modelDir = resolveModelDir(values.model);
const counts = values.examples.split(',').map(Number);
if (!counts.every((c) => Number.isInteger(c) && c > 0))
  throw new Error('--examples: positive integers, comma-separated');
const largest = Math.max(...counts);
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error('--repeats: a positive integer');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-bench-fisher-'));
// the first k of one draw, so the larger runs contain the smaller
const { examples: drawn } = corpusSamples(
  loadTokenizer(modelDir),
  pretrainingRecipe(modelDir),
  { samples: largest },
  0,
);
const examplesFile = (k: number) => path.join(dir, `examples-${k}.jsonl`);
for (const k of counts) writeMaskedExamples(examplesFile(k), drawn.slice(0, k));

const config = readConfig(path.join(modelDir, 'config.json'));
const { hidden_size: H, num_hidden_layers: L, vocab_size: V } = config;
/** matMul FLOPs of the first k examples' forward and backward passes. */
const flopsOf = (k: number) =>
  drawn.slice(0, k).reduce((sum, e) => {
    const masked = e.labels.filter((y) => y !== IGNORE_INDEX).length;
    return sum + trainingFlops(config, { sequences: 1, tokens: e.input_ids.length, masked });
  }, 0);
const tokens = drawn.reduce((s, e) => s + e.input_ids.length, 0) / drawn.length;

const root = projectRoot();
const python = path.join(root, '.venv-hf', 'bin', 'python');
const runs: Array<{ name: string; command: (k: number) => string[]; env?: Record<string, string> }> = [
  ...values.backends.split(',').map((backend) => ({
    name: `fisherlab ${backend}`,
    command: (k: number) => [
      process.execPath,
      path.join(root, 'bin', 'fisherlab.js'),
      'fisher',
      '--model',
      modelDir,
      '--examples',
      examplesFile(k),
      '--output',
      path.join(dir, `${backend}-${k}.safetensors`),
      '--run-dir',
      path.join(dir, `run-${backend}-${k}`),
    ],
    env: { FISHERLAB_BACKEND: backend },
  })),
  {
    name: 'PyTorch loop (batch 1)',
    command: (k: number) => [
      python,
      path.join(root, 'test', 'reference', 'hf_transformers.py'),
      'per-sample-fisher',
      '--model',
      modelDir,
      '--examples',
      examplesFile(k),
      '--output',
      path.join(dir, `torch-${k}.safetensors`),
      '--dtype',
      'float32',
      // as the authors load bert-base-uncased, and as fisherlab reads any folder (a BertForPreTraining folder too)
      '--as-class',
      'BertForMaskedLM',
    ],
  },
];

const cores = os.availableParallelism();
console.log(
  `Fisher pass over ${counts.join(', ')} examples of ${tokens.toFixed(0)} tokens on ${modelDir} (L${L} H${H} V${V}), whole process, ${cores} cores`,
);
/** What each side ran on: fisherlab's backend, TensorFlow and kernels per backend; torch, its BLAS and transformers. */
function versions(): string[] {
  const lines = runs.slice(0, -1).map((run) => {
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'bin', 'fisherlab.js'), 'info', '--json', '--model', modelDir],
      {
        env: { ...process.env, ...run.env },
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) return `${run.name}: fisherlab info failed`;
    const b = (
      JSON.parse(r.stdout) as {
        backend: { name: string; tensorflow: string | null; threads: number; fisherKernels: string };
      }
    ).backend;
    return `${run.name}: backend ${b.name}${b.tensorflow ? `, TensorFlow ${b.tensorflow}` : ''}, ${b.threads} thread(s) per op, Fisher kernels: ${b.fisherKernels}`;
  });
  const probe =
    "import re, torch, transformers; c = torch.__config__.show(); m = re.search(r'Math Kernel Library Version ([\\w.]+)', c); d = re.search(r'(?:oneDNN|MKL-DNN) v([\\w.]+)', c); " +
    "print(f'torch {torch.__version__} (MKL {m.group(1) if m else None}, oneDNN {d.group(1) if d else None}, {torch.backends.cpu.get_cpu_capability()}), transformers {transformers.__version__}')";
  const r = fs.existsSync(python) ? spawnSync(python, ['-c', probe], { encoding: 'utf8' }) : null;
  lines.push(
    `${runs.at(-1)!.name}: ${r?.status === 0 ? r.stdout.trim() : 'versions unknown'} (threads: hf_transformers.py's min(4, cores))`,
  );
  return lines;
}
for (const line of versions()) console.log(line);
/** Seconds of each run at each count (null when it failed or is missing, with the reason). */
const times = runs.map((run) => {
  const seconds = new Map<number, number>();
  for (const k of counts) {
    const [exe, ...args] = run.command(k);
    if (!fs.existsSync(exe)) return { seconds, problem: `${exe} is missing (bash scripts/hf-venv.sh)` };
    for (let round = 0; round < repeats; round++) {
      const began = performance.now();
      const r = spawnSync(exe, args, { env: { ...process.env, ...run.env }, encoding: 'utf8' });
      if (r.status !== 0) return { seconds, problem: `failed (${(r.stderr ?? '').trim().split('\n').pop()})` };
      const t = (performance.now() - began) / 1000;
      seconds.set(k, Math.min(t, seconds.get(k) ?? Infinity));
      // a finished split run's folder would let the next round skip its shards: each round starts afresh
      for (const f of fs.readdirSync(dir))
        if (f.startsWith('run-') || f.endsWith('.safetensors'))
          fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    }
  }
  return { seconds, problem: null as string | null };
});
fs.rmSync(dir, { recursive: true, force: true });

/** Rows to print: samples/s at each count, and the rate of each further sample between the smallest and largest. */
const smallest = Math.min(...counts);
const columns = [
  ...counts.map((k) => ({ label: `${k} examples`, k })),
  ...(counts.length > 1 ? [{ label: 'each further', k: 0 }] : []),
];
const rate = (i: number, k: number): number | null => {
  const t = times[i].seconds;
  if (k > 0) return t.has(k) ? k / t.get(k)! : null;
  return t.has(smallest) && t.has(largest) ? (largest - smallest) / (t.get(largest)! - t.get(smallest)!) : null;
};
const flopsPerSample = (k: number) =>
  k > 0 ? flopsOf(k) / k : (flopsOf(largest) - flopsOf(smallest)) / (largest - smallest);
const torch = runs.length - 1;
console.log(
  `${'run'.padEnd(24)} ${'at'.padEnd(14)} ${'samples/s'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'% of peak'.padStart(10)} ${'vs PyTorch'.padStart(11)}`,
);
runs.forEach((run, i) => {
  if (times[i].problem) console.log(`${run.name}: ${times[i].problem}`);
  for (const { label, k } of columns) {
    const r = rate(i, k);
    if (r === null || !(r > 0)) continue;
    const gflops = (r * flopsPerSample(k)) / 1e9;
    const t = rate(torch, k);
    const ratio = t ? `${(r / t).toFixed(2)}×` : '—';
    console.log(
      `${run.name.padEnd(24)} ${label.padEnd(14)} ${r.toFixed(2).padStart(10)} ${gflops.toFixed(1).padStart(8)} ${`${((100 * gflops) / PEAK_GFLOPS).toFixed(0)}%`.padStart(10)} ${ratio.padStart(11)}`,
    );
  }
});
console.log(
  `machine fp32 peak ≈ ${PEAK_GFLOPS} GFLOP/s; GFLOP/s counts the full pass's matMuls (fisherlab skips the last layer's unmasked rows)`,
);
