import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { setupBackend, tinyConfig, maxAbsDiff } from './helpers';
import { Bert } from '../lib/bert/model';
import { DropoutSites, bernoulliMask, gaussianNoise } from '../lib/bert/dropout';
import { SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';

const batch = {
  input_ids: [
    [2, 7, 8, 9, 3],
    [2, 5, 3, 0, 0],
  ],
  attention_mask: [
    [1, 1, 1, 1, 1],
    [1, 1, 1, 0, 0],
  ],
};

describe('dropout', () => {
  let model: Bert;
  before(async () => {
    await setupBackend();
    model = Bert.random(tinyConfig({ num_labels: 3 }), SEQUENCE_CLASSIFICATION, 7);
  });
  after(() => model.dispose());

  const logits = (opts: { training?: boolean; seed?: number }) =>
    tf.tidy(() => model.forward(batch, opts).logits!.dataSync());

  it('names every site as Hugging Face does, with the config probabilities by default', () => {
    expect(model.dropoutSites()).to.deep.equal([
      'bert.embeddings.dropout',
      'bert.encoder.layer.0.attention.self.dropout',
      'bert.encoder.layer.0.attention.output.dropout',
      'bert.encoder.layer.0.output.dropout',
      'bert.encoder.layer.1.attention.self.dropout',
      'bert.encoder.layer.1.attention.output.dropout',
      'bert.encoder.layer.1.output.dropout',
      'dropout',
    ]);
    expect(model.dropout.get('dropout')).to.deep.equal({ kind: 'bernoulli', p: 0.1 });
  });

  it('evaluation mode ignores dropout; training mode applies it, reproducibly per seed', () => {
    model.dropout.setAll({ kind: 'bernoulli', p: 0.5 });
    const evalA = logits({});
    model.dropout.setAll({ kind: 'gaussian', p: 0.5 });
    expect(maxAbsDiff(logits({}), evalA)).to.equal(0);
    model.dropout.setAll({ kind: 'bernoulli', p: 0.5 });
    const t1 = logits({ training: true, seed: 1 });
    expect(maxAbsDiff(t1, evalA)).to.be.above(1e-3);
    expect(maxAbsDiff(logits({ training: true, seed: 1 }), t1)).to.equal(0);
    expect(maxAbsDiff(logits({ training: true, seed: 2 }), t1)).to.be.above(1e-3);
  });

  it('p = 0 (or kind none) in training equals evaluation exactly', () => {
    const evalOut = logits({});
    model.dropout.setAll({ kind: 'bernoulli', p: 0 });
    expect(maxAbsDiff(logits({ training: true, seed: 3 }), evalOut)).to.equal(0);
    model.dropout.setAll({ kind: 'none', p: 0.5 });
    expect(maxAbsDiff(logits({ training: true, seed: 3 }), evalOut)).to.equal(0);
  });

  it('changing one site at run time changes the output only through that site', () => {
    model.dropout.setAll({ kind: 'none', p: 0 });
    const evalOut = logits({});
    model.dropout.set('dropout', { kind: 'bernoulli', p: 0.5 });
    const hidden = (opts: { training?: boolean; seed?: number }) =>
      tf.tidy(() => model.forward(batch, opts).pooledOutput!.dataSync());
    // the classifier's dropout acts after the pooler: pooled output unchanged, logits changed
    expect(maxAbsDiff(hidden({ training: true, seed: 4 }), hidden({}))).to.equal(0);
    expect(maxAbsDiff(logits({ training: true, seed: 4 }), evalOut)).to.be.above(1e-4);
    model.dropout.setAll({ kind: 'none', p: 0 });
    model.dropout.set('bert.encoder.layer.1.attention.self.dropout', { kind: 'bernoulli', p: 0.5 });
    expect(maxAbsDiff(hidden({ training: true, seed: 4 }), hidden({}))).to.be.above(1e-4);
  });

  it('rejects unknown sites and probabilities outside [0, 1)', () => {
    expect(() => model.dropout.set('bert.encoder.layer.9.output.dropout', { kind: 'bernoulli', p: 0.1 })).to.throw(
      /unknown dropout site/,
    );
    expect(() => model.dropout.set('dropout', { kind: 'bernoulli', p: 1 })).to.throw(/\[0, 1\)/);
  });

  it('Bernoulli keeps 1-p of the units, scaled by 1/(1-p)', () => {
    const sites = new DropoutSites(['s'], () => ({ kind: 'bernoulli', p: 0.3 }));
    const n = 200_000;
    const y = tf.tidy(() => sites.apply('s', tf.ones([n]), 11).dataSync());
    let kept = 0;
    let worst = 0;
    for (const v of y) {
      if (v !== 0) {
        kept++;
        worst = Math.max(worst, Math.abs(v - 1 / 0.7));
      }
    }
    expect(worst).to.be.below(1e-6);
    const sd = Math.sqrt((0.7 * 0.3) / n);
    expect(Math.abs(kept / n - 0.7)).to.be.below(5 * sd);
  });

  it('Gaussian noise has mean 1 and variance p/(1-p) in training and is the identity in evaluation', () => {
    const p = 0.2;
    const sites = new DropoutSites(['s'], () => ({ kind: 'gaussian', p }));
    const n = 200_000;
    const y = tf.tidy(() => sites.apply('s', tf.ones([n]), 5).dataSync());
    let mean = 0;
    for (const v of y) mean += v / n;
    let variance = 0;
    for (const v of y) variance += (v - mean) ** 2 / (n - 1);
    const target = p / (1 - p);
    expect(Math.abs(mean - 1)).to.be.below(5 * Math.sqrt(target / n));
    expect(Math.abs(variance - target)).to.be.below(5 * target * Math.sqrt(2 / n));
    const x = tf.tensor1d([1, -2, 3]);
    expect(sites.apply('s', x, undefined)).to.equal(x);
    x.dispose();
  });

  it('Bernoulli masks behave as independent draws: rates at small and large p, adjacent units, other seeds', () => {
    const n = 400_000;
    for (const p of [0.001, 0.1, 0.5, 0.9]) {
      const a = bernoulliMask(n, p, 21);
      const b = bernoulliMask(n, p, 22);
      const q = 1 - p;
      let kept = 0;
      let keptPairs = 0;
      let keptBoth = 0;
      for (let i = 0; i < n; i++) {
        if (a[i] !== 0) {
          kept++;
          if (i + 1 < n && a[i + 1] !== 0) keptPairs++;
          if (b[i] !== 0) keptBoth++;
        }
      }
      // each count against its binomial mean, within 5 standard deviations
      const within = (count: number, trials: number, rate: number) =>
        expect(Math.abs(count - trials * rate), `p = ${p}`).to.be.below(5 * Math.sqrt(trials * rate * (1 - rate)) + 1);
      within(kept, n, q);
      within(keptPairs, n - 1, q * q);
      within(keptBoth, n, q * q);
      expect(new Set(a).size).to.equal(2);
      expect(Math.max(...a.subarray(0, 1000))).to.equal(Math.fround(1 / q));
    }
  });

  it('Gaussian noise follows N(1, p/(1-p)): Kolmogorov–Smirnov distance to the normal CDF, no lag-1 correlation', () => {
    const n = 200_000;
    const p = 0.3;
    const std = Math.sqrt(p / (1 - p));
    const z = Array.from(gaussianNoise(n, p, 8), (v) => (v - 1) / std).sort((x, y) => x - y);
    // Φ by the Abramowitz–Stegun 7.1.26 erf (error below 1.5e-7), independent of the generator's Box–Muller
    const erf = (x: number) => {
      const t = 1 / (1 + 0.3275911 * Math.abs(x));
      const y =
        1 -
        ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
          t *
          Math.exp(-x * x);
      return x >= 0 ? y : -y;
    };
    let d = 0;
    z.forEach((v, i) => {
      const cdf = 0.5 * (1 + erf(v / Math.SQRT2));
      d = Math.max(d, Math.abs(cdf - i / n), Math.abs(cdf - (i + 1) / n));
    });
    expect(d).to.be.below(1.95 / Math.sqrt(n)); // the 0.1% critical value is 1.95/√n
    const raw = gaussianNoise(n, p, 8);
    let r = 0;
    for (let i = 0; i + 1 < n; i++) r += ((raw[i] - 1) * (raw[i + 1] - 1)) / (std * std * (n - 1));
    expect(Math.abs(r)).to.be.below(5 / Math.sqrt(n));
    // odd sizes fill the last value too
    expect(gaussianNoise(3, p, 1).every((v) => Number.isFinite(v) && v !== 0)).to.equal(true);
  });
});
