/** The info and fill-mask commands, and saving/loading a Bert through a model folder. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { setupBackend, tinyConfig, maxAbsDiff } from './helpers';
import { Bert } from '../lib/bert/model';
import { loadBert, saveBert } from '../lib/bert/load';
import { MASKED_LM, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { Tokenizer } from '../lib/bert/tokenizer';
import { randomWeights, referenceForward } from './reference/bert-f64';

const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');
const WORDS = ['the', 'cat', 'sat', 'on', 'mat', 'dog', 'ran', 'a', 'big', 'small', '.'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS];

function fisherlab(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
  });
}

describe('model folders and the info / fill-mask commands', function () {
  this.timeout(60_000);
  let dir = '';
  let modelDir = '';
  const cfg = tinyConfig({ vocab_size: VOCAB.length });
  const weights = randomWeights(cfg, MASKED_LM, 21);
  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-cli-'));
    modelDir = path.join(dir, 'model');
    const model = Bert.fromWeights(cfg, MASKED_LM, weights);
    saveBert(modelDir, model, { vocabTokens: VOCAB });
    model.dispose();
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('save then load gives back identical tensors', () => {
    const { model } = loadBert(modelDir);
    // the bytes of each view: tfjs-node's dataSync may return a view into the file's buffer
    const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [name, v] of model.namedParameters()) {
      expect(bytes(v.dataSync() as Float32Array).equals(bytes(weights.get(name)!.data)), name).to.equal(true);
    }
    model.dispose();
  });

  it('loads a masked-LM folder as a classifier with fresh pooler and classifier, and says so', () => {
    const { model, warnings } = loadBert(modelDir, {
      parts: SEQUENCE_CLASSIFICATION,
      configOverrides: { num_labels: 3 },
    });
    expect(model.parameter('classifier.weight').shape).to.deep.equal([3, 16]);
    expect(
      maxAbsDiff(
        model.parameter('bert.encoder.layer.1.output.dense.weight').dataSync(),
        weights.get('bert.encoder.layer.1.output.dense.weight')!.data,
      ),
    ).to.equal(0);
    expect(warnings.join('\n')).to.match(/freshly initialized.*bert\.pooler\.dense\.weight.*classifier\.weight/s);
    expect(warnings.join('\n')).to.match(/not used by this model: cls\.predictions\.bias/);
    model.dispose();
  });

  it('info lists every named tensor with its shape and every dropout site', () => {
    const r = fisherlab(['info', '--model', modelDir, '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const info = JSON.parse(r.stdout);
    expect(info.architecture).to.equal('BertForMaskedLM');
    expect(info.tensors.length).to.equal(5 + 16 * 2 + 5);
    expect(info.tensors[0]).to.deep.equal({
      name: 'bert.embeddings.word_embeddings.weight',
      shape: [VOCAB.length, 16],
    });
    expect(info.parameters).to.equal([...weights.values()].reduce((n, w) => n + w.data.length, 0));
    expect(info.dropoutSites.map((s: { name: string }) => s.name)).to.include(
      'bert.encoder.layer.1.attention.self.dropout',
    );
  });

  it("fill-mask gives the reference model's top tokens and probabilities at [MASK]", () => {
    const text = 'the cat [MASK] on the mat .';
    const r = fisherlab(['fill-mask', '--model', modelDir, '--text', text, '--top-k', '3', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const [pred] = JSON.parse(r.stdout);
    const enc = Tokenizer.fromTokens(VOCAB).encode(text);
    expect(pred.position).to.equal(enc.tokens.indexOf('[MASK]'));
    const logits = referenceForward(cfg, weights, { inputIds: [enc.input_ids] }).mlmLogits![0][pred.position];
    const m = Math.max(...logits);
    const z = logits.reduce((s, l) => s + Math.exp(l - m), 0);
    const want = logits
      .map((l, id) => ({ id, p: Math.exp(l - m) / z }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 3);
    expect(pred.candidates.map((c: { id: number }) => c.id)).to.deep.equal(want.map((w) => w.id));
    expect(pred.candidates.map((c: { token: string }) => c.token)).to.deep.equal(want.map((w) => VOCAB[w.id]));
    pred.candidates.forEach((c: { probability: number }, i: number) =>
      expect(c.probability).to.be.closeTo(want[i].p, 1e-5),
    );
  });

  it('fails with a clear message on a missing folder, a text without [MASK], or conflicting inputs', () => {
    let r = fisherlab(['info', '--model', path.join(dir, 'nope')]);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/nope.*does not exist/);
    r = fisherlab(['fill-mask', '--model', modelDir, '--text', 'the cat sat']);
    expect(r.stderr).to.match(/no \[MASK\] token/);
    r = fisherlab([
      'forward',
      '--model',
      modelDir,
      '--text',
      'the cat',
      '--input-ids',
      '2,3',
      '--output',
      path.join(dir, 'x.json'),
    ]);
    expect(r.stderr).to.match(/exactly one of --text and --input-ids/);
    r = fisherlab(['forward', '--model', modelDir, '--input-ids', '2,x', '--output', path.join(dir, 'x.json')]);
    expect(r.stderr).to.match(/--input-ids: "x"/);
  });

  it('every command has --help', function () {
    this.timeout(300_000); // about 20 processes, each loading TensorFlow.js
    const top = fisherlab(['--help']);
    const commands = [...top.stdout.matchAll(/^  ([a-z-]+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands).to.include.members(['info', 'forward', 'fill-mask', 'tokenize', 'download', 'notebooks', 'lab']);
    for (const c of commands) {
      const r = fisherlab([c, '--help']);
      expect(r.status, c).to.equal(0);
      expect(r.stdout, c).to.match(/^Usage: fisherlab /);
    }
  });
});
