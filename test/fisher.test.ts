/**
 * The empirical Fisher estimator: batched per-sample squared gradients against a brute-force loop of batch-size-1
 * backward passes, closed forms of a softmax-regression head, bitwise resume, the CLI against Hugging Face
 * transformers (when .venv-hf exists), tensor leaks and bad inputs.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { saveBert } from '../lib/bert/load';
import { Bert } from '../lib/bert/model';
import { MASKED_LM, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { estimateFisher, FisherOptions, readFisher, readSums, writeFisher, writeSums } from '../lib/fisher/estimate';
import { onePercentFisher } from '../lib/fisher/one-percent';
import { overrideRecipe, pretrainingRecipe, recipeSequences } from '../lib/fisher/samples';
import { loadTokenizer } from '../lib/bert/tokenizer';
import { defaultModelDir } from '../lib/shipped';
import { collate, StoredMaskedExample, writeMaskedExamples } from '../lib/pretrain/mlm-data';
import { squaredGradSums } from '../lib/fisher/per-sample-grads';
import { defaultFisherJobs, fisherJobs, fisherShards, MIN_SHARD_SAMPLES } from '../lib/fisher/shards';
import { readSafetensors, writeSafetensors } from '../lib/weights/safetensors';
import { trainWordPiece, writeVocab } from '../lib/pretrain/wordpiece-trainer';
import { errorOf, setupBackend, tinyConfig } from './helpers';
import { compareFisher, maxAbs, relDiff } from './fisher-compare';
import { randomWeights } from './reference/bert-f64';

const ROOT = process.cwd();
const CLI = path.join(ROOT, 'bin', 'fisherlab.js');
const VENV_PYTHON = path.join(ROOT, '.venv-hf', 'bin', 'python');
const HF_SCRIPT = path.join(ROOT, 'test', 'reference', 'hf_transformers.py');
const PAD = 0;
const quiet = () => {};

/** Examples of different lengths, with repeated tokens (also among the labels), explicit padding and 1–4 masked positions. */
const EXAMPLES: StoredMaskedExample[] = [
  { input_ids: [2, 7, 7, 9, 7, 3], attention_mask: [1, 1, 1, 1, 1, 1], labels: [-100, 7, -100, 9, 11, -100] },
  { input_ids: [2, 4, 30, 3], attention_mask: [1, 1, 1, 1], labels: [-100, 11, -100, -100] },
  {
    input_ids: [2, 17, 4, 4, 3, 0, 0],
    attention_mask: [1, 1, 1, 1, 1, 0, 0],
    labels: [-100, -100, 20, 20, -100, -100, -100],
  },
  {
    input_ids: [2, 19, 21, 22, 23, 24, 25, 26, 3],
    attention_mask: [1, 1, 1, 1, 1, 1, 1, 1, 1],
    labels: [-100, 5, -100, -100, 6, 6, -100, 8, -100],
  },
  { input_ids: [2, 33, 4, 3], attention_mask: [1, 1, 1, 1], labels: [-100, -100, 12, -100] },
  {
    input_ids: [2, 8, 8, 8, 8, 4, 3],
    attention_mask: [1, 1, 1, 1, 1, 1, 1],
    labels: [-100, 8, -100, -100, -100, 15, -100],
  },
  { input_ids: [2, 38, 4, 11, 3, 0], attention_mask: [1, 1, 1, 1, 1, 0], labels: [-100, -100, 39, -100, -100, -100] },
];

/** The brute force: one tf.variableGrads per example on its own (batch size 1), squared and averaged in float64. */
function bruteForceFisher(model: Bert, examples: readonly StoredMaskedExample[]): Map<string, Float64Array> {
  const vars = model.namedParameters();
  const sums = new Map(vars.map(([name, v]) => [name, new Float64Array(v.size)]));
  for (const e of examples) {
    const { batch, labels } = collate([e], PAD);
    const { value, grads } = tf.variableGrads(
      () => model.maskedLmLoss(batch, labels),
      vars.map(([, v]) => v),
    );
    for (const [name, v] of vars) {
      const g = grads[v.name].dataSync();
      const s = sums.get(name)!;
      for (let i = 0; i < g.length; i++) s[i] += g[i] * g[i];
    }
    tf.dispose([value, grads]);
  }
  for (const s of sums.values()) for (let i = 0; i < s.length; i++) s[i] /= examples.length;
  return sums;
}

const dataOf = (m: Map<string, { data: Float32Array }>) => new Map([...m].map(([n, t]) => [n, t.data]));

describe('empirical Fisher (per-sample squared gradients)', function () {
  this.timeout(300_000);
  const config = tinyConfig({ vocab_size: 40, max_position_embeddings: 12 });
  let model: Bert;
  let dir = '';
  const run = (args: string[]) =>
    spawnSync(process.execPath, [CLI, 'fisher', ...args], {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: ROOT, FISHERLAB_OUT: path.join(dir, 'out') },
    });
  const options = (extra: Partial<FisherOptions> = {}): FisherOptions => ({
    model,
    examples: EXAMPLES,
    padId: PAD,
    batchSize: 3,
    write: quiet,
    ...extra,
  });

  before(async () => {
    await setupBackend();
    model = Bert.fromWeights(config, MASKED_LM, randomWeights(config, MASKED_LM, 11));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-fisher-'));
  });
  after(() => {
    model?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('against the brute-force loop of batch-size-1 backward passes', () => {
    it('equals it within 1e-5 relative for every parameter tensor (batches of 3 with padding; last batch partial)', async () => {
      const want = bruteForceFisher(model, EXAMPLES);
      const { fisher, samples, meanLoss } = await estimateFisher(options());
      expect(samples).to.equal(EXAMPLES.length);
      expect(fisher!.size).to.equal(model.namedParameters().length);
      for (const [name, t] of fisher!) expect(t.shape, name).to.deep.equal(model.parameter(name).shape);
      const { bad, worst } = compareFisher(dataOf(fisher!), want, 1e-5);
      console.log(
        `      (largest relative difference ${worst[0].toExponential(2)}, ${worst[1]}; mean loss ${meanLoss.toFixed(4)})`,
      );
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });

    it('does not depend on the batch size', async () => {
      const one = await estimateFisher(options({ batchSize: 1 }));
      const all = await estimateFisher(options({ batchSize: EXAMPLES.length }));
      const { bad } = compareFisher(dataOf(all.fisher!), dataOf(one.fisher!), 1e-5);
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });

    it('sums squares of per-sample gradients, not the square of the batch gradient', () => {
      const { batch, labels } = collate(EXAMPLES.slice(0, 2), PAD);
      const { sums } = squaredGradSums(model, batch, labels);
      const perSample = sums.get('cls.predictions.bias')!.dataSync();
      tf.dispose([...sums.values()]);
      // (g1 + g2)² differs from g1² + g2² unless the gradients are orthogonal.
      const loss = (e: StoredMaskedExample) => model.maskedLmLoss(collate([e], PAD).batch, collate([e], PAD).labels);
      const bias = model.parameter('cls.predictions.bias');
      const { value, grads } = tf.variableGrads(
        () => tf.add(loss(EXAMPLES[0]), loss(EXAMPLES[1])) as tf.Scalar,
        [bias],
      );
      const g = grads[bias.name].dataSync();
      tf.dispose([value, grads]);
      expect(
        relDiff(
          perSample,
          g.map((x) => x * x),
        ),
      ).to.be.above(1e-2);
    });
  });

  describe('closed forms (softmax regression)', () => {
    /** Softmax of a float64 vector. */
    const softmax = (z: number[]) => {
      const m = Math.max(...z);
      const e = z.map((x) => Math.exp(x - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    };

    it("cls.predictions.bias: F = mean_n (mean over n's masked positions of p − e_y)², p from forward logits", async () => {
      // The bias gradient of sample n is (1/m_n) Σ_j (softmax(logits_j) − e_{y_j}): checks the per-sample segmentation of the
      // masked rows (1 to 4 per sample) against forward-only quantities, independently of autodiff.
      const V = config.vocab_size;
      const want = new Float64Array(V);
      for (const e of EXAMPLES) {
        const { batch, labels } = collate([e], PAD);
        const { logits, targets } = model.maskedLmLogits(batch, labels);
        const rows = logits.arraySync();
        logits.dispose();
        const g = new Float64Array(V);
        rows.forEach((z, j) => softmax(z).forEach((p, v) => (g[v] += (p - (v === targets[j] ? 1 : 0)) / rows.length)));
        for (let v = 0; v < V; v++) want[v] += (g[v] * g[v]) / EXAMPLES.length;
      }
      const { fisher } = await estimateFisher(options());
      const d = relDiff(fisher!.get('cls.predictions.bias')!.data, want);
      console.log(`      (relative difference ${d.toExponential(2)})`);
      expect(d).to.be.below(1e-5);
    });

    it('a head reduced to softmax regression on a constant feature β: the tied decoder, its bias and β have the closed-form Fisher, the rest 0', async () => {
      // With the transform LayerNorm's weight 0 its output is its bias β for every position, so logits = W β + b are the same
      // everywhere (W: the tied word embeddings) and nothing upstream of the LayerNorm gets a gradient. For sample n with label mean ȳ_n over
      // its masked positions and p = softmax(Wβ + b): ∂L_n/∂W = (p − ȳ_n) βᵀ (no embedding-lookup part), ∂L_n/∂b = p − ȳ_n,
      // ∂L_n/∂β = Wᵀ (p − ȳ_n). Checks the tied decoder rule and per-sample means in float64 without autodiff.
      const weights = randomWeights(config, MASKED_LM, 12);
      weights.get('cls.predictions.transform.LayerNorm.weight')!.data.fill(0);
      const head = Bert.fromWeights(config, MASKED_LM, weights);
      const { hidden_size: H, vocab_size: V } = config;
      const W = weights.get('bert.embeddings.word_embeddings.weight')!.data;
      const beta = weights.get('cls.predictions.transform.LayerNorm.bias')!.data;
      const b = weights.get('cls.predictions.bias')!.data;
      const p = softmax(Array.from({ length: V }, (_, v) => b[v] + beta.reduce((a, x, h) => a + W[v * H + h] * x, 0)));
      const want = { W: new Float64Array(V * H), b: new Float64Array(V), beta: new Float64Array(H) };
      for (const e of EXAMPLES) {
        const ys = e.labels.filter((y) => y !== -100);
        const r = p.map((pv, v) => pv - ys.filter((y) => y === v).length / ys.length);
        for (let v = 0; v < V; v++) {
          want.b[v] += r[v] ** 2 / EXAMPLES.length;
          for (let h = 0; h < H; h++) want.W[v * H + h] += (r[v] * beta[h]) ** 2 / EXAMPLES.length;
        }
        for (let h = 0; h < H; h++)
          want.beta[h] += r.reduce((a, rv, v) => a + W[v * H + h] * rv, 0) ** 2 / EXAMPLES.length;
      }
      const { fisher } = await estimateFisher({ ...options(), model: head });
      head.dispose();
      const diffs = {
        W: relDiff(fisher!.get('bert.embeddings.word_embeddings.weight')!.data, want.W),
        b: relDiff(fisher!.get('cls.predictions.bias')!.data, want.b),
        beta: relDiff(fisher!.get('cls.predictions.transform.LayerNorm.bias')!.data, want.beta),
      };
      console.log(
        `      (relative differences W ${diffs.W.toExponential(2)}, b ${diffs.b.toExponential(2)}, β ${diffs.beta.toExponential(2)})`,
      );
      for (const d of Object.values(diffs)) expect(d).to.be.below(1e-5);
      const zero = [
        'bert.embeddings.position_embeddings.weight',
        'bert.encoder.layer.1.output.dense.weight',
        'cls.predictions.transform.dense.weight',
      ];
      for (const name of zero) expect(maxAbs(fisher!.get(name)!.data), name).to.equal(0);
    });
  });

  describe('resume and files', () => {
    it('stopped after some batches and resumed, ends bitwise equal to an uninterrupted run', async () => {
      const full = await estimateFisher(options({ batchSize: 2 }));
      const runDir = path.join(dir, 'run-resume');
      const first = await estimateFisher(options({ batchSize: 2, runDir, stopAfter: 3, checkpointEvery: 100 }));
      expect(first.fisher).to.equal(null);
      expect(first.samples).to.equal(4); // the first batch boundary at or after 3
      let polls = 0;
      const second = await estimateFisher(options({ batchSize: 2, runDir, shouldStop: () => ++polls === 1 }));
      expect([second.resumedFrom, second.samples, second.fisher]).to.deep.equal([4, 6, null]);
      const third = await estimateFisher(options({ batchSize: 2, runDir }));
      expect(third.resumedFrom).to.equal(6);
      // the finished run wrote no checkpoint of its own: the last one is still the stop after 6 samples
      const saved = fs
        .readdirSync(path.join(runDir, 'checkpoints'))
        .filter((f) => f.startsWith('ckpt-'))
        .sort();
      expect(saved[saved.length - 1]).to.equal('ckpt-00000006');
      expect(third.meanLoss).to.equal(full.meanLoss);
      for (const [name, t] of full.fisher!)
        expect(Buffer.from(third.fisher!.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).to.equal(
          true,
        );
    });

    it('running sums round-trip in float64, read in place or added to what is there; other tensors or a cut file are refused', () => {
      const sumsDir = path.join(dir, 'sums');
      const names = ['a', 'b'];
      // values float32 cannot hold, so a float32 step anywhere would show
      const written = [Float64Array.from([0.1, 1 / 3, 2 ** -40]), Float64Array.from([Math.PI, 1e300])];
      writeSums(sumsDir, names, written, 7, 12.5);
      const read = [new Float64Array(3), new Float64Array(2)];
      expect(readSums(sumsDir, names, read)).to.deep.equal({ samples: 7, lossSum: 12.5 });
      expect(read).to.deep.equal(written);
      readSums(sumsDir, names, read, { add: true });
      expect(read).to.deep.equal(written.map((w) => w.map((x) => x + x)));
      expect(() => readSums(sumsDir, names, [new Float64Array(3), new Float64Array(3)])).to.throw(
        /tensors do not match the model's/,
      );
      fs.truncateSync(path.join(sumsDir, 'sums.f64'), 16);
      expect(() => readSums(sumsDir, names, read)).to.throw(/sums\.f64: 16 bytes, expected 40/);
    });

    it('refuses to resume a run folder with other settings (batch size, examples)', async () => {
      const runDir = path.join(dir, 'run-settings');
      await estimateFisher(options({ batchSize: 2, runDir, stopAfter: 2 }));
      let error = '';
      await estimateFisher(options({ batchSize: 3, runDir })).catch((e: Error) => (error = e.message));
      expect(error).to.match(/other settings \(batch_size: 2 → 3\)/);
      await estimateFisher(options({ batchSize: 2, runDir, examples: EXAMPLES.slice(1) })).catch(
        (e: Error) => (error = e.message),
      );
      expect(error).to.match(/samples: 7 → 6.*examples_sha256/);
    });

    it('writeFisher / readFisher round-trip with metadata; readFisher rejects other files, naming them', async () => {
      const { fisher } = await estimateFisher(options());
      const file = path.join(dir, 'f.safetensors');
      writeFisher(file, fisher!, EXAMPLES.length, { seed: '0' });
      const back = readFisher(file);
      expect([...back.tensors.keys()]).to.deep.equal(model.namedParameters().map(([n]) => n));
      expect(back.samples).to.equal(EXAMPLES.length);
      expect(back.metadata).to.include({ kind: 'empirical-fisher-diagonal', mode: 'eval', seed: '0', samples: '7' });
      expect(back.metadata.fisherlab_version).to.match(/^\d+\.\d+\.\d+/);
      const other = path.join(dir, 'other.safetensors');
      writeSafetensors(other, [{ name: 'x', shape: [1], data: new Float32Array([1]) }]);
      expect(() => readFisher(other)).to.throw(`${other}: not a Fisher file`);
      const negative = path.join(dir, 'negative.safetensors');
      writeSafetensors(negative, [{ name: 'x', shape: [2], data: new Float32Array([1, -1]) }], {
        kind: 'empirical-fisher-diagonal',
        samples: '3',
      });
      expect(() => readFisher(negative)).to.throw(`${negative}: tensor "x" has the value -1 at index 1`);
      expect(() => readFisher(path.join(dir, 'missing.safetensors'))).to.throw(/missing\.safetensors: cannot read/);
    });
  });

  describe('memory and bad input', () => {
    it('keeps tf.memory().numTensors flat across batches', async () => {
      const before = tf.memory().numTensors;
      const counts: number[] = [];
      await estimateFisher(
        options({
          batchSize: 2,
          progressIntervalMs: 0,
          write: (line) => /\d+\/\d+ samples/.test(line) && counts.push(tf.memory().numTensors),
        }),
      );
      expect(counts).to.have.length(4);
      expect(new Set(counts).size, `tensors after each batch: ${counts}`).to.equal(1);
      expect(counts[0]).to.equal(before);
      expect(tf.memory().numTensors).to.equal(before);
    });

    it('rejects no examples, an example without masked positions, a model without an MLM head and a NaN loss', async () => {
      const fail = async (o: FisherOptions) => {
        try {
          await estimateFisher(o);
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      };
      expect(await fail(options({ examples: [] }))).to.equal('fisher: no examples');
      const unmasked = { ...EXAMPLES[1], labels: [-100, -100, -100, -100] };
      expect(await fail(options({ examples: [EXAMPLES[0], unmasked] }))).to.match(
        /sample 1 of the batch has no masked position/,
      );
      const classifier = Bert.random(tinyConfig(), SEQUENCE_CLASSIFICATION, 0);
      expect(await fail({ ...options(), model: classifier })).to.match(/no masked-LM head/);
      classifier.dispose();
      const weights = randomWeights(config, MASKED_LM, 11);
      weights.get('bert.encoder.layer.0.output.dense.weight')!.data[5] = NaN;
      const broken = Bert.fromWeights(config, MASKED_LM, weights);
      expect(await fail({ ...options(), model: broken })).to.match(/the masked-LM loss of sample 0 is NaN/);
      broken.dispose();
    });
  });

  describe('splitting the pass over processes', () => {
    /** Expects `shards` to be contiguous runs of whole batches of `b` covering samples 0 to n − 1 once. */
    const expectCover = (shards: Array<[number, number]>, n: number, b: number) => {
      expect(shards[0][0]).to.equal(0);
      expect(shards[shards.length - 1][1]).to.equal(n);
      shards.forEach(([from, to], k) => {
        expect(from % b, `shard ${k} starts on a batch`).to.equal(0);
        expect(to).to.be.above(from);
        if (k > 0) expect(from).to.equal(shards[k - 1][1]);
      });
    };

    it('shards are contiguous whole batches covering every sample once, as even as batches allow', () => {
      expect(fisherShards(9, 2, 2)).to.deep.equal([
        [0, 6],
        [6, 9],
      ]);
      expect(fisherShards(512, 16, 2)).to.deep.equal([
        [0, 256],
        [256, 512],
      ]);
      expect(fisherShards(5, 4, 3)).to.deep.equal([
        [0, 4],
        [4, 5],
      ]);
      for (const [n, b, j] of [
        [1000, 16, 3],
        [17, 1, 4],
        [33, 8, 2],
      ]) {
        const shards = fisherShards(n, b, j);
        expectCover(shards, n, b);
      }
      expect(() => fisherShards(10, 2, 0)).to.throw(/--jobs must be a positive integer \(got 0\)/);
    });

    it('the first shard, computed by the parent, gets `lead` batches more than an even share, leaving the others one each', () => {
      // 8 batches over 2: 5 and 3
      expect(fisherShards(128, 16, 2, 1)).to.deep.equal([
        [0, 80],
        [80, 128],
      ]);
      // 10 batches over 3: 4, then 3 and 3
      expect(fisherShards(40, 4, 3, 1)).to.deep.equal([
        [0, 16],
        [16, 28],
        [28, 40],
      ]);
      // a lead larger than the batches allow still leaves each other shard one batch
      expect(fisherShards(3, 1, 3, 5)).to.deep.equal([
        [0, 1],
        [1, 2],
        [2, 3],
      ]);
      // lead 0 is the even split
      expect(fisherShards(512, 16, 2, 0)).to.deep.equal(fisherShards(512, 16, 2));
      for (const [n, b, j, lead] of [
        [1000, 16, 3, 1],
        [17, 1, 4, 2],
        [33, 8, 2, 1],
        [9, 2, 2, 3],
      ]) {
        const shards = fisherShards(n, b, j, lead);
        const batches = shards.map(([from, to]) => Math.ceil((to - from) / b));
        expectCover(shards, n, b);
        const rest = batches.slice(1);
        expect(Math.max(...rest) - Math.min(...rest), `${[n, b, j, lead]}: the others even`).to.be.at.most(1);
        expect(batches[0], `${[n, b, j, lead]}: the first leads`).to.be.at.least(Math.max(...rest));
      }
    });

    it('the default gives each process at least MIN_SHARD_SAMPLES, up to one per core', () => {
      expect(defaultFisherJobs(MIN_SHARD_SAMPLES * 2 - 1, 2)).to.equal(1);
      expect(defaultFisherJobs(MIN_SHARD_SAMPLES * 2, 2)).to.equal(2);
      expect(defaultFisherJobs(MIN_SHARD_SAMPLES * 100, 2)).to.equal(2);
      expect(defaultFisherJobs(MIN_SHARD_SAMPLES * 3, 8)).to.equal(3);
      expect(defaultFisherJobs(5, 8)).to.equal(1);
    });

    it('the process count is at most one per batch, and --jobs must be a positive integer', () => {
      expect(fisherJobs(10, 4, 8)).to.equal(3);
      expect(fisherJobs(MIN_SHARD_SAMPLES * 4, 16)).to.equal(defaultFisherJobs(MIN_SHARD_SAMPLES * 4));
      expect(fisherJobs(0, 16)).to.equal(1);
      expect(() => fisherJobs(10, 2, 0)).to.throw(/--jobs must be a positive integer \(got 0\)/);
      expect(() => fisherJobs(10, 2, 1.5)).to.throw(/--jobs must be a positive integer \(got 1.5\)/);
    });
  });

  describe('the fisher command', () => {
    /** A tiny masked-LM folder and a corpus of 12 documents in `dir`; the fisher arguments over 9 samples of it, in batches of 4. */
    function corpusAndModel(): (out: string) => string[] {
      const sentences = [
        'The cat sat on the mat.',
        'A dog ran in the park.',
        'The bird sang a song in the morning.',
        'Children play games after school.',
        'The river runs to the sea.',
      ];
      fs.writeFileSync(
        path.join(dir, 'corpus.txt'),
        Array.from({ length: 12 }, (_, d) =>
          Array.from({ length: 4 }, (_, s) => sentences[(d + s) % 5]).join(' '),
        ).join('\n\n') + '\n',
      );
      const tokens = trainWordPiece(sentences, { vocabSize: 200, minFrequency: 1 });
      const vocabFile = path.join(dir, 'vocab.txt');
      writeVocab(vocabFile, tokens);
      const cfg = tinyConfig({
        vocab_size: tokens.length,
        max_position_embeddings: 16,
        pad_token_id: tokens.indexOf('[PAD]'),
      });
      const m = Bert.fromWeights(cfg, MASKED_LM, randomWeights(cfg, MASKED_LM, 5));
      const modelDir = path.join(dir, 'model');
      saveBert(modelDir, m, { vocabFile });
      m.dispose();
      const args = (out: string) => [
        '--model',
        modelDir,
        '--corpus',
        path.join(dir, 'corpus.txt'),
        '--max-length',
        '16',
        '--samples',
        '9',
        '--seed',
        '3',
        '--batch-size',
        '4',
        '--output',
        path.join(dir, out),
      ];
      return args;
    }

    it('on corpus samples: resumable (--stop-after), metadata, the same file as an uninterrupted run', () => {
      const args = corpusAndModel();
      const modelDir = path.join(dir, 'model');
      const whole = run(args('whole.safetensors'));
      expect(whole.status, whole.stderr).to.equal(0);
      const part = run([...args('parts.safetensors'), '--stop-after', '4']);
      expect(part.status, part.stderr).to.equal(0);
      expect(part.stderr).to.match(/stopped after 4 of 9 samples/);
      expect(fs.existsSync(path.join(dir, 'parts.safetensors'))).to.equal(false);
      const rest = run(args('parts.safetensors'));
      expect(rest.status, rest.stderr).to.equal(0);
      expect(rest.stderr).to.match(/resuming after 4 of 9 samples/);
      const a = readFisher(path.join(dir, 'whole.safetensors'));
      const b = readFisher(path.join(dir, 'parts.safetensors'));
      for (const [name, t] of a.tensors)
        expect(Buffer.from(b.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).to.equal(true);
      expect(a.metadata).to.include({
        samples: '9',
        seed: '3',
        masking_rate: '0.15',
        max_length: '16',
        mode: 'eval',
        batch_size: '4',
        selection: 'samples 9',
      });
      expect(a.metadata.corpus).to.equal(path.join(dir, 'corpus.txt'));
      expect(a.metadata.model).to.equal(modelDir);
    });

    it('--jobs 2 sums the first shard here and the other in a child: within 1 float32 ulp of one process, resumable to the same bits, and refuses another split on resume', () => {
      const base = corpusAndModel();
      // 9 samples in batches of 2: shards of 6 and 3 samples (the first's lead of a batch rounds to the even split)
      const args = (out: string, jobs: number) => [...base(out), '--batch-size', '2', '--jobs', String(jobs)];
      const one = run(args('one.safetensors', 1));
      expect(one.status, one.stderr).to.equal(0);
      const two = run(args('two.safetensors', 2));
      expect(two.status, two.stderr).to.equal(0);
      expect(two.stderr).to.match(/9 samples over 2 processes \(samples 0–5, 6–8; the first in this one\)/);
      const part = run([...args('split.safetensors', 2), '--stop-after', '4']);
      expect(part.status, part.stderr).to.equal(0);
      expect(part.stderr).to.match(/stopped after 6 of 9 samples/);
      const runDir = fs
        .readdirSync(path.join(dir, 'out', 'fisher'))
        .filter((d) => d.startsWith('split-'))
        .map((d) => path.join(dir, 'out', 'fisher', d))[0];
      const settingsFile = path.join(runDir, 'settings.json');
      const saved = JSON.parse(fs.readFileSync(settingsFile, 'utf8')) as Record<string, unknown>;
      expect(saved).to.include({ jobs: 2, shards: '0–5, 6–8' });
      const other = run(args('split.safetensors', 3));
      expect(other.status).to.not.equal(0);
      expect(other.stderr).to.match(/holds a Fisher run with other settings \(.*jobs: 2 → 3/);
      // 5 batches over 3, the first leading: 2, 2 and 1
      expect(other.stderr).to.match(/other settings \(.*shards: "0–5, 6–8" → "0–3, 4–7, 8–8"/);
      fs.writeFileSync(settingsFile, JSON.stringify({ ...saved, shards: '0–3, 4–8' }));
      const moved = run(args('split.safetensors', 2));
      expect(moved.status).to.not.equal(0);
      expect(moved.stderr).to.match(/other settings \(shards: "0–3, 4–8" → "0–5, 6–8"\)/);
      // a folder from before the shards were recorded split evenly, as this run does: it resumes
      delete saved.shards;
      fs.writeFileSync(settingsFile, JSON.stringify(saved));
      const rest = run(args('split.safetensors', 2));
      expect(rest.status, rest.stderr).to.equal(0);
      expect(rest.stderr).to.match(/\[samples 0–5\] fisher: resuming after 4 of 6 samples/);
      expect(rest.stderr).to.match(/\[samples 6–8\] fisher: resuming after 2 of 3 samples/);
      const [a, b, c] = ['one', 'two', 'split'].map((f) => readFisher(path.join(dir, `${f}.safetensors`)));
      expect([a.metadata.processes, b.metadata.processes]).to.deep.equal(['1', '2']);
      for (const [name, t] of b.tensors) {
        expect(Buffer.from(c.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).to.equal(true);
        const want = a.tensors.get(name)!.data;
        t.data.forEach((x, i) => expect(Math.abs(x - want[i]), `${name}[${i}]`).to.be.at.most(want[i] * 2 ** -23));
      }
    });

    it('--jobs 2 stopped once this process has finished its shard keeps that shard, and resumes to the bits of an uninterrupted run', async () => {
      const base = corpusAndModel();
      const args = (out: string) => [...base(out), '--batch-size', '2', '--jobs', '2'];
      const whole = run(args('uncut.safetensors'));
      expect(whole.status, whole.stderr).to.equal(0);
      // Ctrl-C as soon as this process reports its shard (samples 0–5) done: the child is still starting (about 0.7 s)
      const child = spawn(process.execPath, [CLI, 'fisher', ...args('cut.safetensors')], {
        env: { ...process.env, FISHERLAB_ROOT: ROOT, FISHERLAB_OUT: path.join(dir, 'out') },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        if (/\[samples 0–5\] fisher: 6\/6 samples/.test(stderr) && !child.killed) child.kill('SIGINT');
      });
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, stderr).to.equal(0);
      expect(stderr).to.match(/stopped after [68] of 9 samples/);
      const rest = run(args('cut.safetensors'));
      expect(rest.status, rest.stderr).to.equal(0);
      expect(rest.stderr, 'the first shard is not computed again').to.not.match(
        /\[samples 0–5\] fisher: \d+\/6 samples/,
      );
      const [a, b] = ['uncut', 'cut'].map((f) => readFisher(path.join(dir, `${f}.safetensors`)));
      for (const [name, t] of a.tensors)
        expect(Buffer.from(b.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).to.equal(true);
    });

    it('`fisherlab fisher --fraction 0.01 --seed 1` and onePercentFisher write the same metadata, from the pretrain report', async () => {
      const words = ['river', 'stone', 'light', 'green', 'house', 'water', 'small', 'field'];
      const corpus = path.join(dir, 'one-percent-corpus.txt');
      const docs = Array.from({ length: 30 }, (_, d) =>
        Array.from({ length: 3 }, (_, s) => `The ${words[(d + s) % 8]} is ${words[(d * 3 + s) % 8]}.`).join(' '),
      );
      fs.writeFileSync(corpus, docs.join('\n\n') + '\n');
      const tokens = trainWordPiece(docs, { vocabSize: 200, minFrequency: 1 });
      const vocabFile = path.join(dir, 'one-percent-vocab.txt');
      writeVocab(vocabFile, tokens);
      const cfg = tinyConfig({ vocab_size: tokens.length, pad_token_id: tokens.indexOf('[PAD]') });
      const m = Bert.fromWeights(cfg, MASKED_LM, randomWeights(cfg, MASKED_LM, 8));
      const modelDir = path.join(dir, 'one-percent-model');
      saveBert(modelDir, m, { vocabFile });
      m.dispose();
      // Settings other than `fisherlab pretrain`'s defaults, so the recipe must come from the report.
      const settings = { corpus, heldOutFraction: 0.1, seed: 4, maxLength: 12 };
      fs.writeFileSync(path.join(modelDir, 'pretrain-report.json'), JSON.stringify({ settings }));
      const output = path.join(dir, 'cli-1pct.safetensors');
      const r = run(['--model', modelDir, '--fraction', '0.01', '--seed', '1', '--output', output]);
      expect(r.status, r.stderr).to.equal(0);
      const before = process.env.FISHERLAB_OUT;
      process.env.FISHERLAB_OUT = path.join(dir, 'out');
      let file: string;
      try {
        file = await onePercentFisher(modelDir);
      } finally {
        if (before === undefined) delete process.env.FISHERLAB_OUT;
        else process.env.FISHERLAB_OUT = before;
      }
      expect(file).to.equal(path.join(dir, 'out', 'fisher', 'one-percent-model-1pct.safetensors'));
      const cli = readFisher(output, { model: modelDir }).metadata;
      const lib = readFisher(file, { model: modelDir }).metadata;
      expect(Object.keys(lib).sort()).to.deep.equal(Object.keys(cli).sort());
      expect({ ...lib, backend: '' }).to.deep.equal({ ...cli, backend: '' });
      expect(cli).to.include({
        corpus,
        held_out_fraction: '0.1',
        split_seed: '4',
        max_length: '12',
        selection: 'fraction 0.01',
        seed: '1',
        batch_size: '16',
        recipe: path.join(modelDir, 'pretrain-report.json'),
      });
    });

    it('rejects an empty examples file, a model without an MLM head and a missing sample size, with clear messages', () => {
      const empty = path.join(dir, 'empty.jsonl');
      fs.writeFileSync(empty, '\n');
      const modelDir = path.join(dir, 'tiny-mlm');
      const m = Bert.fromWeights(config, MASKED_LM, randomWeights(config, MASKED_LM, 1));
      saveBert(modelDir, m, {
        vocabTokens: Array.from({ length: 40 }, (_, i) =>
          i < 5 ? ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'][i] : `t${i}`,
        ),
      });
      m.dispose();
      const r1 = run(['--model', modelDir, '--examples', empty, '--output', path.join(dir, 'x.safetensors')]);
      expect(r1.status).to.equal(1);
      expect(r1.stderr).to.include(`${empty}: no examples`);
      const clsDir = path.join(dir, 'classifier');
      const c = Bert.random(tinyConfig(), SEQUENCE_CLASSIFICATION, 0);
      saveBert(clsDir, c, { vocabTokens: Array.from({ length: 50 }, (_, i) => `t${i}`) });
      c.dispose();
      writeMaskedExamples(path.join(dir, 'ok.jsonl'), EXAMPLES);
      const r2 = run([
        '--model',
        clsDir,
        '--examples',
        path.join(dir, 'ok.jsonl'),
        '--output',
        path.join(dir, 'x.safetensors'),
      ]);
      expect(r2.status).to.equal(1);
      expect(r2.stderr).to.include(
        `${clsDir}: fisher needs a masked-LM head (a BertForMaskedLM or BertForPreTraining folder), but the checkpoint lacks cls.predictions.bias, `,
      );
      const r3 = run(['--model', modelDir, '--output', path.join(dir, 'x.safetensors')]);
      expect(r3.stderr).to.include('give exactly one of --samples, --fraction and --examples');
    });
  });

  describe("a model's pretraining recipe", () => {
    it("comes from the folder's pretrain report, completed as pretrain completes settings, else pretrain's defaults", () => {
      const hf = path.join(dir, 'recipe-hf');
      fs.mkdirSync(hf, { recursive: true });
      const defaults = {
        corpus: 'brown,sotu',
        heldOutFraction: 0.05,
        splitSeed: 0,
        maxLength: 128,
        source: 'defaults',
      };
      const recipe = pretrainingRecipe(hf);
      expect(recipe).to.deep.equal(defaults);
      recipe.corpus = 'changed by a caller';
      expect(pretrainingRecipe(hf)).to.deep.equal(defaults);
      const pretrained = path.join(dir, 'recipe-run');
      fs.mkdirSync(pretrained, { recursive: true });
      const report = path.join(pretrained, 'pretrain-report.json');
      fs.writeFileSync(report, JSON.stringify({ settings: { corpus: 'sotu', heldOutFraction: 0.1, seed: 7 } }));
      expect(pretrainingRecipe(pretrained)).to.deep.equal({
        corpus: 'sotu',
        heldOutFraction: 0.1,
        splitSeed: 7,
        maxLength: 128,
        source: report,
      });
      fs.writeFileSync(report, JSON.stringify({ settings: { corpus: 'sotu', maxLength: '64' } }));
      expect(errorOf(() => pretrainingRecipe(pretrained))).to.equal(
        `${report}: "settings" lacks corpus, heldOutFraction, seed or maxLength`,
      );
      fs.writeFileSync(report, JSON.stringify({ steps: 3 }));
      expect(errorOf(() => pretrainingRecipe(pretrained))).to.equal(
        `${report}: "settings" lacks corpus, heldOutFraction, seed or maxLength`,
      );
    });
  });

  describe("a model's pretraining corpus, read again", () => {
    const words = ['One two three.', 'Four five.', 'Six.', 'Seven eight nine ten.']; // 4 documents, 10 words
    const stats = (documents: number, sentences: number, w: number) => ({
      documents,
      sentences,
      words: w,
      characters: 0,
    });
    /** A model folder whose report names `corpus`, no held-out split, and the given training-split counts. */
    const reportFolder = (name: string, corpus: string, train: ReturnType<typeof stats>) => {
      const folder = path.join(dir, name);
      fs.mkdirSync(folder, { recursive: true });
      const settings = { corpus, heldOutFraction: 0, seed: 3, maxLength: 16 };
      const corpusStats = { train, heldOut: stats(0, 0, 0) };
      fs.writeFileSync(path.join(folder, 'pretrain-report.json'), JSON.stringify({ settings, corpus: corpusStats }));
      return folder;
    };
    let texts = ''; // a folder of the four documents, made once the suite's temporary folder exists
    before(() => {
      texts = path.join(dir, 'recipe-texts');
      fs.mkdirSync(texts, { recursive: true });
      words.forEach((t, i) => fs.writeFileSync(path.join(texts, `${i}.txt`), t));
    });

    it('packs the training split when it has the counts the report gives', () => {
      const recipe = pretrainingRecipe(reportFolder('corpus-same', texts, stats(4, 4, 10)));
      expect(recipe.stats!.train.words).to.equal(10);
      const tokenizer = loadTokenizer(defaultModelDir());
      const ids = (t: string) => tokenizer.tokenize(t).map((w) => tokenizer.tokenToId(w));
      // each document is shorter than maxLength, so one sequence each, in file order
      expect(recipeSequences(tokenizer, recipe, 'train')).to.deep.equal(
        words.map((t) => [tokenizer.clsId, ...ids(t), tokenizer.sepId]),
      );
    });

    it('refuses a corpus whose counts differ from the report, naming both', () => {
      const folder = reportFolder('corpus-changed', texts, stats(4, 4, 11));
      const report = path.join(folder, 'pretrain-report.json');
      expect(
        errorOf(() => recipeSequences(loadTokenizer(defaultModelDir()), pretrainingRecipe(folder), 'train')),
      ).to.equal(
        `${report}: the training split of ${texts} loaded here has 4 documents, 4 sentences, 10 words; the model was pretrained on 4 documents, 4 sentences, 11 words (different source files, e.g. another copy of the GLUE tasks?)`,
      );
    });

    it("reads another corpus given in place of the report's without its counts, and keeps them for the same one", () => {
      const tokenizer = loadTokenizer(defaultModelDir());
      const changed = pretrainingRecipe(reportFolder('corpus-override', texts, stats(4, 4, 11)));
      const one = path.join(texts, '0.txt');
      const ids = tokenizer.tokenize(words[0]).map((w) => tokenizer.tokenToId(w));
      expect(recipeSequences(tokenizer, overrideRecipe(changed, { corpus: one }), 'train')).to.deep.equal([
        [tokenizer.clsId, ...ids, tokenizer.sepId],
      ]);
      expect(
        errorOf(() => recipeSequences(tokenizer, overrideRecipe(changed, { corpus: texts, maxLength: 8 }), 'train')),
      ).to.contain(
        'loaded here has 4 documents, 4 sentences, 10 words; the model was pretrained on 4 documents, 4 sentences, 11 words',
      );
      expect(changed.stats!.train.words).to.equal(11);
    });

    it('refuses a corpus that is not on this machine, saying what to get', () => {
      const folder = reportFolder('corpus-glue', 'brown,glue-train', stats(1, 1, 1));
      const report = path.join(folder, 'pretrain-report.json');
      const saved = process.env.FISHERLAB_DATA;
      process.env.FISHERLAB_DATA = path.join(dir, 'no-data-here');
      try {
        expect(
          errorOf(() => recipeSequences(loadTokenizer(defaultModelDir()), pretrainingRecipe(folder), 'train')),
        ).to.equal(
          `${report}: this needs the model's pretraining corpus (brown,glue-train), and glue-train needs the GLUE tasks (set FISHERLAB_DATA to a folder holding glue/, or get them with \`npx fisherlab glue-download\`)`,
        );
      } finally {
        if (saved === undefined) delete process.env.FISHERLAB_DATA;
        else process.env.FISHERLAB_DATA = saved;
      }
      const gone = reportFolder('corpus-gone', path.join(dir, 'gone.txt'), stats(1, 1, 1));
      expect(
        errorOf(() => recipeSequences(loadTokenizer(defaultModelDir()), pretrainingRecipe(gone), 'train')),
      ).to.equal(
        `${path.join(gone, 'pretrain-report.json')}: this needs the model's pretraining corpus (${path.join(dir, 'gone.txt')}), and ${path.join(dir, 'gone.txt')}: no such file or folder`,
      );
    });
  });

  describe('against Hugging Face transformers + PyTorch (float64)', () => {
    it('`fisherlab fisher --examples` equals hf_transformers.py per-sample-fisher within 1e-4 relative per tensor', function () {
      if (!fs.existsSync(VENV_PYTHON)) {
        console.warn('    skipped: no .venv-hf/bin/python (run scripts/hf-venv.sh to create it)');
        this.skip();
      }
      const modelDir = path.join(dir, 'hf-mlm');
      const examples = path.join(dir, 'hf-examples.jsonl');
      // vocabulary 60 and 32 positions in make-checkpoint's defaults: shift the ids so that they span the vocabulary.
      writeMaskedExamples(
        examples,
        EXAMPLES.map((e) => ({
          ...e,
          input_ids: e.input_ids.map((id) => (id < 5 ? id : id + 20)),
          labels: e.labels.map((y) => (y < 0 ? y : y + 20)),
        })),
      );
      const reference = path.join(dir, 'fisher-hf.safetensors');
      const jobs = [
        ['make-checkpoint', '--out', modelDir, '--seed', '7'],
        ['per-sample-fisher', '--model', modelDir, '--examples', examples, '--output', reference],
      ];
      fs.writeFileSync(path.join(dir, 'jobs.json'), JSON.stringify(jobs));
      const py = spawnSync(VENV_PYTHON, [HF_SCRIPT, 'batch', '--jobs', path.join(dir, 'jobs.json')], {
        encoding: 'utf8',
      });
      if (py.status !== 0 && /No module named/.test(py.stderr)) {
        console.warn(`    skipped: .venv-hf cannot import a module (${/No module named '[^']+'/.exec(py.stderr)![0]})`);
        this.skip();
      }
      expect(py.status, py.stderr).to.equal(0);
      const output = path.join(dir, 'fisher-ours.safetensors');
      const r = run(['--model', modelDir, '--examples', examples, '--batch-size', '3', '--output', output]);
      expect(r.status, r.stderr).to.equal(0);
      const ours = readFisher(output);
      const want = readSafetensors(reference);
      expect(ours.metadata.examples).to.equal(examples);
      expect(want.metadata.examples).to.equal(String(EXAMPLES.length));
      const order = [...ours.tensors.keys()];
      const { bad, worst } = compareFisher(
        dataOf(ours.tensors),
        new Map(order.map((n) => [n, want.tensors.get(n)!.data])),
        1e-4,
        1e-10,
      );
      console.log(`      (largest relative difference ${worst[0].toExponential(2)}, ${worst[1]})`);
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });
  });
});
