/** Pretraining: a tiny run killed mid-way and resumed ends with the same weights as an uninterrupted one; the baselines. */
import { expect } from 'chai';
import { EMBEDDED_MODEL } from '../lib/shipped';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { trainWordPiece, writeVocab } from '../lib/pretrain/wordpiece-trainer';
import { neighbourBigramBaseline, unigramBaseline } from '../lib/pretrain/mlm-eval';
import * as tf from '@tensorflow/tfjs';
import { pretrainProblem, shortBatchSize, sinusoidalPositions, wallSeconds } from '../lib/pretrain/run';
import { completeSettings, PRETRAIN_DEFAULTS } from '../lib/pretrain/settings';
import { readSafetensors } from '../lib/weights/safetensors';
import { benefitVerdict, gridEdgeNotes, modelCard } from '../lib/pretrain/model-card';
import { FINETUNE_DEFAULTS } from '../lib/glue/finetune';
import { BenefitReport, mergeBenefits, pairRuns, readBenefitReports, summarizeRuns } from '../lib/pretrain/benefit';
import { setupBackend } from './helpers';
import { maskedExample } from '../lib/pretrain/mlm-data';

const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');
const SENTENCES = [
  'The cat sat on the mat.',
  'A dog ran in the park.',
  'The bird sang a song in the morning.',
  'Children play games after school.',
  'The river runs to the sea.',
  'Rain fell on the quiet town.',
  'She read the old book by the fire.',
  'They built a house near the lake.',
];

function pretrainArgs(dir: string, runDir: string, out: string): string[] {
  return [
    CLI,
    'pretrain',
    '--corpus',
    path.join(dir, 'corpus.txt'),
    '--vocab',
    path.join(dir, 'vocab.txt'),
    '--out',
    out,
    '--run-dir',
    runDir,
    '--layers',
    '1',
    '--hidden',
    '16',
    '--heads',
    '2',
    '--intermediate',
    '32',
    '--max-length',
    '16',
    '--batch-size',
    '4',
    '--steps',
    '150',
    '--warmup-steps',
    '10',
    '--checkpoint-every',
    '3',
    '--eval-every',
    '50',
    '--eval-examples',
    '4',
    '--held-out-fraction',
    '0.2',
    '--dropout',
    '0.05',
    '--short-steps',
    '0',
    '--jobs',
    '1',
  ];
}

describe('pretraining', function () {
  this.timeout(180_000);
  let dir = '';
  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-pretrain-'));
    const docs = Array.from({ length: 20 }, (_, d) =>
      Array.from({ length: 6 }, (_, s) => SENTENCES[(d * 3 + s) % SENTENCES.length]).join(' '),
    );
    fs.writeFileSync(path.join(dir, 'corpus.txt'), docs.join('\n\n') + '\n');
    writeVocab(path.join(dir, 'vocab.txt'), trainWordPiece(SENTENCES, { vocabSize: 160, minFrequency: 1 }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Settings for a one-layer model (hidden 16, 2 heads, 16 tokens) on the corpus and vocabulary `before` writes. */
  const tinySettings = <T extends object>(overrides: T) => ({
    ...PRETRAIN_DEFAULTS,
    shortSteps: 0,
    corpus: path.join(dir, 'corpus.txt'),
    vocabFile: path.join(dir, 'vocab.txt'),
    layers: 1,
    hidden: 16,
    heads: 2,
    intermediate: 32,
    maxLength: 16,
    heldOutFraction: 0.2,
    ...overrides,
  });

  it('killed (SIGKILL) mid-run and resumed, ends with the weights of an uninterrupted run', async () => {
    const env = { ...process.env, FISHERLAB_ROOT: process.cwd() };
    const full = spawnSync(process.execPath, pretrainArgs(dir, path.join(dir, 'run-a'), path.join(dir, 'model-a')), {
      encoding: 'utf8',
      env,
    });
    expect(full.status, full.stderr).to.equal(0);

    const runB = path.join(dir, 'run-b');
    const child = spawn(process.execPath, pretrainArgs(dir, runB, path.join(dir, 'model-b')), { env, stdio: 'ignore' });
    const latest = path.join(runB, 'checkpoints', 'latest.json');
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (fs.existsSync(latest) && JSON.parse(fs.readFileSync(latest, 'utf8')).step >= 30) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the run ended before it could be killed'));
      });
    });
    await new Promise((r) => child.on('exit', r));
    const killedAt = JSON.parse(fs.readFileSync(latest, 'utf8')).step;
    expect(killedAt).to.be.below(150);
    expect(fs.existsSync(path.join(dir, 'model-b'))).to.equal(false);

    const resumed = spawnSync(process.execPath, pretrainArgs(dir, runB, path.join(dir, 'model-b')), {
      encoding: 'utf8',
      env,
    });
    expect(resumed.status, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.match(/resuming from the checkpoint at step \d+/);
    const a = fs.readFileSync(path.join(dir, 'model-a', 'model.safetensors'));
    const b = fs.readFileSync(path.join(dir, 'model-b', 'model.safetensors'));
    expect(b.equals(a), 'model.safetensors differs').to.equal(true);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'model-b', 'pretrain-report.json'), 'utf8'));
    const reportA = JSON.parse(fs.readFileSync(path.join(dir, 'model-a', 'pretrain-report.json'), 'utf8'));
    expect(report.heldOut).to.deep.equal(reportA.heldOut);
    expect(report.heldOut.model.loss).to.be.below(report.heldOut.untrained.loss);
  });

  it("sinusoidal position init: Vaswani et al.'s table at the root mean square of BERT's init, in the model", () => {
    const table = sinusoidalPositions(16, 8, 2);
    expect(table[1 * 8 + 0]).to.be.closeTo(2 * Math.sin(1), 1e-6);
    expect(table[1 * 8 + 1]).to.be.closeTo(2 * Math.cos(1), 1e-6);
    expect(table[3 * 8 + 2]).to.be.closeTo(2 * Math.sin(3 / 10000 ** (2 / 8)), 1e-6);
    expect(table[5 * 8 + 7]).to.be.closeTo(2 * Math.cos(5 / 10000 ** (6 / 8)), 1e-6);
    const settings = tinySettings({
      initializerRange: 0.02,
      positionInit: 'normal' as const,
      attentionInit: 'normal' as const,
    });
    const name = 'bert.embeddings.position_embeddings.weight';
    const sinusoidal = pretrainProblem({ ...settings, positionInit: 'sinusoidal' }).newModel();
    const normal = pretrainProblem(settings).newModel();
    const got = sinusoidal.toWeights().get(name)!.data;
    expect(Array.from(got)).to.deep.equal(Array.from(sinusoidalPositions(16, 16, Math.SQRT2 * 0.02)));
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((x, v) => x + v * v, 0) / a.length);
    expect(rms(got)).to.be.closeTo(0.02, 0.002);
    expect(rms(normal.toWeights().get(name)!.data)).to.be.closeTo(0.02, 0.003);
    // nothing else changes
    for (const [n, w] of normal.toWeights())
      if (n !== name) expect(w.data).to.deep.equal(sinusoidal.toWeights().get(n)!.data);
    sinusoidal.dispose();
    normal.dispose();
  });

  it('mimetic attention init: every key weight starts equal to its query weight, nothing else moves', () => {
    const settings = tinySettings({ layers: 2, attentionInit: 'normal' as const });
    const mimetic = pretrainProblem({ ...settings, attentionInit: 'mimetic' })
      .newModel()
      .toWeights();
    const normal = pretrainProblem(settings).newModel().toWeights();
    for (const l of [0, 1]) {
      const q = `bert.encoder.layer.${l}.attention.self.query.weight`;
      const k = `bert.encoder.layer.${l}.attention.self.key.weight`;
      expect(mimetic.get(k)!.data).to.deep.equal(normal.get(q)!.data);
      expect(normal.get(k)!.data).to.not.deep.equal(normal.get(q)!.data);
    }
    for (const [n, w] of normal)
      if (!n.includes('attention.self.key.weight')) expect(mimetic.get(n)!.data, n).to.deep.equal(w.data);
  });

  it('masks the training batches at --mask-probability', () => {
    const settings = tinySettings({ batchSize: 64 });
    const share = (p: number) => {
      const problem = pretrainProblem({ ...settings, maskProbability: p });
      const { epoch, indices } = problem.batchAt(0);
      let masked = 0;
      let tokens = 0;
      for (const i of indices) {
        const e = maskedExample(problem.sequences[i], i, epoch, settings.seed, { ...problem.vocab, probability: p });
        masked += e.labels.filter((x) => x !== -100).length;
        tokens += e.labels.length - 1; // [CLS] is never chosen
      }
      return masked / tokens;
    };
    expect(share(0.4)).to.be.closeTo(0.4, 0.06);
    expect(share(0.15)).to.be.closeTo(0.15, 0.05);
    // the loss of a step uses those masks: at p = 0.4 it differs from p = 0.15 on the same weights
    const loss = (p: number) => {
      const problem = pretrainProblem({ ...settings, maskProbability: p });
      const model = problem.newModel();
      const l = tf.tidy(() => problem.shardLoss(model, 0, 1, { index: 0, count: 1 }).dataSync()[0]);
      model.dispose();
      return l;
    };
    expect(loss(0.4)).to.not.equal(loss(0.15));
  });

  it('--short-steps: the first steps draw short sequences in batches of as many tokens, then full-length ones', () => {
    const settings = tinySettings({ shortLength: 8, shortSteps: 3, batchSize: 4, steps: 10 });
    expect(shortBatchSize(settings)).to.equal(8);
    const problem = pretrainProblem(settings);
    const plain = pretrainProblem({ ...settings, shortSteps: 0 });
    expect(plain.shortSequences).to.have.length(0);
    expect(problem.sequences).to.deep.equal(plain.sequences);
    const longest = (seqs: number[][]) => Math.max(...seqs.map((q) => q.length));
    expect(longest(problem.shortSequences)).to.equal(8);
    expect(longest(problem.sequences)).to.equal(16);
    // packing at 8 tokens spends more [CLS]/[SEP] on the same text: about twice the sequences
    expect(problem.shortSequences.length).to.be.within(2 * problem.sequences.length - 2, 3 * problem.sequences.length);
    const seen = new Set<number>();
    for (let step = 0; step < 3; step++) {
      const b = problem.batchAt(step);
      expect(b.pool).to.equal(problem.shortSequences);
      expect(b.indices).to.have.length(8);
      b.indices.forEach((i) => seen.add(i));
    }
    expect(seen.size).to.equal(Math.min(24, problem.shortSequences.length)); // an epoch's order: no repeats
    // the full-length phase starts at its own first epoch: its batches are those of a run without a warm-up
    for (let step = 3; step < 10; step++) expect(problem.batchAt(step)).to.deep.equal(plain.batchAt(step - 3));
    const perEpoch = (n: number, b: number) => Math.ceil(n / b);
    expect(problem.epochs(10)).to.be.closeTo(
      3 / perEpoch(problem.shortSequences.length, 8) + 7 / perEpoch(problem.sequences.length, 4),
      1e-12,
    );
    expect(completeSettings({ steps: 7 }).shortSteps).to.equal(0); // runs begun before the warm-up existed had none
  });

  it('--short-steps through the CLI: resumes bitwise across the switch to full length, and the model card says how to rebuild it', () => {
    const env = { ...process.env, FISHERLAB_ROOT: process.cwd() };
    const args = (run: string) =>
      pretrainArgs(dir, path.join(dir, run), path.join(dir, `model-${run}`))
        .map((a) => (a === '150' ? '30' : a))
        .concat(['--short-length', '8', '--short-steps', '12']);
    const whole = spawnSync(process.execPath, args('s1'), { encoding: 'utf8', env });
    expect(whole.status, whole.stderr).to.equal(0);
    expect(whole.stderr).to.match(/steps 1–12 on \d+ sequences of at most 8 tokens, 8 per batch/);
    const first = spawnSync(process.execPath, [...args('s2'), '--stop-after', '6'], { encoding: 'utf8', env });
    expect(first.status, first.stderr).to.equal(0);
    const rest = spawnSync(process.execPath, args('s2'), { encoding: 'utf8', env });
    expect(rest.status, rest.stderr).to.equal(0);
    expect(rest.stderr).to.match(/resuming from the checkpoint at step 6/);
    const file = (run: string) => fs.readFileSync(path.join(dir, `model-${run}`, 'model.safetensors'));
    expect(file('s2').equals(file('s1'))).to.equal(true);
    const bad = spawnSync(process.execPath, [...args('s3'), '--short-length', '16'], { encoding: 'utf8', env });
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.contain('short length must be in 3..max length − 1 (got 16)');
    const card = spawnSync(process.execPath, [CLI, 'model-card', '--model', path.join(dir, 'model-s1')], {
      encoding: 'utf8',
      env,
    });
    expect(card.status, card.stderr).to.equal(0);
    const md = fs.readFileSync(path.join(dir, 'model-s1', 'MODEL.md'), 'utf8');
    expect(md).to.contain('--max-length 16 --short-length 8 --short-steps 12');
    expect(md).to.contain('12 × 8 sequences of ≤ 8 tokens (sequence-length warm-up');
    expect(md).to.contain('then 18 × 4 of ≤ 16');
  });

  it("splits a batch into shards whose losses and gradients add up to the whole batch's", () => {
    const settings = tinySettings({ batchSize: 5, dropout: 0 });
    const problem = pretrainProblem(settings);
    const model = problem.newModel();
    const vars = model.namedParameters().map(([, v]) => v);
    const gradOf = (count: number, index: number) =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => problem.shardLoss(model, 3, 7, { index, count }), vars);
        return { loss: value.dataSync()[0], grads: vars.map((v) => Array.from(grads[v.name].dataSync())) };
      });
    const whole = gradOf(1, 0);
    for (const count of [2, 3, 7]) {
      // 7 shards of 5 examples: two are empty
      const parts = Array.from({ length: count }, (_, i) => gradOf(count, i));
      expect(parts.reduce((a, p) => a + p.loss, 0)).to.be.closeTo(whole.loss, 1e-5);
      whole.grads.forEach((g, k) =>
        g.forEach((x, j) => expect(parts.reduce((a, p) => a + p.grads[k][j], 0)).to.be.closeTo(x, 1e-5)),
      );
    }
    model.dispose();
  });

  it('--jobs 2 splits each batch over two processes: the same training up to rounding, and it resumes bitwise', async () => {
    const env = { ...process.env, FISHERLAB_ROOT: process.cwd() };
    const args = (run: string, jobs: number) =>
      pretrainArgs(dir, path.join(dir, run), path.join(dir, `model-${run}`))
        .map((a) => (a === '150' ? '40' : a === '0.05' ? '0' : a))
        .concat(['--jobs', String(jobs)]);
    const one = spawnSync(process.execPath, args('j1', 1), { encoding: 'utf8', env });
    expect(one.status, one.stderr).to.equal(0);
    const two = spawnSync(process.execPath, args('j2', 2), { encoding: 'utf8', env });
    expect(two.status, two.stderr).to.equal(0);
    expect(two.stderr).to.contain('each batch split over 2 processes');
    const weights = (run: string) => readSafetensors(path.join(dir, `model-${run}`, 'model.safetensors')).tensors;
    const a = weights('j1');
    const b = weights('j2');
    let maxDiff = 0;
    for (const [name, w] of a)
      w.data.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - b.get(name)!.data[i]))));
    expect(maxDiff).to.be.above(0); // two processes add the gradients in another order
    expect(maxDiff).to.be.below(1e-3);

    // stopped after 20 steps and resumed: bitwise the uninterrupted two-process run
    const first = spawnSync(process.execPath, [...args('j2b', 2), '--stop-after', '20'], { encoding: 'utf8', env });
    expect(first.status, first.stderr).to.equal(0);
    const rest = spawnSync(process.execPath, args('j2b', 2), { encoding: 'utf8', env });
    expect(rest.status, rest.stderr).to.equal(0);
    expect(rest.stderr).to.match(/resuming from the checkpoint at step 20/);
    expect(
      fs
        .readFileSync(path.join(dir, 'model-j2b', 'model.safetensors'))
        .equals(fs.readFileSync(path.join(dir, 'model-j2', 'model.safetensors'))),
    ).to.equal(true);
  });

  it('writes MODEL.md from the report, with the numbers of the report', () => {
    const r = spawnSync(process.execPath, [CLI, 'model-card', '--model', path.join(dir, 'model-a')], {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
    });
    expect(r.status, r.stderr).to.equal(0);
    const card = fs.readFileSync(path.join(dir, 'model-a', 'MODEL.md'), 'utf8');
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'model-a', 'pretrain-report.json'), 'utf8'));
    expect(card).to.contain(
      `| **this model** | **${report.heldOut.model.loss.toFixed(3)}** | **${report.heldOut.model.accuracy.toFixed(3)}** |`,
    );
    expect(card).to.contain(`| unigram frequency (no context) | ${report.heldOut.unigram.loss.toFixed(3)} |`);
    expect(card).to.contain(`contextual model should beat it) | ${report.heldOut.bigram.loss.toFixed(3)} |`);
    expect(card).to.contain(`--steps 150`);
    expect(card).to.contain('--dropout 0.05 --mask-probability 0.15');
    expect(card).to.contain(
      '--initializer-range 0.05 --position-init sinusoidal --attention-init mimetic --jobs 1 --seed 0',
    );
    expect(card).to.contain('| dropout | 0.05 at every site while pretraining');
    // the pretraining dropout is a training setting: the saved config keeps BERT's 0.1 for fine-tuning
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'model-a', 'config.json'), 'utf8'));
    expect([config.hidden_dropout_prob, config.attention_probs_dropout_prob]).to.deep.equal([0.1, 0.1]);
    expect(card).to.not.contain('SST-2');
    expect(card).to.contain(
      `It is not the default model (that is \`${EMBEDDED_MODEL}\`;\n\`--model data/models/model-a\` or \`FISHERLAB_MODEL\` selects it)`,
    );
    expect(modelCard(EMBEDDED_MODEL, report, [])).to.contain('It is the\ndefault model of every fisherlab notebook');
    // With comparisons on two tasks: a table per comparison, each start's best lr in bold, the paired test, a verdict.
    const withChecks = modelCard('m', report, [
      // differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, t = 2√3 = 3.46 on 2 df, p = ½ − t / (2√(2 + t²)) = 0.037
      comparison('SST-2', 'accuracy', 3000, [0.73, 0.74, 0.75], [0.72, 0.72, 0.72]),
      // both always predict one class: Matthews correlation 0 everywhere
      comparison('CoLA', 'matthews_correlation', 0, [0, 0, 0], [0, 0, 0]),
    ]);
    expect(withChecks).to.contain('## Does pretraining help downstream? SST-2, CoLA');
    expect(withChecks).to.contain('With 3 seeds the test has 2 degrees of freedom');
    expect(withChecks).to.contain('**SST-2, 3,000 training examples** (dev: 872 examples, accuracy; seeds 1, 2, 3)');
    expect(withChecks).to.contain("| this model's weights | 0.001 | **0.740 ± 0.010** | 0.730, 0.740, 0.750 |");
    expect(withChecks).to.contain('| random initialization | 0.0001 | 0.620 ± 0.000 | 0.620, 0.620, 0.620 |');
    expect(withChecks).to.contain(
      'per seed: +0.010, +0.020, +0.030; mean +0.020 ± 0.010 (std), t = 3.46, 2 df, one-sided p = 0.04; pretrained ahead on 3 of 3 seeds.',
    );
    expect(withChecks).to.contain('Verdict: no clear difference (p = 0.04, one-sided paired t, 2 df).');
    expect(withChecks).to.contain('**CoLA, all 8,551 training examples** (dev: 1,043 examples, matthews_correlation;');
    expect(withChecks).to.contain('| dev matthews_correlation, mean ± std |');
    expect(withChecks).to.contain('t = undefined, 2 df, one-sided p = undefined; pretrained ahead on 0 of 3 seeds.');
    expect(withChecks).to.match(/Verdict: no difference: both starts scored the same on every seed/);
    // a score that rounds to zero prints without a minus sign
    const tiny = modelCard('m', report, [
      comparison('CoLA', 'matthews_correlation', 0, [0.1, 0, 0], [-1e-9, 0, -0.02]),
    ]);
    expect(tiny).to.contain('| random initialization | 0.001 | **-0.007 ± 0.012** | 0.000, 0.000, -0.020 |');
    expect(tiny).to.not.contain('-0.000');
    // each task at its default size: no --max-train, which would run every size on every task
    expect(withChecks).to.contain('--check SST-2,CoLA --seeds 1,2,3 --lrs 0.0001,0.001\n');
    const sizes = modelCard('m', report, [
      comparison('SST-2', 'accuracy', 1000, [0.73, 0.74, 0.75], [0.72, 0.72, 0.72]),
      comparison('SST-2', 'accuracy', 3000, [0.73, 0.74, 0.75], [0.72, 0.72, 0.72]),
    ]);
    expect(sizes).to.contain('--check SST-2 --seeds 1,2,3 --max-train 1000,3000 --lrs 0.0001,0.001\n');
    expect(withChecks).to.contain('`pretraining-benefit.json`.');
    expect(withChecks).to.not.contain('Confirmation');
    // Confirmed on fresh seeds 4 to 8 at the lrs the grid chose: differences 0.01 … 0.05, one-sided p = 0.0066 on 4 df
    // (closed form in the verdict test below), and the verdict rests on the confirmation, not on the grid's p = 0.04.
    const confirmed = withConfirmation(
      comparison('SST-2', 'accuracy', 3000, [0.73, 0.74, 0.75], [0.72, 0.72, 0.72]),
      [0.71, 0.72, 0.73, 0.74, 0.75],
      [0.7, 0.7, 0.7, 0.7, 0.7],
    );
    const confirmedCard = modelCard('m', report, [confirmed]);
    expect(confirmedCard).to.contain('the verdict rests on that test alone');
    // the verdict's test has 5 seeds: no caveat about the grid's 3
    expect(confirmedCard).to.not.contain('With 3 seeds');
    expect(confirmedCard).to.contain(
      'Confirmation on fresh seeds 4, 5, 6, 7, 8, pretrained at lr 0.001, random at lr 0.001:',
    );
    expect(confirmedCard).to.contain("| this model's weights | 0.730 ± 0.016 | 0.710, 0.720, 0.730, 0.740, 0.750 |");
    expect(confirmedCard).to.contain('| random initialization | 0.700 ± 0.000 | 0.700, 0.700, 0.700, 0.700, 0.700 |');
    expect(confirmedCard).to.contain(
      'Pretrained minus random, per seed: +0.010, +0.020, +0.030, +0.040, +0.050; mean +0.030 ± 0.016 (std), t = 4.24, 4 df, one-sided p = 0.007; pretrained ahead on 5 of 5 seeds.',
    );
    expect(confirmedCard).to.contain(
      'Verdict (on the confirmation seeds): pretrained ahead, p = 0.007 (one-sided paired t, 4 df).',
    );
    expect(confirmedCard).to.contain('--seeds 1,2,3 --lrs 0.0001,0.001 --confirm-seeds 4,5,6,7,8');
    // A second test of the same claim at another size, on its own seeds, held to p < 0.005 fixed in advance: p = 0.007
    // no longer suffices, and the card rebuilds each test with its own command, the second adding to the first.
    const second = {
      ...confirmed,
      settings: { ...confirmed.settings, maxTrainExamples: 5000 },
      trainExamples: 5000,
      alpha: 0.005,
    };
    const twoTests = modelCard('m', report, [confirmed, second]);
    expect(twoTests).to.contain('or at the smaller threshold a comparison fixed before it ran.');
    expect(twoTests).to.contain("This comparison's verdict needs p < 0.005, a threshold fixed before its runs");
    expect(twoTests).to.contain(
      'Verdict (on the confirmation seeds): no clear difference (p = 0.007, one-sided paired t, 4 df).',
    );
    expect(twoTests).to.contain(
      'Verdict (on the confirmation seeds): pretrained ahead, p = 0.007 (one-sided paired t, 4 df).',
    );
    expect(twoTests).to.contain(
      'model-card --model data/models/m --check SST-2 --seeds 1,2,3 --lrs 0.0001,0.001 --confirm-seeds 4,5,6,7,8\n' +
        'npx fisherlab model-card --model data/models/m --check SST-2 --seeds 1,2,3 --max-train 5000 --lrs 0.0001,0.001 --confirm-seeds 4,5,6,7,8 --alpha 0.005 --add\n',
    );
  });

  it('--add keeps the other comparisons and replaces those of the same task and size', () => {
    const a = comparison('CoLA', 'matthews_correlation', 0, [0.1, 0.2], [0, 0]);
    const b = comparison('SST-2', 'accuracy', 3000, [0.7, 0.8], [0.6, 0.6]);
    const b2 = comparison('SST-2', 'accuracy', 3000, [0.9, 0.9], [0.6, 0.7]);
    const c = comparison('SST-2', 'accuracy', 5000, [0.7, 0.8], [0.6, 0.6]);
    expect(mergeBenefits([a, b], [c])).to.deep.equal([a, b, c]);
    expect(mergeBenefits([a, b, c], [b2])).to.deep.equal([a, c, b2]);
    expect(mergeBenefits([], [a])).to.deep.equal([a]);
  });

  it('--add after a confirmation on other fresh seeds keeps the earlier one with its threshold; reused seeds are refused', () => {
    const { grid, first, second } = confirmedTwice();
    const other = comparison('CoLA', 'matthews_correlation', 0, [0.1, 0.2, 0.3], [0, 0, 0]);
    const [kept, merged] = mergeBenefits([first, other], [second]);
    expect(kept).to.equal(other);
    expect(merged.confirmation!.seeds).to.deep.equal([9, 10, 11, 12, 13]);
    expect(merged.alpha).to.equal(0.001);
    expect(merged.earlierConfirmations).to.deep.equal([{ ...first.confirmation, alpha: 0.005 }]);
    // a third on fresh seeds appends; one that reuses seed 8 of the first is refused, naming the seed
    const third = withConfirmation(grid, [0.8, 0.8], [0.7, 0.7], 20);
    expect(mergeBenefits([merged], [third])[0].earlierConfirmations!.map((e) => e.seeds[0])).to.deep.equal([4, 9]);
    const reused = withConfirmation(grid, [0.8, 0.8], [0.7, 0.7], 7);
    expect(() => mergeBenefits([merged], [reused])).to.throw(
      'SST-2, 5000 training examples: confirmation seed 7, 8 already confirmed this comparison; confirm on fresh seeds',
    );
    // the same confirmation run again keeps nothing more; after another grid it is refused, since the earlier
    // confirmations followed the first grid and would be dropped
    expect(mergeBenefits([merged], [second])[0].earlierConfirmations).to.have.length(1);
    const regrid = withConfirmation(
      comparison('SST-2', 'accuracy', 5000, [0.73, 0.74, 0.76], [0.72, 0.72, 0.72]),
      [0.8, 0.8],
      [0.7, 0.7],
      30,
    );
    expect(() => mergeBenefits([merged], [regrid])).to.throw(
      "SST-2, 5000 training examples: the grid's settings or scores differ from those the confirmation on seeds 4,5,6,7,8 and 9,10,11,12,13 followed, so --add would drop that test",
    );
    expect(() => mergeBenefits([first], [regrid])).to.throw('the confirmation on seeds 4,5,6,7,8 followed');
    // without an earlier confirmation to lose, another grid replaces the comparison as before
    expect(mergeBenefits([grid], [regrid])[0]).to.equal(regrid);
  });

  it('the card shows every confirmation with its own verdict, their Bonferroni bound, and the commands in order', () => {
    const { first, second } = confirmedTwice();
    const [both] = mergeBenefits([first], [second]);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'model-a', 'pretrain-report.json'), 'utf8'));
    const card = modelCard('m', report, [both]);
    expect(card).to.contain(
      'Confirmation 1 of 2 on fresh seeds 4, 5, 6, 7, 8, pretrained at lr 0.001, random at lr 0.001:',
    );
    // differences 0.01 … 0.05: t = 0.03 / (0.0158 / √5) = 4.24 on 4 df, p = 0.0066 (the closed form below)
    expect(card).to.contain(
      'Its verdict, at the p < 0.005 fixed before its runs: no clear difference (p = 0.007, one-sided paired t, 4 df).',
    );
    // differences 0.05 … 0.09: the same spread, mean 0.07, t = 9.90 on 4 df
    expect(card).to.contain(
      'Confirmation 2 of 2 on fresh seeds 9, 10, 11, 12, 13, pretrained at lr 0.001, random at lr 0.001:',
    );
    expect(card).to.contain('mean +0.070 ± 0.016 (std), t = 9.90, 4 df');
    expect(card).to.contain(
      'This comparison was confirmed 2 times, at p < 0.005, 0.001: if pretraining gave nothing, the chance that any of them passes is at most 0.006 (Bonferroni, the sum of the thresholds).',
    );
    expect(card).to.match(
      /Verdict \(on the last confirmation's seeds\): pretrained ahead, p = 2\.9e-4 \(one-sided paired t, 4 df\)\./,
    );
    expect(card).to.contain(
      'npx fisherlab model-card --model data/models/m --check SST-2 --seeds 1,2,3 --max-train 5000 --lrs 0.0001,0.001 --confirm-seeds 4,5,6,7,8 --alpha 0.005\n' +
        'npx fisherlab model-card --model data/models/m --check SST-2 --seeds 1,2,3 --max-train 5000 --lrs 0.0001,0.001 --confirm-seeds 9,10,11,12,13 --alpha 0.001 --add\n',
    );
  });

  it('refuses to resume a run folder with different settings', () => {
    const args = pretrainArgs(dir, path.join(dir, 'run-a'), path.join(dir, 'model-c')).map((a) =>
      a === '150' ? '151' : a,
    );
    const r = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
    });
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/other settings \(steps: 150 → 151\)/);
  });

  it('unigram baseline: cross-entropy of add-one unigram frequencies and the most-frequent-token accuracy', () => {
    // vocabulary 6, special ids {0, 1}; training tokens: 2 ×3, 3 ×1 → counts 4, 2, 1, 1 (add-one), total 8
    const m = unigramBaseline(
      [
        [0, 2, 2, 3, 1],
        [0, 2, 1],
      ],
      [
        { input_ids: [], labels: [-100, 2, 3, -100] },
        { input_ids: [], labels: [5] },
      ],
      6,
      new Set([0, 1]),
    );
    expect(m.maskedTokens).to.equal(3);
    expect(m.loss).to.be.closeTo(-(Math.log(4 / 8) + Math.log(2 / 8) + Math.log(1 / 8)) / 3, 1e-12);
    expect(m.accuracy).to.be.closeTo(1 / 3, 1e-12);
  });

  it('neighbour-bigram baseline: the mean of left and right bigrams interpolated with the unigram, by hand', () => {
    // unigram (add-one, specials 0 and 1 excluded): 2 → 3/8, 3 → 2/8, 4 → 2/8, 5 → 1/8
    // position 2 of the first example: left context 2 (followed by 3 and 4 once each), right context 4 (preceded by 2 once)
    //   p(3) = ½(0.7·½ + 0.3·¼) + ½(0.3·¼) = 0.25, p(2) = ½(0.3·⅜) + ½(0.7 + 0.3·⅜) = 0.4625: guesses 2, wrong
    // position 0 of the second: only a right context, 5, never seen: the unigram, p(2) = 3/8, guesses 2, right
    const m = neighbourBigramBaseline(
      [[0, 2, 3, 2, 4]],
      [
        { input_ids: [0, 2, 1, 4], labels: [-100, -100, 3, -100] },
        { input_ids: [2, 5], labels: [2, -100] },
      ],
      6,
      new Set([0, 1]),
    );
    expect(m.maskedTokens).to.equal(2);
    expect(m.loss).to.be.closeTo((Math.log(4) + Math.log(8 / 3)) / 2, 1e-12);
    expect(m.accuracy).to.equal(0.5);
  });

  it('adds the wall time of every sitting', () => {
    expect(
      wallSeconds([
        { step: 1, seconds: 2 },
        { step: 2, seconds: 5 },
        { step: 3, seconds: 1 },
        { step: 4, seconds: 4 },
      ]),
    ).to.equal(9);
  });
});

/** One benefit run with a given score. */
function benefitRun(init: 'pretrained' | 'random', lr: number, seed: number, score: number) {
  return { init, lr, seed, score, seconds: 1 };
}

/** A comparison at lrs 1e-4 and 1e-3 over seeds 1, 2, 3, …: the given scores at 1e-3, 0.1 less at 1e-4. */
function comparison(task: string, metric: string, maxTrain: number, p: number[], q: number[]): BenefitReport {
  const seeds = p.map((_, i) => i + 1);
  const runs = seeds.flatMap((seed, i) => [
    benefitRun('pretrained', 1e-3, seed, p[i]),
    benefitRun('random', 1e-3, seed, q[i]),
    benefitRun('pretrained', 1e-4, seed, p[i] - 0.1),
    benefitRun('random', 1e-4, seed, q[i] - 0.1),
  ]);
  return {
    task,
    metric,
    settings: { ...FINETUNE_DEFAULTS, task, model: 'm', maxTrainExamples: maxTrain },
    trainExamples: maxTrain || 8551,
    devExamples: task === 'CoLA' ? 1043 : 872,
    lrs: [1e-4, 1e-3],
    seeds,
    runs,
    ...summarizeRuns(runs, [1e-4, 1e-3], seeds),
  };
}

/**
 * One SST-2 grid confirmed twice: on seeds 4–8 (differences 0.01 … 0.05, p = 0.007) held to p < 0.005, which fails,
 * then on seeds 9–13 (differences 0.05 … 0.09) held to p < 0.001.
 */
function confirmedTwice(): { grid: BenefitReport; first: BenefitReport; second: BenefitReport } {
  const grid = comparison('SST-2', 'accuracy', 5000, [0.73, 0.74, 0.75], [0.72, 0.72, 0.72]);
  const rest = [0.7, 0.7, 0.7, 0.7, 0.7];
  return {
    grid,
    first: { ...withConfirmation(grid, [0.71, 0.72, 0.73, 0.74, 0.75], rest), alpha: 0.005 },
    second: { ...withConfirmation(grid, [0.75, 0.76, 0.77, 0.78, 0.79], rest, 9), alpha: 0.001 },
  };
}

/** The comparison confirmed on fresh seeds (from `first`, by default just after its own), each start at its chosen lr, with these scores. */
function withConfirmation(b: BenefitReport, p: number[], q: number[], first = Math.max(...b.seeds) + 1): BenefitReport {
  const seeds = p.map((_, i) => first + i);
  const runs = seeds.flatMap((seed, i) => [
    benefitRun('pretrained', b.summary.pretrained.lr, seed, p[i]),
    benefitRun('random', b.summary.random.lr, seed, q[i]),
  ]);
  const lrs = { pretrained: b.summary.pretrained.lr, random: b.summary.random.lr };
  return { ...b, confirmation: { seeds, runs, paired: pairRuns(runs, lrs, seeds) } };
}

describe('pretraining benefit: the paired comparison and its verdict', () => {
  it("pairs each start's best lr by seed, with the t-test computed by hand", () => {
    // pretrained is best at lr 2 (13 > 12), random at lr 1 (11 > 10): differences 1, 2, 3
    const runs = [
      ...[11, 13, 15].map((x, i) => benefitRun('pretrained', 2, i + 1, x)),
      ...[12, 12, 12].map((x, i) => benefitRun('pretrained', 1, i + 1, x)),
      ...[10, 11, 12].map((x, i) => benefitRun('random', 1, i + 1, x)),
      ...[9, 10, 11].map((x, i) => benefitRun('random', 2, i + 1, x)),
    ];
    const { summary, paired } = summarizeRuns(runs, [1, 2], [1, 2, 3]);
    expect([summary.pretrained.lr, summary.random.lr]).to.deep.equal([2, 1]);
    expect(paired.differences).to.deep.equal([1, 2, 3]);
    expect(paired.wins).to.equal(3);
    expect(paired.degenerate).to.equal(undefined);
    // mean 2, sd 1, t = 2 / (1/√3) = 2√3 on 2 df; for 2 df, P(T ≥ t) = ½ − t / (2√(2 + t²))
    const t = 2 * Math.sqrt(3);
    expect(paired.test).to.include({ n: 3, meanDiff: 2, sdDiff: 1, df: 2 });
    expect(paired.test.t).to.be.closeTo(t, 1e-12);
    expect(paired.test.pGreater).to.be.closeTo(0.5 - t / (2 * Math.sqrt(2 + t * t)), 1e-9);
    expect(benefitVerdict({ seeds: [1, 2, 3], paired })).to.equal(
      'no clear difference (p = 0.04, one-sided paired t, 2 df)',
    );
  });

  it('calls pretrained ahead only at one-sided p < 0.01, and says which side wins otherwise', () => {
    // differences 0.01 … 0.05: mean 0.03, sd √2.5·0.01, t = 3√2 on 4 df;
    // for 4 df, P(T ≥ t) = ½ − (3/8)·u·(1 − u²/12), u = t / √(1 + t²/4): 0.0066
    const t = 3 * Math.SQRT2;
    const u = t / Math.sqrt(1 + (t * t) / 4);
    const p = 0.5 - (3 / 8) * u * (1 - (u * u) / 12);
    const ahead = comparison('SST-2', 'accuracy', 3000, [0.71, 0.72, 0.73, 0.74, 0.75], [0.7, 0.7, 0.7, 0.7, 0.7]);
    expect(ahead.paired.test.t).to.be.closeTo(t, 1e-9);
    expect(ahead.paired.test.pGreater).to.be.closeTo(p, 1e-9);
    expect(benefitVerdict(ahead)).to.equal('pretrained ahead, p = 0.007 (one-sided paired t, 4 df)');
    // a stricter threshold fixed in advance (--alpha) turns the same p into no claim
    expect(benefitVerdict(ahead, 0.005)).to.equal('no clear difference (p = 0.007, one-sided paired t, 4 df)');
    const behind = comparison('SST-2', 'accuracy', 3000, [0.7, 0.7, 0.7, 0.7, 0.7], [0.71, 0.72, 0.73, 0.74, 0.75]);
    expect(benefitVerdict(behind)).to.equal(
      'random initialization ahead, p = 0.007 (one-sided paired t, 4 df, random > pretrained)',
    );
  });

  it('flags a start whose best learning rate is at an end of the grid, and only then', () => {
    const runs = (pBest: number, rBest: number) =>
      [1, 2, 3].flatMap((lr) =>
        [1, 2].flatMap((seed) => [
          benefitRun('pretrained', lr, seed, lr === pBest ? 0.8 : 0.7),
          benefitRun('random', lr, seed, lr === rBest ? 0.8 : 0.7),
        ]),
      );
    const notes = (p: number, r: number) =>
      gridEdgeNotes({ lrs: [1, 2, 3], ...summarizeRuns(runs(p, r), [1, 2, 3], [1, 2]) });
    expect(notes(2, 2)).to.deep.equal([]);
    expect(notes(3, 1)).to.deep.equal([
      "This model's weights did best at the grid's largest learning rate (3); a larger one might do better.",
      "The random initialization did best at the grid's smallest learning rate (1); a smaller one might do better.",
    ]);
    expect(
      gridEdgeNotes({
        lrs: [1],
        ...summarizeRuns(
          runs(1, 1).filter((r) => r.lr === 1),
          [1],
          [1, 2],
        ),
      }),
    ).to.deep.equal([]);
  });

  it('says so when both starts score the same on every seed, or differ by the same amount', () => {
    const same = comparison('CoLA', 'matthews_correlation', 0, [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]);
    expect(same.paired.degenerate).to.equal('identical');
    expect(same.paired.test.t).to.be.NaN;
    expect(benefitVerdict(same)).to.match(/^no difference: both starts scored the same on every seed/);
    const steady = comparison('CoLA', 'matthews_correlation', 0, [0.5, 0.5], [0, 0]);
    expect(steady.paired.degenerate).to.equal('constant');
    expect(benefitVerdict(steady)).to.equal(
      'pretrained ahead by the same 0.500 on all 2 seeds; with no spread between seeds the t-test is undefined',
    );
  });

  it('refuses runs that do not pair up', () => {
    expect(() =>
      summarizeRuns([benefitRun('pretrained', 1, 1, 0.5), benefitRun('random', 1, 1, 0.5)], [1], [1, 2]),
    ).to.throw(/0 runs of pretrained at lr 1, seed 2/);
  });
});

describe('pretraining-benefit.json and the --check options', () => {
  let dir = '';
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-benefit-'));
    fs.writeFileSync(path.join(dir, 'pretrain-report.json'), '{}');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads a report back, recomputing the comparison; a bad field is named with its file', () => {
    const file = path.join(dir, 'pretraining-benefit.json');
    const good = comparison('SST-2', 'accuracy', 3000, [0.71, 0.72, 0.73], [0.7, 0.7, 0.7]);
    fs.writeFileSync(file, JSON.stringify([{ ...good, paired: undefined }]));
    expect(readBenefitReports(file)[0].paired.differences.map((d) => d.toFixed(6))).to.deep.equal([
      '0.010000',
      '0.020000',
      '0.030000',
    ]);
    const bad = { ...good, runs: good.runs.map((r, i) => (i === 2 ? { ...r, score: '0.6' } : r)) };
    fs.writeFileSync(file, JSON.stringify([good, bad]));
    expect(() => readBenefitReports(file)).to.throw(`${file}: comparison 2: runs[2].score must be a number`);
    fs.writeFileSync(file, JSON.stringify([{ ...good, metric: 'f1' }]));
    expect(() => readBenefitReports(file)).to.throw(/comparison 1: metric "f1" is not SST-2's main metric accuracy/);
    fs.writeFileSync(file, JSON.stringify([{ ...good, task: 'sst2' }]));
    expect(() => readBenefitReports(file)).to.throw(`${file}: comparison 1: task "sst2" is not one of CoLA, SST-2,`);
    fs.writeFileSync(file, JSON.stringify({ task: 'SST-2' }));
    expect(() => readBenefitReports(file)).to.throw(/expected a list of comparisons/);
    fs.rmSync(file);
  });

  it('reads a confirmation back, recomputing its test; confirmation runs at another lr than the chosen one are refused', () => {
    const file = path.join(dir, 'pretraining-benefit.json');
    const good = withConfirmation(
      comparison('SST-2', 'accuracy', 3000, [0.71, 0.72, 0.73], [0.7, 0.7, 0.7]),
      [0.7, 0.74],
      [0.69, 0.7],
    );
    fs.writeFileSync(file, JSON.stringify([{ ...good, confirmation: { ...good.confirmation, paired: undefined } }]));
    const back = readBenefitReports(file)[0].confirmation!;
    expect(back.seeds).to.deep.equal([4, 5]);
    expect(back.paired.differences.map((d) => d.toFixed(6))).to.deep.equal(['0.010000', '0.040000']);
    // the grid chose lr 1e-3 for random; a confirmation run of random at 1e-4 cannot be paired with it
    const moved = good.confirmation!.runs.map((r, i) => (i === 1 ? { ...r, lr: 1e-4 } : r));
    fs.writeFileSync(file, JSON.stringify([{ ...good, confirmation: { ...good.confirmation, runs: moved } }]));
    expect(() => readBenefitReports(file)).to.throw(
      `${file}: comparison 1: pretraining benefit: 0 runs of random at lr 0.001, seed 4`,
    );
    const bad = good.confirmation!.runs.map((r, i) => (i === 3 ? { ...r, seed: null } : r));
    fs.writeFileSync(file, JSON.stringify([{ ...good, confirmation: { ...good.confirmation, runs: bad } }]));
    expect(() => readBenefitReports(file)).to.throw(
      `${file}: comparison 1: confirmation.runs[3].seed must be a number`,
    );
    fs.writeFileSync(file, JSON.stringify([{ ...good, alpha: 2 }]));
    expect(() => readBenefitReports(file)).to.throw(`${file}: comparison 1: alpha must be a number between 0 and 1`);
    // an earlier confirmation is read back with its test recomputed, and checked like the others
    const earlier = { ...good.confirmation!, paired: undefined, alpha: 0.005 };
    const later = withConfirmation(good, [0.75, 0.76], [0.7, 0.7], 10).confirmation!;
    fs.writeFileSync(file, JSON.stringify([{ ...good, confirmation: later, earlierConfirmations: [earlier] }]));
    const [read] = readBenefitReports(file);
    expect(read.earlierConfirmations![0].alpha).to.equal(0.005);
    expect(read.earlierConfirmations![0].paired.differences.map((d) => d.toFixed(6))).to.deep.equal([
      '0.010000',
      '0.040000',
    ]);
    fs.writeFileSync(
      file,
      JSON.stringify([{ ...good, confirmation: later, earlierConfirmations: [{ ...earlier, alpha: 0 }] }]),
    );
    expect(() => readBenefitReports(file)).to.throw(
      `${file}: comparison 1: earlierConfirmations[0].alpha must be a number between 0 and 1`,
    );
    fs.writeFileSync(file, JSON.stringify([{ ...good, confirmation: later, earlierConfirmations: earlier }]));
    expect(() => readBenefitReports(file)).to.throw(
      `${file}: comparison 1: earlierConfirmations must be a list, beside a confirmation`,
    );
    fs.rmSync(file);
  });

  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, 'model-card', '--model', dir, ...args], {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
    });
  for (const [args, message] of [
    [['--check', 'SST-2,Foo'], /unknown GLUE task "Foo"/],
    [['--check', 'SST-2,sst2'], /--check: "SST-2,sst2" repeats a value/],
    [['--check', 'CoLA', '--seeds', '3'], /--seeds: the paired t-test needs at least two seeds/],
    [['--check', 'CoLA', '--seeds', '1,x'], /--seeds: "x" is not a number/],
    [['--check', 'CoLA', '--seeds', '1,-2'], /--seeds: "1,-2" is not a list of non-negative integers/],
    [['--check', 'CoLA', '--max-train', '3000,-1'], /--max-train: "-1" is not a non-negative integer/],
    [['--check', 'CoLA', '--lrs', '1e-3,0'], /--lrs: learning rates must be positive/],
    [['--check', 'CoLA', '--confirm-seeds', '6'], /--confirm-seeds: the paired t-test needs at least two seeds/],
    [['--check', 'CoLA', '--confirm-seeds', '5,6'], /--confirm-seeds: seed 5 is also in --seeds/],
    [['--check', 'CoLA', '--alpha', '1.5'], /--alpha: "1.5" is not a probability between 0 and 1/],
    [['--check-sst2'], /unknown option '--check-sst2'/],
  ] as const)
    it(`rejects ${args.join(' ')}`, () => {
      const r = cli(...args);
      expect(r.status).to.not.equal(0);
      expect(r.stderr).to.match(message);
      expect(fs.existsSync(path.join(dir, 'MODEL.md'))).to.equal(false);
    });
});
