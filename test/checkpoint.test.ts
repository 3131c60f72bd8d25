import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BertConfig, parseConfig } from '../lib/bert/config';
import { BASE_MODEL, BertParts, MASKED_LM, SEQUENCE_CLASSIFICATION, parameterSpecs } from '../lib/bert/parameters';
import { readCheckpoint, writeCheckpoint } from '../lib/bert/folder';
import { NamedArray, readSafetensors, writeSafetensors } from '../lib/weights/safetensors';
import { errorOf, randomTensors, weightFileConfig } from './helpers';

const CONFIG: BertConfig = weightFileConfig({ num_labels: 3 });
const TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 25 }, (_, i) => `tok${i}`)];

/** The bits of a Float32Array, for bit-exact comparisons. */
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

/** Adds a [1, 2] I64 tensor at the end of a safetensors file, rewriting its header. */
function appendI64(file: string, name: string): void {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  const data = bytes.subarray(8 + n);
  header[name] = { dtype: 'I64', shape: [1, 2], data_offsets: [data.length, data.length + 16] };
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([prefix, json, data, Buffer.alloc(16)]));
}

describe('checkpoint folders', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A folder with config.json (for `parts`) and a model.safetensors holding exactly `tensors`. */
  function folderWith(tensors: NamedArray[], parts: BertParts = MASKED_LM, config = CONFIG): string {
    const out = path.join(dir, 'model');
    writeCheckpoint(out, { config, parts, weights: randomTensors(config, parts), vocabTokens: TOKENS });
    writeSafetensors(path.join(out, 'model.safetensors'), tensors);
    return out;
  }

  it('writes and reads back a masked-LM folder bit-exactly', () => {
    const weights = randomTensors(CONFIG, MASKED_LM);
    weights[0].data[3] = NaN;
    const out = path.join(dir, 'nested', 'mlm');
    writeCheckpoint(out, {
      config: CONFIG,
      parts: MASKED_LM,
      weights: new Map(weights.map((w) => [w.name, w])),
      vocabTokens: TOKENS,
    });
    expect(fs.readdirSync(out).sort()).to.deep.equal(['config.json', 'model.safetensors', 'vocab.txt']);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(json.architectures).to.deep.equal(['BertForMaskedLM']);
    expect(json.model_type).to.equal('bert');
    expect(readSafetensors(path.join(out, 'model.safetensors')).metadata.format).to.equal('pt');
    const ckpt = readCheckpoint(out);
    expect(ckpt.config).to.deep.equal(CONFIG);
    expect(ckpt.parts).to.deep.equal(MASKED_LM);
    expect(ckpt.vocabFile).to.equal(path.join(out, 'vocab.txt'));
    expect(fs.readFileSync(ckpt.vocabFile!, 'utf8').split('\n').slice(0, 3)).to.deep.equal(['[PAD]', '[UNK]', '[CLS]']);
    expect(ckpt.warnings).to.deep.equal([]);
    expect([...ckpt.weights.keys()]).to.deep.equal(parameterSpecs(CONFIG, MASKED_LM).map((s) => s.name));
    for (const w of weights) {
      const r = ckpt.weights.get(w.name)!;
      expect(r.shape).to.deep.equal(w.shape);
      expect(bits(r.data)).to.deep.equal(bits(w.data));
    }
  });

  it('round-trips a classifier and copies a vocab file', () => {
    const vocab = path.join(dir, 'vocab-src.txt');
    fs.writeFileSync(vocab, TOKENS.join('\n') + '\n');
    const out = path.join(dir, 'cls');
    const weights = randomTensors(CONFIG, SEQUENCE_CLASSIFICATION, 7);
    writeCheckpoint(out, { config: CONFIG, parts: SEQUENCE_CLASSIFICATION, weights, vocabFile: vocab });
    const ckpt = readCheckpoint(out);
    expect(ckpt.parts).to.deep.equal(SEQUENCE_CLASSIFICATION);
    expect(ckpt.weights.get('classifier.weight')!.shape).to.deep.equal([3, 8]);
    expect(bits(ckpt.weights.get('classifier.weight')!.data)).to.deep.equal(bits(weights.at(-2)!.data));
    expect(fs.readFileSync(path.join(out, 'vocab.txt'), 'utf8')).to.equal(fs.readFileSync(vocab, 'utf8'));
  });

  it('refuses to write an incomplete or mis-shaped set of weights, naming each tensor', () => {
    const weights = randomTensors(CONFIG, MASKED_LM).filter((w) => w.name !== 'cls.predictions.bias');
    weights[0] = { ...weights[0], shape: [15, 16], data: new Float32Array(240) };
    weights.push({ name: 'bert.extra', shape: [1], data: new Float32Array(1) });
    const out = path.join(dir, 'bad');
    const message = errorOf(() => writeCheckpoint(out, { config: CONFIG, parts: MASKED_LM, weights }));
    expect(message).to.include(out);
    expect(message).to.include('missing: cls.predictions.bias');
    expect(message).to.include('unexpected: bert.extra');
    expect(message).to.include('bert.embeddings.word_embeddings.weight has shape [15, 16] but [30, 8] is expected');
    expect(fs.existsSync(path.join(out, 'model.safetensors'))).to.equal(false);
  });

  it('reports every missing, unexpected and mis-shaped tensor in one error naming the folder', () => {
    const tensors = randomTensors(CONFIG, MASKED_LM).filter(
      (w) => !w.name.includes('attention.self.key') && w.name !== 'cls.predictions.bias',
    );
    tensors.find((w) => w.name === 'bert.encoder.layer.0.intermediate.dense.weight')!.shape = [8, 16];
    tensors.push({ name: 'bert.encoder.layer.1.output.dense.bias', shape: [8], data: new Float32Array(8) });
    tensors.push({ name: 'something.else', shape: [2], data: new Float32Array(2) });
    const out = folderWith(tensors);
    const message = errorOf(() => readCheckpoint(out));
    expect(message).to.include(path.join(out, 'model.safetensors'));
    for (const name of [
      'missing: bert.encoder.layer.0.attention.self.key.weight',
      'missing: bert.encoder.layer.0.attention.self.key.bias',
      'missing: cls.predictions.bias',
      'unexpected: bert.encoder.layer.1.output.dense.bias [8]',
      'unexpected: something.else [2]',
      'wrong shape: bert.encoder.layer.0.intermediate.dense.weight has shape [8, 16] but [16, 8] is expected (config.json says intermediate_size 16, hidden_size 8)',
      'the checkpoint has 2 encoder layers but config.json says num_hidden_layers 1',
    ]) {
      expect(message).to.include(name);
    }
  });

  it('names the config.json field a shape disagrees with', () => {
    const big = parseConfig({ ...CONFIG, vocab_size: 40 });
    const out = folderWith(randomTensors(CONFIG, MASKED_LM), MASKED_LM, big);
    const message = errorOf(() => readCheckpoint(out));
    expect(message).to.include(
      'bert.embeddings.word_embeddings.weight has shape [30, 8] but [40, 8] is expected (config.json says vocab_size 40, hidden_size 8)',
    );
    expect(message).to.include(
      'cls.predictions.bias has shape [30] but [40] is expected (config.json says vocab_size 40)',
    );
  });

  it('accepts names without the bert. prefix, LayerNorm gamma/beta, and drops position_ids and the next-sentence head', () => {
    const original = randomTensors(CONFIG, BASE_MODEL);
    const renamed = original.map((w) => ({
      ...w,
      name: w.name
        .replace(/^bert\./, '')
        .replace(/LayerNorm\.weight$/, 'LayerNorm.gamma')
        .replace(/LayerNorm\.bias$/, 'LayerNorm.beta'),
    }));
    renamed.push({ name: 'cls.seq_relationship.weight', shape: [2, 8], data: new Float32Array(16) });
    renamed.push({ name: 'cls.seq_relationship.bias', shape: [2], data: new Float32Array(2) });
    const out = folderWith(renamed, BASE_MODEL);
    appendI64(path.join(out, 'model.safetensors'), 'embeddings.position_ids');
    expect(
      readSafetensors(path.join(out, 'model.safetensors'), { skipNonFloat: true }).dtypes.get(
        'embeddings.position_ids',
      ),
    ).to.equal('I64');

    const ckpt = readCheckpoint(out);
    expect(ckpt.parts).to.deep.equal(BASE_MODEL);
    expect([...ckpt.weights.keys()]).to.deep.equal(original.map((w) => w.name));
    for (const w of original) expect(bits(ckpt.weights.get(w.name)!.data), w.name).to.deep.equal(bits(w.data));
    expect(ckpt.weights.get('bert.embeddings.LayerNorm.weight')!.name).to.equal('bert.embeddings.LayerNorm.weight');
    expect(ckpt.warnings.join('\n')).to.include(
      'next-sentence head (cls.seq_relationship.weight, cls.seq_relationship.bias)',
    );
  });

  it('drops the tied decoder weight (warning when it differs) and uses the decoder bias as cls.predictions.bias', () => {
    const weights = randomTensors(CONFIG, MASKED_LM);
    const words = weights.find((w) => w.name === 'bert.embeddings.word_embeddings.weight')!;
    const bias = weights.find((w) => w.name === 'cls.predictions.bias')!;
    const stored = weights.filter((w) => w !== bias);
    stored.push({ name: 'cls.predictions.decoder.weight', shape: words.shape, data: words.data.slice() });
    stored.push({ name: 'cls.predictions.decoder.bias', shape: bias.shape, data: bias.data });
    let ckpt = readCheckpoint(folderWith(stored));
    expect(ckpt.weights.has('cls.predictions.decoder.weight')).to.equal(false);
    expect(bits(ckpt.weights.get('cls.predictions.bias')!.data)).to.deep.equal(bits(bias.data));
    expect(ckpt.warnings.join('\n')).not.to.include('differs');

    stored.find((w) => w.name === 'cls.predictions.decoder.weight')!.data[5] += 1;
    fs.rmSync(path.join(dir, 'model'), { recursive: true });
    ckpt = readCheckpoint(folderWith(stored));
    expect(ckpt.warnings.join('\n')).to.include(
      'cls.predictions.decoder.weight differs from bert.embeddings.word_embeddings.weight',
    );
    expect(bits(ckpt.weights.get('bert.embeddings.word_embeddings.weight')!.data)).to.deep.equal(bits(words.data));
  });

  it('refuses a non-float tensor other than position_ids, naming it', () => {
    const out = folderWith(randomTensors(CONFIG, MASKED_LM));
    appendI64(path.join(out, 'model.safetensors'), 'bert.embeddings.token_ids');
    expect(errorOf(() => readCheckpoint(out))).to.include('bert.embeddings.token_ids has dtype I64, not a float type');
  });

  it('refuses a name given twice (with and without the prefix)', () => {
    const weights = randomTensors(CONFIG, MASKED_LM);
    weights.push({ ...weights[1], name: 'embeddings.position_embeddings.weight' });
    const message = errorOf(() => readCheckpoint(folderWith(weights)));
    expect(message).to.include(
      'bert.embeddings.position_embeddings.weight and embeddings.position_embeddings.weight are both',
    );
  });

  it('explains how to convert a folder that has only TensorFlow or Flax weights', () => {
    const out = path.join(dir, 'tf');
    writeCheckpoint(out, { config: CONFIG, parts: MASKED_LM, weights: randomTensors(CONFIG, MASKED_LM) });
    fs.rmSync(path.join(out, 'model.safetensors'));
    fs.writeFileSync(path.join(out, 'tf_model.h5'), 'not read');
    const message = errorOf(() => readCheckpoint(out));
    expect(message).to.include(`${out}: has tf_model.h5 but no PyTorch weights`);
    expect(message).to.include(`M.from_pretrained('${out}', from_tf=True).save_pretrained('OUT')`);
    expect(message).to.include('vocab.txt');
    fs.renameSync(path.join(out, 'tf_model.h5'), path.join(out, 'flax_model.msgpack'));
    expect(errorOf(() => readCheckpoint(out))).to.include('from_flax=True');
  });

  it('reports a missing folder, config.json or weights file clearly', () => {
    expect(errorOf(() => readCheckpoint(path.join(dir, 'absent')))).to.include('no such checkpoint folder');
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${dir}: not a Hugging Face model folder: it has no config.json`,
    );
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...CONFIG }));
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${dir}: no weights in the folder (looked for model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)`,
    );
  });

  it('warns when vocab.txt is absent or does not match vocab_size', () => {
    const out = path.join(dir, 'novocab');
    writeCheckpoint(out, { config: CONFIG, parts: MASKED_LM, weights: randomTensors(CONFIG, MASKED_LM) });
    let ckpt = readCheckpoint(out);
    expect(ckpt.vocabFile).to.equal(null);
    expect(ckpt.warnings).to.deep.equal([`${out} has no vocab.txt: a tokenizer needs one`]);
    fs.writeFileSync(path.join(out, 'vocab.txt'), 'a\nb\n');
    ckpt = readCheckpoint(out);
    expect(ckpt.warnings).to.deep.equal([
      `${path.join(out, 'vocab.txt')} has 2 tokens but config.json says vocab_size 30`,
    ]);
  });
});
