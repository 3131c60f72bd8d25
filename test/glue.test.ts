/** GLUE: task layouts, the TSV loader and its errors, the split protocols, the real data, and glue-download. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { GlueDownloadOptions, downloadGlue, extractZip } from '../lib/glue/download';
import { Example, glueDataDir, loadDevSets, loadTask } from '../lib/glue/load';
import { authorsSplit, officialSplit, paucity } from '../lib/glue/protocols';
import { TASKS, TASK_NAMES, taskSpec } from '../lib/glue/tasks';
import { devSentences, loadGlueTrainText, normalizeSentence } from '../lib/pretrain/glue-text';
import { closedPort, errorOf, localServer, rejection, sendBytes, sendHalfAndCut } from './helpers';

/** `n` synthetic examples whose index is their position (0-based). */
function synthetic(n: number, from = 0): Example[] {
  return Array.from({ length: n }, (_, i) => ({ text: `s${from + i}`, label: 0, index: from + i }));
}

const MNLI_TRAIN_HEADER =
  'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label';
const MNLI_DEV_HEADER =
  'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label';
const STSB_HEADER = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore';

describe('GLUE tasks', () => {
  it('lists the nine tasks with their label counts and metrics', () => {
    expect(TASK_NAMES).to.deep.equal(['CoLA', 'SST-2', 'MRPC', 'STS-B', 'QQP', 'MNLI', 'QNLI', 'RTE', 'WNLI']);
    expect(TASK_NAMES.map((t) => TASKS[t].numLabels)).to.deep.equal([2, 2, 2, 1, 2, 3, 2, 2, 2]);
    expect(TASKS.CoLA.metrics).to.deep.equal(['matthews_correlation']);
    expect(TASKS.MRPC.metrics).to.deep.equal(['f1', 'accuracy']);
    expect(TASKS.QQP.metrics).to.deep.equal(['f1', 'accuracy']);
    expect(TASKS['STS-B'].metrics).to.deep.equal(['pearson', 'spearmanr']);
    for (const t of ['SST-2', 'QNLI', 'RTE', 'WNLI', 'MNLI'] as const)
      expect(TASKS[t].metrics).to.deep.equal(['accuracy']);
    expect(TASKS.MNLI.devSplits).to.deep.equal(['dev_matched', 'dev_mismatched']);
  });

  it('finds tasks by name, case-insensitively, or by Hugging Face id, and names the valid ones otherwise', () => {
    expect(taskSpec('sst2').name).to.equal('SST-2');
    expect(taskSpec('sts-b').name).to.equal('STS-B');
    expect(taskSpec('stsb').name).to.equal('STS-B');
    expect(errorOf(() => taskSpec('SST'))).to.match(/unknown GLUE task "SST": expected one of CoLA, SST-2/);
  });
});

describe('GLUE loader', () => {
  let root = '';
  before(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-glue-'))));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  /** Writes root/TASK/SPLIT.tsv and returns its path. */
  function write(task: string, split: string, content: string): string {
    const file = path.join(root, task, `${split}.tsv`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
    return file;
  }

  it('CoLA: no header in train/dev (source, label, mark, sentence), no final newline; a header in test', () => {
    write('CoLA', 'dev', 'gj04\t1\t\tThe sailors rode the breeze.\ngj04\t0\t*\tThe more we study, we learn.');
    expect(loadTask(root, 'CoLA', 'dev')).to.deep.equal([
      { text: 'The sailors rode the breeze.', label: 1, index: 1 },
      { text: 'The more we study, we learn.', label: 0, index: 2 },
    ]);
    write('CoLA', 'test', 'index\tsentence\n0\tBill whistled past the house.\n');
    const test = loadTask(root, 'CoLA', 'test');
    expect(test.map((e) => [e.text, e.index])).to.deep.equal([['Bill whistled past the house.', 2]]);
    expect(test[0].label).to.be.NaN;
  });

  it('SST-2: header sentence/label, CRLF line ends, trailing spaces kept', () => {
    write('SST-2', 'train', "sentence\tlabel\r\nit 's a charming journey . \t1\r\nbleak \t0\r\n");
    expect(loadTask(root, 'SST-2', 'train')).to.deep.equal([
      { text: "it 's a charming journey . ", label: 1, index: 2 },
      { text: 'bleak ', label: 0, index: 3 },
    ]);
  });

  it('MRPC: a byte-order mark, Quality first, the pair in columns 4 and 5, unbalanced quotes', () => {
    write(
      'MRPC',
      'dev',
      '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\tHe said the pie "business.\t"The pie business does not fit.\n0\t2029631\t2029565\tA.\tB.\n',
    );
    expect(loadTask(root, 'MRPC', 'dev')).to.deep.equal([
      { text: 'He said the pie "business.', textPair: '"The pie business does not fit.', label: 1, index: 2 },
      { text: 'A.', textPair: 'B.', label: 0, index: 3 },
    ]);
  });

  it('STS-B: 10 columns, sentences at 8 and 9, the score last as a float in [0, 5]', () => {
    write(
      'STS-B',
      'train',
      `${STSB_HEADER}\n0\tmain-captions\tMSRvid\t2012test\t0001\tnone\tnone\tA plane is taking off.\tAn air plane is taking off.\t5.000\n1\tmain-news\theadlines\t2013\t0004\tnone\tnone\tA man.\tA flute.\t0.000\n2\tmain-news\theadlines\t2013\t0005\tnone\tnone\tA.\tB.\t3.800\n`,
    );
    expect(loadTask(root, 'STS-B', 'train').map((e) => [e.text, e.textPair, e.label])).to.deep.equal([
      ['A plane is taking off.', 'An air plane is taking off.', 5],
      ['A man.', 'A flute.', 0],
      ['A.', 'B.', 3.8],
    ]);
  });

  it('QQP: id, qid1, qid2, question1, question2, is_duplicate', () => {
    write(
      'QQP',
      'train',
      'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n133273\t213221\t213222\tHow is the life?\tHow is life?\t1\n',
    );
    expect(loadTask(root, 'QQP', 'train')).to.deep.equal([
      { text: 'How is the life?', textPair: 'How is life?', label: 1, index: 2 },
    ]);
  });

  it('MNLI: 12 columns in train, 16 in dev_matched, sentences at 8/9, gold_label last → entailment 0, neutral 1, contradiction 2', () => {
    const parses = '(a)\t(b)\t(ROOT a)\t(ROOT b)';
    write(
      'MNLI',
      'train',
      `${MNLI_TRAIN_HEADER}\n0\t31193\t31193n\tgovernment\t${parses}\tConceptually cream skimming.\tProduct and geography.\tneutral\tneutral\n1\t101457\t101457e\ttelephone\t${parses}\tyou know.\tYou lose.\tentailment\tentailment\n`,
    );
    write(
      'MNLI',
      'dev_matched',
      `${MNLI_DEV_HEADER}\n0\t63735\t63735n\tslate\t${parses}\tThe new rights.\tEveryone loves.\tneutral\tentailment\tneutral\tneutral\tneutral\tcontradiction\n`,
    );
    expect(loadTask(root, 'MNLI', 'train')).to.deep.equal([
      { text: 'Conceptually cream skimming.', textPair: 'Product and geography.', label: 1, index: 2 },
      { text: 'you know.', textPair: 'You lose.', label: 0, index: 3 },
    ]);
    expect(loadTask(root, 'MNLI', 'dev_matched').map((e) => e.label)).to.deep.equal([2]);
    expect(errorOf(() => loadTask(root, 'MNLI', 'dev'))).to.match(
      /MNLI has no split "dev": expected one of train, dev_matched, dev_mismatched, test_matched, test_mismatched/,
    );
  });

  it('QNLI, RTE, WNLI: index, pair, label; unbalanced quotes are plain characters', () => {
    write(
      'QNLI',
      'dev',
      'index\tquestion\tsentence\tlabel\n0\tWhat "came into force?\tAs of that day, "the new.\tnot_entailment\n1\tQ?\tS.\tentailment\n',
    );
    expect(loadTask(root, 'QNLI', 'dev')).to.deep.equal([
      { text: 'What "came into force?', textPair: 'As of that day, "the new.', label: 1, index: 2 },
      { text: 'Q?', textPair: 'S.', label: 0, index: 3 },
    ]);
    write(
      'RTE',
      'train',
      'index\tsentence1\tsentence2\tlabel\n0\tNo "weapons found.\tWeapons found.\tnot_entailment\n1\tA.\tB.\tentailment',
    );
    expect(loadTask(root, 'RTE', 'train').map((e) => [e.text, e.label, e.index])).to.deep.equal([
      ['No "weapons found.', 1, 2],
      ['A.', 0, 3],
    ]);
    write(
      'WNLI',
      'dev',
      'index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair.\tThe hair has to be cleaned.\t0\n1\tJane knocked.\tSusan did not answer.\t1\n',
    );
    expect(loadTask(root, 'WNLI', 'dev').map((e) => e.label)).to.deep.equal([0, 1]);
    write('RTE', 'test', 'index\tsentence1\tsentence2\n0\tMangla was summoned.\tShukla is related.\n');
    expect(loadTask(root, 'RTE', 'test')[0].label).to.be.NaN;
  });

  it('a row with the wrong number of columns names the file, the line and the row', () => {
    const file = write(
      'RTE',
      'dev',
      'index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA. B.\tentailment\n',
    );
    expect(errorOf(() => loadTask(root, 'RTE', 'dev'))).to.equal(
      `${file}:3: expected 4 tab-separated columns (index, sentence1, sentence2, label), found 3: "1\\tA. B.\\tentailment"`,
    );
    write('CoLA', 'train', 'gj04\t1\t\tOne.\n\ngj04\t1\t\tTwo.\n');
    expect(errorOf(() => loadTask(root, 'CoLA', 'train'))).to.match(
      /CoLA\/train\.tsv:2: expected 4 tab-separated columns .* found 1: ""/,
    );
  });

  it('an unknown label names the file, the line and the value', () => {
    const file = write(
      'RTE',
      'dev',
      'index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n1\tA.\tB.\tentailed\n',
    );
    expect(errorOf(() => loadTask(root, 'RTE', 'dev'))).to.equal(
      `${file}:3: unknown label "entailed": expected one of entailment, not_entailment`,
    );
    write('SST-2', 'dev', 'sentence\tlabel\ngood \t2\n');
    expect(errorOf(() => loadTask(root, 'SST-2', 'dev'))).to.match(
      /SST-2\/dev\.tsv:2: unknown label "2": expected one of 0, 1$/,
    );
    write('STS-B', 'dev', `${STSB_HEADER}\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t5.2\n`);
    expect(errorOf(() => loadTask(root, 'STS-B', 'dev'))).to.match(
      /STS-B\/dev\.tsv:2: score "5\.2" is not a number in \[0, 5\]$/,
    );
    write('STS-B', 'dev', `${STSB_HEADER}\n0\tg\tf\ty\t1\tn\tn\tA.\tB.\t\n`);
    expect(errorOf(() => loadTask(root, 'STS-B', 'dev'))).to.match(/STS-B\/dev\.tsv:2: score "" is not a number/);
  });

  it('an empty text names the file, the line and the row', () => {
    write('SST-2', 'dev', 'sentence\tlabel\ngood \t1\n \t0\n');
    expect(errorOf(() => loadTask(root, 'SST-2', 'dev'))).to.match(/SST-2\/dev\.tsv:3: empty sentence in " \\t0"$/);
    write('RTE', 'dev', 'index\tsentence1\tsentence2\tlabel\n0\tA.\t\tentailment\n');
    expect(errorOf(() => loadTask(root, 'RTE', 'dev'))).to.match(/RTE\/dev\.tsv:2: empty sentence2 in/);
  });

  it('a header without the expected column, an empty file', () => {
    write('QQP', 'dev', 'id\tqid1\tqid2\tquestion1\tquestion2\tlabel\n');
    expect(errorOf(() => loadTask(root, 'QQP', 'dev'))).to.match(
      /QQP\/dev\.tsv:1: the header has no column "is_duplicate"/,
    );
    write('WNLI', 'train', '');
    expect(errorOf(() => loadTask(root, 'WNLI', 'train'))).to.match(/WNLI\/train\.tsv: the file is empty$/);
  });

  it('a missing task folder or file says where it looked and how to get the data', () => {
    expect(errorOf(() => loadTask(root, 'MNLI', 'dev_mismatched'))).to.equal(
      `GLUE task MNLI: ${path.join(root, 'MNLI', 'dev_mismatched.tsv')} does not exist (the folder holds: dev_matched.tsv, train.tsv); ` +
        `get it with \`npx fisherlab glue-download --tasks MNLI --to ${root}\`, which fills in missing files`,
    );
    expect(errorOf(() => loadTask(root, 'WNLI', 'test'))).to.match(/WNLI\/test\.tsv does not exist/);
    const empty = path.join(root, 'nowhere');
    expect(errorOf(() => loadTask(empty, 'QQP', 'train'))).to.equal(
      `GLUE task QQP: no folder ${path.join(empty, 'QQP')} (looked for ${path.join(empty, 'QQP', 'train.tsv')}); get it with \`npx fisherlab glue-download --tasks QQP --to ${empty}\``,
    );
  });

  it('loadDevSets keys the dev sets by split name', () => {
    write(
      'MNLI',
      'dev_mismatched',
      `${MNLI_DEV_HEADER}\n0\t1\t1c\tfiction\t(a)\t(b)\t(ROOT a)\t(ROOT b)\tX.\tY.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\n`,
    );
    const dev = loadDevSets(root, 'MNLI');
    expect(Object.keys(dev)).to.deep.equal(['dev_matched', 'dev_mismatched']);
    expect(dev.dev_mismatched.map((e) => e.label)).to.deep.equal([2]);
    expect(Object.keys(loadDevSets(root, 'QNLI'))).to.deep.equal(['dev']);
  });
});

/** Split sizes implied by the authors' code (paper.md §4.3): train, val, 20% test, 80% train, 50% and 20% of train. */
const PAPER_SIZES: Record<
  string,
  { train: number; val: number | [number, number]; test?: number; train80: number; pct50: number; pct20: number }
> = {
  CoLA: { train: 8551, val: 1043, test: 1919, train80: 7675, pct50: 3837, pct20: 1535 },
  'SST-2': { train: 67349, val: 872, test: 13645, train80: 54576, pct50: 27288, pct20: 10915 },
  MRPC: { train: 3668, val: 408, test: 816, train80: 3260, pct50: 1630, pct20: 652 },
  QQP: { train: 363846, val: 40430, test: 80856, train80: 323420, pct50: 161710, pct20: 64684 },
  'STS-B': { train: 5749, val: 1500, test: 1450, train80: 5799, pct50: 2899, pct20: 1159 },
  QNLI: { train: 104743, val: 5463, test: 22042, train80: 88164, pct50: 44082, pct20: 17632 },
  RTE: { train: 2490, val: 277, test: 554, train80: 2213, pct50: 1106, pct20: 442 },
  WNLI: { train: 635, val: 71, test: 142, train80: 564, pct50: 282, pct20: 112 },
  MNLI: { train: 392702, val: [9815, 9832], train80: 392702, pct50: 196351, pct20: 78540 },
};

/** Checks a split's sizes (authorsSplit, then paucity at 50% and 20%) against a row of paper.md's table. */
function expectPaperSizes(task: string, train: Example[], dev: Record<string, Example[]>): void {
  const want = PAPER_SIZES[task];
  const split = authorsSplit(train, dev, 42);
  expect(split.train.length, `${task} 80% train`).to.equal(want.train80);
  if (want.test !== undefined) expect(split.eval.test.length, `${task} 20% test`).to.equal(want.test);
  expect(paucity(split.train, 50, 42).length, `${task} 50%`).to.equal(want.pct50);
  expect(paucity(split.train, 20, 42).length, `${task} 20%`).to.equal(want.pct20);
}

describe('GLUE protocols', () => {
  it("authorsSplit reproduces paper.md's split sizes for all nine tasks (synthetic examples of the official sizes)", () => {
    for (const [task, want] of Object.entries(PAPER_SIZES)) {
      const dev: Record<string, Example[]> = Array.isArray(want.val)
        ? { dev_matched: synthetic(want.val[0]), dev_mismatched: synthetic(want.val[1]) }
        : { dev: synthetic(want.val, want.train) };
      expectPaperSizes(task, synthetic(want.train), dev);
    }
  });

  it('authorsSplit pools train and dev, loses and repeats nothing, and is fixed by the seed', () => {
    const train = synthetic(80);
    const dev = { dev: synthetic(20, 80) };
    const a = authorsSplit(train, dev, 7);
    expect(Object.keys(a.eval)).to.deep.equal(['test']);
    expect(a.train.length).to.equal(80);
    expect(a.eval.test.length).to.equal(20);
    const all = [...a.train, ...a.eval.test].map((e) => e.index).sort((x, y) => x - y);
    expect(all).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(
      a.eval.test.some((e) => e.index >= 80) && a.eval.test.some((e) => e.index < 80),
      'the test set mixes train and dev',
    ).to.equal(true);
    expect(authorsSplit(train, dev, 7)).to.deep.equal(a);
    expect(authorsSplit(train, dev, 8).train.map((e) => e.index)).to.not.deep.equal(a.train.map((e) => e.index));
    expect(
      train.map((e) => e.index),
      'the input is not shuffled in place',
    ).to.deep.equal(Array.from({ length: 80 }, (_, i) => i));
  });

  it('authorsSplit holds out ceil(0.2·n), as Hugging Face train_test_split counts: n = 6 → 2, n = 5 → 1', () => {
    expect(authorsSplit(synthetic(4), { dev: synthetic(2, 4) }, 1).eval.test.length).to.equal(2);
    expect(authorsSplit(synthetic(4), { dev: synthetic(1, 4) }, 1).eval.test.length).to.equal(1);
  });

  it('the seed-42 order is pinned (it must be the same on every machine)', () => {
    const a = authorsSplit(synthetic(8), { dev: synthetic(2, 8) }, 42);
    expect([...a.train, ...a.eval.test].map((e) => e.index)).to.deep.equal(PINNED_ORDER_SEED_42);
  });

  it('authorsSplit keeps MNLI-style dev sets (more than one) as the evaluation sets and shuffles only train', () => {
    const dev = { dev_matched: synthetic(3, 100), dev_mismatched: synthetic(4, 200) };
    const split = authorsSplit(synthetic(10), dev, 3);
    expect(split.eval).to.equal(dev);
    expect(split.train.map((e) => e.index).sort((x, y) => x - y)).to.deep.equal(
      Array.from({ length: 10 }, (_, i) => i),
    );
    expect(split.train.map((e) => e.index)).to.not.deep.equal(Array.from({ length: 10 }, (_, i) => i));
  });

  it('officialSplit trains on train and evaluates on dev', () => {
    const train = synthetic(5);
    const dev = { dev: synthetic(2, 5) };
    expect(officialSplit(train, dev)).to.deep.equal({ train, eval: dev });
    expect(errorOf(() => officialSplit(train, {}))).to.match(/no dev set/);
  });

  it('paucity: floor(pct/100·n) with at least 1, nested across percentages for one seed, fixed by the seed', () => {
    const train = synthetic(10);
    expect(paucity(train, 100, 1).length).to.equal(10);
    expect(paucity(train, 25, 1).length).to.equal(2);
    expect(paucity(train, 1, 1).length).to.equal(1);
    expect(paucity(synthetic(3), 50, 1).length).to.equal(1);
    const big = synthetic(1000);
    const half = paucity(big, 50, 9).map((e) => e.index);
    const fifth = paucity(big, 20, 9).map((e) => e.index);
    expect(half.slice(0, 200)).to.deep.equal(fifth);
    expect(new Set(half).size).to.equal(500);
    expect(paucity(big, 20, 9)).to.deep.equal(paucity(big, 20, 9));
    expect(paucity(big, 20, 10).map((e) => e.index)).to.not.deep.equal(fifth);
  });

  it('paucity refuses percentages outside (0, 100], an empty split and bad seeds', () => {
    for (const pct of [0, -5, 100.5, NaN])
      expect(errorOf(() => paucity(synthetic(5), pct, 1))).to.match(/outside \(0, 100\]/);
    expect(errorOf(() => paucity([], 50, 1))).to.match(/empty/);
    expect(errorOf(() => paucity(synthetic(5), 50, 1.5))).to.match(/seed 1\.5 is not an integer/);
  });
});

/** authorsSplit(seed 42) of indices 0–7 (train) and 8–9 (dev): the first 8 train, the last 2 test. */
const PINNED_ORDER_SEED_42 = [5, 9, 1, 6, 4, 7, 0, 2, 8, 3];

/** Row counts and label counts of the real files, from ../shared/data/README.md. */
const REAL_COUNTS: Record<string, Record<string, [number, number[]?]>> = {
  CoLA: { train: [8551, [2528, 6023]], dev: [1043, [322, 721]], test: [1063] },
  'SST-2': { train: [67349, [29780, 37569]], dev: [872, [428, 444]], test: [1821] },
  MRPC: { train: [3668, [1194, 2474]], dev: [408, [129, 279]], test: [1725] },
  'STS-B': { train: [5749], dev: [1500], test: [1379] },
  RTE: { train: [2490, [1249, 1241]], dev: [277, [146, 131]], test: [3000] },
  WNLI: { train: [635], dev: [71, [40, 31]], test: [146] },
  QNLI: { dev: [5463, [2702, 2761]], test: [5463] },
};

describe('GLUE real data (../shared/data/glue)', function () {
  this.timeout(60_000);
  const dir = glueDataDir();
  before(function () {
    if (!dir) {
      console.warn('    skipped: the shared GLUE data (glue/) is missing; set FISHERLAB_DATA');
      this.skip();
    }
  });

  for (const [task, splits] of Object.entries(REAL_COUNTS)) {
    it(`${task}: row and label counts of every split match the data README`, function () {
      if (!fs.existsSync(path.join(dir!, task))) {
        console.warn(`    skipped: ${task} is not in ${dir}`);
        this.skip();
      }
      for (const [split, [rows, labels]] of Object.entries(splits)) {
        const examples = loadTask(dir!, task, split);
        expect(examples.length, `${task} ${split}`).to.equal(rows);
        if (labels)
          expect(
            labels.map((_, k) => examples.filter((e) => e.label === k).length),
            `${task} ${split} labels`,
          ).to.deep.equal(labels);
        if (split === 'test') expect(examples.every((e) => Number.isNaN(e.label))).to.equal(true);
      }
    });
  }

  it('glue-train: every training sentence that no dev set holds, and no dev sentence', () => {
    const { docs } = loadGlueTrainText(dir);
    const pretraining = new Set(docs.flatMap((d) => d.sentences.map(normalizeSentence)));
    // Independent of devSentences: read each dev file here and look every sentence up.
    let devCount = 0;
    for (const name of TASK_NAMES) {
      const task = taskSpec(name);
      for (const split of task.devSplits) {
        if (!fs.existsSync(path.join(dir!, task.folder, `${split}.tsv`))) continue;
        for (const ex of loadTask(dir!, name, split))
          for (const s of [ex.text, ex.textPair].filter((t): t is string => t !== undefined)) {
            devCount++;
            expect(pretraining.has(normalizeSentence(s)), `${name} ${split}: ${s}`).to.equal(false);
          }
      }
    }
    expect(devCount).to.be.greaterThan(1000);
    const dev = devSentences(dir!);
    const train = TASK_NAMES.filter((n) => fs.existsSync(path.join(dir!, taskSpec(n).folder, 'train.tsv'))).flatMap(
      (n) => loadTask(dir!, n, 'train').flatMap((e) => [e.text, e.textPair].filter((t): t is string => !!t)),
    );
    const kept = train.filter((s) => !dev.has(normalizeSentence(s)));
    expect(kept.length).to.equal(docs.reduce((n, d) => n + d.sentences.length, 0));
  });

  it('line numbers: CoLA dev (no header, no final newline) ends at line 1043, RTE train starts at line 2', function () {
    if (!fs.existsSync(path.join(dir!, 'CoLA')) || !fs.existsSync(path.join(dir!, 'RTE'))) this.skip();
    const cola = loadTask(dir!, 'CoLA', 'dev');
    expect(cola[cola.length - 1].index).to.equal(1043);
    const rte = loadTask(dir!, 'RTE', 'train')[0];
    expect(rte).to.deep.equal({
      text: 'No Weapons of Mass Destruction Found in Iraq Yet.',
      textPair: 'Weapons of Mass Destruction Found in Iraq.',
      label: 1,
      index: 2,
    });
  });

  it('STS-B scores lie in [0, 5] and include both ends', function () {
    if (!fs.existsSync(path.join(dir!, 'STS-B'))) this.skip();
    const scores = loadTask(dir!, 'STS-B', 'train').map((e) => e.label);
    expect(Math.min(...scores)).to.equal(0);
    expect(Math.max(...scores)).to.equal(5);
  });

  for (const task of ['CoLA', 'SST-2', 'MRPC', 'STS-B', 'RTE', 'WNLI']) {
    it(`${task}: authorsSplit and paucity sizes on the real files match paper.md's table`, function () {
      if (!fs.existsSync(path.join(dir!, task))) this.skip();
      const train = loadTask(dir!, task, 'train');
      const dev = loadDevSets(dir!, task);
      expect([train.length, dev.dev.length]).to.deep.equal([PAPER_SIZES[task].train, PAPER_SIZES[task].val]);
      expectPaperSizes(task, train, dev);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// glue-download against zips built here and served from 127.0.0.1.

/** CRC-32 bit by bit (independent of the table-driven one in lib/glue/download.ts). */
function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive of these entries (deflated unless `store`; a name ending in / is a folder). */
function makeZip(entries: { name: string; data?: string; store?: boolean; badCrc?: boolean }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const body = e.store || e.name.endsWith('/') ? data : zlib.deflateRawSync(data);
    const method = body === data ? 0 : 8;
    const crc = (crc32(data) ^ (e.badCrc ? 1 : 0)) >>> 0;
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const RTE_TRAIN =
  'index\tsentence1\tsentence2\tlabel\n0\tNo "weapons.\tWeapons.\tnot_entailment\n1\tA.\tB.\tentailment\n2\tC.\tD.\tentailment\n';
const RTE_DEV = 'index\tsentence1\tsentence2\tlabel\n0\tE.\tF.\tnot_entailment\n';
const RTE_TEST = 'index\tsentence1\tsentence2\n0\tG.\tH.\n1\tI.\tJ.\n';
/** An RTE.zip as GLUE ships it: a top-level RTE/ folder (plus folder entries and macOS metadata to ignore). */
const RTE_ZIP = makeZip([
  { name: 'RTE/' },
  { name: 'RTE/train.tsv', data: RTE_TRAIN },
  { name: 'RTE/dev.tsv', data: RTE_DEV, store: true },
  { name: 'RTE/test.tsv', data: RTE_TEST },
  { name: '__MACOSX/RTE/._train.tsv', data: 'junk' },
]);
const MRPC_TRAIN_TXT =
  "\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t702876\t702977\tAmrozi accused his brother .\tReferring to him , Amrozi accused .\n0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought Dominick 's .\n1\t1330381\t1330521\tThey had published .\tOn June 10 .\n";
const MRPC_TEST_TXT =
  "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1089874\t1089925\tPCCW 's chief .\tCurrent Chief .\n0\t3019446\t3019327\tThe world 's .\tDomestic sales .\n";
const MRPC_DEV_IDS = '2108705\t2108831\n';

describe('glue-download', function () {
  this.timeout(20_000);
  let root = '';
  let base = '';
  let close: () => void;
  let files: Record<string, Buffer> = {};
  let seen: { url: string; range?: string }[] = [];
  let cutOnce: string | null = null;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-gluedl-'));
    ({ base, close } = await localServer((req, res) => {
      const url = req.url ?? '';
      seen.push({ url, range: req.headers.range });
      if (url.startsWith('/hang/')) return;
      const bytes = files[url];
      if (!bytes) {
        res.writeHead(404).end('not found');
        return;
      }
      if (cutOnce === url) {
        cutOnce = null;
        sendHalfAndCut(res, bytes);
        return;
      }
      sendBytes(req, res, bytes);
    }));
  });
  after(() => {
    close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    files = {
      '/RTE.zip': RTE_ZIP,
      '/mrpc/train.txt': Buffer.from(MRPC_TRAIN_TXT),
      '/mrpc/test.txt': Buffer.from(MRPC_TEST_TXT),
      '/mrpc/dev_ids.tsv': Buffer.from(MRPC_DEV_IDS),
    };
    seen = [];
    cutOnce = null;
  });

  let count = 0;
  /** Options for a fresh destination with sources on the test server. */
  function options(tasks: GlueDownloadOptions['tasks'], extra: Partial<GlueDownloadOptions> = {}): GlueDownloadOptions {
    return {
      tasks,
      to: path.join(root, `glue${++count}`),
      sources: {
        RTE: { zip: `${base}/RTE.zip` },
        MRPC: {
          mrpc: { train: `${base}/mrpc/train.txt`, test: `${base}/mrpc/test.txt`, devIds: `${base}/mrpc/dev_ids.tsv` },
        },
      },
      progress: () => undefined,
      ...extra,
    };
  }

  it('unzips a task into DIR/TASK byte for byte, reads it back, and removes its work folder', async () => {
    const opts = options(['RTE']);
    const results = await downloadGlue(opts);
    expect(results).to.deep.equal([{ task: 'RTE', status: 'downloaded', rows: { train: 3, dev: 1, test: 2 } }]);
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'train.tsv'), 'utf8')).to.equal(RTE_TRAIN);
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'dev.tsv'), 'utf8')).to.equal(RTE_DEV);
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'test.tsv'), 'utf8')).to.equal(RTE_TEST);
    expect(fs.readdirSync(opts.to)).to.deep.equal(['RTE']);
    expect(fs.readdirSync(path.join(opts.to, 'RTE')).sort()).to.deep.equal(['dev.tsv', 'test.tsv', 'train.tsv']);
    expect(loadTask(opts.to, 'RTE', 'train')[0].text).to.equal('No "weapons.');
  });

  it('skips a complete task without a request, and fills in an incomplete one without touching its files', async () => {
    const opts = options(['RTE']);
    await downloadGlue(opts);
    seen = [];
    expect(await downloadGlue(opts)).to.deep.equal([{ task: 'RTE', status: 'complete', rows: {} }]);
    expect(seen).to.deep.equal([]);
    fs.rmSync(path.join(opts.to, 'RTE', 'train.tsv'));
    const ownDev = 'index\tsentence1\tsentence2\tlabel\n0\tmine.\tmine.\tentailment\n';
    fs.writeFileSync(path.join(opts.to, 'RTE', 'dev.tsv'), ownDev);
    expect((await downloadGlue(opts))[0].status).to.equal('downloaded');
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'train.tsv'), 'utf8')).to.equal(RTE_TRAIN);
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'dev.tsv'), 'utf8')).to.equal(ownDev);
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    cutOnce = '/RTE.zip';
    const opts = options(['RTE']);
    await downloadGlue(opts);
    const zips = seen.filter((s) => s.url === '/RTE.zip');
    expect(zips.length).to.equal(2);
    expect(zips[0].range).to.equal(undefined);
    expect(zips[1].range).to.equal(`bytes=${RTE_ZIP.length >> 1}-`);
    expect(fs.readFileSync(path.join(opts.to, 'RTE', 'test.tsv'), 'utf8')).to.equal(RTE_TEST);
  });

  it('builds MRPC as download_glue_data.py does: dev rows by id, the BOM header on train and dev, a numbered test', async () => {
    const opts = options(['MRPC']);
    const [result] = await downloadGlue(opts);
    expect(result.rows).to.deep.equal({ train: 2, dev: 1, test: 2 });
    const header = '\uFEFFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n';
    expect(fs.readFileSync(path.join(opts.to, 'MRPC', 'train.tsv'), 'utf8')).to.equal(
      `${header}1\t702876\t702977\tAmrozi accused his brother .\tReferring to him , Amrozi accused .\n1\t1330381\t1330521\tThey had published .\tOn June 10 .\n`,
    );
    expect(fs.readFileSync(path.join(opts.to, 'MRPC', 'dev.tsv'), 'utf8')).to.equal(
      `${header}0\t2108705\t2108831\tYucaipa owned Dominick 's .\tYucaipa bought Dominick 's .\n`,
    );
    expect(fs.readFileSync(path.join(opts.to, 'MRPC', 'test.tsv'), 'utf8')).to.equal(
      "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW 's chief .\tCurrent Chief .\n1\t3019446\t3019327\tThe world 's .\tDomestic sales .\n",
    );
  });

  it('refuses a damaged zip and installs nothing; the next run starts from the zip it kept', async () => {
    files['/RTE.zip'] = makeZip([
      { name: 'RTE/train.tsv', data: RTE_TRAIN, badCrc: true },
      { name: 'RTE/dev.tsv', data: RTE_DEV },
      { name: 'RTE/test.tsv', data: RTE_TEST },
    ]);
    const opts = options(['RTE']);
    expect(await rejection(downloadGlue(opts))).to.match(
      /RTE\.zip: train\.tsv is damaged|RTE\.zip: RTE\/train\.tsv is damaged/,
    );
    expect(fs.existsSync(path.join(opts.to, 'RTE'))).to.equal(false);
    expect(fs.existsSync(path.join(opts.to, '.RTE.download', 'RTE.zip'))).to.equal(true);
  });

  it('refuses a zip that lacks a split file, naming it', async () => {
    files['/RTE.zip'] = makeZip([
      { name: 'RTE/train.tsv', data: RTE_TRAIN },
      { name: 'RTE/dev.tsv', data: RTE_DEV },
    ]);
    const opts = options(['RTE']);
    expect(await rejection(downloadGlue(opts))).to.match(/^RTE: the download lacks test\.tsv .*nothing was installed$/);
    expect(fs.existsSync(path.join(opts.to, 'RTE'))).to.equal(false);
  });

  it('a malformed row in the download is reported with its file and line before anything is installed', async () => {
    files['/RTE.zip'] = makeZip([
      { name: 'RTE/train.tsv', data: 'index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tmaybe\n' },
      { name: 'RTE/dev.tsv', data: RTE_DEV },
      { name: 'RTE/test.tsv', data: RTE_TEST },
    ]);
    const opts = options(['RTE']);
    expect(await rejection(downloadGlue(opts))).to.match(/RTE\/train\.tsv:2: unknown label "maybe"/);
    expect(fs.existsSync(path.join(opts.to, 'RTE'))).to.equal(false);
  });

  it('fails fast and says so when the server is unreachable or silent, and reports HTTP errors', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    const refused = await rejection(
      downloadGlue(options(['RTE'], { sources: { RTE: { zip: `http://127.0.0.1:${port}/RTE.zip` } } })),
    );
    expect(refused).to.match(
      new RegExp(
        `^cannot reach http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): this machine has no network access`,
      ),
    );
    const silent = await rejection(
      downloadGlue(options(['RTE'], { sources: { RTE: { zip: `${base}/hang/RTE.zip` } }, connectTimeout: 0.3 })),
    );
    expect(silent).to.match(/no answer within 0\.3 s/);
    expect(Date.now() - t0).to.be.below(5000);
    expect(await rejection(downloadGlue(options(['RTE'], { sources: { RTE: { zip: `${base}/gone.zip` } } })))).to.match(
      /gone\.zip: HTTP 404/,
    );
  });

  it('extractZip refuses entry names that climb out of the folder', async () => {
    const zip = path.join(root, 'evil.zip');
    fs.writeFileSync(zip, makeZip([{ name: 'RTE/../../evil.tsv', data: 'x' }]));
    expect(await rejection(extractZip(zip, path.join(root, 'evil')))).to.match(
      /refusing the entry name "RTE\/\.\.\/\.\.\/evil\.tsv"/,
    );
    fs.writeFileSync(zip, 'not a zip at all');
    expect(await rejection(extractZip(zip, path.join(root, 'evil')))).to.match(/not a zip archive/);
  });

  it('the command checks task names and documents its sources', () => {
    const cli = path.join(process.cwd(), 'bin', 'fisherlab.js');
    const env = { ...process.env, FISHERLAB_ROOT: process.cwd() };
    const bad = spawnSync(process.execPath, [cli, 'glue-download', '--tasks', 'CoLA,SST', '--to', root], {
      encoding: 'utf8',
      env,
    });
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.match(/unknown GLUE task "SST"/);
    const help = spawnSync(process.execPath, [cli, 'glue-download', '--help'], { encoding: 'utf8', env });
    expect(help.stdout).to.match(/dl\.fbaipublicfiles\.com\/glue\/data\/CoLA\.zip/);
    expect(help.stdout).to.match(/fisherlab glue-download --tasks CoLA,SST-2,MRPC,STS-B,RTE --to/);
  });
});
