/** Descriptive and test statistics against closed forms, hand-worked examples and published values. */
import { expect } from 'chai';
import {
  holm,
  mean,
  meanStd,
  median,
  pairedTTest,
  pearsonCorrelation,
  pitmanMorganTest,
  ranks,
  sampleVariance,
  spearmanCorrelation,
} from '../lib/util/stats';

/** Student's t CDF for 1 degree of freedom (the Cauchy distribution). */
const cdf1 = (t: number) => 0.5 + Math.atan(t) / Math.PI;
/** Student's t CDF for 2 degrees of freedom. */
const cdf2 = (t: number) => 0.5 + t / (2 * Math.sqrt(2 + t * t));

describe('descriptive statistics', () => {
  it('mean, sample variance (divisor n − 1) and standard deviation of 1, 2, 3, 6: 3, 14/3, √(14/3)', () => {
    expect(mean([1, 2, 3, 6])).to.equal(3);
    expect(sampleVariance(new Float64Array([1, 2, 3, 6]))).to.be.closeTo(14 / 3, 1e-15);
    expect(meanStd([1, 2, 3, 6])).to.deep.equal({ mean: 3, std: Math.sqrt(14 / 3) });
    expect(meanStd([5])).to.deep.equal({ mean: 5, std: 0 });
  });

  it('median of an odd count is the middle value, of an even count the mean of the two middle ones', () => {
    const xs = [7, 1, 3];
    expect(median(xs)).to.equal(3);
    expect(xs).to.deep.equal([7, 1, 3]);
    expect(median([4, 1, 3, 2])).to.equal(2.5);
    expect(median([10, -2])).to.equal(4);
    expect(median([5])).to.equal(5);
    expect(median([2, 10, 1, 100, 3])).to.equal(3);
  });

  it('ranks: ties share the mean of the ranks they span', () => {
    expect(Array.from(ranks([10, 20, 20, 5, 20]))).to.deep.equal([2, 4, 4, 1, 4]);
    expect(Array.from(ranks([1, 1, 1]))).to.deep.equal([2, 2, 2]);
    expect(Array.from(ranks([0.5, -1, 0.5, 3]))).to.deep.equal([2.5, 1, 2.5, 4]);
  });

  it('Spearman with ties equals Pearson of average ranks computed independently', () => {
    const x = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const y = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8];
    // Average rank by counting: (number below) + (number equal + 1) / 2.
    const rank = (v: number[]) =>
      v.map((a) => v.filter((b) => b < a).length + (v.filter((b) => b === a).length + 1) / 2);
    const [rx, ry] = [rank(x), rank(y)];
    // Pearson by the one-pass sums formula, in plain float64.
    const n = x.length;
    let [sx, sy, sxx, syy, sxy] = [0, 0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      sx += rx[i];
      sy += ry[i];
      sxx += rx[i] * rx[i];
      syy += ry[i] * ry[i];
      sxy += rx[i] * ry[i];
    }
    const expected = (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx * sx) * (n * syy - sy * sy));
    expect(expected).to.be.within(-1, 1);
    expect(spearmanCorrelation(x, y)).to.be.closeTo(expected, 1e-12);
  });

  it('correlations are NaN for a constant input and refuse unequal lengths and non-finite values', () => {
    expect(pearsonCorrelation([2, 2, 2], [1, 2, 3])).to.be.NaN;
    expect(spearmanCorrelation([1, 2, 3], [4, 4, 4])).to.be.NaN;
    expect(() => pearsonCorrelation([1, 2], [1])).to.throw(/pearsonCorrelation: x has 2 values but y has 1/);
    expect(() => spearmanCorrelation([1, 2], [1, Infinity])).to.throw(/y\[1\] is Infinity/);
    expect(() => pearsonCorrelation([], [])).to.throw(/at least 1/);
  });
});

describe('paired t-test', () => {
  it('with 1 degree of freedom its p-values follow the Cauchy CDF 1/2 + atan(t)/π', () => {
    const [d1, d2] = [3, 1];
    const t = (d1 + d2) / Math.abs(d1 - d2); // mean (d1 + d2)/2 over se |d1 − d2|/2
    const r = pairedTTest([d1 + 10, d2 + 10], [10, 10]);
    expect(r.df).to.equal(1);
    expect(r.t).to.be.closeTo(t, 1e-14);
    expect(r.pLess).to.be.closeTo(cdf1(t), 1e-12);
    expect(r.pGreater).to.be.closeTo(1 - cdf1(t), 1e-12);
    expect(r.pTwoSided).to.be.closeTo(2 * (1 - cdf1(t)), 1e-12);
  });

  it('with 2 degrees of freedom its p-values follow 1/2 + t/(2·√(2 + t²))', () => {
    // Differences 1, 2, 6 (b − a, so t is negative): mean 3, variance (4 + 1 + 9)/2 = 7, se √(7/3).
    const t = -3 / Math.sqrt(7 / 3);
    const r = pairedTTest([0, 0, 0], [1, 2, 6]);
    expect(r).to.include({ n: 3, df: 2, meanDiff: -3 });
    expect(r.sdDiff).to.be.closeTo(Math.sqrt(7), 1e-14);
    expect(r.se).to.be.closeTo(Math.sqrt(7 / 3), 1e-14);
    expect(r.t).to.be.closeTo(t, 1e-14);
    expect(r.pLess).to.be.closeTo(cdf2(t), 1e-12);
    expect(r.pGreater).to.be.closeTo(1 - cdf2(t), 1e-12);
    expect(r.pTwoSided).to.be.closeTo(2 * cdf2(t), 1e-12);
  });

  it("Student's sleep data: t = −4.0621 on 9 df, p = 0.002833 (R's t.test(paired = TRUE))", () => {
    const drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    // By hand: differences sum to −15.8 and their squares to 38.58, so the variance is (38.58 − 15.8²/10)/9.
    const d = drug1.map((v, i) => v - drug2[i]);
    const sum = d.reduce((a, v) => a + v, 0);
    const squares = d.reduce((a, v) => a + v * v, 0);
    expect(sum).to.be.closeTo(-15.8, 1e-12);
    expect(squares).to.be.closeTo(38.58, 1e-12);
    const t = sum / 10 / Math.sqrt((squares - (sum * sum) / 10) / 9 / 10);
    const r = pairedTTest(drug1, drug2);
    expect(r.meanDiff).to.be.closeTo(-1.58, 1e-12);
    expect(r.t).to.be.closeTo(t, 1e-12);
    expect(r.t).to.be.closeTo(-4.0621, 5e-5);
    expect(r.df).to.equal(9);
    expect(r.pTwoSided).to.be.closeTo(0.002833, 5e-7);
    expect(r.pLess).to.be.closeTo(r.pTwoSided / 2, 1e-15);
    expect(r.pGreater).to.be.closeTo(1 - r.pTwoSided / 2, 1e-15);
  });

  it('equal differences: t = ±Infinity with p-values 0 or 1; all differences 0: t and p-values NaN', () => {
    expect(pairedTTest([2, 3, 4], [1, 2, 3])).to.deep.include({
      meanDiff: 1,
      sdDiff: 0,
      se: 0,
      t: Infinity,
      pTwoSided: 0,
      pGreater: 0,
      pLess: 1,
    });
    expect(pairedTTest([0, 0], [0.5, 0.5])).to.deep.include({ t: -Infinity, pTwoSided: 0, pGreater: 1, pLess: 0 });
    const same = pairedTTest([1, 2, 3], [1, 2, 3]);
    expect(same.meanDiff).to.equal(0);
    for (const v of [same.t, same.pTwoSided, same.pGreater, same.pLess]) expect(v).to.be.NaN;
  });

  it('refuses unequal lengths, fewer than 2 pairs and non-finite values', () => {
    expect(() => pairedTTest([1, 2, 3], [1, 2])).to.throw(/pairedTTest: a has 3 values but b has 2/);
    expect(() => pairedTTest([1], [2])).to.throw(/pairedTTest: needs at least 2 pairs, got 1/);
    expect(() => pairedTTest([1, NaN], [1, 2])).to.throw(/a\[1\] is NaN, not a finite number/);
    expect(() => pairedTTest([1, 2], [-Infinity, 2])).to.throw(/b\[0\] is -Infinity/);
  });
});

describe('Pitman–Morgan test of paired variances', () => {
  /** Its t from the variance ratio F = Var(a)/Var(b) and the correlation ρ of a and b, by plain loops: (F − 1)√(n − 2) / (2√(F(1 − ρ²))). */
  const tFromRatio = (a: number[], b: number[]) => {
    const n = a.length;
    const [ma, mb] = [a, b].map((x) => x.reduce((s, v) => s + v, 0) / n);
    let [saa, sbb, sab] = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      saa += (a[i] - ma) ** 2;
      sbb += (b[i] - mb) ** 2;
      sab += (a[i] - ma) * (b[i] - mb);
    }
    const F = saa / sbb;
    const rho2 = (sab * sab) / (saa * sbb);
    return ((F - 1) * Math.sqrt(n - 2)) / (2 * Math.sqrt(F * (1 - rho2)));
  };

  it('equals the variance-ratio form, with p from the closed forms of t on 1 and 2 degrees of freedom', () => {
    // a's spread is twice b's and then some: a wider, so r and t are positive
    const [a3, b3] = [
      [1, 4, 9],
      [2, 3, 3.5],
    ];
    const r3 = pitmanMorganTest(a3, b3);
    expect(r3.df).to.equal(1);
    expect(r3.t).to.be.above(0);
    expect(r3.t).to.be.closeTo(tFromRatio(a3, b3), 1e-12);
    expect(r3.pTwoSided).to.be.closeTo(2 * cdf1(-Math.abs(r3.t)), 1e-12);
    expect(r3.sdA).to.be.closeTo(Math.sqrt(((1 - 14 / 3) ** 2 + (4 - 14 / 3) ** 2 + (9 - 14 / 3) ** 2) / 2), 1e-12);

    const [a4, b4] = [
      [0.31, 0.35, 0.28, 0.4],
      [0.1, 0.45, 0.05, 0.6],
    ];
    const r4 = pitmanMorganTest(a4, b4);
    expect(r4.df).to.equal(2);
    expect(r4.t).to.be.below(0); // b varies more
    expect(r4.t).to.be.closeTo(tFromRatio(a4, b4), 1e-12);
    expect(r4.pTwoSided).to.be.closeTo(2 * cdf2(-Math.abs(r4.t)), 1e-12);
    // swapping the samples flips the sign and keeps p
    const swapped = pitmanMorganTest(b4, a4);
    expect(swapped.t).to.be.closeTo(-r4.t, 1e-12);
    expect(swapped.pTwoSided).to.be.closeTo(r4.pTwoSided, 1e-12);
  });

  it('equal variances exactly (a shift, a mirror) give t 0 and p 1; a constant b against a varying a gives p 0', () => {
    expect(pitmanMorganTest([1, 2, 4, 8], [3, 4, 6, 10])).to.deep.include({ r: 0, t: 0, pTwoSided: 1 });
    expect(pitmanMorganTest([1, 2, 4, 8], [9, 8, 6, 2])).to.deep.include({ r: 0, t: 0, pTwoSided: 1 });
    expect(pitmanMorganTest([1, 2, 3], [5, 5, 5])).to.deep.include({ t: Infinity, pTwoSided: 0 });
  });

  it('needs 3 finite pairs', () => {
    expect(() => pitmanMorganTest([1, 2], [3, 4])).to.throw(/pitmanMorganTest: needs at least 3 pairs, got 2/);
    expect(() => pitmanMorganTest([1, NaN, 2], [3, 4, 5])).to.throw(/a\[1\] is NaN/);
  });
});

describe('Holm correction', () => {
  it('p = 0.01, 0.04, 0.03, 0.005 → 0.03, 0.06, 0.06, 0.02 (step-down, kept monotone)', () => {
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06.
    const adjusted = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((p, i) => expect(adjusted[i]).to.be.closeTo(p, 1e-15));
  });

  it('caps at 1, handles ties and a single test, and refuses values that are not probabilities', () => {
    expect(holm([0.5, 0.6])).to.deep.equal([1, 1]);
    expect(holm([0.02, 0.02, 0.9])).to.deep.equal([0.06, 0.06, 0.9]);
    expect(holm([0.3])).to.deep.equal([0.3]);
    expect(holm([])).to.deep.equal([]);
    expect(() => holm([0.1, NaN])).to.throw(/holm: p-value 1 is NaN/);
    expect(() => holm([1.5])).to.throw(/p-value 0 is 1.5, not a probability/);
  });
});
