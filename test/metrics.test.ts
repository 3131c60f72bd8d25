/** GLUE metrics against hand-computed values. */
import { expect } from 'chai';
import { accuracy, f1, matthewsCorrelation, pearson, spearman, taskMetrics } from '../lib/glue/metrics';
import { ranks } from '../lib/util/stats';

// A 2×2 confusion with tp = 4, tn = 3, fp = 2, fn = 1 (n = 10), as (prediction, label) pairs.
const PREDICTIONS = [1, 1, 1, 1, 0, 0, 0, 1, 1, 0];
const LABELS = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1];
// By hand: accuracy (4 + 3) / 10; F1 2·4 / (2·4 + 2 + 1) = 8/11;
// MCC (4·3 − 2·1) / sqrt((4+2)(4+1)(3+2)(3+1)) = 10 / sqrt(600) = 1/sqrt(6).
const MCC = 1 / Math.sqrt(6);

describe('metrics', () => {
  it('accuracy, F1 and Matthews correlation of a hand-counted 2×2 confusion', () => {
    expect(accuracy(PREDICTIONS, LABELS)).to.equal(0.7);
    expect(f1(PREDICTIONS, LABELS)).to.be.closeTo(8 / 11, 1e-15);
    expect(matthewsCorrelation(PREDICTIONS, LABELS)).to.be.closeTo(MCC, 1e-15);
    expect(MCC).to.be.closeTo(0.408248290463863, 1e-14);
  });

  it('F1 of class 0 swaps the roles: tp = 3, fp = 1, fn = 2 → 6/9', () => {
    expect(f1(PREDICTIONS, LABELS, 0)).to.be.closeTo(6 / 9, 1e-15);
  });

  it('Matthews correlation: 1 when all right, −1 when all swapped, 0 when undefined (one predicted class)', () => {
    expect(matthewsCorrelation([0, 1, 1, 0], [0, 1, 1, 0])).to.equal(1);
    expect(matthewsCorrelation([1, 0, 0, 1], [0, 1, 1, 0])).to.equal(-1);
    expect(matthewsCorrelation([1, 1, 1, 1], [0, 1, 1, 0])).to.equal(0);
    expect(matthewsCorrelation([1, 1], [1, 1])).to.equal(0);
  });

  it('Matthews correlation of three classes: (c·s − Σ p_k t_k) / sqrt((s² − Σp²)(s² − Σt²)) = (4·6 − 12) / 24', () => {
    expect(matthewsCorrelation([0, 2, 1, 0, 1, 2], [0, 1, 2, 0, 1, 2])).to.be.closeTo(0.5, 1e-15);
  });

  it('F1 is 0 when no label and no prediction is positive; accuracy is then 1', () => {
    expect(f1([0, 0, 0], [0, 0, 0])).to.equal(0);
    expect(accuracy([0, 0, 0], [0, 0, 0])).to.equal(1);
    expect(f1([1, 1], [0, 0])).to.equal(0);
  });

  it('Pearson: x = 1..4, y = 2,4,5,9 → Σdxdy 11, Σdx² 5, Σdy² 26 → 11/sqrt(130)', () => {
    expect(pearson([1, 2, 3, 4], [2, 4, 5, 9])).to.be.closeTo(11 / Math.sqrt(130), 1e-15);
    expect(pearson([1, 2, 3], [6, 4, 2])).to.be.closeTo(-1, 1e-15);
  });

  it('ranks: ties get the mean of the ranks they span', () => {
    expect(Array.from(ranks([10, 20, 20, 5, 20]))).to.deep.equal([2, 4, 4, 1, 4]);
    expect(Array.from(ranks([3, 1, 2]))).to.deep.equal([3, 1, 2]);
  });

  it('Spearman with a tie: ranks (1, 2.5, 2.5, 4) and (1, 3, 2, 4) → 4.5 / sqrt(4.5 · 5) = sqrt(0.9)', () => {
    expect(spearman([1, 2, 2, 3], [1, 3, 2, 4])).to.be.closeTo(Math.sqrt(0.9), 1e-15);
  });

  it('Spearman is 1 for a monotone curve where Pearson is not', () => {
    expect(spearman([1, 2, 3, 4], [1, 4, 9, 100])).to.equal(1);
    expect(pearson([1, 2, 3, 4], [1, 4, 9, 100])).to.be.below(0.9);
  });

  it('Pearson and Spearman are NaN for a constant input (as scipy)', () => {
    expect(pearson([1, 1, 1], [1, 2, 3])).to.be.NaN;
    expect(spearman([1, 2, 3], [5, 5, 5])).to.be.NaN;
  });

  it('refuses unequal lengths, empty inputs and non-finite values', () => {
    expect(() => accuracy([1, 0], [1])).to.throw(/2 predictions but 1 labels/);
    expect(() => f1([], [])).to.throw(/no predictions/);
    expect(() => pearson([1, NaN], [1, 2])).to.throw(/prediction 1 is NaN/);
    expect(() => matthewsCorrelation([1, 0], [1, Infinity])).to.throw(/label 1 is Infinity/);
  });

  it('taskMetrics: MRPC gives F1, accuracy and their mean as the main score', () => {
    const { metrics, main } = taskMetrics('MRPC', PREDICTIONS, LABELS);
    const combined = (8 / 11 + 0.7) / 2;
    expect(Object.keys(metrics)).to.deep.equal(['f1', 'accuracy', 'combined_score']);
    expect(metrics.f1).to.be.closeTo(8 / 11, 1e-15);
    expect(metrics.accuracy).to.equal(0.7);
    expect(main).to.be.closeTo(combined, 1e-15);
    expect(metrics.combined_score).to.equal(main);
  });

  it('taskMetrics: CoLA scores Matthews correlation, RTE and MNLI accuracy, STS-B the mean of Pearson and Spearman', () => {
    expect(taskMetrics('CoLA', PREDICTIONS, LABELS)).to.deep.equal({
      metrics: { matthews_correlation: matthewsCorrelation(PREDICTIONS, LABELS) },
      main: matthewsCorrelation(PREDICTIONS, LABELS),
    });
    expect(taskMetrics('rte', PREDICTIONS, LABELS).main).to.equal(0.7);
    expect(taskMetrics('MNLI', [0, 1, 2, 2], [0, 1, 2, 1])).to.deep.equal({ metrics: { accuracy: 0.75 }, main: 0.75 });
    const sts = taskMetrics('STS-B', [1, 2, 2, 3], [1, 3, 2, 4]);
    expect(sts.metrics.pearson).to.be.closeTo(pearson([1, 2, 2, 3], [1, 3, 2, 4]), 1e-15);
    expect(sts.metrics.spearmanr).to.be.closeTo(Math.sqrt(0.9), 1e-15);
    expect(sts.main).to.be.closeTo((sts.metrics.pearson + Math.sqrt(0.9)) / 2, 1e-15);
  });

  it('taskMetrics refuses test labels (NaN) and non-class predictions for classification tasks', () => {
    expect(() => taskMetrics('RTE', [0, 1], [0, NaN])).to.throw(/RTE: label 1 is NaN/);
    expect(() => taskMetrics('SST-2', [0, 0.6], [0, 1])).to.throw(
      /SST-2: prediction 1 is 0\.6, not a class index in 0\.\.1/,
    );
    expect(() => taskMetrics('MNLI', [3], [0])).to.throw(/prediction 0 is 3/);
    expect(() => taskMetrics('GLUE-X', [0], [0])).to.throw(/unknown GLUE task "GLUE-X"/);
  });
});
