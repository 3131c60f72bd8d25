/**
 * The paper's claims read off sweep results: hand-made records where guided clearly beats one baseline on one task,
 * clearly loses to another, ties a third and beats a fourth everywhere, so each claim's members and outcome are known
 * in advance; the gain-growth and restart-spread claims with effects large enough to survive Holm; and the outcome
 * rule on its own.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { claimOutcome, claimRows, claimsMarkdown, describeClaim, paperClaims } from '../lib/sweep/claims';
import { designCoverage, designRecords, DESIGNS } from '../lib/sweep/designs';
import { readSweepResults, type SweepRecord } from '../lib/sweep/run';
import { shippedPath } from '../lib/shipped';

/** A hand-made record with one evaluation set. */
function rec(method: string, task: string, pct: number, seed: number, main: number): SweepRecord {
  return { method, task, pct, seed, final: { test: { main, metrics: { x: main } } } } as unknown as SweepRecord;
}

/** A clear gain over 5 seeds (t ≈ 17 on 4 df) and a tie (every difference about 0, mean exactly 0). */
const CLEAR = [0.1, 0.11, 0.12, 0.13, 0.14];
const TIE = [0.01, -0.01, 0.02, -0.02, 0];

/** Records of one (task, pct) cell: guided at 0.5 + 0.01·seed, and each baseline at guided − its gain for that seed. */
function cell(task: string, pct: number, gains: Record<string, number[]>): SweepRecord[] {
  return CLEAR.flatMap((_, i) => {
    const guided = 0.5 + 0.01 * (i + 1);
    return [
      rec('guided', task, pct, i + 1, guided),
      ...Object.entries(gains).map(([m, g]) => rec(m, task, pct, i + 1, guided - g[i])),
    ];
  });
}

const neg = (xs: number[]) => xs.map((x) => -x);

describe("the paper's claims, read off sweep results", () => {
  it('Table 2 claims and the controls: members for, against and unclear, and the outcome of each', () => {
    const table2 = [
      ...cell('CoLA', 100, { standard: CLEAR, gaussian: neg(CLEAR), 'uniform-mean': TIE, shuffled: CLEAR }),
      ...cell('MRPC', 100, { standard: TIE, gaussian: TIE, 'uniform-mean': TIE, shuffled: CLEAR }),
    ];
    const claims = paperClaims({ table2, paucity: [], restarts: [] });
    const byClaim = (text: string) => claims.find((c) => c.claim.includes(text))!;
    const std = byClaim('beats standard dropout on GLUE');
    expect([std.support, std.against, std.unclear, std.outcome]).to.deep.equal([
      ['CoLA'],
      [],
      ['MRPC'],
      'holds in part',
    ]);
    expect(std.test).to.equal('Table 2: guided − baseline per task, paired t, Holm over 8 tests');
    const gauss = byClaim('beats Gaussian dropout on GLUE');
    expect([gauss.support, gauss.against, gauss.outcome]).to.deep.equal([[], ['CoLA'], 'contradicted']);
    expect(byClaim('its own mean rate').outcome).to.equal('not shown');
    const shuffled = byClaim('shuffled order');
    expect([shuffled.support, shuffled.outcome, shuffled.source]).to.deep.equal([
      ['CoLA', 'MRPC'],
      'holds',
      'our control, notebook 06',
    ]);
    // no paucity or restart runs: those claims have no test; designs not given leave their claims out
    expect(byClaim('grows as training data shrink').outcome).to.equal('untested');
    expect(byClaim('narrows the spread').outcome).to.equal('untested');
    expect(claims).to.have.length(8);
    expect(paperClaims({ table2 }).map((c) => c.outcome)).to.deep.equal([
      'holds in part',
      'contradicted',
      'not shown',
      'holds',
    ]);
    const row = claimRows([std])[0];
    expect(row).to.include({
      outcome: 'holds in part',
      'supports it': 'CoLA',
      'against it': 'none',
      'no clear difference': '1 of 2',
    });
  });

  it("Figure 4's claims: every size, and a gain that grows as data shrink; the controls are left out of the growth", () => {
    const paucity = [
      // standard: a clear gain at 10% and a tie at 100%, so the gain grows (changes CLEAR − TIE, t ≈ 9 on 4 df)
      ...cell('CoLA', 10, { standard: CLEAR, gaussian: TIE, shuffled: CLEAR }),
      ...cell('CoLA', 100, { standard: TIE, gaussian: TIE, shuffled: TIE }),
    ];
    const claims = paperClaims({ table2: [], paucity, restarts: [] });
    const byClaim = (text: string) => claims.find((c) => c.claim.includes(text))!;
    const every = byClaim('beats standard dropout at every training size');
    expect([every.support, every.unclear, every.outcome]).to.deep.equal([['CoLA 10%'], ['CoLA 100%'], 'holds in part']);
    expect(every.test).to.equal('Figure 4: guided − baseline per task and size, paired t, Holm over 6 tests');
    const growth = byClaim('grows as training data shrink');
    // the shuffled control's growth is in the family (3 tests for Holm) but does not bear on the paper's claim
    expect(growth.test).to.include('Holm over 3 tests');
    expect([growth.support, growth.unclear, growth.outcome]).to.deep.equal([
      ['CoLA vs standard'],
      ['CoLA vs gaussian'],
      'holds in part',
    ]);
  });

  it("the restarts: a guided spread a tenth of the baseline's supports the claim; a wider one is against it", () => {
    const wobble = [3, -1, 4, -1, -5, 9, -2, 6, -5, 3];
    const other = [-2, 7, 1, -8, 2, -8, 1, 8, -2, 8];
    const restarts = wobble.flatMap((w, i) => [
      rec('guided', 'CoLA', 25, i + 1, 0.3 + 0.001 * w),
      rec('standard', 'CoLA', 25, i + 1, 0.3 + 0.01 * other[i]),
      rec('gaussian', 'CoLA', 25, i + 1, 0.3 + 0.0001 * other[i]),
    ]);
    const spread = paperClaims({ table2: [], paucity: [], restarts }).find((c) => c.claim.includes('spread'))!;
    expect([spread.support, spread.against, spread.outcome]).to.deep.equal([
      ['CoLA 25% vs standard'],
      ['CoLA 25% vs gaussian'],
      'mixed',
    ]);
  });

  it("as the README's Markdown: the runs per design, then a row per claim with whose it is", () => {
    const table2 = cell('CoLA', 100, { standard: CLEAR, gaussian: TIE });
    const md = claimsMarkdown(paperClaims({ table2, restarts: [] }), [designCoverage(DESIGNS[0], table2)]);
    expect(md.split('\n')).to.deep.equal([
      // 5 seeds of guided, standard and Gaussian on CoLA: 15 of Table 2's 150 runs
      'Runs: Table 2 15 of 150.',
      '',
      '| claim | outcome | for it | against it | no clear difference |',
      '|---|---|---|---|---|',
      '| Guided dropout beats standard dropout on GLUE (paper) | **holds** | CoLA | none | 0 of 1 |',
      '| Guided dropout beats Gaussian dropout on GLUE (paper) | **not shown** | none | none | 1 of 1 |',
      '| Guided dropout beats uniform dropout at its own mean rate (its gain is not just less dropout) (our control) | **untested** | none | none | no runs |',
      "| Guided dropout beats its own rates on a shuffled order of the sites (the Fisher's order matters) (our control) | **untested** | none | none | no runs |",
      '| Guided dropout narrows the spread of fine-tuning outcomes over restarts (ours) | **untested** | none | none | no runs |',
    ]);
  });

  it('the outcome rule', () => {
    const o = (support: string[], against: string[], unclear: string[], untested: string[] = []) =>
      claimOutcome({ support, against, unclear, untested });
    expect(o(['a', 'b'], [], [])).to.equal('holds');
    expect(o(['a'], [], [], ['b'])).to.equal('holds in part');
    expect(o(['a'], [], ['b'])).to.equal('holds in part');
    expect(o([], [], ['a'])).to.equal('not shown');
    expect(o([], ['a'], ['b'])).to.equal('contradicted');
    expect(o(['a'], ['b'], [])).to.equal('mixed');
    expect(o([], [], [], ['a'])).to.equal('untested');
    expect(o([], [], [])).to.equal('untested');
  });

  it('splits a results folder by design: a run shared by Table 2 and Figure 4 is in both, one outside every design in none', () => {
    const split = designRecords([
      rec('guided', 'CoLA', 100, 1, 0.1),
      rec('guided', 'CoLA', 10, 1, 0.1),
      rec('guided', 'CoLA', 25, 7, 0.1),
      rec('guided', 'CoLA', 100, 6, 0.1), // Table 2 and Figure 4 have 5 seeds
      rec('guided', 'WNLI', 10, 1, 0.1), // WNLI only at full size
      rec('mystery', 'CoLA', 100, 1, 0.1),
    ]);
    const cells = (rs: SweepRecord[]) => rs.map((r) => `${r.task} ${r.pct} ${r.seed}`);
    expect(Object.keys(split)).to.deep.equal(['table2', 'paucity', 'restarts']);
    expect(cells(split.table2)).to.deep.equal(['CoLA 100 1']);
    expect(cells(split.paucity)).to.deep.equal(['CoLA 100 1', 'CoLA 10 1']);
    expect(cells(split.restarts)).to.deep.equal(['CoLA 25 7']);
  });

  it('`sweep --claims` prints a line per claim for a results folder, and names a folder without results', function () {
    this.timeout(30_000);
    const dir = shippedPath('results');
    const run = (out: string) =>
      spawnSync(
        process.execPath,
        [path.join(process.cwd(), 'bin', 'fisherlab.js'), 'sweep', '--claims', '--out', out],
        {
          encoding: 'utf8',
          env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
        },
      );
    const r = run(dir);
    expect(r.status, r.stderr).to.equal(0);
    const records = readSweepResults(dir);
    const claims = paperClaims(designRecords(records)).map(describeClaim);
    const [runs, ...lines] = r.stdout.trim().split('\n');
    expect(lines).to.deep.equal(claims);
    expect(claims).to.have.length(8);
    // the runs line counts each design's runs in the folder, here by hand
    const count = (keep: (x: SweepRecord) => boolean) => records.filter(keep).length;
    const t2 = count((x) => x.seed <= 5 && (x.task === 'SST-2' ? x.pct === 10 : x.pct === 100 && x.task !== 'MNLI'));
    const restarts = count((x) => x.task === 'CoLA' && x.pct === 25 && x.seed <= 10);
    const paucity = count(
      (x) =>
        x.seed <= 5 &&
        (x.task === 'SST-2' ? [1, 5, 10] : [10, 50, 100]).includes(x.pct) &&
        ['CoLA', 'MRPC', 'STS-B', 'RTE', 'SST-2'].includes(x.task),
    );
    expect(runs).to.equal(`Runs: Table 2 ${t2} of 150, Figure 4 ${paucity} of 375, restarts ${restarts} of 50.`);
    const missing = run(path.join(dir, 'nowhere'));
    expect(missing.status).to.not.equal(0);
    expect(missing.stderr).to.include(path.join(dir, 'nowhere', 'results.jsonl'));
  });
});
