import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setupBackend, tinyConfig, maxAbsDiff } from './helpers';
import { Bert, Batch } from '../lib/bert/model';
import { readConfig } from '../lib/bert/config';
import { MASKED_LM, SEQUENCE_CLASSIFICATION, BertParts, parameterSpecs } from '../lib/bert/parameters';
import { sharedDataDir } from '../lib/paths';
import { randomWeights, referenceForward, referenceMlmLoss, referenceClassificationLoss } from './reference/bert-f64';

const batch: Batch = {
  input_ids: [
    [2, 7, 8, 9, 3, 11],
    [2, 5, 40, 3, 0, 0],
  ],
  token_type_ids: [
    [0, 0, 0, 1, 1, 1],
    [0, 0, 1, 1, 0, 0],
  ],
  attention_mask: [
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
  ],
};
const ref = { inputIds: batch.input_ids, tokenTypeIds: batch.token_type_ids, attentionMask: batch.attention_mask };
const mlmLabels = [
  [-100, 7, -100, 9, -100, 30],
  [-100, -100, 12, -100, -100, -100],
];
const ALL_PARTS: BertParts = { pooler: true, mlm: true, classifier: true };

/** Only the values at attended positions of a [B][T][...] array (padding outputs are unspecified). */
function attended(x: number[][][]): number[] {
  return x.flatMap((row, b) => row.filter((_, t) => batch.attention_mask![b][t] === 1).flat());
}

describe('BERT model', () => {
  before(async () => {
    await setupBackend();
  });

  it("names and orders BERT-base's masked-LM parameters as Hugging Face does (202 tensors)", function () {
    const data = sharedDataDir();
    if (!data) this.skip();
    const cfg = readConfig(path.join(data!, 'bert-base-uncased', 'bert_config.json'));
    const specs = parameterSpecs(cfg, MASKED_LM);
    expect(specs.length).to.equal(202);
    expect(specs[0]).to.deep.equal({ name: 'bert.embeddings.word_embeddings.weight', shape: [30522, 768] });
    expect(specs[201].name).to.equal('cls.predictions.transform.LayerNorm.bias');
    expect(specs[197].name).to.equal('cls.predictions.bias');
    expect(specs.slice(5, 21).map((s) => s.name.replace('bert.encoder.layer.0.', ''))).to.deep.equal([
      'attention.self.query.weight',
      'attention.self.query.bias',
      'attention.self.key.weight',
      'attention.self.key.bias',
      'attention.self.value.weight',
      'attention.self.value.bias',
      'attention.output.dense.weight',
      'attention.output.dense.bias',
      'attention.output.LayerNorm.weight',
      'attention.output.LayerNorm.bias',
      'intermediate.dense.weight',
      'intermediate.dense.bias',
      'output.dense.weight',
      'output.dense.bias',
      'output.LayerNorm.weight',
      'output.LayerNorm.bias',
    ]);
    expect(specs.find((s) => s.name === 'bert.encoder.layer.11.intermediate.dense.weight')!.shape).to.deep.equal([
      3072, 768,
    ]);
    // BertModel has 109,482,240 parameters; BertForMaskedLM drops the pooler (590,592) and adds the head (622,650).
    const count = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(count).to.equal(109_514_298);
  });

  for (const [label, parts, extra] of [
    ['masked LM with pooler', ALL_PARTS, {}],
    ['sequence classification (3 labels)', SEQUENCE_CLASSIFICATION, { num_labels: 3 }],
  ] as const) {
    it(`forward equals the float64 reference within 1e-4: ${label}`, () => {
      const cfg = tinyConfig(extra);
      const weights = randomWeights(cfg, parts, 42);
      const model = Bert.fromWeights(cfg, parts, weights);
      const want = referenceForward(cfg, weights, ref);
      const out = model.forward(batch);
      expect(maxAbsDiff(attended(out.lastHiddenState.arraySync()), attended(want.lastHiddenState))).to.be.below(1e-4);
      expect(maxAbsDiff(out.pooledOutput!.dataSync(), want.pooledOutput!.flat())).to.be.below(1e-4);
      if (parts.mlm)
        expect(maxAbsDiff(attended(out.mlmLogits!.arraySync()), attended(want.mlmLogits!))).to.be.below(1e-4);
      if (parts.classifier) expect(maxAbsDiff(out.logits!.dataSync(), want.logits!.flat())).to.be.below(1e-4);
      tf.dispose(Object.values(out));
      model.dispose();
    });
  }

  it("attentions: every layer's probabilities equal the float64 reference's within 1e-5", () => {
    const cfg = tinyConfig();
    const weights = randomWeights(cfg, ALL_PARTS, 42);
    const model = Bert.fromWeights(cfg, ALL_PARTS, weights);
    const want = referenceForward(cfg, weights, ref).attentions!;
    const got = model.attentions(batch);
    expect(got).to.have.length(cfg.num_hidden_layers);
    got.forEach((a, l) => {
      expect(a.shape).to.deep.equal([
        batch.input_ids.length,
        cfg.num_attention_heads,
        batch.input_ids[0].length,
        batch.input_ids[0].length,
      ]);
      expect(maxAbsDiff(a.dataSync(), want[l].flat(3))).to.be.below(1e-5);
    });
    tf.dispose(got);
    model.dispose();
  });

  it('masked-LM loss over masked positions only equals the reference loss', () => {
    const cfg = tinyConfig();
    const weights = randomWeights(cfg, MASKED_LM, 5);
    const model = Bert.fromWeights(cfg, MASKED_LM, weights);
    const loss = model.maskedLmLoss(batch, mlmLabels);
    expect(loss.dataSync()[0]).to.be.closeTo(referenceMlmLoss(cfg, weights, ref, mlmLabels), 1e-4);
    loss.dispose();
    expect(() =>
      model.maskedLmLoss(
        batch,
        mlmLabels.map((r) => r.map(() => -100)),
      ),
    ).to.throw(/no masked positions/);
    expect(() => model.maskedLmLoss(batch, [[-100, 99, -100, -100, -100, -100], mlmLabels[1]])).to.throw(/label 99/);
    model.dispose();
  });

  it('masked-LM logits at masked rows equal the full pass there, in evaluation (last layer at those rows only) and with dropout', () => {
    const cfg = { ...tinyConfig(), hidden_dropout_prob: 0.3, attention_probs_dropout_prob: 0.3 };
    const model = Bert.fromWeights(cfg, MASKED_LM, randomWeights(cfg, MASKED_LM, 6));
    // 3 and 1 masked rows (the second sample's queries padded to 3), and a sample with none (its slot all padding)
    const noneInFirst = [mlmLabels[0].map(() => -100), mlmLabels[1]];
    for (const labels of [mlmLabels, noneInFirst])
      for (const opts of [{}, { training: true, seed: 9 }]) {
        const at = labels.flatMap((row, b) => row.flatMap((y, t) => (y === -100 ? [] : [[b, t]])));
        const { logits, targets } = model.maskedLmLogits(batch, labels, opts);
        const out = model.forward(batch, opts);
        const full = out.mlmLogits!.arraySync();
        tf.dispose(Object.values(out));
        expect(targets).to.deep.equal(at.map(([b, t]) => labels[b][t]));
        expect(
          maxAbsDiff(
            logits.arraySync().flat(),
            at.flatMap(([b, t]) => full[b][t]),
          ),
        ).to.be.below(1e-5);
        logits.dispose();
      }
    expect(() =>
      model.maskedLmLogits(batch, mlmLabels, { training: true, taps: { outputs: new Map(), inputs: new Map() } }),
    ).to.throw(/evaluation passes only/);
    model.dispose();
  });

  it('rejects malformed batches with the field named', () => {
    const cfg = tinyConfig();
    const model = Bert.random(cfg, MASKED_LM, 1);
    expect(() => model.forward({ input_ids: [[2, 3], [2]] })).to.throw(/input_ids\[1\] has length 1/);
    expect(() => model.forward({ input_ids: [[2, 50]] })).to.throw(/input_ids\[0\] contains 50/);
    expect(() => model.forward({ input_ids: [new Array(25).fill(2)] })).to.throw(/max_position_embeddings 24/);
    expect(() => model.forward({ input_ids: [[2, 3]], token_type_ids: [[0, 2]] })).to.throw(
      /token_type_ids\[0\] contains 2/,
    );
    model.dispose();
  });

  it('keeps tf.memory().numTensors flat over repeated forward and backward passes', () => {
    const cfg = tinyConfig();
    const model = Bert.random(cfg, MASKED_LM, 1);
    const step = (seed: number) => {
      const { value, grads } = tf.variableGrads(() => model.maskedLmLoss(batch, mlmLabels, { training: true, seed }));
      tf.dispose([value, grads]);
    };
    step(0);
    const before = tf.memory().numTensors;
    for (let i = 1; i < 5; i++) step(i);
    expect(tf.memory().numTensors).to.equal(before);
    model.dispose();
  });

  describe('gradients agree with float64 finite differences of the reference loss', () => {
    /** Central differences of a float64 loss at a few elements of every tensor, against tfjs's gradients. */
    function checkGradients(
      parts: BertParts,
      cfgOverrides: object,
      tfLoss: (m: Bert) => tf.Scalar,
      refLoss: (w: Map<string, { shape: number[]; data: Float64Array | Float32Array }>) => number,
    ) {
      const cfg = tinyConfig(cfgOverrides);
      const weights = randomWeights(cfg, parts, 9);
      const model = Bert.fromWeights(cfg, parts, weights);
      const vars = model.namedParameters();
      const { grads, value } = tf.variableGrads(
        () => tfLoss(model),
        vars.map(([, v]) => v),
      );
      const w64 = new Map([...weights].map(([n, w]) => [n, { shape: w.shape, data: Float64Array.from(w.data) }]));
      const h = 1e-5;
      let checked = 0;
      for (const [name, v] of vars) {
        const g = grads[v.name].dataSync();
        const data = w64.get(name)!.data;
        // the element with the largest gradient and one fixed element
        let iMax = 0;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[iMax])) iMax = i;
        for (const i of new Set([iMax, (g.length * 7) >> 4])) {
          const x0 = data[i];
          data[i] = x0 + h;
          const up = refLoss(w64);
          data[i] = x0 - h;
          const down = refLoss(w64);
          data[i] = x0;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(g[i] - fd), `${name}[${i}]: tfjs ${g[i]} vs finite difference ${fd}`).to.be.below(
            2e-4 + 2e-3 * Math.abs(fd),
          );
          checked++;
        }
      }
      expect(checked).to.be.above(vars.length);
      tf.dispose([value, grads]);
      model.dispose();
    }

    it('masked-LM loss, every tensor (the tied decoder included)', () => {
      checkGradients(
        MASKED_LM,
        {},
        (m) => m.maskedLmLoss(batch, mlmLabels),
        (w) => referenceMlmLoss(tinyConfig(), w, ref, mlmLabels),
      );
    });

    it('classification loss, every tensor', () => {
      const cfg = { num_labels: 3 };
      checkGradients(
        SEQUENCE_CLASSIFICATION,
        cfg,
        (m) => m.classificationLoss(batch, [2, 0]),
        (w) => referenceClassificationLoss(tinyConfig(cfg), w, ref, [2, 0]),
      );
    });

    it('regression loss (num_labels = 1, mean squared error), every tensor', () => {
      const cfg = { num_labels: 1 };
      checkGradients(
        SEQUENCE_CLASSIFICATION,
        cfg,
        (m) => m.classificationLoss(batch, [3.5, 0.25]),
        (w) => referenceClassificationLoss(tinyConfig(cfg), w, ref, [3.5, 0.25]),
      );
    });
  });
});
