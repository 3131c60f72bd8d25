/** The glue-train corpus source: training text only, dev sentences left out, and the guard on the authors' protocol (the real data: test/glue.test.ts). */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { finetuneSplit, FINETUNE_DEFAULTS } from '../lib/glue/finetune';
import { loadCorpus } from '../lib/pretrain/corpus';
import { GLUE_BLOCK, loadGlueTrainText, pretrainedOnGlueText } from '../lib/pretrain/glue-text';
import { designProtocol } from '../lib/sweep/designs';
import { errorOf } from './helpers';

/** Writes root/TASK/SPLIT.tsv. */
function write(root: string, task: string, split: string, text: string): void {
  fs.mkdirSync(path.join(root, task), { recursive: true });
  fs.writeFileSync(path.join(root, task, `${split}.tsv`), text);
}

describe('glue-train corpus source', () => {
  let root: string;
  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-gluetext-'));
    const sst = Array.from({ length: 60 }, (_, i) => `phrase number ${i} \t${i % 2}`);
    sst[7] = 'A  Dev Sentence .\t1'; // the dev set's sentence, spaced and cased differently
    write(root, 'SST-2', 'train', ['sentence\tlabel', ...sst].join('\n') + '\n');
    write(root, 'SST-2', 'dev', 'sentence\tlabel\na dev sentence .\t0\nanother one\t1\n');
    write(
      root,
      'RTE',
      'train',
      'index\tsentence1\tsentence2\tlabel\n0\tPremise one.\tanother one\tentailment\n1\tPremise two.\tHypothesis two.\tnot_entailment\n',
    );
    write(root, 'RTE', 'dev', 'index\tsentence1\tsentence2\tlabel\n0\tA premise.\tA hypothesis.\tentailment\n');
    write(root, 'QNLI', 'dev', 'index\tquestion\tsentence\tlabel\n0\tWhy?\tBecause.\tentailment\n');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads every training row in blocks, leaves out sentences of any dev set, and reports what it skipped', () => {
    const { docs, report } = loadGlueTrainText(root);
    expect(report).to.deep.equal({ tasks: { 'SST-2': 60, RTE: 2 }, withoutTrain: ['QNLI'], droppedAsDev: 2 });
    expect(docs.map((d) => d.id)).to.deep.equal(['glue/SST-2/train:1', 'glue/SST-2/train:51', 'glue/RTE/train:1']);
    expect(docs.map((d) => d.sentences.length)).to.deep.equal([GLUE_BLOCK - 1, 10, 3]);
    expect(docs[0].sentences.slice(6, 8)).to.deep.equal(['phrase number 6', 'phrase number 8']);
    // "another one" is SST-2 dev text: RTE's hypothesis with the same words is dropped too.
    expect(docs[2].sentences).to.deep.equal(['Premise one.', 'Premise two.', 'Hypothesis two.']);
  });

  it('is a corpus source of loadCorpus, read from FISHERLAB_DATA/glue', () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-gluedata-'));
    fs.symlinkSync(root, path.join(data, 'glue'));
    const saved = process.env.FISHERLAB_DATA;
    process.env.FISHERLAB_DATA = data;
    try {
      const docs = loadCorpus('glue-train');
      expect(docs.length).to.equal(3);
      expect(docs.every((d) => d.source === 'glue-train')).to.equal(true);
    } finally {
      if (saved === undefined) delete process.env.FISHERLAB_DATA;
      else process.env.FISHERLAB_DATA = saved;
      fs.rmSync(data, { recursive: true, force: true });
    }
  });

  it('names the missing GLUE folder, and a folder without any train.tsv', () => {
    expect(errorOf(() => loadGlueTrainText(null))).to.match(/glue-train: no GLUE folder .*FISHERLAB_DATA/);
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-gluetext-empty-'));
    write(empty, 'RTE', 'dev', 'index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n');
    expect(errorOf(() => loadGlueTrainText(empty))).to.equal(`glue-train: ${empty} holds no task with a train.tsv`);
    fs.rmSync(empty, { recursive: true, force: true });
  });

  it("a model pretrained on it runs the designs under the official protocol and refuses the authors'", () => {
    const model = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-gluetext-model-'));
    const report = (corpus: string) =>
      fs.writeFileSync(path.join(model, 'pretrain-report.json'), JSON.stringify({ settings: { corpus } }));
    expect(pretrainedOnGlueText(model)).to.equal(false);
    report('brown,sotu');
    expect([pretrainedOnGlueText(model), designProtocol(model)]).to.deep.equal([false, 'authors']);
    report('brown, glue-train');
    expect([pretrainedOnGlueText(model), designProtocol(model)]).to.deep.equal([true, 'official']);
    const s = { ...FINETUNE_DEFAULTS, task: 'SST-2', model, init: 'pretrained' as const, seed: 1 };
    expect(errorOf(() => finetuneSplit({ ...s, protocol: 'authors' }, root))).to.match(
      /was pretrained on the GLUE training text .* use --protocol official/,
    );
    expect(finetuneSplit(s, root).eval.dev.map((e) => e.text)).to.deep.equal(['a dev sentence .', 'another one']);
    fs.rmSync(model, { recursive: true, force: true });
  });
});
