/**
 * The sub-sample stability study runner on a tiny model and a tiny .txt corpus: summaries against full estimates,
 * the table's rows, resume (finished estimates skipped, an interrupted one continued), bad designs, and the command
 * against `fisherlab fisher --fraction`.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { saveBert } from '../lib/bert/load';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { estimateFisher, readFisher } from '../lib/fisher/estimate';
import { dropoutSiteScores, groupScores, tensorMeans } from '../lib/fisher/aggregate';
import type { TensorMean } from '../lib/fisher/aggregate';
import { corpusSamples, PretrainingRecipe } from '../lib/fisher/samples';
import { fisherStability } from '../lib/fisher/stability';
import {
  FisherStudyOptions,
  readFisherStudy,
  runFisherStudy,
  studyDesign,
  studyExamples,
  studyInputs,
} from '../lib/fisher/study';
import { mlmVocab } from '../lib/pretrain/mlm-data';
import type { NamedArray } from '../lib/weights/safetensors';
import { loadTokenizer, Tokenizer } from '../lib/bert/tokenizer';
import { trainWordPiece, writeVocab } from '../lib/pretrain/wordpiece-trainer';
import { rejection, setupBackend, tinyConfig } from './helpers';
import { randomWeights } from './reference/bert-f64';

const ROOT = process.cwd();
const CLI = path.join(ROOT, 'bin', 'fisherlab.js');
const quiet = () => {};
/** The bytes of a float array (readFisher's arrays are views into the file's buffer). */
const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const SENTENCES = [
  'The cat sat on the mat.',
  'A dog ran in the park.',
  'The bird sang a song in the morning.',
  'Children play games after school.',
  'The river runs to the sea.',
  'Old men tell long stories.',
  'We walked home in the rain.',
];

describe('Fisher sub-sample stability study', function () {
  this.timeout(300_000);
  let dir = '';
  let modelDir = '';
  let corpus = '';
  let model: Bert;
  let tokenizer: Tokenizer;
  let recipe: PretrainingRecipe;
  let sequences: FisherStudyOptions['sequences'];
  /** The full estimate of (percent, seed) computed directly on `fisherlab fisher`'s sub-sample, by "percent/seed". */
  const direct = new Map<string, Map<string, NamedArray>>();
  /** [percent, seed, reference] of every estimate `options` asks for, in the order of the study: the reference last. */
  const ESTIMATES = [
    [10, 1, false],
    [10, 2, false],
    [20, 1, false],
    [20, 2, false],
    [50, 0, true],
  ];

  const options = (outDir: string, extra: Partial<FisherStudyOptions> = {}): FisherStudyOptions => ({
    model,
    padId: model.config.pad_token_id,
    sequences,
    mask: mlmVocab(tokenizer),
    percents: [10, 20],
    seeds: [1, 2],
    referencePercent: 50,
    referenceSeed: 0,
    outDir: path.join(dir, outDir),
    settings: { model: 'tiny', corpus },
    batchSize: 4,
    write: quiet,
    ...extra,
  });
  /** The Fisher of `fisherlab fisher --fraction percent/100 --seed seed` (examples from corpusSamples), cached. */
  const fullEstimate = async (percent: number, seed: number) => {
    const key = `${percent}/${seed}`;
    if (!direct.has(key)) {
      const { examples } = corpusSamples(tokenizer, recipe, { fraction: percent / 100 }, seed);
      const { fisher } = await estimateFisher({
        model,
        examples,
        padId: model.config.pad_token_id,
        batchSize: 4,
        write: quiet,
      });
      direct.set(key, fisher!);
    }
    return direct.get(key)!;
  };

  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-study-'));
    corpus = path.join(dir, 'corpus.txt');
    const docs = Array.from({ length: 40 }, (_, d) =>
      Array.from({ length: 3 + (d % 4) }, (_, s) => SENTENCES[(d * 3 + s) % SENTENCES.length]).join(' '),
    );
    fs.writeFileSync(corpus, docs.join('\n\n') + '\n');
    const tokens = trainWordPiece(SENTENCES, { vocabSize: 200, minFrequency: 1 });
    const vocabFile = path.join(dir, 'vocab.txt');
    writeVocab(vocabFile, tokens);
    const config = tinyConfig({
      vocab_size: tokens.length,
      max_position_embeddings: 16,
      pad_token_id: tokens.indexOf('[PAD]'),
    });
    model = Bert.fromWeights(config, MASKED_LM, randomWeights(config, MASKED_LM, 5));
    modelDir = path.join(dir, 'model');
    saveBert(modelDir, model, { vocabFile });
    tokenizer = loadTokenizer(modelDir);
    const inputs = studyInputs(modelDir, { corpus, maxLength: 16 });
    inputs.model.dispose();
    ({ sequences, recipe } = inputs);
  });
  after(() => {
    model?.dispose();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('draws the sub-samples `fisherlab fisher --fraction` draws', () => {
    expect(sequences.length).to.be.greaterThan(40);
    expect(recipe).to.include({ corpus, maxLength: 16, heldOutFraction: 0.05, splitSeed: 0 });
    for (const [percent, seed] of [
      [10, 1],
      [20, 2],
      [50, 0],
    ]) {
      const want = corpusSamples(tokenizer, recipe, { fraction: percent / 100 }, seed).examples;
      expect(studyExamples(sequences, percent, seed, mlmVocab(tokenizer)), `${percent}% seed ${seed}`).to.deep.equal(
        want,
      );
    }
  });

  it('summarises every estimate by the tensorMeans, group and site scores of the full estimate, and keeps the tensors asked for', async () => {
    const keepFile = path.join(dir, 'kept-10pct-seed1.safetensors');
    const result = await runFisherStudy(options('study', { keep: [{ percent: 10, seed: 1, file: keepFile }] }));
    expect(result.summaries.map((s) => [s.percent, s.seed, s.reference])).to.deep.equal(ESTIMATES);
    for (const s of result.summaries) {
      const full = await fullEstimate(s.percent, s.seed);
      const means = tensorMeans(full);
      expect(s.tensorMeans, s.id).to.deep.equal(means);
      expect(s.groups, s.id).to.deep.equal(groupScores(means));
      expect(s.sites, s.id).to.deep.equal(dropoutSiteScores(groupScores(means)));
      expect(s.samples, s.id).to.equal(Math.floor((s.percent / 100) * sequences.length + 1e-9));
    }
    const kept = readFisher(keepFile);
    const full = await fullEstimate(10, 1);
    for (const [name, t] of full)
      expect(bytes(kept.tensors.get(name)!.data).equals(bytes(t.data)), name).to.equal(true);
    expect(kept.metadata).to.include({
      selection: 'fraction 0.1',
      seed: '1',
      batch_size: '4',
      corpus,
      training_sequences: String(sequences.length),
    });
    expect(fs.existsSync(path.join(dir, 'study', 'runs')), 'run folders are removed once done').to.equal(false);
  });

  it('writes one table row per (fraction, seed) and the reference row last, as fisherStability gives them, in JSON and CSV', async () => {
    const study = readFisherStudy(path.join(dir, 'study'));
    expect(study.rows.map((r) => [r.percent, r.seed, r.reference])).to.deep.equal(ESTIMATES);
    const means: TensorMean[][] = [];
    for (const [p, s] of [
      [10, 1],
      [10, 2],
      [20, 1],
      [20, 2],
      [50, 0],
    ])
      means.push(tensorMeans(await fullEstimate(p, s)));
    const want = fisherStability(
      study.summaries.map((s, i) => ({ sampleSize: s.samples, seed: s.seed, fisher: means[i] })),
      { reference: 4 },
    );
    expect(study.rows.map(({ percent: _, ...r }) => r)).to.deep.equal(want);
    expect(study.rows[4]).to.include({
      tensorSpearman: 1,
      siteSpearman: 1,
      sameSiteOrder: true,
      scheduleChanged: false,
    });
    const csv = fs
      .readFileSync(path.join(dir, 'study', 'stability.csv'), 'utf8')
      .trim()
      .split('\n');
    expect(csv).to.have.length(6);
    expect(csv[0]).to.equal(
      'percent,sampleSize,seed,reference,tensorSpearman,siteSpearman,sameSiteOrder,sitesMoved,scheduleChanged,maxPChange',
    );
    expect(csv[5].split(',').slice(0, 4)).to.deep.equal(['50', String(study.summaries[4].samples), '0', 'true']);
    expect(study.settings).to.include({
      model: 'tiny',
      corpus,
      batch_size: '4',
      training_sequences: String(sequences.length),
    });
  });

  it('resumes: finished estimates are skipped, new seeds computed, an interrupted estimate continued to the same summary', async () => {
    const studyDir = path.join(dir, 'study');
    const before = fs.statSync(path.join(studyDir, 'estimates', 'pct10-seed1.json')).mtimeMs;
    const again = await runFisherStudy(options('study', { seeds: [1, 2, 3] }));
    expect(again.skipped).to.deep.equal(['pct10-seed1', 'pct10-seed2', 'pct20-seed1', 'pct20-seed2', 'pct50-seed0']);
    expect(again.computed).to.deep.equal(['pct10-seed3', 'pct20-seed3']);
    expect(again.rows!.map((r) => [r.percent, r.seed])).to.deep.equal([
      [10, 1],
      [10, 2],
      [10, 3],
      [20, 1],
      [20, 2],
      [20, 3],
      [50, 0],
    ]);
    expect(fs.statSync(path.join(studyDir, 'estimates', 'pct10-seed1.json')).mtimeMs).to.equal(before);

    let polls = 0;
    const stopped = await runFisherStudy(options('interrupted', { shouldStop: () => ++polls >= 2 }));
    expect(stopped.rows).to.equal(null);
    expect(stopped.computed).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'interrupted', 'runs', 'pct10-seed1', 'checkpoints'))).to.equal(true);
    const resumed = await runFisherStudy(options('interrupted'));
    expect(resumed.computed).to.have.length(5);
    expect(resumed.summaries[0].resumedFrom).to.equal(8);
    const first = readFisherStudy(studyDir);
    expect(resumed.summaries.map((s) => s.tensorMeans)).to.deep.equal(
      first.summaries.filter((s) => s.seed !== 3).map((s) => s.tensorMeans),
    );
  });

  it('rejects other settings in a study folder, a reference inside the grid, and a kept estimate outside the study', async () => {
    expect(await rejection(runFisherStudy(options('study', { settings: { model: 'other', corpus } })))).to.match(
      /holds a Fisher study with other settings \(model: "tiny" → "other"\)/,
    );
    expect(() =>
      studyDesign({ percents: [10, 50], seeds: [0, 1], referencePercent: 50, referenceSeed: 0 }, 100),
    ).to.throw(/the reference \(50%, seed 0\) is also in the grid/);
    expect(() => studyDesign({ percents: [10, 10], seeds: [1], referencePercent: 50, referenceSeed: 0 }, 100)).to.throw(
      /percentages listed twice/,
    );
    expect(() => studyDesign({ percents: [0], seeds: [1], referencePercent: 50, referenceSeed: 0 }, 100)).to.throw(
      /in \(0, 100\]/,
    );
    expect(
      await rejection(
        runFisherStudy(options('bad', { keep: [{ percent: 5, seed: 1, file: path.join(dir, 'x.safetensors') }] })),
      ),
    ).to.match(/cannot keep the Fisher of 5% seed 1/);
  });

  it('the command keeps the same tensors `fisherlab fisher --fraction` writes', () => {
    const env = { ...process.env, FISHERLAB_ROOT: ROOT, FISHERLAB_OUT: path.join(dir, 'out') };
    const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
    const common = ['--model', modelDir, '--corpus', corpus, '--max-length', '16', '--batch-size', '4'];
    const kept = path.join(dir, 'cli-kept.safetensors');
    const studyArgs = [
      'fisher-stability',
      ...common,
      '--fractions',
      '20',
      '--seeds',
      '2',
      '--reference-fraction',
      '30',
      '--keep',
      `20:2:${kept}`,
      '--out',
      path.join(dir, 'cli-study'),
    ];
    const study = run(studyArgs);
    expect(study.status, study.stderr).to.equal(0);
    expect(study.stdout).to.match(/2 estimates computed, 0 skipped/);
    const single = run([
      'fisher',
      ...common,
      '--fraction',
      '0.2',
      '--seed',
      '2',
      '--output',
      path.join(dir, 'cli-single.safetensors'),
    ]);
    expect(single.status, single.stderr).to.equal(0);
    const a = readFisher(kept);
    const b = readFisher(path.join(dir, 'cli-single.safetensors'));
    expect(a.samples).to.equal(b.samples);
    for (const [name, t] of b.tensors)
      expect(bytes(a.tensors.get(name)!.data).equals(bytes(t.data)), name).to.equal(true);
    const again = run(studyArgs);
    expect(again.stdout).to.match(/0 estimates computed, 2 skipped/);
  });
});
