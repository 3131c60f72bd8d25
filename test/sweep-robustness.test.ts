/**
 * The robustness tests of sweep results against hand-computed values: guided's gain at the smallest training size
 * against the largest (paired t by hand, p from the closed form of t on 3 degrees of freedom), and guided's spread
 * over restarts against a baseline's (the Pitman–Morgan t from the variance ratio and correlation), with Holm.
 */
import { expect } from 'chai';
import { gainGrowth, gainGrowthRows, restartSpread, restartSpreadRows } from '../lib/sweep/robustness';
import type { SweepRecord } from '../lib/sweep/run';

/** A hand-made record with one evaluation set. */
function rec(method: string, task: string, pct: number, seed: number, main: number): SweepRecord {
  return { method, task, pct, seed, final: { test: { main, metrics: { x: main } } } } as unknown as SweepRecord;
}

/** Two-sided p of Student's t on 3 degrees of freedom, in closed form: 1 − (2/π)(x/(1 + x²) + atan x), x = |t|/√3. */
const pDf3 = (t: number) => {
  const x = Math.abs(t) / Math.sqrt(3);
  return 1 - (2 / Math.PI) * (x / (1 + x * x) + Math.atan(x));
};

/** Records of one task where guided − baseline is `gains[pct][i]` for seed i + 1, guided at 0.5 + 0.01·seed. */
function cell(task: string, baseline: string, gains: Record<number, number[]>): SweepRecord[] {
  return Object.entries(gains).flatMap(([pct, gs]) =>
    gs.flatMap((gain, i) => {
      const guided = 0.5 + 0.01 * (i + 1);
      return [rec('guided', task, Number(pct), i + 1, guided), rec(baseline, task, Number(pct), i + 1, guided - gain)];
    }),
  );
}

describe('robustness of guided dropout in sweep results', () => {
  it("Figure 4's claim: the gain at the smallest size against the largest, by seed, one family with Holm", () => {
    const records = [
      // CoLA: guided − standard 0.05, 0.07, 0.04, 0.08 at 10% and 0.01, 0.02, 0, 0.01 at 100%: changes 0.04, 0.05,
      // 0.04, 0.07, mean 0.05, sd √(0.0006/3), se 0.00707, t = 5√2 on 3 df. The 50% cell lies between and is not used.
      ...cell('CoLA', 'standard', {
        10: [0.05, 0.07, 0.04, 0.08],
        50: [0.9, 0.9, 0.9, 0.9],
        100: [0.01, 0.02, 0, 0.01],
      }),
      // gaussian: the same gain at both sizes, seed by seed: every change 0, so p counts as 1
      ...cell('CoLA', 'gaussian', { 10: [0, 0.01, -0.01, 0], 100: [0, 0.01, -0.01, 0] }),
      // MRPC: changes −0.04, −0.06, −0.03, −0.06: mean −0.0475, sd 0.015, se 0.0075, t = −19/3
      ...cell('MRPC', 'standard', { 10: [0.01, 0, 0.02, 0.01], 100: [0.05, 0.06, 0.05, 0.07] }),
      ...cell('MRPC', 'gaussian', { 10: [0, 0, 0, 0], 100: [0, 0, 0, 0] }),
      // a fifth seed guided ran at 10% only, and a task at one size only: neither is tested
      rec('guided', 'CoLA', 10, 5, 0.9),
      ...cell('WNLI', 'standard', { 100: [0.01, 0.02] }),
    ];
    const family = gainGrowth(records);
    expect(family.map((c) => `${c.task} ${c.baseline} ${c.small}-${c.large}`)).to.deep.equal([
      'CoLA standard 10-100',
      'CoLA gaussian 10-100',
      'MRPC standard 10-100',
      'MRPC gaussian 10-100',
    ]);
    const [colaStd, colaGauss, mrpcStd] = family;
    expect(colaStd.seeds).to.equal(4);
    expect(colaStd.gainSmall).to.be.closeTo(0.06, 1e-12);
    expect(colaStd.gainLarge).to.be.closeTo(0.01, 1e-12);
    expect(colaStd.test!.df).to.equal(3);
    expect(colaStd.test!.t).to.be.closeTo(5 * Math.sqrt(2), 1e-9);
    expect(colaStd.test!.pTwoSided).to.be.closeTo(pDf3(5 * Math.sqrt(2)), 1e-9);
    expect(mrpcStd.test!.t).to.be.closeTo(-19 / 3, 1e-9);
    expect(Number.isNaN(colaGauss.test!.pTwoSided)).to.equal(true);
    // Holm over p = pCoLA < pMRPC < 1 = 1: 4·pCoLA, then max(that, 3·pMRPC), then 1 and 1
    const [pC, pM] = [pDf3(5 * Math.sqrt(2)), pDf3(19 / 3)];
    expect(colaStd.pHolm).to.be.closeTo(4 * pC, 1e-9);
    expect(mrpcStd.pHolm).to.be.closeTo(Math.max(4 * pC, 3 * pM), 1e-9);
    expect(colaGauss.pHolm).to.equal(1);
    const rows = gainGrowthRows(family);
    expect(rows[0]).to.deep.equal({
      task: 'CoLA',
      sizes: '10% vs 100%',
      baseline: 'standard',
      'gain, smallest size': '+0.060',
      'gain, largest size': '+0.010',
      'change (mean ± se, wins–losses)': '+0.050 ± 0.007 (4–0)',
      t: '7.07 (3 df)',
      p: '0.006',
      'Holm p': '0.023',
      verdict: 'gain grows as data shrink (4 seeds)',
    });
    expect(rows.map((r) => r.verdict)).to.deep.equal([
      'gain grows as data shrink (4 seeds)',
      'no clear change (4 seeds)',
      'gain shrinks as data shrink (4 seeds)',
      'no clear change (4 seeds)',
    ]);
  });

  it("the restarts' spread claim: guided's variance against each baseline's by the Pitman–Morgan test, with Holm", () => {
    // dyadic scores, so that guided + 0.5 is exact and its differences from guided are exactly constant
    const guided = [0.125, 0.25, 0.1875, 0.3125, 0.0625];
    const standard = [0, 0.625, 0.25, 0.875, 0.125];
    const records = guided.flatMap((g, i) => [
      rec('guided', 'CoLA', 25, i + 1, g),
      rec('standard', 'CoLA', 25, i + 1, standard[i]),
      rec('gaussian', 'CoLA', 25, i + 1, g + 0.5), // the same spread exactly: r 0, p 1
      rec('guided', 'CoLA', 100, i + 1, 0.5), // another cell
    ]);
    const [s, g] = restartSpread(records, 'CoLA', 25);
    // the variance-ratio form: t = (F − 1)√(n − 2) / (2√(F(1 − ρ²))), F = Var(guided)/Var(standard)
    const m = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
    const [mg, ms] = [m(guided), m(standard)];
    const sgg = guided.reduce((a, x) => a + (x - mg) ** 2, 0);
    const sss = standard.reduce((a, x) => a + (x - ms) ** 2, 0);
    const sgs = guided.reduce((a, x, i) => a + (x - mg) * (standard[i] - ms), 0);
    const F = sgg / sss;
    const t = ((F - 1) * Math.sqrt(3)) / (2 * Math.sqrt(F * (1 - (sgs * sgs) / (sgg * sss))));
    expect(s.seeds).to.equal(5);
    expect(s.test!.df).to.equal(3);
    expect(s.test!.t).to.be.closeTo(t, 1e-9);
    expect(s.test!.t).to.be.below(0);
    expect(s.test!.pTwoSided).to.be.closeTo(pDf3(t), 1e-9);
    expect(s.pHolm).to.be.closeTo(2 * pDf3(t), 1e-9);
    expect(g.test!).to.deep.include({ r: 0, t: 0, pTwoSided: 1 });
    expect(g.pHolm).to.equal(1);
    expect(restartSpreadRows([s, g])).to.deep.equal([
      {
        baseline: 'standard',
        'sd, guided': Math.sqrt(sgg / 4).toFixed(3),
        'sd, baseline': Math.sqrt(sss / 4).toFixed(3),
        'guided / baseline': Math.sqrt(F).toFixed(2),
        r: s.test!.r.toFixed(2),
        t: `${t.toFixed(2)} (3 df)`,
        p: pDf3(t).toFixed(3),
        'Holm p': (2 * pDf3(t)).toFixed(3),
        verdict: 'guided narrower (5 seeds)',
      },
      {
        baseline: 'gaussian',
        'sd, guided': Math.sqrt(sgg / 4).toFixed(3),
        'sd, baseline': Math.sqrt(sgg / 4).toFixed(3),
        'guided / baseline': '1.00',
        r: '0.00',
        t: '0.00 (3 df)',
        p: '1.000',
        'Holm p': '1.000',
        verdict: 'no clear difference (5 seeds)',
      },
    ]);
    // under 3 paired seeds there is no test
    const few = restartSpread(
      records.filter((r) => r.seed <= 2),
      'CoLA',
      25,
    );
    expect(few.map((c) => [c.test, restartSpreadRows([c])[0].verdict])).to.deep.equal([
      [null, 'no test (2 seeds)'],
      [null, 'no test (2 seeds)'],
    ]);
  });
});
