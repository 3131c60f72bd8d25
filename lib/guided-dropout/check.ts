/**
 * Checks of dropout settings on a loaded model, as notebook 05 shows them: the p each site reads back against the
 * schedule, and the noise each method draws (its mean and variance in training, the identity in evaluation).
 */
import * as tf from '@tensorflow/tfjs';
import type { Bert } from '../bert/model';
import { CLASSIFIER_SITE, methodDropout, STANDARD_P } from './methods';
import type { DropoutMethod, ScheduleRow } from './methods';

/** Every dropout site of a model with its kind and p as set, beside what the schedule says (the classifier keeps STANDARD_P), and the sites that differ. */
export function scheduleReadBack(
  model: Bert,
  schedule: readonly ScheduleRow[],
): { rows: Array<{ site: string; kind: string; p: number; 'schedule says': string }>; mismatches: string[] } {
  const expected = new Map(schedule.map((r) => [r.site, r.p]));
  const rows = model.dropoutSites().map((site) => ({
    site,
    kind: model.dropout.get(site).kind,
    p: model.dropout.get(site).p,
    'schedule says': site === CLASSIFIER_SITE ? `${STANDARD_P} (classifier, kept)` : expected.get(site)!.toFixed(4),
  }));
  const mismatches = rows
    .filter((r) => r.site !== CLASSIFIER_SITE && Math.abs(r.p - expected.get(r.site)!) > 0)
    .map((r) => r.site);
  return { rows, mismatches };
}

/** Per method set at one site: its p, the expected noise variance, the noise's mean and variance in training, and whether evaluation is the identity. */
export function dropoutNoiseCheck(
  model: Bert,
  site: string,
  methods: readonly DropoutMethod[],
  size = 200_000,
): Array<Record<string, string | number>> {
  const ones = tf.ones([size]);
  try {
    return methods.map((method) => {
      model.dropout.set(site, methodDropout(method, [site])[site]);
      const s = model.dropout.get(site);
      const train = model.dropout.apply(site, ones, 7);
      const evalOut = model.dropout.apply(site, ones, undefined);
      const { mean, variance } = tf.tidy(() => {
        const m = tf.moments(train);
        return { mean: m.mean.dataSync()[0], variance: m.variance.dataSync()[0] };
      });
      const identity = tf.tidy(() => tf.max(tf.abs(tf.sub(evalOut, ones))).dataSync()[0]) === 0;
      tf.dispose(evalOut === ones ? [train] : [train, evalOut]);
      return {
        method,
        kind: s.kind,
        p: s.p,
        'expected variance': s.p / (1 - s.p),
        'training: mean': mean,
        'training: variance': variance,
        'evaluation = identity': identity ? 'yes' : 'no',
      };
    });
  } finally {
    ones.dispose();
  }
}

/** The kinds of group in a schedule from the lowest Fisher score to the highest, each run of one kind listed once. */
export function kindBlocks(schedule: readonly ScheduleRow[]): string[] {
  const kinds = [...schedule].sort((a, b) => a.rank - b.rank).map((r) => r.kind);
  return kinds.filter((k, i) => i === 0 || k !== kinds[i - 1]);
}
