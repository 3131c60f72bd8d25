/** Fine-tuning on a synthetic task in the GLUE layout: it learns, it is deterministic per seed, and it honours the settings. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sentimentConfig, sentimentVocab, setupBackend, writeSentimentTask } from './helpers';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { saveBert } from '../lib/bert/load';
import { finetune, FINETUNE_DEFAULTS, FinetuneSettings } from '../lib/glue/finetune';
import { pretrainingBenefit, readBenefitReports, summarizeRuns } from '../lib/pretrain/benefit';
import { meanStd } from '../lib/util/stats';

const WORDS = ['the', 'film', 'was', 'plot', 'acting', 'very', 'quite', 'and', 'but', 'a', 'story'];
const VOCAB = sentimentVocab(WORDS);

describe('fine-tuning', function () {
  this.timeout(120_000);
  let dir = '';
  let settings: FinetuneSettings;
  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-finetune-'));
    writeSentimentTask(path.join(dir, 'glue'), { words: WORDS, train: 240, dev: 60, seed: 4, extraWords: 5 });
    const config = sentimentConfig(VOCAB);
    const model = Bert.random(config, MASKED_LM, 0);
    saveBert(path.join(dir, 'model'), model, { vocabTokens: VOCAB });
    model.dispose();
    settings = {
      ...FINETUNE_DEFAULTS,
      task: 'SST-2',
      model: path.join(dir, 'model'),
      init: 'pretrained',
      epochs: 4,
      batchSize: 16,
      lr: 1e-2,
      seed: 1,
      maxLength: 32,
    };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const quiet = { write: () => {} };

  it('learns a learnable task and reports every epoch on the dev set', async () => {
    const r = await finetune(settings, path.join(dir, 'glue'), quiet);
    expect(r.trainExamples).to.equal(240);
    expect(r.evalExamples).to.deep.equal({ dev: 60 });
    expect(r.epochs.map((e) => [e.epoch, e.step])).to.deep.equal([
      [1, 15],
      [2, 30],
      [3, 45],
      [4, 60],
    ]);
    expect(r.final.dev.metrics.accuracy).to.be.above(0.9);
    expect(r.final.dev.main).to.equal(r.final.dev.metrics.accuracy);
  });

  it('gives the same numbers for the same seed and others for another seed', async () => {
    const small = { ...settings, epochs: 1 };
    const a = await finetune(small, path.join(dir, 'glue'), quiet);
    const b = await finetune(small, path.join(dir, 'glue'), quiet);
    const c = await finetune({ ...small, seed: 2, init: 'random' }, path.join(dir, 'glue'), quiet);
    expect(b.epochs).to.deep.equal(a.epochs);
    expect(a.epochs[0].trainLoss).to.be.within(0.3, 1);
    expect(c.epochs[0].trainLoss).to.not.equal(a.epochs[0].trainLoss);
  });

  it("trains on the paucity share, under the authors' split, with the caps", async () => {
    const r = await finetune(
      { ...settings, epochs: 1, protocol: 'authors', trainPct: 25, maxEvalExamples: 20 },
      path.join(dir, 'glue'),
      quiet,
    );
    // pooled 300 → test ceil(60) = 60 (capped to 20), train 240 → 25% = 60
    expect(r.trainExamples).to.equal(60);
    expect(r.evalExamples).to.deep.equal({ test: 20 });
  });

  it('applies per-site dropout settings and rejects unknown sites', async () => {
    let err: Error | null = null;
    try {
      await finetune(
        { ...settings, epochs: 1, dropout: { 'bert.encoder.layer.7.output.dropout': { kind: 'bernoulli', p: 0.1 } } },
        path.join(dir, 'glue'),
        quiet,
      );
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/unknown dropout site "bert\.encoder\.layer\.7\.output\.dropout"/);
  });

  it('compares pretrained and random initializations at each lr and seed in parallel processes, reusing finished runs', async () => {
    const runsDir = path.join(dir, 'sst2-runs');
    const lines: string[] = [];
    /** The SST-2 check of seeds 1 and 2 at two learning rates in two processes, into runsDir. */
    const benefit = () =>
      pretrainingBenefit(
        'SST-2',
        path.join(dir, 'model'),
        path.join(dir, 'glue'),
        [1, 2],
        { maxTrainExamples: 64, lrs: [1e-2, 3e-3], jobs: 2, runsDir },
        (l) => lines.push(l),
      );
    const report = await benefit();
    expect(report.runs.map((r) => `${r.init}-${r.lr}-${r.seed}`)).to.deep.equal([
      'pretrained-0.003-1',
      'random-0.003-1',
      'pretrained-0.01-1',
      'random-0.01-1',
      'pretrained-0.003-2',
      'random-0.003-2',
      'pretrained-0.01-2',
      'random-0.01-2',
    ]);
    const acc = (init: string, lr: number) =>
      report.runs.filter((r) => r.init === init && r.lr === lr).map((r) => r.score);
    expect(report.byLr.find((a) => a.init === 'random' && a.lr === 1e-2)).to.deep.equal({
      init: 'random',
      lr: 1e-2,
      ...meanStd(acc('random', 1e-2)),
    });
    for (const init of ['pretrained', 'random'] as const) {
      const best = Math.max(...[1e-2, 3e-3].map((lr) => meanStd(acc(init, lr)).mean));
      expect(report.summary[init].mean).to.equal(best);
    }
    expect([report.task, report.metric, report.trainExamples, report.devExamples]).to.deep.equal([
      'SST-2',
      'accuracy',
      64,
      60,
    ]);
    // SST-2 runs keep the names they had before other tasks were added (no task part), so old runs are reused
    expect(fs.readdirSync(runsDir)).to.have.length(8);
    for (const f of fs.readdirSync(runsDir))
      expect(f).to.match(/^(pretrained|random)-[0-9a-f]{12}-lr0\.0\d+-seed[12]-n64\.json$/);
    expect(lines.some((l) => /reused/.test(l))).to.equal(false);
    // the same run in this process gives the same accuracy as the child process did
    const same = await finetune(
      {
        ...FINETUNE_DEFAULTS,
        task: 'SST-2',
        model: path.join(dir, 'model'),
        init: 'random',
        seed: 2,
        maxTrainExamples: 64,
        lr: 1e-2,
      },
      path.join(dir, 'glue'),
      quiet,
    );
    expect(same.final.dev.metrics.accuracy).to.equal(acc('random', 1e-2)[1]);
    // A second check reuses every run (no process is started) and gives the same report.
    const again = await benefit();
    expect(again).to.deep.equal(report);
    expect(lines.filter((l) => /reused/.test(l))).to.have.length(8);
  });

  it('confirms on fresh seeds at the learning rates the grid chose, reusing the grid runs and refusing a seed of the grid', async () => {
    const runsDir = path.join(dir, 'sst2-runs');
    const check = (confirmSeeds: number[]) =>
      pretrainingBenefit('SST-2', path.join(dir, 'model'), path.join(dir, 'glue'), [1, 2], {
        maxTrainExamples: 64,
        lrs: [1e-2, 3e-3],
        jobs: 2,
        runsDir,
        confirmSeeds,
      });
    const report = await check([3, 4]);
    const c = report.confirmation!;
    expect(c.seeds).to.deep.equal([3, 4]);
    // one run per start and seed, each at the lr the seeds 1 and 2 chose for that start
    expect(c.runs.map((r) => `${r.init}-${r.lr}-${r.seed}`)).to.deep.equal([
      `pretrained-${report.summary.pretrained.lr}-3`,
      `random-${report.summary.random.lr}-3`,
      `pretrained-${report.summary.pretrained.lr}-4`,
      `random-${report.summary.random.lr}-4`,
    ]);
    // the test is computed on the confirmation's own scores (a check by hand of the differences and wins)
    const score = (init: string, seed: number) => c.runs.find((r) => r.init === init && r.seed === seed)!.score;
    const diffs = [3, 4].map((seed) => score('pretrained', seed) - score('random', seed));
    expect(c.paired.differences).to.deep.equal(diffs);
    expect(c.paired.wins).to.equal(diffs.filter((d) => d > 0).length);
    // the run files sit beside the grid's under the same names: 8 grid runs reused, 4 new ones
    expect(fs.readdirSync(runsDir)).to.have.length(12);
    // the same seed again is each start's run at its lr, so it matches the confirmation run file by file
    const random3 = fs
      .readdirSync(runsDir)
      .find((f) => f.startsWith('random-') && f.includes(`-lr${report.summary.random.lr}-seed3-`))!;
    const result = JSON.parse(fs.readFileSync(path.join(runsDir, random3), 'utf8'));
    expect(result.final.dev.metrics.accuracy).to.equal(score('random', 3));
    let err: Error | undefined;
    await check([2, 5]).catch((e) => (err = e));
    expect(err?.message).to.match(/confirmation seeds 2 also chose the learning rates/);
  });

  it('model-card --check on a folder fisherlab did not pretrain: the comparison printed and saved, no model card', () => {
    // the folder of this suite has no pretrain-report.json; the runs of seeds 1 and 2 at lr 0.01 are reused
    const model = path.join(dir, 'model');
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [path.join(process.cwd(), 'bin', 'fisherlab.js'), 'model-card', '--model', model, ...args],
        {
          encoding: 'utf8',
          env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
        },
      );
    const bare = cli();
    expect(bare.status).to.not.equal(0);
    expect(bare.stderr).to.include(`${path.join(model, 'pretrain-report.json')} not found`);
    const r = cli(
      ...['--check', 'SST-2', '--seeds', '1,2', '--lrs', '0.01', '--max-train', '64'],
      ...['--glue', path.join(dir, 'glue'), '--runs-dir', path.join(dir, 'sst2-runs'), '--jobs', '1'],
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr.match(/reused/g)).to.have.length(4);
    const saved = readBenefitReports(path.join(model, 'pretraining-benefit.json'));
    expect(saved.map((b) => [b.task, b.trainExamples, b.seeds])).to.deep.equal([['SST-2', 64, [1, 2]]]);
    const d = saved[0].paired.differences.map((x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`);
    expect(r.stdout).to.include('**SST-2, 64 training examples** (dev: 60 examples, accuracy; seeds 1, 2)');
    expect(r.stdout).to.include(`per seed: ${d.join(', ')};`);
    expect(r.stdout).to.match(/Verdict: /);
    expect(fs.existsSync(path.join(model, 'MODEL.md'))).to.equal(false);
    fs.rmSync(path.join(model, 'pretraining-benefit.json'));
  });

  it('compares on CoLA by its main metric, Matthews correlation, under runs named by the task', async () => {
    // the synthetic sentiment task in CoLA's headerless layout: source, label, original mark, sentence
    for (const split of ['train', 'dev']) {
      const rows = fs
        .readFileSync(path.join(dir, 'glue', 'SST-2', `${split}.tsv`), 'utf8')
        .trim()
        .split('\n')
        .slice(1);
      fs.mkdirSync(path.join(dir, 'glue', 'CoLA'), { recursive: true });
      fs.writeFileSync(
        path.join(dir, 'glue', 'CoLA', `${split}.tsv`),
        rows
          .map((r) => r.split('\t'))
          .map(([sentence, label]) => `src\t${label}\t\t${sentence}\n`)
          .join(''),
      );
    }
    const runsDir = path.join(dir, 'cola-runs');
    const report = await pretrainingBenefit('cola', path.join(dir, 'model'), path.join(dir, 'glue'), [1, 2], {
      maxTrainExamples: 0,
      lrs: [1e-2],
      jobs: 2,
      runsDir,
    });
    expect([report.task, report.metric, report.trainExamples, report.devExamples]).to.deep.equal([
      'CoLA',
      'matthews_correlation',
      240,
      60,
    ]);
    const files = fs.readdirSync(runsDir).sort();
    expect(files).to.have.length(4);
    for (const f of files) expect(f).to.match(/^CoLA-(pretrained|random)-[0-9a-f]{12}-lr0\.01-seed[12]-n0\.json$/);
    for (const r of report.runs) {
      const file = files.find((f) => f.startsWith(`CoLA-${r.init}-`) && f.includes(`-seed${r.seed}-`))!;
      const result = JSON.parse(fs.readFileSync(path.join(runsDir, file), 'utf8'));
      expect(result.settings.task).to.equal('CoLA');
      expect(r.score).to.equal(result.final.dev.metrics.matthews_correlation);
    }
  });

  it("picks each start's best learning rate, the smaller one on a tie", () => {
    const run = (init: 'pretrained' | 'random', lr: number, score: number) => ({
      init,
      lr,
      seed: 1,
      score,
      seconds: 1,
    });
    const { summary } = summarizeRuns(
      [
        run('pretrained', 1, 0.7),
        run('pretrained', 2, 0.8),
        run('random', 1, 0.6),
        run('random', 2, 0.6),
        ...[run('pretrained', 1, 0), run('pretrained', 2, 0.1), run('random', 1, 0), run('random', 2, 0)].map((r) => ({
          ...r,
          seed: 2,
        })),
      ],
      [1, 2],
      [1, 2],
    );
    expect(summary.pretrained).to.include({ lr: 2, mean: 0.45 });
    expect(summary.random).to.include({ lr: 1, mean: 0.3 });
  });

  it('mean and sample standard deviation', () => {
    expect(meanStd([1, 2, 3, 6])).to.deep.equal({ mean: 3, std: Math.sqrt(14 / 3) });
    expect(meanStd([5])).to.deep.equal({ mean: 5, std: 0 });
  });
});
