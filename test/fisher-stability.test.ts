/** The guided-dropout schedule (ours and the authors'), Fisher stability under sub-sampling, and their figures. */
import { expect } from 'chai';
import { compile } from 'vega-lite';
import { dropoutSiteNames, MASKED_LM, parameterSpecs } from '../lib/bert/parameters';
import { dropoutSiteScores, groupOf, groupScores } from '../lib/fisher/aggregate';
import type { TensorMean } from '../lib/fisher/aggregate';
import { authorsScheduleComparisonSpec, scheduleSpec, stabilitySpec } from '../lib/fisher/plots';
import { fisherStability } from '../lib/fisher/stability';
import { AUTHORS_BERT_BASE_SCHEDULE, authorsSchedule, linearSchedule, siteRanks } from '../lib/guided-dropout/schedule';
import { BERT_BASE } from '../lib/bert/config';
import { MICRO_CONFIG as TINY } from './configs';

const TINY_NAMES = parameterSpecs(TINY, MASKED_LM).map((s) => s.name);

/** 37 sites named after BERT-base's dropout sites, with the given scores. */
function baseSites(score: (i: number) => number): Array<{ site: string; score: number }> {
  return dropoutSiteNames(BERT_BASE, MASKED_LM).map((site, i) => ({ site, score: score(i) }));
}

/**
 * Tiny 2-layer per-tensor means where every tensor of a group has the group's score, so the 7 dropout sites score
 * (forward order) embeddings 3, L0: 2, 6, 24, L1: 0.5, 1.5, 12; `layer1Self` replaces L1 attention_self's 0.5.
 */
function tinyMeans(layer1Self = 0.5): TensorMean[] {
  const score: Record<string, number> = {
    embeddings: 3,
    '0.attention_self': 2,
    '0.attention_output': 6,
    '0.intermediate': 1,
    '0.output': 24,
    '1.attention_self': layer1Self,
    '1.attention_output': 1.5,
    '1.intermediate': 1,
    '1.output': 12,
    mlm_head: 1,
  };
  return TINY_NAMES.map((name, index) => ({ name, mean: score[groupOf(name).group], size: 1, index }));
}

describe('guided-dropout schedule', () => {
  it('linear: 37 sites get p = 0.1·(36 − r)/36 by ascending rank r', () => {
    const sites = baseSites((i) => 100 - i); // forward order is descending: site i has rank 36 − i
    const p = linearSchedule(sites);
    expect([...p.keys()]).to.deep.equal(sites.map((s) => s.site));
    sites.forEach((s, i) => expect(p.get(s.site)).to.be.closeTo((0.1 * i) / 36, 1e-15));
    expect(p.get('bert.embeddings.dropout')).to.equal(0);
    expect(p.get('bert.encoder.layer.11.output.dropout')).to.equal(0.1);
    expect(p.get('bert.encoder.layer.0.attention.self.dropout')).to.be.closeTo((0.1 * 1) / 36, 1e-15);
  });

  it('linear with other bounds, ties broken by forward order, and a single site', () => {
    const p = linearSchedule(
      [
        { site: 'a', score: 5 },
        { site: 'b', score: 1 },
        { site: 'c', score: 5 },
      ],
      0.3,
      0.1,
    );
    // ranks: b 0, a 1, c 2 → p 0.3, 0.2, 0.1
    expect(
      siteRanks([
        { site: 'a', score: 5 },
        { site: 'b', score: 1 },
        { site: 'c', score: 5 },
      ]),
    ).to.deep.equal(
      new Map([
        ['a', 1],
        ['b', 0],
        ['c', 2],
      ]),
    );
    expect(p.get('b')).to.equal(0.3);
    expect(p.get('a')).to.be.closeTo(0.2, 1e-15);
    expect(p.get('c')).to.equal(0.1);
    expect(linearSchedule([{ site: 'only', score: 1 }])).to.deep.equal(new Map([['only', 0.1]]));
    expect(() =>
      linearSchedule([
        { site: 'a', score: 1 },
        { site: 'a', score: 2 },
      ]),
    ).to.throw(/listed twice/);
    expect(() => linearSchedule([{ site: 'a', score: NaN }])).to.throw(/not a finite number/);
    expect(() => linearSchedule([{ site: 'a', score: 1 }], 0.1, 0.2)).to.throw(/pLower <= pUpper/);
  });

  it("the authors' variant: p(r) = 0.099 − 0.00275·r, r = 0 → 0.099, r = 36 → 0", () => {
    const sites = baseSites((i) => i);
    const p = authorsSchedule(sites);
    sites.forEach((s, r) => expect(p.get(s.site)).to.be.closeTo(0.099 - 0.00275 * r, 1e-15));
    expect(p.get(sites[0].site)).to.equal(0.099);
    expect(p.get(sites[36].site)).to.equal(0);
    expect(p.get(sites[1].site)).to.be.closeTo(0.09625, 1e-15);
  });

  it("the authors' BERT-base table (paper.md §1.5): 37 sites, p = 0.099 − 0.00275·rank, module indices and kinds", () => {
    const rows = AUTHORS_BERT_BASE_SCHEDULE;
    expect(rows.length).to.equal(37);
    rows.forEach((row, r) => {
      expect(row.rank).to.equal(r);
      expect(row.p).to.be.closeTo(0.099 - 0.00275 * r, 1e-15);
    });
    expect([...rows.map((r) => r.site)].sort()).to.deep.equal([...dropoutSiteNames(BERT_BASE, MASKED_LM)].sort());
    expect(rows.map((r) => r.kind)).to.deep.equal([
      ...Array(12).fill('attention_self'),
      ...Array(12).fill('attention_output'),
      ...Array(12).fill('output'),
      'embeddings',
    ]);
    // Module indices: embeddings 7; layer 0 16/20/27; layer i ≥ 1: s + 6 / s + 10 / s + 16 with s = 28 + 17(i − 1).
    const offset: Record<string, number> = { attention_self: 6, attention_output: 10, output: 16 };
    for (const row of rows) {
      const expected =
        row.layer === null
          ? 7
          : row.layer === 0
            ? { attention_self: 16, attention_output: 20, output: 27 }[row.kind as string]
            : 28 + 17 * (row.layer - 1) + offset[row.kind];
      expect(row.moduleIndex, row.site).to.equal(expected);
    }
    expect(rows[0]).to.deep.equal({
      rank: 0,
      moduleIndex: 136,
      layer: 7,
      kind: 'attention_self',
      site: 'bert.encoder.layer.7.attention.self.dropout',
      p: 0.099,
    });
    // authorsSchedule on scores in the authors' order reproduces their table.
    const p = authorsSchedule(rows.map((r) => ({ site: r.site, score: r.rank })));
    for (const row of rows) expect(p.get(row.site)).to.be.closeTo(row.p, 1e-15);
  });
});

describe('fisher stability', () => {
  it('identical estimates: Spearman 1 and no schedule change', () => {
    const rows = fisherStability([
      { sampleSize: 100, seed: 1, fisher: tinyMeans() },
      { sampleSize: 1000, seed: 42, fisher: tinyMeans() },
    ]);
    expect(rows).to.deep.equal([
      {
        sampleSize: 100,
        seed: 1,
        reference: false,
        tensorSpearman: 1,
        siteSpearman: 1,
        sameSiteOrder: true,
        sitesMoved: 0,
        scheduleChanged: false,
        maxPChange: 0,
      },
      {
        sampleSize: 1000,
        seed: 42,
        reference: true,
        tensorSpearman: 1,
        siteSpearman: 1,
        sameSiteOrder: true,
        sitesMoved: 0,
        scheduleChanged: false,
        maxPChange: 0,
      },
    ]);
  });

  it('a swapped pair of adjacent sites: order changed, max p change one step, site Spearman 1 − 6·2/(7·48)', () => {
    // Reference site ranks: L1 self 0.5 (0), L1 attention_output 1.5 (1), L0 self 2 (2), embeddings 3 (3),
    // L0 attention_output 6 (4), L1 output 12 (5), L0 output 24 (6).
    // Raising L1 attention_self to 1.6 swaps ranks 0 and 1.
    const rows = fisherStability([
      { sampleSize: 500, seed: 7, fisher: tinyMeans(1.6) },
      { sampleSize: 5000, seed: 42, fisher: tinyMeans() },
    ]);
    const row = rows[0];
    expect(row.sameSiteOrder).to.equal(false);
    expect(row.sitesMoved).to.equal(2);
    expect(row.scheduleChanged).to.equal(true);
    expect(row.maxPChange).to.be.closeTo(0.1 / 6, 1e-15);
    expect(row.siteSpearman).to.be.closeTo(1 - (6 * 2) / (7 * 48), 1e-15);
    // Tensors, by hand (average ranks of the 42 means, both rankings with tie groups of equal sizes, mean rank 21.5):
    // reference ranks 0.5 ×6 → 3.5, 1 ×9 → 11, 1.5 ×4 → 17.5, 2 ×6 → 22.5, 3 ×5 → 28, 6 ×4 → 32.5, 12 ×4 → 36.5, 24 ×4 → 40.5;
    // after: 1 ×9 → 5, 1.5 ×4 → 11.5, 1.6 ×6 → 16.5, the rest unchanged. Σ(a − 21.5)² = Σ(b − 21.5)² = 6045.5 and
    // Σ(a − 21.5)(b − 21.5) = 6·90 + 9·173.25 + 4·40 + 3045.25 = 5304.5, so ρ = 5304.5 / 6045.5.
    expect(row.tensorSpearman).to.be.closeTo(5304.5 / 6045.5, 1e-15);
    const authors = fisherStability(
      [
        { sampleSize: 500, seed: 7, fisher: tinyMeans(1.6) },
        { sampleSize: 5000, seed: 42, fisher: tinyMeans() },
      ],
      { schedule: authorsSchedule },
    );
    expect(authors[0].maxPChange).to.be.closeTo(0.099 / 6, 1e-15);
  });

  it('reversed tensor means give Spearman −1; the reference defaults to the first of the largest samples', () => {
    const forward = TINY_NAMES.map((name, index) => ({ name, mean: index + 1, size: 1, index }));
    const backward = TINY_NAMES.map((name, index) => ({ name, mean: 42 - index, size: 1, index }));
    const rows = fisherStability([
      { sampleSize: 10, seed: 1, fisher: backward },
      { sampleSize: 20, seed: 1, fisher: forward },
      { sampleSize: 20, seed: 2, fisher: backward },
    ]);
    expect(rows.map((r) => r.reference)).to.deep.equal([false, true, false]);
    expect(rows.map((r) => r.tensorSpearman)).to.deep.equal([-1, 1, -1]);
    expect(
      fisherStability(
        [
          { sampleSize: 10, seed: 1, fisher: backward },
          { sampleSize: 20, seed: 1, fisher: forward },
        ],
        { reference: 0 },
      )[0].reference,
    ).to.equal(true);
    expect(() => fisherStability([{ sampleSize: 10, seed: 1, fisher: forward }], { reference: 3 })).to.throw(
      /reference 3/,
    );
    expect(() =>
      fisherStability([
        { sampleSize: 10, seed: 1, fisher: forward },
        { sampleSize: 20, seed: 1, fisher: forward.slice(1) },
      ]),
    ).to.throw(/other tensors than the reference/);
  });
});

describe('schedule and stability figures', () => {
  const sites = dropoutSiteScores(groupScores(tinyMeans()));
  const schedule = linearSchedule(sites);

  it("the schedule figure pairs each site's score with its p", () => {
    const spec = scheduleSpec(sites, schedule) as any;
    expect(spec.data.values.find((v: any) => v.site === 'bert.embeddings.dropout')).to.deep.equal({
      site: 'bert.embeddings.dropout',
      label: 'embeddings',
      score: 3,
      p: 0.05,
      rank: 3,
      kind: 'embeddings',
    });
    expect(spec.data.values.map((v: any) => v.p)).to.deep.equal(sites.map((s) => schedule.get(s.site)));
    expect(spec.encoding.x).to.deep.include({ field: 'score', scale: { type: 'log' } });
    expect(spec.encoding.y.field).to.equal('p');
    expect(() => scheduleSpec(sites, new Map())).to.throw(/no probability for dropout site "bert.embeddings.dropout"/);
    compile(spec);
  });

  it("the side-by-side figure holds the authors' 37 rows and our 7", () => {
    const spec = authorsScheduleComparisonSpec(sites, schedule, { model: 'tiny' }) as any;
    const authors = spec.data.values.filter((v: any) => v.model === 'BERT-base (authors)');
    const ours = spec.data.values.filter((v: any) => v.model === 'tiny');
    expect(authors.length).to.equal(37);
    expect(authors[36]).to.deep.equal({
      model: 'BERT-base (authors)',
      rank: 36,
      p: 0,
      kind: 'embeddings',
      site: 'bert.embeddings.dropout',
    });
    expect(ours.map((v: any) => [v.rank, v.p])).to.deep.equal(
      sites.map((s) => [siteRanks(sites).get(s.site), schedule.get(s.site)]),
    );
    expect(spec.encoding.column.field).to.equal('model');
    compile(spec);
  });

  it('the stability figure: one point per non-reference estimate and ranking, seeds as colours', () => {
    const rows = fisherStability([
      { sampleSize: 500, seed: 7, fisher: tinyMeans(1.6) },
      { sampleSize: 5000, seed: 42, fisher: tinyMeans() },
    ]);
    const spec = stabilitySpec(rows) as any;
    expect(spec.data.values).to.deep.equal([
      { sampleSize: 500, seed: '7', measure: 'per-tensor means', spearman: rows[0].tensorSpearman },
      { sampleSize: 500, seed: '7', measure: 'dropout-site scores', spearman: rows[0].siteSpearman },
    ]);
    expect(spec.title.subtitle).to.equal('Spearman correlation with the reference estimate (n = 5000, seed 42)');
    expect(spec.encoding.color.field).to.equal('seed');
    expect(spec.encoding.x).to.deep.include({ field: 'sampleSize', scale: { type: 'log' } });
    compile(spec);
  });
});
