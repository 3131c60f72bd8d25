/** Measures (tf.profile) the peak bytes of one eval, train and Fisher step at bert-base-uncased's shape, next to lib/train/memory-budget's model. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { Bert } from '../lib/bert/model';
import { MASKED_LM, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { StepKind, stepBytes } from '../lib/train/memory-budget';
import { AdamW } from '../lib/train/optim';
import { squaredGradSums } from '../lib/fisher/per-sample-grads';
import { BERT_BASE } from '../lib/bert/config';

async function main(): Promise<void> {
  const backend = await initBackend();
  const args = process.argv.slice(2);
  const B = Number(args[0] ?? 1);
  const kinds = (args[1] ?? 'eval,train,fisher').split(',') as StepKind[];
  const T = 128;
  const config = BERT_BASE;
  const ids = Array.from({ length: B }, (_, n) =>
    Array.from({ length: T }, (_, t) => 1000 + ((n * 31 + t * 7) % 20000)),
  );
  const labels = ids.map((row) => row.map((y, t) => (t % 7 === 3 ? y : -100)));
  const m = labels[0].filter((y) => y !== -100).length;
  for (const kind of kinds) {
    const model = Bert.random(config, kind === 'train' ? SEQUENCE_CLASSIFICATION : MASKED_LM, 1);
    const opt = kind === 'train' ? new AdamW(model.namedParameters()) : null;
    const params = model.namedParameters().map(([, v]) => v);
    const base = tf.memory().numBytes;
    const began = Date.now();
    const info = await tf.profile(() => {
      if (kind === 'eval') tf.tidy(() => void model.maskedLmLoss({ input_ids: ids }, labels).dataSync());
      else if (kind === 'train') {
        const { value, grads } = tf.variableGrads(
          () =>
            model.classificationLoss(
              { input_ids: ids },
              ids.map(() => 1),
              { training: true, seed: 1 },
            ),
          params,
        );
        opt!.step(new Map(model.namedParameters().map(([name, v]) => [name, grads[v.name]])), 1e-5);
        tf.dispose([value, ...Object.values(grads)]);
      } else tf.dispose([...squaredGradSums(model, { input_ids: ids }, labels).sums.values()]);
    });
    const est = stepBytes({ config, kind, seqLen: T, maskedPerSequence: kind === 'train' ? 0 : m });
    const gib = (x: number) => (x / 2 ** 30).toFixed(3);
    console.log(
      `${backend} ${kind} B=${B} T=${T}: held ${gib(base)} GiB, step peak ${gib(info.peakBytes - base)} GiB measured, ${gib(est.fixed + B * est.perSequence)} modelled (fixed ${gib(est.fixed)}, per sequence ${gib(est.perSequence)}), ${((Date.now() - began) / 1000).toFixed(1)} s`,
    );
    opt?.dispose();
    model.dispose();
  }
}
main();
