import { expect } from 'chai';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MASKED_LM } from '../lib/bert/parameters';
import { readCheckpoint, writeCheckpoint } from '../lib/bert/folder';
import { modelFingerprint } from '../lib/bert/model-dir';
import { writeSafetensors } from '../lib/weights/safetensors';
import { errorOf, randomTensors, weightFileConfig, writeShardedSafetensors } from './helpers';
import { writeStateDict } from './torch-zip';

const CONFIG = weightFileConfig();
const WEIGHTS = randomTensors(CONFIG, MASKED_LM, 5);
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const sha = (...files: string[]) => {
  const h = createHash('sha256');
  for (const f of files) h.update(fs.readFileSync(f));
  return h.digest('hex').slice(0, 16);
};

describe('weight file layouts', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-layouts-'));
    writeCheckpoint(dir, { config: CONFIG, parts: MASKED_LM, weights: WEIGHTS });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const expectWeights = (d: string) => {
    const ckpt = readCheckpoint(d);
    expect([...ckpt.weights.keys()]).to.deep.equal(WEIGHTS.map((w) => w.name));
    for (const w of WEIGHTS) expect(bits(ckpt.weights.get(w.name)!.data), w.name).to.deep.equal(bits(w.data));
    return ckpt;
  };

  it('keeps the fingerprint of a single model.safetensors: the SHA-256 of that file', () => {
    expect(modelFingerprint(dir)).to.equal(sha(path.join(dir, 'model.safetensors')));
  });

  it('reads sharded safetensors through the index; the fingerprint covers the index and every shard', () => {
    fs.rmSync(path.join(dir, 'model.safetensors'));
    writeShardedSafetensors(dir, WEIGHTS, 3);
    expect(expectWeights(dir).warnings).to.deep.equal([`${dir} has no vocab.txt: a tokenizer needs one`]);
    const shards = [1, 2, 3].map((k) => path.join(dir, `model-0000${k}-of-00003.safetensors`));
    const before = modelFingerprint(dir);
    expect(before).to.equal(sha(path.join(dir, 'model.safetensors.index.json'), ...shards));
    writeSafetensors(
      shards[2],
      WEIGHTS.filter((_, i) => i % 3 === 2).map((t) => ({ ...t, data: t.data.map((x) => x + 1) })),
      { format: 'pt' },
    );
    expect(modelFingerprint(dir)).not.to.equal(before);
  });

  it('validates the index: a missing shard, a tensor in another shard, an unlisted or absent tensor, a bad file name', () => {
    fs.rmSync(path.join(dir, 'model.safetensors'));
    const map = writeShardedSafetensors(dir, WEIGHTS, 2);
    const index = path.join(dir, 'model.safetensors.index.json');
    const shard1 = path.join(dir, 'model-00001-of-00002.safetensors');
    const write = (m: Record<string, unknown>) => fs.writeFileSync(index, JSON.stringify({ weight_map: m }));
    const name = WEIGHTS[2].name; // in shard 1

    write({ ...map, [name]: 'model-00003-of-00003.safetensors' });
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${index}: shard model-00003-of-00003.safetensors (holding ${name}, among others) is missing from ${dir}`,
    );
    write({ ...map, [name]: 'model-00002-of-00002.safetensors' });
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${shard1}: holds tensor ${name}, but ${index} puts it in model-00002-of-00002.safetensors`,
    );
    const { [name]: _, ...unlisted } = map;
    write(unlisted);
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${shard1}: holds tensor ${name}, but ${index} does not list it`,
    );
    write({ ...map, 'bert.extra.weight': 'model-00002-of-00002.safetensors' });
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${index}: tensor bert.extra.weight should be in model-00002-of-00002.safetensors but is not`,
    );
    write({ ...map, [name]: '../model.safetensors' });
    expect(errorOf(() => readCheckpoint(dir))).to.equal(
      `${index}: tensor ${name}: shard "../model.safetensors" is not a .safetensors file name in the same folder`,
    );
    fs.writeFileSync(index, '{"weight_map": ');
    expect(errorOf(() => readCheckpoint(dir))).to.match(new RegExp(`^${index}: cannot read the shard index`));
  });

  it('names the shard of a tensor whose shape disagrees with config.json', () => {
    fs.rmSync(path.join(dir, 'model.safetensors'));
    const tensors = WEIGHTS.map((w) => (w.name.endsWith('intermediate.dense.bias') ? { ...w, shape: [4, 4] } : w));
    writeShardedSafetensors(dir, tensors, 2);
    const shard = (tensors.findIndex((w) => w.name.endsWith('intermediate.dense.bias')) % 2) + 1;
    const message = errorOf(() => readCheckpoint(dir));
    expect(message).to.include(
      `${path.join(dir, 'model.safetensors.index.json')} does not match ${path.join(dir, 'config.json')}`,
    );
    expect(message).to.include(
      `wrong shape: bert.encoder.layer.0.intermediate.dense.bias (in model-0000${shard}-of-00002.safetensors) has shape [4, 4] but [16] is expected (config.json says intermediate_size 16)`,
    );
  });

  it("reads pytorch_model.bin (tied decoder sharing a storage) and its sharded form; its fingerprint is the file's SHA-256", () => {
    fs.rmSync(path.join(dir, 'model.safetensors'));
    writeStateDict(path.join(dir, 'pytorch_model.bin'), WEIGHTS, { 'cls.predictions.decoder.weight': WEIGHTS[0].name });
    expect(expectWeights(dir).warnings.join('\n')).not.to.include('differs');
    expect(modelFingerprint(dir)).to.equal(sha(path.join(dir, 'pytorch_model.bin')));

    fs.rmSync(path.join(dir, 'pytorch_model.bin'));
    const half = Math.ceil(WEIGHTS.length / 2);
    const parts = [WEIGHTS.slice(0, half), WEIGHTS.slice(half)];
    const map: Record<string, string> = {};
    parts.forEach((part, k) => {
      const shard = `pytorch_model-0000${k + 1}-of-00002.bin`;
      writeStateDict(path.join(dir, shard), part);
      for (const t of part) map[t.name] = shard;
    });
    fs.writeFileSync(path.join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: map }));
    expectWeights(dir);
  });

  it('reads by precedence, saying which file it read and which it ignored', () => {
    writeStateDict(
      path.join(dir, 'pytorch_model.bin'),
      WEIGHTS.map((w) => ({ ...w, data: new Float32Array(w.data.length) })),
    );
    const ckpt = expectWeights(dir);
    expect(ckpt.warnings).to.include(`${dir}: read model.safetensors, ignored pytorch_model.bin`);
    expect(modelFingerprint(dir)).to.equal(sha(path.join(dir, 'model.safetensors')));
  });
});
