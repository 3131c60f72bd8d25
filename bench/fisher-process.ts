/**
 * The Fisher pass as a user runs it, whole process with start-up: `fisherlab fisher --examples` on wasm and on
 * tensorflow against the authors' batch-size-1 loop in PyTorch (float32; `per-sample-fisher` of
 * test/reference/hf_transformers.py in .venv-hf), on the same pre-masked corpus examples of a model folder
 * (default: the embedded model). Prints samples/s, GFLOP/s (lib/train/cost.ts: a forward and backward pass per sample)
 * and the ratio to PyTorch.
 *
 *   npx tsx bench/fisher-process.ts [--model DIR] [--examples 128] [--backends wasm,tensorflow]
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
    examples: { type: 'string', default: '128' },
    backends: { type: 'string', default: 'wasm,tensorflow' },
  },
});
const modelDir = resolveModelDir(values.model);
const n = Number(values.examples);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-bench-fisher-'));
const examplesFile = path.join(dir, 'examples.jsonl');
const { examples } = corpusSamples(loadTokenizer(modelDir), pretrainingRecipe(modelDir), { samples: n }, 0);
writeMaskedExamples(examplesFile, examples);

const config = readConfig(path.join(modelDir, 'config.json'));
const { hidden_size: H, num_hidden_layers: L, vocab_size: V } = config;
const flops = examples.reduce((sum, e) => {
  const masked = e.labels.filter((y) => y !== IGNORE_INDEX).length;
  return sum + trainingFlops(config, { sequences: 1, tokens: e.input_ids.length, masked });
}, 0);
const tokens = examples.reduce((s, e) => s + e.input_ids.length, 0) / examples.length;

const root = projectRoot();
const python = path.join(root, '.venv-hf', 'bin', 'python');
const runs: Array<{ name: string; command: string[]; env?: Record<string, string> }> = [
  ...values.backends.split(',').map((backend) => ({
    name: `fisherlab ${backend}`,
    command: [
      process.execPath,
      path.join(root, 'bin', 'fisherlab.js'),
      'fisher',
      '--model',
      modelDir,
      '--examples',
      examplesFile,
      '--output',
      path.join(dir, `${backend}.safetensors`),
      '--run-dir',
      path.join(dir, `run-${backend}`),
    ],
    env: { FISHERLAB_BACKEND: backend },
  })),
  {
    name: 'PyTorch loop (batch 1)',
    command: [
      python,
      path.join(root, 'test', 'reference', 'hf_transformers.py'),
      'per-sample-fisher',
      '--model',
      modelDir,
      '--examples',
      examplesFile,
      '--output',
      path.join(dir, 'torch.safetensors'),
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
  `Fisher pass over ${n} examples of ${tokens.toFixed(0)} tokens on ${modelDir} (L${L} H${H} V${V}), whole process, ${cores} cores`,
);
const rows: Array<{ name: string; rate: number | null }> = [];
for (const run of runs) {
  if (!fs.existsSync(run.command[0])) {
    rows.push({ name: `${run.name}: ${run.command[0]} is missing (bash scripts/hf-venv.sh)`, rate: null });
    continue;
  }
  const began = performance.now();
  const r = spawnSync(run.command[0], run.command.slice(1), { env: { ...process.env, ...run.env }, encoding: 'utf8' });
  const seconds = (performance.now() - began) / 1000;
  const failed = r.status !== 0 ? `: failed (${(r.stderr ?? '').trim().split('\n').pop()})` : '';
  rows.push({ name: run.name + failed, rate: failed ? null : n / seconds });
}
fs.rmSync(dir, { recursive: true, force: true });

const torch = rows[rows.length - 1].rate;
console.log(
  `${'run'.padEnd(28)} ${'samples/s'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'% of peak'.padStart(10)} ${'vs PyTorch'.padStart(11)}`,
);
for (const { name, rate } of rows) {
  if (rate === null) {
    console.log(name);
    continue;
  }
  const gflops = (rate * flops) / n / 1e9;
  const ratio = torch ? `${(rate / torch).toFixed(2)}×` : '—';
  const peak = `${((100 * gflops) / PEAK_GFLOPS).toFixed(0)}%`;
  console.log(
    `${name.padEnd(28)} ${rate.toFixed(2).padStart(10)} ${gflops.toFixed(1).padStart(8)} ${peak.padStart(10)} ${ratio.padStart(11)}`,
  );
}
console.log(`machine fp32 peak ≈ ${PEAK_GFLOPS} GFLOP/s`);
