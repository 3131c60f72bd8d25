/** Reading sweep results: cell means, paired differences, Table 2 rows, restart spreads, all against hand-computed values. */
import { expect } from 'chai';
import {
  cellScores,
  describeDifference,
  guidedAgainstPaper,
  headlineEval,
  headlineScore,
  pairedDifference,
  paucityDrops,
  paucitySpec,
  paucityTable,
  restartStats,
  restartsSpec,
  table2,
  table2Verdicts,
  verdict,
} from '../lib/sweep/results';
import { designSpecs, parseDesigns } from '../lib/sweep/designs';
import { renderVegaLite } from '../lib/notebook/plot';
import { sweepCells } from '../lib/sweep/run';
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

  it('paired differences by seed: guided − standard = 0.03, 0.02, 0.03', () => {
    const d = pairedDifference(records, 'CoLA', 100, 'guided', 'standard')!;
    expect(d.n).to.equal(3);
    expect(d.mean).to.be.closeTo(0.08 / 3, 1e-12);
    const sd = Math.sqrt(((0.03 - 0.08 / 3) ** 2 * 2 + (0.02 - 0.08 / 3) ** 2) / 2);
    expect(d.se).to.be.closeTo(sd / Math.sqrt(3), 1e-12);
    expect([d.wins, d.losses]).to.deep.equal([3, 0]);
    expect(describeDifference(d)).to.deep.equal({ text: '+0.027 ± 0.003 (3–0)', clear: true });
    expect(pairedDifference(records, 'CoLA', 50, 'guided', 'standard')).to.equal(null);
    expect(describeDifference(null)).to.deep.equal({ text: 'n/a', clear: false });
  });

  it('Table 2 rows: mean ± std per method, the best starred, guided against each baseline', () => {
    const [row] = table2(
      records.filter((r) => r.task === 'CoLA'),
      100,
    );
    expect(row.task).to.equal('CoLA');
    expect(row.seeds).to.equal(3);
    expect(row.standard).to.equal('0.320 ± 0.020');
    expect(row.guided).to.match(/^0\.347 ± 0\.015 ★$/);
    expect(row.gaussian).to.equal('0.300 ± 0.010');
    expect(row['guided − standard']).to.equal('+0.027 ± 0.003 (3–0) (clear)');
    // guided − gaussian: 0.02, 0.06, 0.06 → mean 0.0467, sd 0.0231, se 0.0133: beyond 2 se
    expect(row['guided − gaussian']).to.equal('+0.047 ± 0.013 (3–0) (clear)');
    // 'largest' takes each task's largest percentage: 100 for both here; a task with only 50% would show 50.
    const rows = table2([...records, rec('standard', 'RTE', 50, 1, 0.55)], 'largest');
    expect(rows.map((r) => [r.task, r['% of training data']])).to.deep.equal([
      ['CoLA', 100],
      ['MNLI', 100],
      ['RTE', 50],
    ]);
    expect(rows[2].standard).to.equal('0.550 ± 0.000 ★');
    expect(rows[2].guided).to.equal('—');
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

  it('verdicts of guided against each baseline: clearly better, clearly worse, or unclear, as Table 2 marks them', () => {
    // RTE 100%: guided − standard = −0.10, −0.09, −0.10 (clearly worse); no gaussian runs (unclear).
    const rte = [1, 2, 3].flatMap((seed, i) => [
      rec('standard', 'RTE', 100, seed, [0.6, 0.62, 0.61][i]),
      rec('guided', 'RTE', 100, seed, [0.5, 0.53, 0.51][i]),
    ]);
    const all = [...records, ...rte];
    expect(verdict(pairedDifference(all, 'RTE', 100, 'guided', 'standard'))).to.equal('worse');
    expect(verdict(pairedDifference(all, 'CoLA', 100, 'guided', 'standard'))).to.equal('better');
    expect(verdict(null)).to.equal('unclear');
    expect(table2Verdicts(all, 'largest')).to.deep.equal([
      { baseline: 'standard', better: ['CoLA'], worse: ['RTE'], unclear: ['MNLI'] },
      { baseline: 'gaussian', better: ['CoLA'], worse: [], unclear: ['MNLI', 'RTE'] },
    ]);
    // At 50% CoLA has a single seed: no paired difference, so unclear.
    expect(table2Verdicts(all, 50, ['standard'])[0].unclear).to.include('CoLA');
    // The verdicts agree with the "(clear)" marks of the shown table.
    const rows = table2(all, 'largest');
    expect(rows.map((r) => String(r['guided − standard']).endsWith('(clear)'))).to.deep.equal([true, false, true]);
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
    expect(drops[0]['ours: gaussian']).to.be.NaN;
    expect(Object.keys(drops[0])).to.deep.equal([
      'task',
      'BERT-base guided (authors)',
      'ours: standard',
      'ours: guided',
      'ours: gaussian',
    ]);
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
    // table2: 6 tasks × 3 seeds; paucity adds 4 tasks × 2 smaller pcts and SST-2 × 2 smaller pcts; restarts 10 seeds of CoLA 25%
    expect(cells.size).to.equal(3 * (6 * 3 + 4 * 2 * 3 + 2 * 3 + 10));
    expect(specs.every((s) => s.methods.join() === 'standard,guided,gaussian' && s.out === 'o')).to.equal(true);
  });
});
