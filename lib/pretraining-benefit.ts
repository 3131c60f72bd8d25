/** Evidence that pretraining put knowledge in the weights: SST-2 accuracy from the pretrained weights against a random initialization. */
import { finetune, FINETUNE_DEFAULTS, FinetuneSettings } from './finetune';

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

/** Fine-tunes on SST-2 (a capped training set, the full dev set) from both initializations over several seeds. */
export async function pretrainingBenefit(modelDir: string, glueDir: string, seeds: number[], maxTrainExamples = 4000, write?: (line: string) => void): Promise<BenefitReport> {
  const settings: Omit<FinetuneSettings, 'init' | 'seed'> = { ...FINETUNE_DEFAULTS, task: 'SST-2', model: modelDir, maxTrainExamples };
  const runs: BenefitRun[] = [];
  for (const seed of seeds) {
    for (const init of ['pretrained', 'random'] as const) {
      const r = await finetune({ ...settings, init, seed }, glueDir, { write });
      runs.push({ init, seed, accuracy: r.final.dev.metrics.accuracy, seconds: r.wallSeconds });
      write?.(`SST-2 ${init} seed ${seed}: dev accuracy ${r.final.dev.metrics.accuracy.toFixed(4)}`);
    }
  }
  const pick = (init: string) => meanStd(runs.filter((r) => r.init === init).map((r) => r.accuracy));
  return { settings, seeds, runs, summary: { pretrained: pick('pretrained'), random: pick('random') } };
}
