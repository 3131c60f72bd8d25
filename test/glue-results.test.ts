/**
 * Reading sweep results: cell means, paired t-tests of guided against each baseline with Holm's correction, Table 2
 * rows, restart spreads, all against hand-computed values (t by hand; p from the closed forms of the t distribution).
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  cellScores,
  compareGuided,
  comparisonRows,
  describeDifference,
  guidedAgainstPaper,
  headlineEval,
  headlineScore,
  pairedDifference,
  paucityDrops,
  paucitySpec,
  paucityTable,
  restartComparisons,
  restartStats,
  restartsSpec,
  table2,
  table2Comparisons,
  verdict,
} from '../lib/sweep/results';
import { paperClaims } from '../lib/sweep/claims';
import { describeCoverage, designCoverage, designSpecs, DESIGNS, parseDesigns } from '../lib/sweep/designs';
import { renderVegaLite } from '../lib/notebook/plot';
import { readSweepResults, sweepCells } from '../lib/sweep/run';
import { shippedPath } from '../lib/shipped';
import type { SweepRecord } from '../lib/sweep/run';

/** A hand-made record with one evaluation set (or MNLI's two). */
function rec(method: string, task: string, pct: number, seed: number, main: number): SweepRecord {
  const final =
    task === 'MNLI'
      ? {
          dev_matched: { main, metrics: { accuracy: main } },
          dev_mismatched: { main: main - 0.01, metrics: { accuracy: main - 0.01 } },
        }
      : { test: { main, metrics: { x: main } } };
  return { method, task, pct, seed, final } as unknown as SweepRecord;
}

// CoLA 100%: standard 0.30, 0.34, 0.32; guided 0.33, 0.36, 0.35; gaussian 0.31, 0.30, 0.29.
const records = [
  rec('standard', 'CoLA', 100, 1, 0.3),
  rec('guided', 'CoLA', 100, 1, 0.33),
  rec('gaussian', 'CoLA', 100, 1, 0.31),
  rec('standard', 'CoLA', 100, 2, 0.34),
  rec('guided', 'CoLA', 100, 2, 0.36),
  rec('gaussian', 'CoLA', 100, 2, 0.3),
  rec('standard', 'CoLA', 100, 3, 0.32),
  rec('guided', 'CoLA', 100, 3, 0.35),
  rec('gaussian', 'CoLA', 100, 3, 0.29),
  rec('standard', 'CoLA', 50, 1, 0.2),
  rec('guided', 'CoLA', 50, 1, 0.1),
  rec('standard', 'MNLI', 100, 1, 0.6),
];

/** Two-sided p of Student's t on 2 degrees of freedom (3 seeds), in closed form: 1 − |t| / √(2 + t²). */
const pDf2 = (t: number) => 1 - Math.abs(t) / Math.sqrt(2 + t * t);
/** Two-sided p of Student's t on 4 degrees of freedom (5 seeds), in closed form: 1 − |t|(6 + t²) / (4 + t²)^1.5. */
const pDf4 = (t: number) => 1 - (Math.abs(t) * (6 + t * t)) / (4 + t * t) ** 1.5;

// CoLA 100%, by hand. guided − standard = 0.03, 0.02, 0.03: mean 0.08/3, deviations 1/300, −2/300, 1/300, sample
// variance (6/90000)/2, se = √(1/30000)/√3 = 1/300, t = (8/300)/(1/300) = 8.
// guided − gaussian = 0.02, 0.06, 0.06: mean 0.14/3, deviations −8/300, 4/300, 4/300, variance (96/90000)/2,
// se = √(48/90000)/√3 = 4/300, t = 14/4 = 3.5.
const pStandard = pDf2(8); // 0.0153
const pGaussian = pDf2(3.5); // 0.0728

describe('sweep results as the paper reports them', () => {
  it("takes the headline score from MNLI's matched dev set, else the only evaluation set", () => {
    expect(headlineEval(records[11])).to.equal('dev_matched');
    expect(headlineScore(records[11])).to.equal(0.6);
    expect(headlineEval(records[0])).to.equal('test');
  });

  it('cell means and sample standard deviations over seeds', () => {
    const guided = cellScores(records).find((c) => c.task === 'CoLA' && c.pct === 100 && c.method === 'guided')!;
    expect(guided.n).to.equal(3);
    expect(guided.mean).to.be.closeTo(0.34666666666, 1e-9);
    // deviations −0.01667, +0.01333, +0.00333 → variance (0.000277778 + 0.000177778 + 0.0000111111) / 2
    expect(guided.std).to.be.closeTo(Math.sqrt((0.000277778 + 0.000177778 + 0.0000111111) / 2), 1e-8);
  });

  it('paired t-tests by seed: guided − standard = 0.03, 0.02, 0.03 gives t = 8 on 2 df', () => {
    const d = pairedDifference(records, 'CoLA', 100, 'guided', 'standard')!;
    expect(d.n).to.equal(3);
    expect(d.df).to.equal(2);
    expect(d.mean).to.be.closeTo(0.08 / 3, 1e-12);
    expect(d.se).to.be.closeTo(1 / 300, 1e-12);
    expect(d.t).to.be.closeTo(8, 1e-9);
    expect(d.p).to.be.closeTo(pStandard, 1e-9);
    expect(pStandard).to.be.closeTo(0.01527, 1e-5);
    expect([d.wins, d.losses]).to.deep.equal([3, 0]);
    const g = pairedDifference(records, 'CoLA', 100, 'guided', 'gaussian')!;
    expect(g.t).to.be.closeTo(3.5, 1e-9);
    expect(g.p).to.be.closeTo(pGaussian, 1e-9);
    // Reversed, the difference and t change sign and the two-sided p stays.
    const r = pairedDifference(records, 'CoLA', 100, 'standard', 'guided')!;
    expect([r.wins, r.losses]).to.deep.equal([0, 3]);
    expect(r.t).to.be.closeTo(-8, 1e-9);
    expect(r.p).to.be.closeTo(pStandard, 1e-9);
    // Fewer than 2 paired seeds: no test.
    expect(pairedDifference(records, 'CoLA', 50, 'guided', 'standard')).to.equal(null);
  });

  it("Holm's correction across a table's family: 2 tests, p·2 for the smaller, then the larger if greater", () => {
    const family = table2Comparisons(
      records.filter((r) => r.task === 'CoLA'),
      100,
    );
    expect(family.map((c) => c.baseline)).to.deep.equal(['standard', 'gaussian']);
    // sorted: pStandard (0.0153) × 2 = 0.0305; then max(0.0305, pGaussian × 1) = 0.0728.
    expect(family[0].pHolm).to.be.closeTo(2 * pStandard, 1e-9);
    expect(family[1].pHolm).to.be.closeTo(pGaussian, 1e-9);
    expect(family.map(verdict)).to.deep.equal(['better', 'unclear']);
    expect(describeDifference(family[0])).to.deep.equal({
      text: '+0.027 ± 0.003 (3–0)',
      p: '0.015',
      pHolm: '0.031',
      verdict: 'guided better (3 seeds)',
    });
    expect(describeDifference(family[1])).to.deep.equal({
      text: '+0.047 ± 0.013 (3–0)',
      p: '0.073',
      pHolm: '0.073',
      verdict: 'no clear difference (3 seeds)',
    });
  });

  it('the verdict: better or worse only where the Holm-adjusted p is below 0.05; no test under 2 paired seeds', () => {
    const d = pairedDifference(records, 'CoLA', 100, 'guided', 'standard')!;
    expect(verdict({ test: d, pHolm: 0.0499 })).to.equal('better');
    expect(verdict({ test: d, pHolm: 0.05 })).to.equal('unclear');
    expect(verdict({ test: { ...d, mean: -d.mean }, pHolm: 0.0499 })).to.equal('worse');
    // A raw p below 0.05 does not make a verdict by itself: only the adjusted one counts.
    expect(verdict({ test: { ...d, p: 0.001 }, pHolm: 0.2 })).to.equal('unclear');
    // CoLA 50%: one seed per method, so no test, no p, and the table says why.
    const [c] = compareGuided(records, [{ task: 'CoLA', pct: 50 }], ['standard']);
    expect([c.seeds, c.test, c.pHolm]).to.deep.equal([1, null, NaN]);
    expect(verdict(c)).to.equal('untested');
    expect(describeDifference(c)).to.deep.equal({
      text: 'n/a',
      p: '—',
      pHolm: '—',
      verdict: 'no test (1 paired seed)',
    });
    // Untested cells stay out of Holm's family: CoLA 100% keeps its family of 2 beside CoLA 50%.
    const both = compareGuided(
      records,
      [
        { task: 'CoLA', pct: 50 },
        { task: 'CoLA', pct: 100 },
      ],
      ['standard', 'gaussian'],
    );
    expect(both.map((x, i) => closeOr(x.pHolm, [NaN, NaN, 2 * pStandard, pGaussian][i]))).to.deep.equal([
      NaN,
      NaN,
      2 * pStandard,
      pGaussian,
    ]);
  });

  it('Table 2 rows: mean ± std per method, the best starred, guided against each baseline with raw and Holm p', () => {
    const [row] = table2(
      records.filter((r) => r.task === 'CoLA'),
      100,
    );
    expect(row.task).to.equal('CoLA');
    expect(row.seeds).to.equal(3);
    expect(row.standard).to.equal('0.320 ± 0.020');
    expect(row.guided).to.match(/^0\.347 ± 0\.015 ★$/);
    expect(row.gaussian).to.equal('0.300 ± 0.010');
    expect(Object.keys(row)).to.deep.equal([
      'task',
      '% of training data',
      'seeds',
      'standard',
      'guided',
      'gaussian',
      'guided − standard',
      'p, standard',
      'Holm p, standard',
      'verdict, standard',
      'guided − gaussian',
      'p, gaussian',
      'Holm p, gaussian',
      'verdict, gaussian',
    ]);
    expect([
      row['guided − standard'],
      row['p, standard'],
      row['Holm p, standard'],
      row['verdict, standard'],
    ]).to.deep.equal(['+0.027 ± 0.003 (3–0)', '0.015', '0.031', 'guided better (3 seeds)']);
    expect([row['p, gaussian'], row['Holm p, gaussian'], row['verdict, gaussian']]).to.deep.equal([
      '0.073',
      '0.073',
      'no clear difference (3 seeds)',
    ]);
    // 'largest' takes each task's largest percentage: 100 for both here; a task with only 50% would show 50.
    const rows = table2([...records, rec('standard', 'RTE', 50, 1, 0.55)], 'largest');
    expect(rows.map((r) => [r.task, r['% of training data']])).to.deep.equal([
      ['CoLA', 100],
      ['MNLI', 100],
      ['RTE', 50],
    ]);
    expect(rows[2].standard).to.equal('0.550 ± 0.000 ★');
    expect(rows[2].guided).to.equal('—');
    expect(rows[2]['verdict, standard']).to.equal('no test (0 paired seeds)');
    // A floor gets its own column, before the methods, and is never starred.
    const floor = { task: 'CoLA', pct: 100, method: 'majority class', n: 3, mean: 0.5, std: 0.25 };
    const [withFloor] = table2(
      records.filter((r) => r.task === 'CoLA'),
      100,
      undefined,
      [floor, { ...floor, pct: 50, mean: 9 }],
    );
    expect(Object.keys(withFloor).slice(0, 5)).to.deep.equal([
      'task',
      '% of training data',
      'seeds',
      'majority class',
      'standard',
    ]);
    expect([withFloor['majority class'], withFloor.guided]).to.deep.equal(['0.500 ± 0.250', '0.347 ± 0.015 ★']);
  });

  it("verdicts of Table 2 over all its tasks × baselines, read as the paper's claims, and the controls compared when their runs exist", () => {
    // RTE 100%: guided − standard = −0.10, −0.09, −0.10: mean −0.29/3, deviations as CoLA's, se 1/300, t = −29.
    const rte = [1, 2, 3].flatMap((seed, i) => [
      rec('standard', 'RTE', 100, seed, [0.6, 0.62, 0.61][i]),
      rec('guided', 'RTE', 100, seed, [0.5, 0.53, 0.51][i]),
    ]);
    const all = [...records, ...rte];
    const pRte = pDf2(29); // 0.00119
    // No uniform-mean or shuffled runs: those controls are skipped, without error, even when asked for.
    const paperRows = [
      { baseline: 'standard', better: ['CoLA'], worse: ['RTE'], unclear: [], untested: ['MNLI'], outcome: 'mixed' },
      {
        baseline: 'gaussian',
        better: [],
        worse: [],
        unclear: ['CoLA'],
        untested: ['MNLI', 'RTE'],
        outcome: 'not shown',
      },
    ];
    const noRuns = (baseline: string) => ({
      baseline,
      better: [],
      worse: [],
      unclear: [],
      untested: [],
      outcome: 'untested',
    });
    expect(verdictsByBaseline(all)).to.deep.equal([...paperRows, noRuns('uniform-mean'), noRuns('shuffled')]);
    expect(Object.keys(table2(all, 'largest')[0]).filter((k) => /uniform|shuffled/.test(k))).to.deep.equal([]);
    // Holm over the 3 tests of the family (m = 3): 3·pRte, 2·pStandard, then max(that, pGaussian).
    const family = table2Comparisons(all, 'largest');
    const holmOf = (task: string, base: string) => family.find((c) => c.task === task && c.baseline === base)!.pHolm;
    expect(holmOf('RTE', 'standard')).to.be.closeTo(3 * pRte, 1e-9);
    expect(holmOf('CoLA', 'standard')).to.be.closeTo(2 * pStandard, 1e-9);
    expect(holmOf('CoLA', 'gaussian')).to.be.closeTo(pGaussian, 1e-9);
    // uniform-mean on CoLA 100%: guided − it = 0.02, 0.03, 0.04, so mean 0.03, sd 0.01, t = 0.03/(0.01/√3) = 5.196.
    const uniform = [0.31, 0.33, 0.31].map((v, i) => rec('uniform-mean', 'CoLA', 100, i + 1, v));
    const withControl = [...all, ...uniform];
    const pUniform = pDf2(3 * Math.sqrt(3)); // 0.0351: below 0.05 raw, not after Holm
    const family4 = table2Comparisons(withControl, 'largest');
    expect(family4.map((c) => `${c.task} ${c.baseline}`)).to.deep.equal([
      'CoLA standard',
      'CoLA gaussian',
      'CoLA uniform-mean',
      'MNLI standard',
      'MNLI gaussian',
      'MNLI uniform-mean',
      'RTE standard',
      'RTE gaussian',
      'RTE uniform-mean',
    ]);
    // Holm over 4 tests: 4·pRte = 0.0047, 3·pStandard = 0.0458, 2·pUniform = 0.0702, max(0.0702, pGaussian) = 0.0728.
    const expected4 = [3 * pStandard, pGaussian, 2 * pUniform, NaN, NaN, NaN, 4 * pRte, NaN, NaN];
    expect(family4.map((c, i) => closeOr(c.pHolm, expected4[i]))).to.deep.equal(expected4);
    expect(family4[2].test!.p).to.be.closeTo(pUniform, 1e-9);
    // the same verdicts, and uniform-mean's one test unclear after Holm
    expect(verdictsByBaseline(withControl)).to.deep.equal([
      ...paperRows,
      { ...noRuns('uniform-mean'), unclear: ['CoLA'], untested: ['MNLI', 'RTE'], outcome: 'not shown' },
      noRuns('shuffled'),
    ]);
    const [cola] = table2(withControl, 'largest');
    expect(cola['uniform-mean']).to.equal('0.317 ± 0.012');
    expect([cola['p, uniform-mean'], cola['Holm p, uniform-mean'], cola['verdict, uniform-mean']]).to.deep.equal([
      '0.035',
      '0.070',
      'no clear difference (3 seeds)',
    ]);
    // The rows' verdicts are the family's.
    const rows = table2(all, 'largest');
    expect(rows.map((r) => r['verdict, standard'])).to.deep.equal([
      'guided better (3 seeds)',
      'no test (0 paired seeds)',
      'guided worse (3 seeds)',
    ]);
  });

  it('restarts: a family of their own, here 5 seeds (t on 4 df), as a long table', () => {
    // guided − standard = 0.01 … 0.05: mean 0.03, sd √(0.001/4), se 0.0158/√5 = 0.00707, t = 3√2;
    // guided − gaussian = −0.01, 0.01, 0, 0.02, −0.02: mean 0, t = 0, p = 1.
    const guided = [0.1, 0.2, 0.15, 0.12, 0.18];
    const rs = guided.flatMap((g, i) => [
      rec('guided', 'CoLA', 25, i + 1, g),
      rec('standard', 'CoLA', 25, i + 1, g - [0.01, 0.02, 0.03, 0.04, 0.05][i]),
      rec('gaussian', 'CoLA', 25, i + 1, g - [-0.01, 0.01, 0, 0.02, -0.02][i]),
    ]);
    const [s, g] = restartComparisons(rs, 'CoLA', 25);
    const pS = pDf4(3 * Math.sqrt(2)); // 0.0133
    expect(s.test!.df).to.equal(4);
    expect(s.test!.t).to.be.closeTo(3 * Math.sqrt(2), 1e-9);
    expect(s.test!.p).to.be.closeTo(pS, 1e-9);
    expect(g.test!.t).to.be.closeTo(0, 1e-9);
    expect(g.test!.p).to.be.closeTo(1, 1e-9);
    expect(s.pHolm).to.be.closeTo(2 * pS, 1e-9);
    expect(g.pHolm).to.be.closeTo(1, 1e-9);
    expect([describeDifference(s).verdict, describeDifference(g).verdict]).to.deep.equal([
      'guided better (5 seeds)',
      'no clear difference (5 seeds)',
    ]);
    expect(comparisonRows([s, g])[0]).to.deep.equal({
      task: 'CoLA',
      '% of training data': 25,
      baseline: 'standard',
      'guided − baseline (mean ± se, wins–losses)': '+0.030 ± 0.007 (5–0)',
      t: '4.24 (4 df)',
      p: '0.013',
      'Holm p': '0.026', // 2 × 0.01324
      verdict: 'guided better (5 seeds)',
    });
  });

  it("sets our cells beside the authors' BERT-base numbers: their guided scores at 100% and their drop from 100% to 50%", () => {
    const cells = cellScores(records);
    const rows = guidedAgainstPaper(cells);
    expect(rows.map((r) => r.task)).to.deep.equal(['CoLA', 'MRPC', 'RTE', 'STS-B']);
    expect(rows[0]).to.deep.equal({
      task: 'CoLA',
      'BERT-base, guided (authors)': 0.6096,
      'their metric': 'Matthews correlation',
      'ours, guided': '0.347 ± 0.015',
    });
    expect(rows[1]['ours, guided']).to.equal('—');
    const drops = paucityDrops(cells);
    expect(drops[0].task).to.equal('CoLA');
    expect(drops[0]['BERT-base guided (authors)']).to.be.closeTo(0.6096 - 0.5557, 1e-12);
    // CoLA: standard 0.32 at 100% and 0.2 at 50%; guided 0.3467 and 0.1; gaussian has no 50% cell.
    expect(drops[0]['ours: standard']).to.be.closeTo(0.12, 1e-12);
    expect(drops[0]['ours: guided']).to.be.closeTo(0.34666666666 - 0.1, 1e-9);
    expect(drops[0]['ours: gaussian']).to.equal('—');
    expect(Object.keys(drops[0])).to.deep.equal([
      'task',
      'BERT-base guided (authors)',
      'ours: standard',
      'ours: guided',
      'ours: gaussian',
    ]);
    // a control with runs at both sizes gets its column, in the table's method order
    const at = (pct: number) => cells.find((c) => c.task === 'CoLA' && c.pct === pct && c.method === 'standard')!;
    const withControl = paucityDrops([
      { ...at(50), method: 'shuffled', mean: 0.05 },
      ...cells,
      { ...at(100), method: 'shuffled', mean: 0.4 },
    ]);
    expect(Object.keys(withControl[0]).slice(2)).to.deep.equal([
      'ours: standard',
      'ours: guided',
      'ours: gaussian',
      'ours: shuffled',
    ]);
    expect(withControl[0]['ours: shuffled']).to.be.closeTo(0.35, 1e-12);
    expect(withControl[1]['ours: shuffled']).to.equal('—');
  });

  it("Figure 4 as a table: every task and percentage, sizes ascending, with Table 2's columns", () => {
    const rows = paucityTable(records);
    expect(rows.map((r) => [r.task, r['% of training data'], r.seeds])).to.deep.equal([
      ['CoLA', 50, 1],
      ['CoLA', 100, 3],
      ['MNLI', 100, 1],
    ]);
    expect([rows[0].standard, rows[0].guided, rows[0].gaussian, rows[0]['guided − standard']]).to.deep.equal([
      '0.200 ± 0.000 ★',
      '0.100 ± 0.000',
      '—',
      'n/a',
    ]);
    expect(rows[0]['verdict, standard']).to.equal('no test (1 paired seed)');
    // One family over every task × percentage × baseline: here the same 2 tests as Table 2 at 100%.
    expect(rows[1]).to.deep.equal(table2(records, 100)[0]);
  });

  it('restart spreads: median, range and failed runs per method', () => {
    const stats = restartStats(records, 'CoLA', 100, 0.3);
    const std = stats.find((s) => s.method === 'standard')!;
    expect(std).to.include({ n: 3, median: 0.32, min: 0.3, max: 0.34, failed: 1 });
    expect(stats.find((s) => s.method === 'gaussian')!.failed).to.equal(2);
  });

  it('charts render with every cell and restart', async () => {
    const floor = { task: 'CoLA', pct: 100, method: 'majority class', n: 3, mean: 0, std: 0 };
    const fig = await renderVegaLite(paucitySpec([...cellScores(records.filter((r) => r.task === 'CoLA')), floor]));
    expect(fig.svg).to.include('CoLA');
    expect(fig.svg).to.include('majority class');
    expect(fig.svg).to.include('stroke-dasharray="4,3"');
    expect(fig.svg).to.not.include('main score, lo');
    const box = await renderVegaLite(restartsSpec(records, 'CoLA', 100));
    expect(box.svg).to.include('guided');
  });
});

describe("the paper's sweep designs", () => {
  it('parse by name or all, and expand to sweep specs whose shared cells run once', () => {
    expect(parseDesigns('all').map((d) => d.name)).to.deep.equal(['table2', 'paucity', 'restarts']);
    expect(parseDesigns('restarts,table2').map((d) => d.name)).to.deep.equal(['restarts', 'table2']);
    expect(() => parseDesigns('table3')).to.throw(
      /unknown design "table3" \(designs: table2, paucity, restarts, all\)/,
    );
    const base = { model: 'm', glueDir: 'g', out: 'o', training: {} as never };
    const specs = designSpecs(parseDesigns('all'), base);
    const cells = new Set(specs.flatMap((s) => sweepCells(s).map((c) => `${c.method} ${c.task} ${c.pct} ${c.seed}`)));
    // 5 methods × (table2: 6 tasks × 5 seeds; paucity adds 4 tasks × 2 smaller pcts and SST-2 × 2 smaller pcts, 5 seeds each; restarts: 10 seeds of CoLA 25%)
    expect(cells.size).to.equal(5 * (6 * 5 + 4 * 2 * 5 + 2 * 5 + 10));
    expect(cells.size).to.equal(450);
    expect(
      specs.every((s) => s.methods.join() === 'standard,guided,gaussian,uniform-mean,shuffled' && s.out === 'o'),
    ).to.equal(true);
  });
});

describe('design coverage', () => {
  const restarts = DESIGNS.find((d) => d.name === 'restarts')!;
  const all = (['standard', 'guided', 'gaussian', 'uniform-mean', 'shuffled'] as const).flatMap((m) =>
    Array.from({ length: 10 }, (_, i) => ({ method: m, task: 'CoLA', pct: 25, seed: i + 1 })),
  );

  it('counts the runs a design asks for and those present, once each, ignoring runs outside it', () => {
    const full = designCoverage(restarts, [...all, all[0], { method: 'guided', task: 'CoLA', pct: 100, seed: 1 }]);
    expect([full.expected, full.present, full.missing]).to.deep.equal([50, 50, []]);
    expect(describeCoverage(full)).to.equal('restarts: 50 of 50 runs (complete)');
  });

  it('names the cells short of seeds, with their missing seeds', () => {
    const some = all.filter((r) => !(r.method === 'shuffled' && r.seed > 7) && r.method !== 'uniform-mean');
    const c = designCoverage(restarts, some);
    expect([c.expected, c.present]).to.deep.equal([50, 37]);
    expect(c.missing).to.deep.equal([
      { method: 'uniform-mean', task: 'CoLA', pct: 25, seeds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
      { method: 'shuffled', task: 'CoLA', pct: 25, seeds: [8, 9, 10] },
    ]);
    expect(describeCoverage(c)).to.equal(
      'restarts: 37 of 50 runs; missing uniform-mean CoLA 25% (seeds 1,2,3,4,5,6,7,8,9,10); shuffled CoLA 25% (seeds 8,9,10): its verdicts rest on the runs present',
    );
    const table2 = designCoverage(DESIGNS[0], []);
    expect([table2.expected, table2.present, table2.missing.length]).to.deep.equal([150, 0, 30]);
    expect(describeCoverage(table2)).to.match(
      /^table2: 0 of 150 runs; missing standard CoLA 100% \(seeds 1,2,3,4,5\); guided CoLA 100% .*, and 27 more cells: /,
    );
  });

  it("`sweep --status --design` prints each design's coverage of a results folder, counted here run by run", function () {
    this.timeout(30_000);
    const dir = shippedPath('results');
    const cli = path.join(process.cwd(), 'bin', 'fisherlab.js');
    const r = spawnSync(process.execPath, [cli, 'sweep', '--status', '--design', 'restarts', '--out', dir], {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
    });
    expect(r.status, r.stderr).to.equal(0);
    const runs = new Set(
      readSweepResults(dir)
        .filter((x) => x.task === 'CoLA' && x.pct === 25 && x.seed >= 1 && x.seed <= 10)
        .filter((x) => ['standard', 'guided', 'gaussian', 'uniform-mean', 'shuffled'].includes(x.method))
        .map((x) => `${x.method} ${x.seed}`),
    );
    expect(r.stdout).to.match(new RegExp(`^restarts: ${runs.size} of 50 runs`));
    // and how long the missing ones will take, estimated from the finished runs (CoLA has some at 100%)
    const left = 50 - runs.size;
    expect(r.stdout).to.match(
      left
        ? new RegExp(`\nremaining: ${left} runs?, about \\S+ of run time \\(\\S+ at \\d+ at a time\\)`)
        : /\nremaining: none/,
    );
  });
});

/** Table 2's claims (guided beats each baseline) as the tasks for, against, unclear and untested, per baseline. */
function verdictsByBaseline(records: SweepRecord[]) {
  const order = ['standard', 'gaussian', 'uniform-mean', 'shuffled'];
  return paperClaims({ table2: records }).map((c, i) => ({
    baseline: c.claim.toLowerCase().includes(order[i].split('-')[0]) ? order[i] : `not ${order[i]}: ${c.claim}`,
    better: c.support,
    worse: c.against,
    unclear: c.unclear,
    untested: c.untested,
    outcome: c.outcome,
  }));
}

/** `expected` when `actual` is within 1e-9 of it (or both are NaN), else `actual`: deep comparisons with a tolerance. */
function closeOr(actual: number, expected: number): number {
  if (Number.isNaN(actual) && Number.isNaN(expected)) return expected;
  return Math.abs(actual - expected) < 1e-9 ? expected : actual;
}
