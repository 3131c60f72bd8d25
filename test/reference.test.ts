/** Tests of the two float64 BERT references (numpy and plain TypeScript) against each other and by hand. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { BertConfig } from '../lib/bert/config';
import { readConfig } from '../lib/bert/config';
import {
  erf,
  gelu,
  randomWeights,
  referenceClassificationLoss,
  referenceForward,
  referenceMlmLoss,
  type ReferenceInputs,
  type ReferenceOutputs,
  type ReferenceWeights,
} from './reference/bert-f64';
import { findPython, runScript, skipWithoutNumpy } from './reference/python';

/** A minimal safetensors reader for F32 tensors only, independent of lib/. */
function readF32Safetensors(file: string): ReferenceWeights {
  const buf = fs.readFileSync(file);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const out: ReferenceWeights = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${name}: dtype ${info.dtype}, this test reader reads F32 only`);
    const [start, end] = info.data_offsets;
    const data = new Float32Array((end - start) / 4);
    for (let i = 0; i < data.length; i++) data[i] = buf.readFloatLE(base + start + 4 * i);
    out.set(name, { shape: info.shape, data });
  }
  return out;
}

/** All numbers of a nested array, in order. */
function flatten(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap(flatten) : [x as number];
}

/** The largest absolute difference between two equally shaped nested arrays. */
function maxAbsDiff(a: unknown, b: unknown): number {
  const fa = flatten(a);
  const fb = flatten(b);
  expect(fa.length).to.equal(fb.length);
  return fa.reduce((m, v, i) => Math.max(m, Math.abs(v - fb[i])), 0);
}

/** The numpy reference's outputs, renamed to the TypeScript reference's keys. */
function fromPythonJson(file: string): ReferenceOutputs {
  const o = JSON.parse(fs.readFileSync(file, 'utf8'));
  const out: ReferenceOutputs = { lastHiddenState: o.last_hidden_state };
  if (o.pooled_output) out.pooledOutput = o.pooled_output;
  if (o.mlm_logits) out.mlmLogits = o.mlm_logits;
  if (o.logits) out.logits = o.logits;
  return out;
}

/** A batch with token types, one row padded at the end by three and one by one. */
const BATCH: ReferenceInputs = {
  inputIds: [
    [2, 7, 8, 9, 3, 11, 3],
    [2, 14, 15, 3, 0, 0, 0],
    [2, 40, 41, 42, 3, 5, 0],
  ],
  tokenTypeIds: [
    [0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 1, 1, 1, 1, 1, 0],
  ],
  attentionMask: [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 0],
  ],
};

describe('reference BERT (float64)', () => {
  describe('erf and gelu', () => {
    // Values from a 50-digit series evaluation (erf(-0.3) is -0.32862675945912743, rounded).
    const known: [number, number][] = [
      [0, 0],
      [1e-8, 1.1283791670955126e-8],
      [0.1, 0.1124629160182849],
      [-0.3, -0.3286267594591274],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [-2.5, -0.999593047982555],
      [2.9, 0.9999589021219005],
      [3, 0.9999779095030014],
      [3.1, 0.9999883513426328],
      [4, 0.9999999845827421],
      [5, 0.9999999999984626],
      [6, 1],
      [-30, -1],
    ];
    for (const [x, v] of known) {
      it(`erf(${x}) = ${v} to 1e-14 relative`, () => {
        expect(Math.abs(erf(x) - v)).to.be.at.most(1e-14 * Math.max(Math.abs(v), 1e-300));
      });
    }

    it('erf is odd, monotone and continuous across its method boundaries', () => {
      for (const x of [0.2, 1.7, 2.999999, 3, 3.000001, 5.999999, 6]) expect(erf(-x)).to.equal(-erf(x));
      for (let x = -7; x < 7; x += 0.001) expect(erf(x + 0.001)).to.be.at.least(erf(x));
      expect(Math.abs(erf(3 - 1e-12) - erf(3))).to.be.below(1e-14);
      expect(Math.abs(erf(6 - 1e-12) - erf(6))).to.be.below(1e-15);
    });

    it('gelu matches Φ(x)·x at ±1', () => {
      expect(gelu(1)).to.be.closeTo(0.8413447460685429, 1e-15);
      expect(gelu(-1)).to.be.closeTo(-0.15865525393145707, 1e-15);
      expect(gelu(0)).to.equal(0);
    });
  });

  describe('numpy and TypeScript references agree', function () {
    const python = findPython();
    let dir = '';
    before(function () {
      skipWithoutNumpy(this, python);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-reference-'));
      fs.writeFileSync(
        path.join(dir, 'batch.json'),
        JSON.stringify({
          input_ids: BATCH.inputIds,
          token_type_ids: BATCH.tokenTypeIds,
          attention_mask: BATCH.attentionMask,
        }),
      );
    });
    after(() => {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Makes a checkpoint with bert_numpy.py and returns its folder. */
    const makeCheckpoint = (name: string, args: string[]): string => {
      const out = path.join(dir, name);
      runScript(python as string, ['make-checkpoint', '--out', out, ...args]);
      return out;
    };

    /** The numpy reference's outputs on BATCH for a checkpoint folder. */
    const pythonForward = (model: string): ReferenceOutputs => {
      const file = path.join(model, 'out.json');
      runScript(python as string, [
        'forward',
        '--model',
        model,
        '--inputs',
        path.join(dir, 'batch.json'),
        '--output',
        file,
      ]);
      return fromPythonJson(file);
    };

    const variants: [string, string[], string[]][] = [
      ['mlm', ['--parts', 'mlm'], ['lastHiddenState', 'mlmLogits']],
      ['mlm+pooler', ['--parts', 'mlm+pooler'], ['lastHiddenState', 'pooledOutput', 'mlmLogits']],
      ['classifier', ['--parts', 'classifier', '--num-labels', '3'], ['lastHiddenState', 'pooledOutput', 'logits']],
      [
        'regression',
        ['--parts', 'classifier', '--num-labels', '1', '--layers', '3', '--heads', '4'],
        ['lastHiddenState', 'pooledOutput', 'logits'],
      ],
    ];
    for (const [name, args, keys] of variants) {
      it(`${name}: every output within 1e-9`, () => {
        const model = makeCheckpoint(name, ['--seed', '11', ...args]);
        const config = readConfig(path.join(model, 'config.json'));
        const ts = referenceForward(config, readF32Safetensors(path.join(model, 'model.safetensors')), BATCH);
        const py = pythonForward(model);
        expect(
          Object.keys(ts)
            .filter((k) => k !== 'attentions')
            .sort(),
        ).to.deep.equal([...keys].sort()); // numpy has no attentions
        expect(Object.keys(py).sort()).to.deep.equal([...keys].sort());
        for (const k of keys as (keyof ReferenceOutputs)[]) {
          expect(maxAbsDiff(ts[k], py[k]), k).to.be.below(1e-9);
        }
      });
    }

    it('writes the safetensors layout, vocab.txt and config.json a Hugging Face folder has', () => {
      const model = makeCheckpoint('layout', [
        '--seed',
        '3',
        '--parts',
        'classifier',
        '--num-labels',
        '2',
        '--dtype',
        'BF16',
      ]);
      const buf = fs.readFileSync(path.join(model, 'model.safetensors'));
      const n = Number(buf.readBigUInt64LE(0));
      const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
      expect(header.__metadata__).to.deep.equal({ format: 'pt' });
      const entries = Object.entries(header).filter(([k]) => k !== '__metadata__') as [
        string,
        { dtype: string; shape: number[]; data_offsets: number[] },
      ][];
      let end = 0;
      for (const [, info] of entries) {
        expect(info.dtype).to.equal('BF16');
        expect(info.data_offsets[0]).to.equal(end);
        end = info.data_offsets[1];
        expect(end - info.data_offsets[0]).to.equal(2 * info.shape.reduce((a, b) => a * b, 1));
      }
      expect(buf.length).to.equal(8 + n + end);
      const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8'));
      expect(config).to.include({
        model_type: 'bert',
        hidden_act: 'gelu',
        layer_norm_eps: 1e-12,
        num_labels: 2,
        torch_dtype: 'bfloat16',
      });
      expect(config.architectures).to.deep.equal(['BertForSequenceClassification']);
      const vocab = fs.readFileSync(path.join(model, 'vocab.txt'), 'utf8').trim().split('\n');
      expect(vocab.slice(0, 6)).to.deep.equal(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'tok5']);
      expect(vocab.length).to.equal(config.vocab_size);
    });

    it('legacy names (gamma/beta, decoder, seq_relationship) give the same numpy outputs', () => {
      const modern = makeCheckpoint('modern', ['--seed', '5', '--parts', 'mlm+pooler']);
      const legacy = makeCheckpoint('legacy', ['--seed', '5', '--parts', 'mlm+pooler', '--legacy-names']);
      const names = [...readF32Safetensors(path.join(legacy, 'model.safetensors')).keys()];
      expect(names).to.include.members([
        'bert.embeddings.LayerNorm.gamma',
        'bert.embeddings.LayerNorm.beta',
        'cls.predictions.decoder.weight',
        'cls.seq_relationship.weight',
        'cls.seq_relationship.bias',
      ]);
      expect(names.some((n) => n.endsWith('LayerNorm.weight'))).to.equal(false);
      expect(pythonForward(legacy)).to.deep.equal(pythonForward(modern));
    });

    it('F16 and BF16 checkpoints run and stay near the F32 outputs', () => {
      const f32 = pythonForward(makeCheckpoint('f32', ['--seed', '8', '--parts', 'mlm']));
      for (const [dtype, tol] of [
        ['F16', 0.02],
        ['BF16', 0.1],
      ] as const) {
        const low = pythonForward(makeCheckpoint(dtype, ['--seed', '8', '--parts', 'mlm', '--dtype', dtype]));
        const d = maxAbsDiff(low.lastHiddenState, f32.lastHiddenState);
        expect(d, dtype).to.be.above(0).and.below(tol);
      }
    });

    it('forward accepts a single sequence on the command line', () => {
      const model = makeCheckpoint('single', ['--seed', '2', '--parts', 'mlm']);
      const file = path.join(dir, 'single.json');
      runScript(python as string, [
        'forward',
        '--model',
        model,
        '--input-ids',
        '2,7,8,9,3',
        '--token-type-ids',
        '0,0,1,1,1',
        '--output',
        file,
      ]);
      const config = readConfig(path.join(model, 'config.json'));
      const ts = referenceForward(config, readF32Safetensors(path.join(model, 'model.safetensors')), {
        inputIds: [[2, 7, 8, 9, 3]],
        tokenTypeIds: [[0, 0, 1, 1, 1]],
      });
      const py = fromPythonJson(file);
      expect(maxAbsDiff(ts.lastHiddenState, py.lastHiddenState)).to.be.below(1e-9);
      expect(maxAbsDiff(ts.mlmLogits, py.mlmLogits)).to.be.below(1e-9);
    });
  });

  describe('a model small enough to check by hand', () => {
    // hidden 2: LayerNorm maps [a, b] to ±[1, -1] (the sign of a - b), up to eps, before its affine part.
    const config: BertConfig = {
      vocab_size: 3,
      hidden_size: 2,
      num_hidden_layers: 1,
      num_attention_heads: 1,
      intermediate_size: 2,
      hidden_act: 'gelu',
      max_position_embeddings: 4,
      type_vocab_size: 1,
      layer_norm_eps: 1e-12,
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      initializer_range: 0.02,
      num_labels: 2,
      pad_token_id: 0,
    };
    const t = (shape: number[], data: number[]) => ({ shape, data });
    const p = 'bert.encoder.layer.0';
    const weights: ReferenceWeights = new Map([
      // Token 1 → LN → [1, -1] ("A"); token 2 → LN → [-1, 1] ("B"); no position or type contribution.
      ['bert.embeddings.word_embeddings.weight', t([3, 2], [0.5, 2, 0.3, -0.2, -1, 4])],
      ['bert.embeddings.position_embeddings.weight', t([4, 2], [0, 0, 0, 0, 0, 0, 0, 0])],
      ['bert.embeddings.token_type_embeddings.weight', t([1, 2], [0, 0])],
      ['bert.embeddings.LayerNorm.weight', t([2], [1, 1])],
      ['bert.embeddings.LayerNorm.bias', t([2], [0, 0])],
      // Keys are the same constant for every token, so attention is uniform over the valid keys.
      [`${p}.attention.self.query.weight`, t([2, 2], [1, 2, 3, 4])],
      [`${p}.attention.self.query.bias`, t([2], [0.5, -0.5])],
      [`${p}.attention.self.key.weight`, t([2, 2], [0, 0, 0, 0])],
      [`${p}.attention.self.key.bias`, t([2], [1, 2])],
      [`${p}.attention.self.value.weight`, t([2, 2], [1, 0, 0, 1])],
      [`${p}.attention.self.value.bias`, t([2], [0, 0])],
      // dense = 6 × the mean of the valid tokens' embeddings.
      [`${p}.attention.output.dense.weight`, t([2, 2], [6, 0, 0, 6])],
      [`${p}.attention.output.dense.bias`, t([2], [0, 0])],
      [`${p}.attention.output.LayerNorm.weight`, t([2], [1, 1])],
      [`${p}.attention.output.LayerNorm.bias`, t([2], [0, 0])],
      // The feed-forward block outputs gelu(0)·7 = 0, so the output LayerNorm sees the attention output alone.
      [`${p}.intermediate.dense.weight`, t([2, 2], [0, 0, 0, 0])],
      [`${p}.intermediate.dense.bias`, t([2], [0, 0])],
      [`${p}.output.dense.weight`, t([2, 2], [7, 7, 7, 7])],
      [`${p}.output.dense.bias`, t([2], [0, 0])],
      [`${p}.output.LayerNorm.weight`, t([2], [2, 3])],
      [`${p}.output.LayerNorm.bias`, t([2], [0.5, -0.5])],
      ['bert.pooler.dense.weight', t([2, 2], [0.5, 0, 0, 0.5])],
      ['bert.pooler.dense.bias', t([2], [0, 0.25])],
      ['cls.predictions.bias', t([3], [0.1, 0.2, 0.3])],
      ['cls.predictions.transform.dense.weight', t([2, 2], [1, 0, 0, 1])],
      ['cls.predictions.transform.dense.bias', t([2], [0, 0])],
      ['cls.predictions.transform.LayerNorm.weight', t([2], [1, 1])],
      ['cls.predictions.transform.LayerNorm.bias', t([2], [0, 0])],
      ['classifier.weight', t([2, 2], [1, 0, 1, 1])],
      ['classifier.bias', t([2], [0, -1])],
    ]);
    // Row 0 sees A, B, B: mean [-1/3, 1/3] × 6 = [-2, 2]; A + that = [-1, 1] flips A; B + that stays B.
    // Row 1 masks its last key: mean of A and B = 0, so every token keeps its own sign (the padded query too).
    // Output LayerNorm: A → [2·1 + 0.5, -3·1 - 0.5] = [2.5, -3.5]; B → [-1.5, 2.5].
    let out: ReferenceOutputs;
    before(() => {
      out = referenceForward(config, weights, {
        inputIds: [
          [1, 2, 2],
          [1, 2, 2],
        ],
        attentionMask: [
          [1, 1, 1],
          [1, 1, 0],
        ],
      });
    });
    const A = [2.5, -3.5];
    const B = [-1.5, 2.5];

    it('averages uniformly over the valid keys only', () => {
      expect(
        maxAbsDiff(out.lastHiddenState, [
          [B, B, B],
          [A, B, B],
        ]),
      ).to.be.below(1e-9);
    });

    it('pools with tanh(dense(h[0])) and classifies the pooled vector', () => {
      const pooled = [
        [Math.tanh(-0.75), Math.tanh(1.5)],
        [Math.tanh(1.25), Math.tanh(-1.5)],
      ];
      expect(maxAbsDiff(out.pooledOutput, pooled)).to.be.below(1e-9);
      expect(
        maxAbsDiff(
          out.logits,
          pooled.map(([a, b]) => [a, a + b - 1]),
        ),
      ).to.be.below(1e-9);
    });

    it('projects the MLM transform onto the word embeddings plus the bias', () => {
      // gelu keeps the order of [-1.5, 2.5] and [2.5, -3.5], so the transform LayerNorm gives [-1, 1] or [1, -1].
      const fromB = [-0.5 + 2 + 0.1, -0.3 - 0.2 + 0.2, 1 + 4 + 0.3]; // [-1, 1] · word rows + bias
      const fromA = [0.5 - 2 + 0.1, 0.3 + 0.2 + 0.2, -1 - 4 + 0.3]; // [1, -1] · word rows + bias
      expect(
        maxAbsDiff(out.mlmLogits, [
          [fromB, fromB, fromB],
          [fromA, fromB, fromB],
        ]),
      ).to.be.below(1e-9);
    });
  });

  describe('random weights, padding and losses', () => {
    const config: BertConfig = {
      vocab_size: 20,
      hidden_size: 8,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 12,
      hidden_act: 'gelu',
      max_position_embeddings: 10,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      hidden_dropout_prob: 0.1,
      attention_probs_dropout_prob: 0.1,
      initializer_range: 0.02,
      num_labels: 3,
      pad_token_id: 0,
    };
    const parts = { pooler: true, mlm: true, classifier: true };
    const weights = randomWeights(config, parts, 42);
    const inputs: ReferenceInputs = {
      inputIds: [
        [2, 5, 6, 7, 3, 0, 0],
        [2, 9, 10, 11, 12, 13, 3],
      ],
      tokenTypeIds: [
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 1, 1, 1],
      ],
      attentionMask: [
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 1],
      ],
    };

    it('randomWeights is seeded and has the intended spread', () => {
      expect(randomWeights(config, parts, 42)).to.deep.equal(weights);
      expect(randomWeights(config, parts, 43).get('classifier.bias')).to.not.deep.equal(weights.get('classifier.bias'));
      const stats = (name: string) => {
        const d = [...(weights.get(name)?.data ?? [])];
        const mean = d.reduce((a, v) => a + v, 0) / d.length;
        return [mean, Math.sqrt(d.reduce((a, v) => a + (v - mean) ** 2, 0) / d.length)];
      };
      const [m, s] = stats('bert.embeddings.word_embeddings.weight');
      expect(m).to.be.closeTo(0, 0.05);
      expect(s).to.be.closeTo(0.2, 0.03);
      expect(stats('bert.encoder.layer.0.output.LayerNorm.weight')[0]).to.be.closeTo(1, 0.1);
    });

    it('outputs at valid positions do not depend on the padded tokens', () => {
      const base = referenceForward(config, weights, inputs);
      const changed = referenceForward(config, weights, {
        ...inputs,
        inputIds: [[2, 5, 6, 7, 3, 17, 4], inputs.inputIds[1]],
        tokenTypeIds: [[0, 0, 0, 1, 1, 1, 1], inputs.tokenTypeIds![1]],
      });
      // Exactly equal: a masked key's probability is exp(-3.4e38) = 0.
      expect(maxAbsDiff(changed.lastHiddenState[0].slice(0, 5), base.lastHiddenState[0].slice(0, 5))).to.equal(0);
      expect(maxAbsDiff(changed.mlmLogits![0].slice(0, 5), base.mlmLogits![0].slice(0, 5))).to.equal(0);
      expect(maxAbsDiff(changed.lastHiddenState[1], base.lastHiddenState[1])).to.equal(0);
      expect(maxAbsDiff(changed.pooledOutput, base.pooledOutput)).to.equal(0);
      expect(maxAbsDiff(changed.logits, base.logits)).to.equal(0);
      expect(maxAbsDiff(changed.lastHiddenState[0].slice(5), base.lastHiddenState[0].slice(5))).to.be.above(0);
    });

    it('the MLM loss is the mean cross-entropy over labelled positions', () => {
      const labels = [
        [-100, 4, -100, 9, -100, -100, -100],
        [-100, -100, 1, -100, -100, 19, -100],
      ];
      const { mlmLogits } = referenceForward(config, weights, inputs);
      const picks: [number, number, number][] = [
        [0, 1, 4],
        [0, 3, 9],
        [1, 2, 1],
        [1, 5, 19],
      ];
      const expected =
        picks.reduce((a, [b, tok, y]) => {
          const z = mlmLogits![b][tok];
          return a - Math.log(Math.exp(z[y]) / z.reduce((s, v) => s + Math.exp(v), 0));
        }, 0) / picks.length;
      expect(referenceMlmLoss(config, weights, inputs, labels)).to.be.closeTo(expected, 1e-12);
      expect(
        referenceMlmLoss(
          config,
          weights,
          inputs,
          labels.map((r) => r.map(() => -100)),
        ),
      ).to.be.NaN;
    });

    it('the classification loss is cross-entropy, or squared error for one label', () => {
      const { logits } = referenceForward(config, weights, inputs);
      const ce = (z: number[], y: number) => -Math.log(Math.exp(z[y]) / z.reduce((s, v) => s + Math.exp(v), 0));
      expect(referenceClassificationLoss(config, weights, inputs, [2, 0])).to.be.closeTo(
        (ce(logits![0], 2) + ce(logits![1], 0)) / 2,
        1e-12,
      );
      const reg = { ...config, num_labels: 1 };
      const regWeights = randomWeights(reg, parts, 7);
      const z = referenceForward(reg, regWeights, inputs).logits!;
      expect(referenceClassificationLoss(reg, regWeights, inputs, [0.5, -1])).to.be.closeTo(
        ((z[0][0] - 0.5) ** 2 + (z[1][0] + 1) ** 2) / 2,
        1e-12,
      );
    });

    it('rejects misshapen or missing weights and out-of-range ids', () => {
      const bad = new Map(weights);
      bad.set('classifier.bias', { shape: [2], data: new Float32Array(2) });
      expect(() => referenceForward(config, bad, inputs)).to.throw(/classifier.bias has shape/);
      bad.delete('bert.encoder.layer.1.output.dense.weight');
      expect(() => referenceForward(config, bad, inputs)).to.throw(/missing weight/);
      expect(() => referenceForward(config, weights, { inputIds: [[2, 20]] })).to.throw(/inputIds value 20/);
    });
  });
});
