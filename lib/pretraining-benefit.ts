/** Evidence that pretraining put knowledge in the weights: SST-2 accuracy from the pretrained weights against a random initialization. */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FINETUNE_DEFAULTS, FinetuneResult, FinetuneSettings } from './finetune';
import { projectRoot } from './paths';

export interface BenefitRun {
  init: 'pretrained' | 'random';
  seed: number;
  accuracy: number;
  seconds: number;
}

export interface BenefitReport {
  settings: Omit<FinetuneSettings, 'init' | 'seed'>;
  seeds: number[];
  runs: BenefitRun[];
  /** init → mean and sample standard deviation of dev accuracy over seeds. */
  summary: Record<'pretrained' | 'random', { mean: number; std: number }>;
}

/** Mean and sample standard deviation. */
export function meanStd(xs: readonly number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/**
 * Fine-tunes on SST-2 (a capped training set, the full dev set) from both initializations over several seeds,
 * running `jobs` `fisherlab finetune` processes at a time (one wasm thread each).
 */
export async function pretrainingBenefit(
  modelDir: string, glueDir: string, seeds: number[], opts: { maxTrainExamples: number; lr: number; jobs: number }, write?: (line: string) => void,
): Promise<BenefitReport> {
  const settings: Omit<FinetuneSettings, 'init' | 'seed'> = { ...FINETUNE_DEFAULTS, task: 'SST-2', model: path.resolve(modelDir), maxTrainExamples: opts.maxTrainExamples, lr: opts.lr };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-sst2-'));
  const queue = seeds.flatMap((seed) => (['pretrained', 'random'] as const).map((init) => ({ init, seed })));
  const runs: BenefitRun[] = [];
  const runOne = async ({ init, seed }: { init: 'pretrained' | 'random'; seed: number }) => {
    const output = path.join(tmp, `${init}-${seed}.json`);
    await finetuneProcess([
      'finetune', '--task', 'SST-2', '--model', settings.model, '--init', init, '--seed', String(seed), '--glue', glueDir,
      '--max-train', String(settings.maxTrainExamples), '--lr', String(settings.lr), '--output', output,
    ]);
    const r = JSON.parse(fs.readFileSync(output, 'utf8')) as FinetuneResult;
    runs.push({ init, seed, accuracy: r.final.dev.metrics.accuracy, seconds: r.wallSeconds });
    write?.(`SST-2 ${init} seed ${seed}: dev accuracy ${r.final.dev.metrics.accuracy.toFixed(4)} (${r.wallSeconds.toFixed(0)} s)`);
  };
  const lanes = Array.from({ length: Math.max(1, opts.jobs) }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await runOne(job);
  });
  await Promise.all(lanes);
  fs.rmSync(tmp, { recursive: true, force: true });
  runs.sort((a, b) => a.seed - b.seed || a.init.localeCompare(b.init));
  const pick = (init: string) => meanStd(runs.filter((r) => r.init === init).map((r) => r.accuracy));
  return { settings, seeds, runs, summary: { pretrained: pick('pretrained'), random: pick('random') } };
}

/** Runs `fisherlab ARGS` in a child process, rejecting with its stderr on failure. */
function finetuneProcess(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'fisherlab.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fisherlab ${args.join(' ')} failed (${code}):\n${stderr}`))));
  });
}
