/** Prints measured peak bytes (tf.profile) of train, fisher and eval steps on small shapes next to lib/train/memory-budget's model. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { parseConfig } from '../lib/bert/config';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { AdamW } from '../lib/train/optim';
import { squaredGradSums } from '../lib/fisher/per-sample-grads';
import { StepKind, stepBytes } from '../lib/train/memory-budget';

async function main(): Promise<void> {
  await initBackend({ quiet: true });
  const shapes = [
    { H: 32, A: 2, I: 128, L: 2, V: 500, T: 32, B: 4 },
    { H: 64, A: 4, I: 256, L: 2, V: 1000, T: 32, B: 4 },
    { H: 64, A: 4, I: 256, L: 3, V: 500, T: 64, B: 2 },
    { H: 32, A: 4, I: 64, L: 2, V: 3000, T: 16, B: 8 },
    { H: 128, A: 2, I: 512, L: 1, V: 200, T: 64, B: 4 },
    { H: 64, A: 2, I: 128, L: 4, V: 300, T: 32, B: 2 },
    { H: 32, A: 8, I: 32, L: 1, V: 100, T: 96, B: 2 },
    { H: 96, A: 2, I: 384, L: 2, V: 2000, T: 8, B: 8 },
    { H: 16, A: 2, I: 512, L: 2, V: 100, T: 32, B: 4 },
    { H: 48, A: 4, I: 96, L: 1, V: 5000, T: 16, B: 4 },
    { H: 64, A: 4, I: 256, L: 2, V: 1000, T: 32, B: 8 },
    { H: 64, A: 4, I: 256, L: 6, V: 1000, T: 16, B: 4 },
  ];
  for (const s of shapes) {
    const config = parseConfig({
      vocab_size: s.V,
      hidden_size: s.H,
      num_hidden_layers: s.L,
      num_attention_heads: s.A,
      intermediate_size: s.I,
      max_position_embeddings: s.T,
      type_vocab_size: 2,
    });
    const model = Bert.random(config, MASKED_LM, 1);
    const ids = Array.from({ length: s.B }, (_, n) =>
      Array.from({ length: s.T }, (_, t) => 5 + ((n * 31 + t * 7) % (s.V - 5))),
    );
    const masked = Math.max(1, Math.round(0.15 * s.T));
    const labels = ids.map((row) => row.map((y, t) => (t % Math.round(s.T / masked) === 1 ? y : -100)));
    const m = labels[0].filter((y) => y !== -100).length;
    const batch = { input_ids: ids };
    const params = model.namedParameters().map(([, v]) => v);
    const measure = async (kind: StepKind, f: () => void) => {
      const base = tf.memory().numBytes;
      const info = await tf.profile(f);
      const { fixed, perSequence } = stepBytes({ config, kind, seqLen: s.T, maskedPerSequence: m });
      const model_ = fixed + s.B * perSequence;
      if (process.argv.includes('--json'))
        return void console.log(
          JSON.stringify({ ...s, m, P: model.parameterCount(), kind, measured: info.peakBytes - base }),
        );
      console.log(
        `${JSON.stringify(s)} ${kind}: measured ${((info.peakBytes - base) / 1e6).toFixed(2)} MB, model ${(model_ / 1e6).toFixed(2)} MB (fixed ${(fixed / 1e6).toFixed(2)}), ratio ${(model_ / (info.peakBytes - base)).toFixed(2)}`,
      );
    };
    await measure('eval', () =>
      tf.tidy(() => {
        model.maskedLmLoss(batch, labels).dataSync();
      }),
    );
    const opt = new AdamW(model.namedParameters());
    await measure('train', () => {
      const { value, grads } = tf.variableGrads(
        () => model.maskedLmLoss(batch, labels, { training: true, seed: 1 }),
        params,
      );
      const named = new Map(model.namedParameters().map(([name, v]) => [name, grads[v.name]]));
      opt.step(named, 1e-4);
      tf.dispose([value, ...Object.values(grads)]);
    });
    opt.dispose();
    await measure('fisher', () => {
      const r = squaredGradSums(model, batch, labels);
      tf.dispose([...r.sums.values()]);
    });
    model.dispose();
  }
}
main();
