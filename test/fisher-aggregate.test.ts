/** Fisher aggregation (tensor means, groups, dropout sites, top/bottom sets) and the Fisher score figures, on hand-made inputs. */
import { expect } from 'chai';
import { compile } from 'vega-lite';
import { dropoutSiteNames, MASKED_LM, parameterSpecs, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import {
  bottomPercent,
  dropoutSiteScores,
  groupOf,
  groupScores,
  parameterOrder,
  tensorMeans,
  topBottomSets,
  topPercent,
} from '../lib/fisher/aggregate';
import type { FisherTensors, TensorMean } from '../lib/fisher/aggregate';
import {
  dropoutSiteScoresSpec,
  quantilePoints,
  sortedParameterScoresSpec,
  sortedScalars,
  sortedTensorMeansSpec,
  tensorMeansSpec,
} from '../lib/fisher/plots';
import { BERT_BASE } from '../lib/bert/config';
import { MICRO_CONFIG as TINY } from './configs';

/**
 * The value c of each tiny tensor, chosen so group means are obvious. Per layer, times 1 (layer 0) or 1/4 (layer 1):
 * attention_self weights 1, biases 3; attention_output dense.w 4, dense.b 8, LN.w 8, LN.b 4; intermediate w 10,
 * b 20; output 16, 16, 32, 32. Embeddings 1..5; MLM head 7.
 */
function tinyValue(name: string): number {
  const embeddings: Record<string, number> = {
    'bert.embeddings.word_embeddings.weight': 1,
    'bert.embeddings.position_embeddings.weight': 2,
    'bert.embeddings.token_type_embeddings.weight': 3,
    'bert.embeddings.LayerNorm.weight': 4,
    'bert.embeddings.LayerNorm.bias': 5,
  };
  if (name in embeddings) return embeddings[name];
  if (name.startsWith('cls.')) return 7;
  const m = /^bert\.encoder\.layer\.(\d)\.(.*)$/.exec(name)!;
  const scale = m[1] === '0' ? 1 : 0.25;
  const local: Record<string, number> = {
    'attention.self.query.weight': 1,
    'attention.self.query.bias': 3,
    'attention.self.key.weight': 1,
    'attention.self.key.bias': 3,
    'attention.self.value.weight': 1,
    'attention.self.value.bias': 3,
    'attention.output.dense.weight': 4,
    'attention.output.dense.bias': 8,
    'attention.output.LayerNorm.weight': 8,
    'attention.output.LayerNorm.bias': 4,
    'intermediate.dense.weight': 10,
    'intermediate.dense.bias': 20,
    'output.dense.weight': 16,
    'output.dense.bias': 16,
    'output.LayerNorm.weight': 32,
    'output.LayerNorm.bias': 32,
  };
  return scale * local[m[2]];
}

/** The tiny Fisher: every tensor [0, c, …, c, 2c] (mean c), inserted in reverse order to show the order is restored. */
function tinyFisher(): Map<string, { shape: number[]; data: Float32Array }> {
  const specs = parameterSpecs(TINY, MASKED_LM).reverse();
  return new Map(
    specs.map(({ name, shape }) => {
      const c = tinyValue(name);
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(c);
      data[0] = 0;
      data[data.length - 1] = 2 * c;
      return [name, { shape, data }];
    }),
  );
}

/** Per-tensor means for a list of names: mean = f(index). */
function syntheticMeans(names: string[], f: (i: number) => number): TensorMean[] {
  return names.map((name, index) => ({ name, mean: f(index), size: 1, index }));
}

describe('fisher aggregation', () => {
  it('tensorMeans: per-tensor means and sizes in named_parameters() order', () => {
    const means = tensorMeans(tinyFisher());
    const specs = parameterSpecs(TINY, MASKED_LM);
    expect(means.length).to.equal(42);
    expect(means.map((t) => t.name)).to.deep.equal(specs.map((s) => s.name));
    expect(means.map((t) => t.index)).to.deep.equal(specs.map((_, i) => i));
    expect(means.slice(0, 5).map((t) => t.mean)).to.deep.equal([1, 2, 3, 4, 5]);
    expect(means.slice(0, 5).map((t) => t.size)).to.deep.equal([8, 6, 4, 2, 2]);
    expect(means.find((t) => t.name === 'bert.encoder.layer.1.intermediate.dense.bias')).to.deep.equal({
      name: 'bert.encoder.layer.1.intermediate.dense.bias',
      mean: 5,
      size: 3,
      index: 32,
    });
    expect(means[41]).to.deep.equal({ name: 'cls.predictions.transform.LayerNorm.bias', mean: 7, size: 2, index: 41 });
  });

  it('tensorMeans rejects a wrong parameter set and a shape that does not match the data', () => {
    const missing = tinyFisher();
    missing.delete('bert.encoder.layer.1.output.dense.bias');
    expect(() => tensorMeans(missing)).to.throw(/missing \[bert\.encoder\.layer\.1\.output\.dense\.bias\]/);
    const extra = tinyFisher();
    extra.set('bert.encoder.layer.0.attention.self.extra.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => tensorMeans(extra)).to.throw(/unexpected \[bert\.encoder\.layer\.0\.attention\.self\.extra\.weight\]/);
    const alien = tinyFisher();
    alien.set('decoder.weight', { shape: [1], data: new Float32Array(1) });
    expect(() => tensorMeans(alien)).to.throw(/"decoder\.weight" is not a BERT parameter name/);
    const bad = tinyFisher();
    bad.set('cls.predictions.bias', { shape: [5], data: new Float32Array(4) });
    expect(() => tensorMeans(bad)).to.throw(/shape \[5\] \(5 entries\) but 4 values/);
  });

  it("group scores: the unweighted mean of tensor means (the authors'), and the size-weighted option", () => {
    const groups = groupScores(tinyFisher());
    expect(groups.map((g) => g.group)).to.deep.equal([
      'embeddings',
      '0.attention_self',
      '0.attention_output',
      '0.intermediate',
      '0.output',
      '1.attention_self',
      '1.attention_output',
      '1.intermediate',
      '1.output',
      'mlm_head',
    ]);
    // By hand: embeddings (1+2+3+4+5)/5; attention_self (3·1 + 3·3)/6; attention_output (4+8+8+4)/4; intermediate
    // (10+20)/2; output (16+16+32+32)/4; layer 1 a quarter of layer 0.
    expect(groups.map((g) => g.score)).to.deep.equal([3, 2, 6, 15, 24, 0.5, 1.5, 3.75, 6, 7]);
    expect(groups.map((g) => g.tensors.length)).to.deep.equal([5, 6, 4, 2, 4, 6, 4, 2, 4, 5]);
    expect(groups.map((g) => g.size)).to.deep.equal([22, 18, 10, 9, 12, 18, 10, 9, 12, 14]);
    // Size-weighted, by hand: embeddings (8·1 + 6·2 + 4·3 + 2·4 + 2·5)/22 = 50/22; attention_self (12·1 + 6·3)/18 = 30/18;
    // attention_output (4·4 + 2·8 + 2·8 + 2·4)/10 = 5.6; intermediate (6·10 + 3·20)/9 = 120/9; output (6·16 + 2·16 + 4·32)/12 = 256/12.
    const weighted = groupScores(tinyFisher(), 'size').map((g) => g.score);
    const expected = [50 / 22, 30 / 18, 5.6, 120 / 9, 256 / 12, 30 / 72, 1.4, 30 / 9, 64 / 12, 7];
    weighted.forEach((s, i) => expect(s).to.be.closeTo(expected[i], 1e-12));
  });

  it('dropout-site scores: each site gets the score of the group preceding it, in forward order', () => {
    const sites = dropoutSiteScores(groupScores(tinyFisher()));
    expect(sites.map((s) => s.site)).to.deep.equal(dropoutSiteNames(TINY, MASKED_LM));
    expect(sites.map((s) => [s.group, s.score])).to.deep.equal([
      ['embeddings', 3],
      ['0.attention_self', 2],
      ['0.attention_output', 6],
      ['0.output', 24],
      ['1.attention_self', 0.5],
      ['1.attention_output', 1.5],
      ['1.output', 6],
    ]);
    expect(sites[4]).to.deep.equal({
      site: 'bert.encoder.layer.1.attention.self.dropout',
      group: '1.attention_self',
      kind: 'attention_self',
      layer: 1,
      score: 0.5,
    });
  });

  it('BERT-base names: 202 tensors, 50 groups of the right members, 37 dropout-site scores', () => {
    const names = parameterSpecs(BERT_BASE, MASKED_LM).map((s) => s.name);
    expect(names.length).to.equal(202);
    const groups = groupScores(syntheticMeans(names, (i) => i));
    expect(groups.length).to.equal(1 + 12 * 4 + 1);
    const byName = new Map(groups.map((g) => [g.group, g]));
    expect(byName.get('embeddings')!.tensors).to.deep.equal(names.slice(0, 5));
    expect(byName.get('embeddings')!.score).to.equal(2);
    expect(byName.get('11.attention_self')!.tensors).to.deep.equal(
      ['query.weight', 'query.bias', 'key.weight', 'key.bias', 'value.weight', 'value.bias'].map(
        (t) => `bert.encoder.layer.11.attention.self.${t}`,
      ),
    );
    expect(byName.get('3.attention_output')!.tensors).to.deep.equal(
      ['dense.weight', 'dense.bias', 'LayerNorm.weight', 'LayerNorm.bias'].map(
        (t) => `bert.encoder.layer.3.attention.output.${t}`,
      ),
    );
    expect(byName.get('3.intermediate')!.tensors).to.deep.equal(
      ['weight', 'bias'].map((t) => `bert.encoder.layer.3.intermediate.dense.${t}`),
    );
    expect(byName.get('3.output')!.tensors).to.deep.equal(
      ['dense.weight', 'dense.bias', 'LayerNorm.weight', 'LayerNorm.bias'].map(
        (t) => `bert.encoder.layer.3.output.${t}`,
      ),
    );
    // Layer 0 starts at tensor 5: attention_self = 5..10 (mean 7.5), output = 17..20 (mean 18.5); the head is 197..201.
    expect(byName.get('0.attention_self')!.score).to.equal(7.5);
    expect(byName.get('0.output')!.score).to.equal(18.5);
    expect(byName.get('mlm_head')!.tensors).to.deep.equal(names.slice(197));
    const sites = dropoutSiteScores(groups);
    expect(sites.length).to.equal(37);
    expect(sites.map((s) => s.site)).to.deep.equal(dropoutSiteNames(BERT_BASE, MASKED_LM));
    expect(sites[1].score).to.equal(7.5);
    expect(sites[3].score).to.equal(18.5);
  });

  it('a sequence-classification Fisher: pooler and classifier groups, still 37 sites and none for the classifier dropout', () => {
    const names = parameterSpecs(BERT_BASE, SEQUENCE_CLASSIFICATION).map((s) => s.name);
    expect(parameterOrder([...names].reverse())).to.deep.equal(names);
    const groups = groupScores(syntheticMeans(names, () => 1));
    expect(groups.slice(-2).map((g) => [g.group, g.tensors.length])).to.deep.equal([
      ['pooler', 2],
      ['classifier', 2],
    ]);
    const sites = dropoutSiteScores(groups).map((s) => s.site);
    expect(sites).to.deep.equal(dropoutSiteNames(BERT_BASE, SEQUENCE_CLASSIFICATION).filter((n) => n !== 'dropout'));
    expect(groupOf('classifier.bias')).to.deep.equal({ group: 'classifier', kind: 'classifier', layer: null });
  });

  it('top/bottom sets: ascending argsort with ties broken by index, bottom = argsort[:cut], top = argsort[cut:]', () => {
    const means = syntheticMeans(['a', 'b', 'c', 'd', 'e', 'f'], (i) => [3, 1, 2, 1, 5, 0][i]);
    // argsort = f(0) b(1) d(1) c(2) a(3) e(5)
    expect(topBottomSets(means)).to.deep.equal({ top: ['c', 'a', 'e'], bottom: ['f', 'b', 'd'] });
    // All tied: index order decides.
    expect(topBottomSets(syntheticMeans(['a', 'b', 'c', 'd'], () => 1))).to.deep.equal({
      top: ['c', 'd'],
      bottom: ['a', 'b'],
    });
    // A tie across the cut: b and d both score 1; b (lower index) goes to the bottom.
    expect(topBottomSets(syntheticMeans(['a', 'b', 'c', 'd'], (i) => [0, 1, 5, 1][i]))).to.deep.equal({
      top: ['d', 'c'],
      bottom: ['a', 'b'],
    });
    // Odd count: cut = ⌊5 · 0.5⌋ = 2, the middle tensor goes to the top.
    expect(topBottomSets(syntheticMeans(['a', 'b', 'c', 'd', 'e'], (i) => i))).to.deep.equal({
      top: ['c', 'd', 'e'],
      bottom: ['a', 'b'],
    });
    expect(topBottomSets(means, 1 / 3)).to.deep.equal({ top: ['a', 'e'], bottom: ['f', 'b', 'd', 'c'] });
  });

  it('topPercent / bottomPercent count tensors: top ⌈n·k/100⌉, bottom ⌊n·k/100⌋', () => {
    const ten = syntheticMeans('abcdefghij'.split(''), (i) => 10 - i);
    expect(topPercent(ten, 30)).to.deep.equal(['c', 'b', 'a']);
    expect(bottomPercent(ten, 10)).to.deep.equal(['j']);
    expect(bottomPercent(ten, 25)).to.deep.equal(['j', 'i']);
    expect(topPercent(ten, 25)).to.deep.equal(['c', 'b', 'a']);
    expect(topPercent(ten, 0)).to.deep.equal([]);
    expect(bottomPercent(ten, 100).length).to.equal(10);
    expect(() => topPercent(ten, 101)).to.throw(/percentage must be in \[0, 100\]/);
    expect(() => topBottomSets(ten, 1.5)).to.throw(/fraction must be in \[0, 1\]/);
  });

  it('BERT-base: 101 + 101 tensors, top = argsort[101:202], matching topPercent(50) and bottomPercent(50)', () => {
    const names = parameterSpecs(BERT_BASE, MASKED_LM).map((s) => s.name);
    // mean = 37·i mod 202 is a permutation of 0..201 (gcd(37, 202) = 1): the top half are the means 101..201.
    const means = syntheticMeans(names, (i) => (37 * i) % 202);
    const { top, bottom } = topBottomSets(means);
    expect(top.length).to.equal(101);
    expect(bottom.length).to.equal(101);
    const meanOf = new Map(means.map((t) => [t.name, t.mean]));
    expect(top.map((n) => meanOf.get(n))).to.deep.equal(Array.from({ length: 101 }, (_, k) => 101 + k));
    expect(bottom.map((n) => meanOf.get(n))).to.deep.equal(Array.from({ length: 101 }, (_, k) => k));
    expect(topPercent(means, 50)).to.deep.equal(top);
    expect(bottomPercent(means, 50)).to.deep.equal(bottom);
  });
});

describe('fisher score figures', () => {
  it('sortedScalars concatenates every tensor and sorts ascending', () => {
    const fisher: FisherTensors = new Map([
      ['x', { shape: [3], data: new Float32Array([5, 0.5, 2]) }],
      ['y', { shape: [2], data: new Float32Array([1, 0]) }],
    ]);
    expect([...sortedScalars(fisher)]).to.deep.equal([0, 0.5, 1, 2, 5]);
  });

  it('quantilePoints keeps the minimum and maximum, is monotone, and takes ranks round(j·(n−1)/(m−1))', () => {
    const n = 10001;
    const sorted = Float64Array.from({ length: n }, (_, i) => i * i);
    const points = quantilePoints(sorted, 2000);
    expect(points.length).to.equal(2000);
    expect(points[0]).to.deep.equal({ rank: 0, value: 0 });
    expect(points[1999]).to.deep.equal({ rank: 10000, value: 1e8 });
    // round(10000 / 1999) = round(5.0025) = 5; round(1000 · 10000 / 1999) = round(5002.5...) = 5003.
    expect(points[1]).to.deep.equal({ rank: 5, value: 25 });
    expect(points[1000].rank).to.equal(5003);
    for (let j = 1; j < points.length; j++) {
      expect(points[j].rank).to.be.greaterThan(points[j - 1].rank);
      expect(points[j].value).to.be.at.least(points[j - 1].value);
    }
    expect(quantilePoints([1, 2, 3], 2000)).to.deep.equal([
      { rank: 0, value: 1 },
      { rank: 1, value: 2 },
      { rank: 2, value: 3 },
    ]);
    expect(quantilePoints([1, 2, 3, 4, 5], 3)).to.deep.equal([
      { rank: 0, value: 1 },
      { rank: 2, value: 3 },
      { rank: 4, value: 5 },
    ]);
  });

  it('the per-parameter figure: raw on a log scale without zeros, normalized to [0, 1], downsampling said in the subtitle', () => {
    const sorted = Float32Array.from({ length: 5000 }, (_, i) => (i < 10 ? 0 : i / 1024));
    const raw = sortedParameterScoresSpec(sorted, { model: 'tiny' }) as any;
    expect(raw.data.values.length).to.equal(2000);
    expect(raw.data.values[0]).to.deep.equal({ rank: 0, value: 0 });
    expect(raw.data.values[1999]).to.deep.equal({ rank: 4999, value: sorted[4999] });
    expect(raw.encoding.y).to.deep.include({ field: 'value', scale: { type: 'log' } });
    expect(raw.encoding.x.field).to.equal('rank');
    expect(raw.transform).to.deep.equal([{ filter: 'datum.value > 0' }]);
    expect(raw.title.text).to.equal('Sorted per-parameter Fisher scores (tiny)');
    expect(raw.title.subtitle).to.deep.equal([
      '5000 scalar scores; 2000 points drawn at evenly spaced quantiles of the sorted values (min and max included)',
      '10 scores are 0 and cannot be drawn on the log scale',
    ]);
    const normalized = sortedParameterScoresSpec(sorted, { normalized: true, maxPoints: 3 }) as any;
    expect(normalized.data.values).to.deep.equal([
      { rank: 0, value: 0 },
      { rank: 2500, value: 2500 / 4999 },
      { rank: 4999, value: 1 },
    ]);
    expect(normalized.encoding.y.scale).to.equal(undefined);
    expect(normalized.transform).to.equal(undefined);
    expect(() => sortedParameterScoresSpec([2, 1])).to.throw(/not sorted ascending/);
    compile(raw);
    compile(normalized);
  });

  it('tensor-mean and dropout-site figures carry the data, field names and group kinds', () => {
    const fisher = tinyFisher();
    const sorted = sortedTensorMeansSpec(fisher) as any;
    expect(sorted.data.values.length).to.equal(42);
    expect(sorted.data.values[0]).to.deep.equal({
      position: 0,
      name: 'bert.encoder.layer.1.attention.self.query.weight',
      index: 21,
      mean: 0.25,
      kind: 'attention_self',
    });
    expect(sorted.data.values[41]).to.deep.equal({
      position: 41,
      name: 'bert.encoder.layer.0.output.LayerNorm.bias',
      index: 20,
      mean: 32,
      kind: 'output',
    });
    expect(sorted.encoding.y.scale).to.deep.equal({ type: 'log' });
    const architectural = tensorMeansSpec(fisher) as any;
    expect(architectural.data.values.map((v: any) => v.index)).to.deep.equal(Array.from({ length: 42 }, (_, i) => i));
    expect(architectural.data.values[2]).to.deep.equal({
      index: 2,
      name: 'bert.embeddings.token_type_embeddings.weight',
      mean: 3,
      kind: 'embeddings',
    });
    expect(architectural.encoding.color.field).to.equal('kind');
    const sites = dropoutSiteScores(groupScores(fisher));
    const bars = dropoutSiteScoresSpec(sites, { model: 'tiny' }) as any;
    expect(bars.data.values.map((v: any) => [v.label, v.score])).to.deep.equal(sites.map((s) => [s.group, s.score]));
    expect(bars.encoding.x).to.deep.include({ field: 'label', sort: null });
    // Bars on a log scale: unstacked, from the power of ten below the smallest score (0.5 → 0.1); legend of the kinds present.
    expect(bars.encoding.y).to.deep.include({ stack: null, scale: { type: 'log', domainMin: 0.1 } });
    expect(bars.encoding.color.scale.domain).to.deep.equal([
      'embeddings',
      'attention_self',
      'attention_output',
      'output',
    ]);
    for (const spec of [sorted, architectural, bars]) compile(spec);
  });
});
