import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setupBackend, tinyConfig } from './helpers';
import { Bert, Batch } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import {
  AdamW,
  adamUpdateBytes,
  clipGradNorm,
  warmupLinearDecay,
  decays,
  MomentPlacement,
  momentPlacement,
} from '../lib/train/optim';
import { parameterSpecs } from '../lib/bert/parameters';
import { BERT_BASE } from '../lib/bert/config';
import { readSafetensors, writeSafetensors } from '../lib/weights/safetensors';
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

  for (const moments of ['device', 'host'] as const)
    it(`AdamW with its moments on the ${moments} matches a float64 transcription of torch.optim.AdamW`, () => {
      const w0 = [0.5, -1.5, 2.0];
      const b0 = [0.1, -0.2, 0.3];
      const w = tf.variable(tf.tensor1d(w0));
      const b = tf.variable(tf.tensor1d(b0));
      const opt = new AdamW(
        [
          ['layer.weight', w],
          ['layer.bias', b],
        ],
        { weightDecay: 0.1, moments },
      );
      expect(opt.placement).to.equal(moments);
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

  it("the grouped update's temporaries: 17 floats per float of the largest group of small tensors, none for tensors updated alone", () => {
    // groups of at most 2^18 floats: four of 60,000 fill one, the fifth and the 10 start the next; 70,000 ≥ 65,536 goes alone
    expect(adamUpdateBytes([60_000, 60_000, 60_000, 60_000, 60_000, 10, 70_000])).to.equal(4 * 17 * 240_000);
    expect(adamUpdateBytes([10, 20, 70_000])).to.equal(4 * 17 * 30);
    expect(adamUpdateBytes([70_000, 1 << 20])).to.equal(0);
    // bert-base-uncased: its biases and LayerNorms, a few MiB, not its 23M-float word embeddings
    const bytes = adamUpdateBytes(parameterSpecs(BERT_BASE, MASKED_LM).map((p) => p.shape.reduce((a, b) => a * b, 1)));
    expect(bytes).to.be.above(0);
    expect(bytes).to.be.at.most(4 * 17 * (1 << 18));
  });

  describe('moments on the host and on the device', () => {
    const shapes: Array<[string, number[], number]> = [
      ['bert.embeddings.word_embeddings.weight', [7, 5], 1],
      ['bert.encoder.layer.0.attention.self.query.bias', [5], 10],
      ['bert.encoder.layer.0.output.LayerNorm.weight', [5], 1e-3],
      ['classifier.weight', [2, 5], 0.1],
      // as large as a tensor the device path updates on its own (the small ones go in flat groups)
      ['bert.encoder.layer.0.intermediate.dense.weight', [256, 256], 0.5],
    ];
    const lrs = [0.01, 0.02, 0.015, 0.01, 0.005, 0.001];
    const wd = 0.1;
    /** The initial values of each parameter and the (float32) gradient of each step, drawn from a seed. */
    const problem = (seed: number) => {
      const rng = new Rng(seed);
      const draw = (n: number, scale: number) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * scale);
      const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
      const init = shapes.map(([, s]) => draw(size(s), 2));
      const grads = lrs.map(() => shapes.map(([, s, scale]) => draw(size(s), scale)));
      return { init, grads };
    };
    const { init, grads } = problem(11);
    /** Runs steps [from, to) of `problem` with an AdamW on `moments` over fresh variables (or `params`), returning them and the tensor counts after each step. */
    const run = (
      moments: MomentPlacement,
      from = 0,
      to = lrs.length,
      start?: { params: Float32Array[]; state: ReturnType<AdamW['stateArrays']>; t: number },
    ) => {
      const vars = shapes.map(([, s], i) => tf.variable(tf.tensor(start ? start.params[i] : init[i], s)));
      const opt = new AdamW(
        shapes.map(([name], i) => [name, vars[i]]),
        { weightDecay: wd, moments },
      );
      if (start) opt.loadState(new Map(start.state.map((a) => [a.name, a])), start.t);
      const counts: number[] = [];
      for (let k = from; k < to; k++) {
        const g = new Map(shapes.map(([name, s], i) => [name, tf.tensor(grads[k][i], s)]));
        opt.step(g, lrs[k]);
        tf.dispose([...g.values()]);
        counts.push(tf.memory().numTensors);
      }
      const params = vars.map((v) => v.dataSync().slice() as Float32Array);
      const state = opt.stateArrays().map((a) => ({ ...a, data: a.data.slice() }));
      const t = opt.t;
      opt.dispose();
      tf.dispose(vars);
      return { params, state, t, counts };
    };
    /** torch.optim.AdamW in float64 over the same gradients. */
    const reference = () => {
      const p = init.map((a) => Array.from(a));
      const m = p.map((a) => a.map(() => 0));
      const v = p.map((a) => a.map(() => 0));
      lrs.forEach((lr, k) => {
        const t = k + 1;
        shapes.forEach(([name], i) =>
          p[i].forEach((_, j) => {
            const g = grads[k][i][j];
            if (decays(name)) p[i][j] *= 1 - lr * wd;
            m[i][j] = 0.9 * m[i][j] + 0.1 * g;
            v[i][j] = 0.999 * v[i][j] + 0.001 * g * g;
            const denom = Math.sqrt(v[i][j]) / Math.sqrt(1 - 0.999 ** t) + 1e-8;
            p[i][j] -= (lr / (1 - 0.9 ** t)) * (m[i][j] / denom);
          }),
        );
      });
      return { p, m, v };
    };
    /** The largest difference between two lists of arrays, relative to max(1, |b|). */
    const worst = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => {
      let w = 0;
      a.forEach((x, i) => {
        for (let j = 0; j < x.length; j++) w = Math.max(w, Math.abs(x[j] - b[i][j]) / Math.max(1, Math.abs(b[i][j])));
      });
      return w;
    };

    it('picks the host on wasm and cpu, the device on TensorFlow', () => {
      expect(['wasm', 'cpu'].map((b) => momentPlacement(b))).to.deep.equal(['host', 'host']);
      expect(momentPlacement('tensorflow')).to.equal('device');
    });

    it('both placements match a float64 AdamW over 6 steps and each other, with flat tensor counts', () => {
      const ref = reference();
      const runs = { host: run('host'), device: run('device') };
      for (const [moments, r] of Object.entries(runs)) {
        expect(worst(r.params, ref.p), `${moments}: parameters`).to.be.below(2e-6);
        const named = new Map(r.state.map((a) => [a.name, a.data]));
        const m = shapes.map(([name]) => named.get(`exp_avg.${name}`)!);
        const v = shapes.map(([name]) => named.get(`exp_avg_sq.${name}`)!);
        // relative to the moments' own scale: v of a 1e-3 gradient is ~1e-7
        expect(worst(m, ref.m), `${moments}: exp_avg`).to.be.below(1e-6);
        v.forEach((x, i) => {
          const scale = Math.max(...ref.v[i].map(Math.abs));
          x.forEach((y, j) => expect(Math.abs(y - ref.v[i][j]), `${moments}: exp_avg_sq`).to.be.at.most(1e-5 * scale));
        });
        expect(new Set(r.counts).size, `${moments}: tensors after each step ${r.counts}`).to.equal(1);
        // the updates moved the parameters well beyond the tolerance
        expect(worst(r.params, init)).to.be.above(0.01);
      }
      expect(worst(runs.host.params, runs.device.params)).to.be.below(1e-6);
    });

    it('a checkpoint written on either placement resumes on either: the same bits on the same placement, float32 tolerance across', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-adamw-'));
      try {
        for (const written of ['host', 'device'] as const) {
          const whole = run(written);
          const first = run(written, 0, 3);
          const file = path.join(dir, `${written}.safetensors`);
          writeSafetensors(file, first.state);
          const state = [...readSafetensors(file).tensors.values()];
          expect(state.map((a) => a.name)).to.include(`exp_avg_sq.${shapes[0][0]}`);
          for (const read of ['host', 'device'] as const) {
            const rest = run(read, 3, lrs.length, { params: first.params, state, t: first.t });
            if (read === written)
              rest.params.forEach((p, i) =>
                expect(
                  Buffer.from(p.buffer).equals(Buffer.from(whole.params[i].buffer)),
                  `${written} → ${read}`,
                ).to.equal(true),
              );
            else expect(worst(rest.params, whole.params), `${written} → ${read}`).to.be.below(1e-6);
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
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

  it('keeps tf.memory().numTensors flat across steps, and leaves none behind once the model is disposed', async () => {
    const before = tf.memory().numTensors;
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
    // the optimizer's moments included (on the device on TensorFlow), so that runs in one process do not pile up
    expect(tf.memory().numTensors).to.equal(before);
  });
});
