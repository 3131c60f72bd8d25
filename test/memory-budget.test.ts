/**
 * Working in a memory budget: the model of a step's memory against tf.profile's measured peaks, micro-batches that
 * leave the Fisher sums bitwise unchanged, gradient accumulation against the unsplit step, the error when nothing
 * fits, and flat tensor counts over many steps of a multi-layer model.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { saveBert } from '../lib/bert/load';
import { BERT_BASE, BertConfig } from '../lib/bert/config';
import { Bert } from '../lib/bert/model';
import { MASKED_LM, parameterSpecs, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { estimateFisher } from '../lib/fisher/estimate';
import { sweep } from '../lib/landscape/surface';
import {
  bytesNeeded,
  memoryLimit,
  microBatchSize,
  optimizerBytes,
  parseBytes,
  StepKind,
  stepBytes,
  trainSplit,
  WASM_HEAP_BYTES,
  WASM_SAFETY,
} from '../lib/train/memory-budget';
import { addGradients, batchPart } from '../lib/train/micro-batches';
import { collate, IGNORE_INDEX, MaskedExample, writeMaskedExamples } from '../lib/pretrain/mlm-data';
import { evaluateMlm } from '../lib/pretrain/mlm-eval';
import { AdamW } from '../lib/train/optim';
import { squaredGradSums, squaredGradSumsInParts } from '../lib/fisher/per-sample-grads';
import { Rng } from '../lib/util/random';
import { train } from '../lib/train/loop';
import { rejection, setupBackend, tinyConfig } from './helpers';

const quiet = () => {};

/** `n` masked examples of length `T` (every other one shorter and padded), with 1–3 masked positions each. */
function examples(n: number, T: number, vocab: number, seed = 1): Array<MaskedExample & { attention_mask: number[] }> {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const length = i % 2 ? T : T - 2;
    const ids = Array.from({ length: T }, (_, t) => (t < length ? 5 + rng.int(vocab - 5) : 0));
    const labels = ids.map((y, t) => (t > 0 && t < length && (t % 4 === i % 4 || t === 1) ? y : IGNORE_INDEX));
    return { input_ids: ids, labels, attention_mask: ids.map((_, t) => (t < length ? 1 : 0)) };
  });
}

/** Runs `f` with $FISHERLAB_MEMORY_BUDGET set to `bytes`, restoring it after. */
async function withBudget<T>(bytes: number, f: () => Promise<T> | T): Promise<T> {
  const before = process.env.FISHERLAB_MEMORY_BUDGET;
  process.env.FISHERLAB_MEMORY_BUDGET = String(Math.floor(bytes));
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.FISHERLAB_MEMORY_BUDGET;
    else process.env.FISHERLAB_MEMORY_BUDGET = before;
  }
}

/** A budget under which `microBatchSize` picks micro-batches of `size` sequences for this step, with what is held now. */
function budgetFor(
  size: number,
  s: { config: BertConfig; kind: StepKind; seqLen: number; maskedPerSequence: number },
): number {
  return bytesNeeded({ ...s, batch: size + 0.5 }, tf.memory().numBytes);
}

describe('memory budget', () => {
  before(async () => {
    await setupBackend();
  });

  describe('the model of a step', () => {
    const shapes = [
      {
        hidden_size: 32,
        num_attention_heads: 2,
        intermediate_size: 128,
        num_hidden_layers: 2,
        vocab_size: 500,
        T: 32,
        B: 4,
      },
      {
        hidden_size: 64,
        num_attention_heads: 4,
        intermediate_size: 256,
        num_hidden_layers: 3,
        vocab_size: 300,
        T: 24,
        B: 3,
      },
      {
        hidden_size: 48,
        num_attention_heads: 4,
        intermediate_size: 96,
        num_hidden_layers: 1,
        vocab_size: 2000,
        T: 16,
        B: 5,
      },
    ];
    for (const { T, B, ...dims } of shapes) {
      it(`lies above tf.profile's measured peak and within 3× of it (hidden ${dims.hidden_size}, ${dims.num_hidden_layers} layers, vocabulary ${dims.vocab_size}, ${B} × ${T})`, async () => {
        const config = tinyConfig({ ...dims, max_position_embeddings: T });
        const model = Bert.random(config, MASKED_LM, 1);
        const data = examples(B, T, dims.vocab_size);
        const { batch, labels } = collate(data, 0);
        const masked = Math.max(...data.map((e) => e.labels.filter((y) => y !== IGNORE_INDEX).length));
        const optimizer = new AdamW(model.namedParameters());
        const params = model.namedParameters().map(([, v]) => v);
        const steps: Record<StepKind, () => void> = {
          eval: () => tf.tidy(() => void model.maskedLmLoss(batch, labels).dataSync()),
          train: () => {
            const { value, grads } = tf.variableGrads(
              () => model.maskedLmLoss(batch, labels, { training: true, seed: 1 }),
              params,
            );
            optimizer.step(new Map(model.namedParameters().map(([name, v]) => [name, grads[v.name]])), 1e-3);
            tf.dispose([value, ...Object.values(grads)]);
          },
          fisher: () => tf.dispose([...squaredGradSums(model, batch, labels).sums.values()]),
        };
        const checkpointed = () => {
          const { value, grads } = tf.variableGrads(
            () => model.maskedLmLoss(batch, labels, { training: true, seed: 1, checkpoint: true }),
            params,
          );
          optimizer.step(new Map(model.namedParameters().map(([name, v]) => [name, grads[v.name]])), 1e-3);
          tf.dispose([value, ...Object.values(grads)]);
        };
        try {
          for (const [kind, checkpoint] of [
            ['eval', false],
            ['train', false],
            ['train', true],
            ['fisher', false],
          ] as const) {
            const base = tf.memory().numBytes;
            const measured = (await tf.profile(checkpoint ? checkpointed : steps[kind])).peakBytes - base;
            const shape = { config, kind, seqLen: T, maskedPerSequence: masked, checkpoint };
            const { fixed, perSequence } = stepBytes(shape);
            const modelled = fixed + B * perSequence;
            expect(
              modelled,
              `${kind}${checkpoint ? ' (checkpointed)' : ''}: modelled ${modelled} bytes, measured ${measured}`,
            )
              .to.be.at.least(measured)
              .and.at.most(3 * measured);
          }
        } finally {
          optimizer.dispose();
          model.dispose();
        }
      });
    }

    it('grows with every term the issue names: batch, sequence length, heads (T × T scores), intermediate, vocabulary at masked positions', () => {
      const config = tinyConfig({ num_hidden_layers: 3 });
      const at = (o: Partial<BertConfig>, T = 16, m = 2, kind: StepKind = 'train') => {
        const { fixed, perSequence } = stepBytes({
          config: { ...config, ...o },
          kind,
          seqLen: T,
          maskedPerSequence: m,
        });
        return fixed + 4 * perSequence;
      };
      const base = at({});
      expect(at({}, 32)).to.be.above(2 * base - at({}, 0, 0));
      expect(at({ num_attention_heads: 4 })).to.be.above(base);
      expect(at({ intermediate_size: 64 })).to.be.above(base);
      expect(at({}, 16, 4)).to.be.above(base);
      expect(at({ num_hidden_layers: 6 })).to.be.above(base);
      for (const kind of ['eval', 'fisher'] as const) expect(at({}, 16, 2, kind)).to.be.above(0);
    });
  });

  describe('the split', () => {
    it('picks the largest micro-batch that fits, the whole batch when it fits, and names the model, batch, length, backend and flags when none does', async () => {
      const config = tinyConfig();
      const s = { config, kind: 'train' as const, batch: 32, seqLen: 16, maskedPerSequence: 0 };
      expect(await withBudget(budgetFor(5, s), () => microBatchSize(s, { batchFlag: '--batch-size' }))).to.equal(5);
      expect(await withBudget(budgetFor(1000, s), () => microBatchSize(s, { batchFlag: '--batch-size' }))).to.equal(32);
      const message = await withBudget(1e5, () =>
        rejection(Promise.resolve().then(() => microBatchSize(s, { batchFlag: '--batch-size' }))),
      );
      for (const part of [
        '2 layers',
        'hidden 16',
        'batch 32',
        '16 tokens',
        tf.getBackend(),
        '--max-length',
        '--memory-budget',
        'FISHERLAB_MEMORY_BUDGET',
        '--batch-size',
      ]) {
        expect(message).to.include(part);
      }
    });

    it("at bert-base-uncased's shape on wasm, RTE's 253 tokens train only with gradient checkpointing, which 128 tokens do not need", async () => {
      const P = parameterSpecs(BERT_BASE, SEQUENCE_CLASSIFICATION).reduce(
        (n, p) => n + p.shape.reduce((a, b) => a * b, 1),
        0,
      );
      const o = { batchFlag: '--batch-size', allocated: 4 * P, reserved: 0, backend: 'wasm' };
      const at = (seqLen: number) => ({
        config: BERT_BASE,
        kind: 'train' as const,
        batch: 32,
        seqLen,
        maskedPerSequence: 0,
      });
      await withBudget(WASM_HEAP_BYTES * 2, async () => {
        expect(() => microBatchSize(at(253), o)).to.throw(
          /needs about .* even for 1 sequence of 253 tokens \(batch 32/,
        );
        const long = trainSplit(at(253), o);
        expect(long.checkpoint).to.equal(true);
        expect(long.size).to.be.at.least(1);
        expect(long.size).to.equal(microBatchSize({ ...at(253), checkpoint: true }, o));
        expect(trainSplit(at(128), o)).to.deep.equal({ size: microBatchSize(at(128), o), checkpoint: false });
        // where even checkpointing leaves nothing, the error says it was tried
        expect(() => trainSplit(at(253), { ...o, allocated: 3.5 * 2 ** 30 })).to.throw(
          /even for 1 sequence of 253 tokens with gradient checkpointing/,
        );
      });
    });

    it("at bert-base-uncased's shape, wasm lets one 128-token training sequence through with AdamW's moments on the host, none with them on the device", async () => {
      // the classifier's parameters as the model holds them: the weights, and AdamW's two moments of each
      const P = parameterSpecs(BERT_BASE, SEQUENCE_CLASSIFICATION).reduce(
        (n, p) => n + p.shape.reduce((a, b) => a * b, 1),
        0,
      );
      expect(P).to.be.within(109e6, 110e6);
      const weights = 4 * P;
      expect(optimizerBytes(BERT_BASE, 'host')).to.equal(0);
      expect(optimizerBytes(BERT_BASE, 'device') / (8 * P)).to.be.within(0.999, 1.001);
      const s = { config: BERT_BASE, kind: 'train' as const, batch: 32, seqLen: 128, maskedPerSequence: 0 };
      const { fixed, perSequence } = stepBytes(s, 'host');
      // the model's terms at this shape (docs/memory.md): about 1.2 GiB whatever the batch, 1.0 GiB a sequence
      expect(fixed / 2 ** 30).to.be.within(1.1, 1.25);
      expect(perSequence / 2 ** 30).to.be.within(0.95, 1.1);
      /** Sequences that fit in wasm's heap with `held` bytes held: WASM_SAFETY × (held + fixed + n × perSequence) ≤ heap. */
      const fits = (held: number) => Math.floor((WASM_HEAP_BYTES / WASM_SAFETY - held - fixed) / perSequence);
      expect([fits(weights), fits(weights + 8 * P)]).to.deep.equal([1, 0]);
      const split = (placement: 'host' | 'device') =>
        microBatchSize(s, {
          batchFlag: '--batch-size',
          allocated: weights,
          reserved: optimizerBytes(BERT_BASE, placement),
          backend: 'wasm',
        });
      // a budget above the heap: the limit is wasm's own
      await withBudget(WASM_HEAP_BYTES * 2, async () => {
        expect(split('host')).to.equal(fits(weights));
        expect(() => split('device')).to.throw(/a train step of this model \(12 layers, hidden 768, 110M parameters\)/);
      });
    });

    it('the CLI: --memory-budget reaches the step, and a step that cannot fit is refused by name, not by wasm', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-memory-'));
      const model = Bert.random(tinyConfig(), MASKED_LM, 1);
      saveBert(path.join(dir, 'model'), model, { vocabTokens: Array.from({ length: 50 }, (_, i) => `t${i}`) });
      model.dispose();
      writeMaskedExamples(path.join(dir, 'ex.jsonl'), examples(4, 12, 50));
      const run = (budget: string) =>
        spawnSync(
          process.execPath,
          [
            path.join(process.cwd(), 'bin', 'fisherlab.js'),
            'fisher',
            '--model',
            path.join(dir, 'model'),
            '--examples',
            path.join(dir, 'ex.jsonl'),
            '--output',
            path.join(dir, 'f.safetensors'),
            '--run-dir',
            path.join(dir, `run-${budget}`),
            '--memory-budget',
            budget,
          ],
          { encoding: 'utf8', env: { ...process.env, FISHERLAB_BACKEND: 'wasm' } },
        );
      const tooSmall = run('200KB');
      expect(tooSmall.status).to.equal(1);
      expect(tooSmall.stderr).to.match(
        /a fisher step of this model \(2 layers, hidden 16, .*\) needs about .* 1 sequence of 12 tokens \(batch 4, .*more than a memory budget of .* on wasm.*--memory-budget/,
      );
      const enough = run('2GiB');
      expect(enough.status, enough.stderr).to.equal(0);
      expect(enough.stdout).to.include('batch 4 in one pass (a memory budget of 2.0 GiB on wasm)');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it("caps a budget at wasm's 4 GiB address space and parses sizes, rejecting nonsense with the flag's name", async () => {
      expect(await withBudget(64 * 2 ** 30, () => memoryLimit('wasm').bytes)).to.equal(WASM_HEAP_BYTES);
      expect(await withBudget(2 ** 30, () => memoryLimit('wasm').bytes)).to.equal(2 ** 30);
      expect(await withBudget(5 * 2 ** 30, () => memoryLimit('tensorflow').bytes)).to.equal(5 * 2 ** 30);
      // without a budget the native default is half the RAM, split over the processes started together
      const before = process.env.FISHERLAB_PROCESSES;
      try {
        delete process.env.FISHERLAB_PROCESSES;
        expect(memoryLimit('tensorflow')).to.deep.include({ bytes: Math.floor(os.totalmem() / 2) });
        process.env.FISHERLAB_PROCESSES = '2';
        const shared = memoryLimit('tensorflow');
        expect(shared.bytes).to.equal(Math.floor(os.totalmem() / 4));
        expect(shared.what).to.match(/\(half the RAM over 2 processes\) on the tensorflow backend/);
        expect(memoryLimit('wasm').bytes).to.equal(WASM_HEAP_BYTES);
      } finally {
        if (before === undefined) delete process.env.FISHERLAB_PROCESSES;
        else process.env.FISHERLAB_PROCESSES = before;
      }
      expect(parseBytes('3GiB', '--memory-budget')).to.equal(3 * 2 ** 30);
      expect(parseBytes('512 MB', '--memory-budget')).to.equal(512e6);
      expect(parseBytes('2000000000', '--memory-budget')).to.equal(2e9);
      expect(() => parseBytes('3 parsecs', '--memory-budget')).to.throw(
        /--memory-budget: "3 parsecs" is not a memory size/,
      );
    });

    it('cuts a batch into contiguous parts weighted by their share, whose parts compose (shard 0 of 2 = shards 0–2 of 6)', () => {
      const items = [1, 2, 3, 4, 5, 6, 7];
      const parts = [0, 1, 2].map((i) => batchPart(items, i, 3));
      expect(parts.flatMap((p) => p.part)).to.deep.equal(items);
      expect(parts.reduce((w, p) => w + p.weight, 0)).to.be.closeTo(1, 1e-12);
      expect([0, 1, 2].flatMap((i) => batchPart(items, i, 6).part)).to.deep.equal(batchPart(items, 0, 2).part);
      expect(batchPart(items, 1, 3, (x) => x).weight).to.be.closeTo(
        items.slice(2, 4).reduce((a, b) => a + b) / 28,
        1e-12,
      );
      expect(batchPart([9], 0, 2)).to.deep.equal({ part: [9], weight: 0 });
    });
  });

  describe('results do not depend on the split', () => {
    const config = tinyConfig({ num_hidden_layers: 3, vocab_size: 60, max_position_embeddings: 12 });

    // On wasm a sample's gradients do not depend on the batch around it, so the sums are bitwise the same under any
    // split; TensorFlow's kernels (oneDNN) round differently for matrices of other sizes, so there they agree to 1e-5.
    const exact = tf.getBackend() === 'wasm';
    /** The first index where two float32 arrays differ (bitwise on wasm, else by more than 1e-5 of the largest magnitude plus 1e-12), or -1. */
    const same = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
      let scale = 0;
      for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
      for (let i = 0; i < a.length; i++)
        if (exact ? !Object.is(a[i], b[i]) : !(Math.abs(a[i] - b[i]) <= 1e-5 * scale + 1e-12)) return i;
      return -1;
    };

    it(`Fisher: per-sample squared gradients summed in micro-batches of 1, 2 and 3 equal the whole batch's sums (${exact ? 'bitwise' : 'to 1e-5'})`, () => {
      const model = Bert.random(config, MASKED_LM, 3);
      const { batch, labels } = collate(examples(7, 12, 60), 0);
      const whole = squaredGradSums(model, batch, labels);
      try {
        for (const size of [1, 2, 3]) {
          const split = squaredGradSumsInParts(model, batch, labels, size);
          expect(same(whole.losses, split.losses), `losses, micro-batches of ${size}`).to.equal(-1);
          for (const [name, t] of whole.sums) {
            const a = t.dataSync();
            const b = split.sums.get(name)!.dataSync();
            const differ = same(a, b);
            expect(differ, `${name}, micro-batches of ${size}: ${a[differ]} vs ${b[differ]}`).to.equal(-1);
          }
          tf.dispose([...split.sums.values()]);
        }
      } finally {
        tf.dispose([...whole.sums.values()]);
        model.dispose();
      }
    });

    it(`Fisher: estimateFisher under a budget that forces micro-batches writes the same Fisher (${exact ? 'bitwise' : 'to 1e-5'}), with flat tensor counts`, async () => {
      const model = Bert.random(config, MASKED_LM, 4);
      const data = examples(9, 12, 60, 2);
      const o = { model, examples: data, padId: 0, batchSize: 4, write: quiet };
      const whole = await estimateFisher(o);
      const before = tf.memory().numTensors;
      const shape = {
        config,
        kind: 'fisher' as const,
        seqLen: 12,
        maskedPerSequence: Math.max(...data.map((e) => e.labels.filter((y) => y !== IGNORE_INDEX).length)),
      };
      const split = await withBudget(budgetFor(1, shape), () => estimateFisher(o));
      expect(tf.memory().numTensors).to.equal(before);
      model.dispose();
      expect([whole.microBatch, split.microBatch]).to.deep.equal([4, 1]);
      expect(same([whole.meanLoss], [split.meanLoss])).to.equal(-1);
      for (const [name, t] of whole.fisher!) expect(same(t.data, split.fisher!.get(name)!.data), name).to.equal(-1);
    });

    /** Weights after `steps` AdamW steps of a classifier with the batch of 6 in `micro` micro-batches (dropout off), and the losses. */
    async function trainClassifier(
      micro: number,
      steps = 3,
    ): Promise<{ weights: Map<string, Float32Array>; losses: number[]; tensors: number[] }> {
      const model = Bert.random(config, SEQUENCE_CLASSIFICATION, 5);
      model.dropout.setAll({ kind: 'none', p: 0 });
      const data = examples(6, 12, 60, 3);
      const labelOf = (i: number) => i % 2;
      const tensors: number[] = [];
      const result = await train({
        model,
        totalSteps: steps,
        lr: 1e-3,
        microBatches: micro,
        write: quiet,
        lossAt: (_step, seed, shard) => {
          const rows = data.map((e, i) => ({ e, y: labelOf(i) }));
          const { part, weight } = batchPart(rows, shard.index, shard.count);
          const batch = {
            input_ids: part.map((r) => r.e.input_ids),
            attention_mask: part.map((r) => r.e.attention_mask),
          };
          return tf.tidy(() =>
            tf.mul(
              model.classificationLoss(
                batch,
                part.map((r) => r.y),
                { training: true, seed },
              ),
              weight,
            ),
          );
        },
        evaluate: () => {
          tensors.push(tf.memory().numTensors);
          return {};
        },
        evalEvery: 1,
      });
      const weights = new Map(model.namedParameters().map(([name, v]) => [name, v.dataSync() as Float32Array]));
      model.dispose();
      return { weights, losses: result.log.filter((l) => l.loss !== undefined).map((l) => l.loss!), tensors };
    }

    it('training: gradient accumulation over 2 and 3 micro-batches gives the unsplit steps to float tolerance, with flat tensor counts', async () => {
      const whole = await trainClassifier(1);
      for (const micro of [2, 3]) {
        const split = await trainClassifier(micro);
        split.losses.forEach((l, i) => expect(l, `loss of step ${i}`).to.be.closeTo(whole.losses[i], 1e-6));
        for (const [name, w] of whole.weights) {
          const s = split.weights.get(name)!;
          let worst = 0;
          for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - s[i]));
          expect(worst, `${name}, ${micro} micro-batches`).to.be.below(1e-5);
        }
        expect(new Set(split.tensors).size, `tensors after each step: ${split.tensors}`).to.equal(1);
      }
    });

    it("training: the masked-LM loss weighted by masked tokens (as pretraining weights it) accumulates to the whole batch's gradient", () => {
      const model = Bert.random(config, MASKED_LM, 6);
      model.dropout.setAll({ kind: 'none', p: 0 });
      const data = examples(5, 12, 60, 4);
      const params = model.namedParameters().map(([, v]) => v);
      const gradsOf = (f: () => tf.Scalar) => {
        const { value, grads } = tf.variableGrads(f, params);
        value.dispose();
        return new Map(model.namedParameters().map(([name, v]) => [name, grads[v.name]]));
      };
      const loss = (part: typeof data) => {
        const { batch, labels } = collate(part, 0);
        return model.maskedLmLoss(batch, labels);
      };
      const whole = gradsOf(() => loss(data));
      let split: Map<string, tf.Tensor> | null = null;
      for (let i = 0; i < 3; i++) {
        split = addGradients(
          split,
          gradsOf(() => {
            const { part, weight } = batchPart(data, i, 3, (e) => e.labels.filter((y) => y !== IGNORE_INDEX).length);
            return tf.tidy(() => tf.mul(loss(part), weight));
          }),
        );
      }
      for (const [name, g] of whole) {
        const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g, split!.get(name)!))).dataSync()[0]);
        const scale = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]);
        expect(d, name).to.be.at.most(1e-5 * Math.max(scale, 1e-3));
      }
      tf.dispose([...whole.values(), ...split!.values()]);
      model.dispose();
    });

    it('evaluation: the landscape and masked-LM evaluation in micro-batches give the same losses to float tolerance', async () => {
      const model = Bert.random(config, MASKED_LM, 7);
      const data = examples(10, 12, 60, 5);
      const zero = new Map(
        model
          .namedParameters()
          .map(([name, v]) => [name, { name, shape: [...v.shape], data: new Float32Array(v.size) }]),
      );
      const pair = {
        x: zero,
        y: new Map([...zero].map(([n, t]) => [n, { ...t, data: t.data.map((_, i) => ((i % 7) - 3) / 100) }])),
      };
      const o = { model, pair, grid: { x: [0, 1], y: [-1, 1] }, examples: data, padId: 0, batchSize: 10, write: quiet };
      const whole = await sweep(o);
      const shape = { config, kind: 'eval' as const, seqLen: 12, maskedPerSequence: 4 };
      const before = tf.memory().numTensors;
      const split = await withBudget(budgetFor(3, shape), () => sweep(o));
      expect(tf.memory().numTensors).to.equal(before);
      split.loss!.forEach((l, k) => expect(l, `point ${k}`).to.be.closeTo(whole.loss![k], 1e-5));
      const mlm = evaluateMlm(model, data, 0);
      const mlmSplit = await withBudget(budgetFor(3, shape), () => evaluateMlm(model, data, 0));
      expect(mlmSplit.loss).to.be.closeTo(mlm.loss, 1e-5);
      expect(mlmSplit.accuracy).to.equal(mlm.accuracy);
      model.dispose();
    });
  });
});

describe('gradient checkpointing', () => {
  before(setupBackend);
  const config = tinyConfig({
    num_hidden_layers: 4,
    hidden_size: 32,
    intermediate_size: 64,
    max_position_embeddings: 20,
  });
  const B = 6;
  const T = 20;
  const batch = {
    input_ids: Array.from({ length: B }, (_, i) => Array.from({ length: T }, (_, t) => (i * 7 + t * 3) % 50)),
    attention_mask: Array.from({ length: B }, (_, i) => Array.from({ length: T }, (_, t) => (t < T - i ? 1 : 0))),
  };

  for (const parts of [SEQUENCE_CLASSIFICATION, MASKED_LM])
    it(`gives the plain pass's gradients bit for bit with dropout on, in less memory and without leaks (${parts === MASKED_LM ? 'masked LM' : 'classifier'})`, async () => {
      const model = Bert.random({ ...config, num_labels: 2 }, parts, 1);
      const vars = model.namedParameters().map(([, v]) => v);
      const labels = batch.input_ids.map((row, i) => row.map((y, t) => (t % 5 === i % 5 ? y : IGNORE_INDEX)));
      const loss = (checkpoint: boolean, seed = 5) =>
        parts === MASKED_LM
          ? model.maskedLmLoss(batch, labels, { training: true, seed, checkpoint })
          : model.classificationLoss(batch, [0, 1, 1, 0, 1, 0], { training: true, seed, checkpoint });
      const run = (checkpoint: boolean, seed = 5) => {
        const { value, grads } = tf.variableGrads(() => loss(checkpoint, seed), vars);
        const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync().slice()) };
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      };
      const plain = run(false);
      const before = tf.memory().numTensors;
      const checkpointed = run(true);
      expect(tf.memory().numTensors).to.equal(before);
      expect(checkpointed.loss).to.equal(plain.loss);
      plain.grads.forEach((g, i) =>
        expect(Buffer.from(checkpointed.grads[i].buffer).equals(Buffer.from(g.buffer)), `gradient ${i}`).to.equal(true),
      );
      // dropout acts (another seed, another loss), so the recomputation did draw the forward pass's masks
      expect(run(true, 6).loss).to.not.equal(plain.loss);
      const peak = async (checkpoint: boolean) =>
        (
          await tf.profile(() => {
            const { value, grads } = tf.variableGrads(() => loss(checkpoint), vars);
            tf.dispose([value, ...Object.values(grads)]);
          })
        ).peakBytes;
      expect(await peak(true)).to.be.below(0.6 * (await peak(false)));
      model.dispose();
    });

  it('refuses taps', () => {
    const model = Bert.random(config, MASKED_LM, 1);
    const labels = batch.input_ids.map((row) => row.map((y, t) => (t === 1 ? y : IGNORE_INDEX)));
    expect(() =>
      model.maskedLmLoss(batch, labels, { checkpoint: true, taps: { outputs: new Map(), inputs: new Map() } }),
    ).to.throw(/checkpoint cannot be combined with taps/);
    model.dispose();
  });
});
