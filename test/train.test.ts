import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setupBackend, tinyConfig } from './helpers';
import { Bert, Batch } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { AdamW, clipGradNorm, warmupLinearDecay, decays } from '../lib/train/optim';
import { train, readLog } from '../lib/train/loop';
import { Rng } from '../lib/util/random';

/** Masked-LM batches over a vocabulary of 50 whose sequences count up from a random start (so context predicts a masked token). */
function toyBatches(n: number, seed: number): Array<{ batch: Batch; labels: number[][] }> {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const ids = Array.from({ length: 4 }, () => {
      const start = rng.int(45);
      return [2, ...Array.from({ length: 8 }, (_, t) => 5 + ((start + t) % 45)), 3];
    });
    const labels = ids.map((row) => row.map((id, t) => (t > 0 && t < 9 && rng.next() < 0.3 ? id : -100)));
    labels.forEach((row, b) => {
      if (row.every((l) => l === -100)) row[1] = ids[b][1];
    });
    const input_ids = ids.map((row, b) => row.map((id, t) => (labels[b][t] === -100 ? id : 4)));
    return { batch: { input_ids }, labels };
  });
}

describe('optimizer and schedule', () => {
  before(setupBackend);

  it('AdamW matches a float64 transcription of torch.optim.AdamW', () => {
    const w0 = [0.5, -1.5, 2.0];
    const b0 = [0.1, -0.2, 0.3];
    const w = tf.variable(tf.tensor1d(w0));
    const b = tf.variable(tf.tensor1d(b0));
    const opt = new AdamW(
      [
        ['layer.weight', w],
        ['layer.bias', b],
      ],
      { weightDecay: 0.1 },
    );
    // float64 reference: loss = Σ (p - target)², gradient 2 (p - target)
    const target = [1, 2, -1];
    const ref = { w: [...w0], b: [...b0], mw: [0, 0, 0], vw: [0, 0, 0], mb: [0, 0, 0], vb: [0, 0, 0] };
    const lrs = [0.1, 0.05, 0.02, 0.01];
    lrs.forEach((lr, i) => {
      const t = i + 1;
      const gw = ref.w.map((p, j) => 2 * (p - target[j]));
      const gb = ref.b.map((p, j) => 2 * (p - target[j]));
      const upd = (p: number[], m: number[], v: number[], g: number[], wd: number) =>
        p.forEach((_, j) => {
          p[j] *= 1 - lr * wd;
          m[j] = 0.9 * m[j] + 0.1 * g[j];
          v[j] = 0.999 * v[j] + 0.001 * g[j] * g[j];
          const denom = Math.sqrt(v[j]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
          p[j] -= (lr / (1 - 0.9 ** t)) * (m[j] / denom);
        });
      upd(ref.w, ref.mw, ref.vw, gw, 0.1);
      upd(ref.b, ref.mb, ref.vb, gb, 0);
      const grads = new Map([
        ['layer.weight', tf.mul(tf.sub(w, tf.tensor1d(target)), 2)],
        ['layer.bias', tf.mul(tf.sub(b, tf.tensor1d(target)), 2)],
      ]);
      opt.step(grads, lr);
      tf.dispose([...grads.values()]);
    });
    Array.from(w.dataSync()).forEach((x, j) => expect(x).to.be.closeTo(ref.w[j], 1e-6));
    Array.from(b.dataSync()).forEach((x, j) => expect(x).to.be.closeTo(ref.b[j], 1e-6));
    opt.dispose();
    tf.dispose([w, b]);
  });

  it('decays weights but not biases or LayerNorm parameters', () => {
    expect(decays('bert.encoder.layer.0.attention.self.query.weight')).to.equal(true);
    expect(decays('bert.embeddings.word_embeddings.weight')).to.equal(true);
    expect(decays('bert.encoder.layer.0.attention.self.query.bias')).to.equal(false);
    expect(decays('bert.encoder.layer.0.output.LayerNorm.weight')).to.equal(false);
    expect(decays('cls.predictions.bias')).to.equal(false);
  });

  it('clips gradients to the global norm', () => {
    const grads = new Map([
      ['a', tf.tensor1d([3, 0])],
      ['b', tf.tensor1d([0, 4])],
    ]);
    expect(clipGradNorm(grads, 1)).to.be.closeTo(5, 1e-6);
    expect(Array.from(grads.get('a')!.dataSync())[0]).to.be.closeTo(3 / 5, 1e-6);
    expect(Array.from(grads.get('b')!.dataSync())[1]).to.be.closeTo(4 / 5, 1e-6);
    expect(clipGradNorm(grads, 10)).to.be.closeTo(1, 1e-5);
    tf.dispose([...grads.values()]);
  });

  it('warms up linearly then decays linearly to zero', () => {
    expect(warmupLinearDecay(0, 1e-3, 10, 110)).to.equal(0);
    expect(warmupLinearDecay(5, 1e-3, 10, 110)).to.be.closeTo(5e-4, 1e-12);
    expect(warmupLinearDecay(10, 1e-3, 10, 110)).to.be.closeTo(1e-3, 1e-12);
    expect(warmupLinearDecay(60, 1e-3, 10, 110)).to.be.closeTo(5e-4, 1e-12);
    expect(warmupLinearDecay(110, 1e-3, 10, 110)).to.equal(0);
    expect(warmupLinearDecay(3, 2e-5, 0, 4)).to.be.closeTo(5e-6, 1e-15);
  });
});

describe('training loop', function () {
  this.timeout(120_000);
  let dir = '';
  const data = toyBatches(6, 1);
  const lossAt = (model: Bert) => (step: number, seed: number) => {
    const { batch, labels } = data[step % data.length];
    return model.maskedLmLoss(batch, labels, { training: true, seed });
  };
  const quiet = () => {};
  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-train-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('memorizes one batch: the loss falls from ln(vocabulary) to near zero', async () => {
    const model = Bert.random(tinyConfig(), MASKED_LM, 3);
    const { batch, labels } = data[0];
    const res = await train({
      model,
      totalSteps: 60,
      lossAt: (_, seed) => model.maskedLmLoss(batch, labels, { training: true, seed }),
      lr: 1e-2,
      warmupSteps: 5,
      write: quiet,
    });
    const losses = res.log.filter((e) => e.loss !== undefined).map((e) => e.loss!);
    expect(losses[0]).to.be.closeTo(Math.log(50), 0.3);
    expect(losses.slice(-5).reduce((a, b) => a + b, 0) / 5).to.be.below(0.3);
    model.dispose();
  });

  it('resumes from a checkpoint to exactly the weights and losses of an uninterrupted run', async () => {
    const opts = { totalSteps: 12, lr: 2e-3, warmupSteps: 3, checkpointEvery: 4, seed: 5, write: quiet };
    const a = Bert.random(tinyConfig(), MASKED_LM, 3);
    const full = await train({ ...opts, model: a, lossAt: lossAt(a), runDir: path.join(dir, 'a') });
    const b = Bert.random(tinyConfig(), MASKED_LM, 3);
    const first = await train({ ...opts, model: b, lossAt: lossAt(b), runDir: path.join(dir, 'b'), stopAfter: 7 });
    expect(first.step).to.equal(7);
    b.dispose();
    // a fresh process would start from new weights: prove they come from the checkpoint
    const c = Bert.random(tinyConfig(), MASKED_LM, 99);
    const rest = await train({ ...opts, model: c, lossAt: lossAt(c), runDir: path.join(dir, 'b') });
    expect(rest.resumedFrom).to.equal(7);
    for (const [name, v] of a.namedParameters()) {
      expect(Buffer.from(c.parameter(name).dataSync().buffer).equals(Buffer.from(v.dataSync().buffer)), name).to.equal(
        true,
      );
    }
    const losses = (f: string) =>
      readLog(f)
        .filter((e) => e.loss !== undefined)
        .map((e) => [e.step, e.loss]);
    expect(losses(path.join(dir, 'b', 'log.jsonl'))).to.deep.equal(losses(path.join(dir, 'a', 'log.jsonl')));
    expect(full.log.filter((e) => e.loss !== undefined).length).to.equal(12);
    a.dispose();
    c.dispose();
  });

  it('stops on a non-finite loss, naming the step and the last checkpoint', async () => {
    const model = Bert.random(tinyConfig(), MASKED_LM, 3);
    const runDir = path.join(dir, 'nan');
    let err: Error | null = null;
    try {
      await train({
        model,
        totalSteps: 10,
        lr: 1e-3,
        checkpointEvery: 2,
        runDir,
        write: quiet,
        lossAt: (step, seed) => (step === 5 ? tf.mul(lossAt(model)(step, seed), NaN) : lossAt(model)(step, seed)),
      });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/loss is NaN at step 5.*last checkpoint, step 4/);
    model.dispose();
  });

  it('keeps tf.memory().numTensors flat across steps', async () => {
    const model = Bert.random(tinyConfig(), MASKED_LM, 3);
    const counts: number[] = [];
    await train({
      model,
      totalSteps: 8,
      lr: 1e-3,
      write: quiet,
      lossAt: (s, seed) => {
        counts.push(tf.memory().numTensors);
        return lossAt(model)(s, seed);
      },
    });
    expect(new Set(counts.slice(1)).size).to.equal(1);
    model.dispose();
  });
});
