/** How the Fisher is spread (notebook 02's tables) and model make-up by component (notebook 00), on hand-made scores. */
import { expect } from 'chai';
import { parametersPerComponent } from '../lib/bert/parameters';
import type { FisherTensors, TensorMean } from '../lib/fisher/aggregate';
import { halvesByShape, layerLeaders, scoreSpread, topHolders, topShares } from '../lib/fisher/distribution';
import { sortedScalars } from '../lib/fisher/plots';

/** Layer 0 and 1 with a 2×2 weight (scores 1..4 and 10..40) and a bias (0.5, 0.5 and 5, 5); embeddings 0.1 × 4. */
const fisher: FisherTensors = new Map([
  ['bert.embeddings.word_embeddings.weight', { shape: [2, 2], data: new Float32Array([0.1, 0.1, 0.1, 0.1]) }],
  ['bert.encoder.layer.0.attention.self.query.weight', { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
  ['bert.encoder.layer.0.attention.self.query.bias', { shape: [2], data: new Float32Array([0.5, 0.5]) }],
  ['bert.encoder.layer.1.attention.self.query.weight', { shape: [2, 2], data: new Float32Array([10, 20, 30, 40]) }],
  ['bert.encoder.layer.1.attention.self.query.bias', { shape: [2], data: new Float32Array([5, 5]) }],
]);

describe('the spread of the Fisher', () => {
  const sorted = sortedScalars(fisher);
  const means: TensorMean[] = [...fisher].map(([name, t], index) => ({
    name,
    index,
    size: t.data.length,
    mean: t.data.reduce((a, b) => a + b, 0) / t.data.length,
  }));

  it('the top shares: the largest score of 16 is 40 of the total 121.4', () => {
    const [top] = topShares(sorted, [1]);
    expect(top['top parameters']).to.equal('1% (1)');
    expect(top['share of the total Fisher']).to.be.closeTo(40 / 121.4, 1e-6);
    expect(topShares(sorted, [50])[0]['share of the total Fisher']).to.be.closeTo(117 / 121.4, 1e-6);
  });

  it('min, median (rank 8 of 16), 99th percentile, max and their ratio', () => {
    const s = scoreSpread(sorted);
    expect([s.min, s.median, s['99th percentile'], s.max]).to.deep.equal([sorted[0], 3, 40, 40]);
    expect(s['max / median']).to.equal(40 / 3);
  });

  it('the tensors holding the top scores, most first; the highest tensors per layer; matrices and vectors per half', () => {
    expect(
      topHolders(fisher, means, sorted, 0.75).map((r) => [r.tensor, r['parameters in the top 0.1%']]),
    ).to.deep.equal([['bert.encoder.layer.1.attention.self.query.weight', 4]]);
    expect(layerLeaders(means).map((r) => [r['highest tensor'], r['second highest']])).to.deep.equal([
      ['attention.self.query.weight', 'attention.self.query.bias'],
      ['attention.self.query.weight', 'attention.self.query.bias'],
    ]);
    const ascending = [...means].sort((a, b) => a.mean - b.mean);
    expect(halvesByShape(fisher, ascending)).to.deep.equal({
      lower: { matrices: 1, vectors: 1 },
      upper: { matrices: 2, vectors: 1 },
    });
  });

  it('parameters per component, in the order of their first tensor', () => {
    const named: Array<[string, { size: number }]> = [
      ['bert.embeddings.word_embeddings.weight', { size: 10 }],
      ['bert.encoder.layer.0.attention.self.query.weight', { size: 4 }],
      ['bert.encoder.layer.0.output.dense.bias', { size: 2 }],
      ['bert.encoder.layer.1.attention.self.query.weight', { size: 4 }],
      ['cls.predictions.bias', { size: 10 }],
      ['bert.embeddings.LayerNorm.weight', { size: 1 }],
    ];
    expect(parametersPerComponent(named)).to.deep.equal([
      { component: 'embeddings', parameters: 11 },
      { component: 'encoder layer 0', parameters: 6 },
      { component: 'encoder layer 1', parameters: 4 },
      { component: 'masked-LM head', parameters: 10 },
    ]);
  });
});
