/** The majority-class floor: the training set's most frequent label, scored on the run's own evaluation set. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FINETUNE_DEFAULTS, FinetuneSettings } from '../lib/glue/finetune';
import { majorityClassCells, majorityClassScore } from '../lib/sweep/baselines';
import { authorsSplit } from '../lib/glue/protocols';
import { loadDevSets, loadTask } from '../lib/glue/load';
import type { SweepRecord } from '../lib/sweep/run';

/** MRPC files whose rows carry the given labels. */
function writeMrpc(root: string, train: number[], dev: number[]): void {
  const rows = (labels: number[]) =>
    labels.map((l, i) => `${l}\t${i}\t${i + 1000}\tsentence ${i} .\tother ${i} .`).join('\n');
  fs.mkdirSync(path.join(root, 'MRPC'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'MRPC', 'train.tsv'),
    `Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n${rows(train)}\n`,
  );
  fs.writeFileSync(path.join(root, 'MRPC', 'dev.tsv'), `Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n${rows(dev)}\n`);
}

const settings = (o: Partial<FinetuneSettings>): FinetuneSettings => ({
  ...FINETUNE_DEFAULTS,
  task: 'MRPC',
  model: 'unused',
  init: 'pretrained',
  protocol: 'official',
  trainPct: 100,
  seed: 1,
  ...o,
});

describe('majority-class floor', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-floor-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it("scores the training majority on the dev set with the task's metrics (MRPC: mean of accuracy and F1)", () => {
    writeMrpc(root, [1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [1, 1, 0, 1, 1]);
    // All "paraphrase": accuracy 4/5, F1 = 2·4 / (2·4 + 1 + 0) = 8/9.
    expect(majorityClassScore(settings({}), root)).to.be.closeTo((0.8 + 8 / 9) / 2, 1e-12);
  });

  it('takes the majority from the training examples, not from the evaluation set', () => {
    writeMrpc(root, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 1]);
    // All "not paraphrase": accuracy 1/5, no true positives so F1 = 0.
    expect(majorityClassScore(settings({}), root)).to.be.closeTo(0.1, 1e-12);
  });

  it("uses the run's split: under the authors' protocol, the held-out 20% of the pooled data for that seed", () => {
    const train = [1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1];
    writeMrpc(root, train, [1, 0, 1, 1]);
    for (const seed of [1, 2, 3]) {
      const test = authorsSplit(loadTask(root, 'MRPC', 'train'), loadDevSets(root, 'MRPC'), seed).eval.test;
      const positives = test.filter((e) => e.label === 1).length;
      const expected = (positives / test.length + (2 * positives) / (2 * positives + (test.length - positives))) / 2;
      expect(majorityClassScore(settings({ protocol: 'authors', seed }), root), `seed ${seed}`).to.be.closeTo(
        expected,
        1e-12,
      );
    }
  });

  it('is 0 for a constant classifier under Matthews correlation and for STS-B, which needs no data', () => {
    fs.mkdirSync(path.join(root, 'CoLA'));
    const cola = (labels: number[]) => labels.map((l, i) => `src\t${l}\t\tsentence ${i} .`).join('\n') + '\n';
    fs.writeFileSync(path.join(root, 'CoLA', 'train.tsv'), cola([1, 1, 0]));
    fs.writeFileSync(path.join(root, 'CoLA', 'dev.tsv'), cola([1, 0]));
    expect(majorityClassScore(settings({ task: 'CoLA' }), root)).to.equal(0);
    expect(majorityClassScore(settings({ task: 'STS-B' }), path.join(root, 'nowhere'))).to.equal(0);
  });

  it('gives one cell per task and percentage over the seeds, however many methods ran them', () => {
    writeMrpc(root, [1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1], [1, 0, 1, 1]);
    const record = (method: string, seed: number) =>
      ({
        method,
        task: 'MRPC',
        pct: 100,
        seed,
        settings: settings({ protocol: 'authors', seed }),
      }) as unknown as SweepRecord;
    const records = ['standard', 'guided', 'gaussian'].flatMap((m) => [1, 2].map((seed) => record(m, seed)));
    const cells = majorityClassCells(records, root);
    const scores = [1, 2].map((seed) => majorityClassScore(settings({ protocol: 'authors', seed }), root));
    expect(cells).to.have.length(1);
    expect(cells[0]).to.include({ task: 'MRPC', pct: 100, method: 'majority class', n: 2 });
    expect(cells[0].mean).to.be.closeTo((scores[0] + scores[1]) / 2, 1e-12);
    expect(cells[0].std).to.be.closeTo(Math.abs(scores[0] - scores[1]) / Math.SQRT2, 1e-12);
  });
});
