import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { unpickle } from '../lib/weights/pickle';
import { readPytorch } from '../lib/weights/pytorch';
import { errorOf } from './helpers';
import {
  PWNED_MARKER,
  TorchStorage,
  floatStorage,
  maliciousPickle,
  stateDictPickle,
  torchZip,
  writeTorchZip,
} from './torch-zip';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'malicious-pickle.bin');

/** Little-endian bytes of 16-bit patterns. */
const u16 = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);

describe('PyTorch zip checkpoints (pytorch_model.bin)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-torch-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads storage offsets, strides, shared storages and F16/BF16/F64 storages as float32', () => {
    const storages: Record<string, TorchStorage> = {
      0: floatStorage([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      1: { type: 'HalfStorage', bytes: u16([0x3c00, 0xc000, 0x3555, 0x0001]) }, // 1, -2, 0.33325195..., 2^-24
      2: { type: 'BFloat16Storage', bytes: u16([0x3f80, 0x4049]) }, // 1, 3.140625
      3: { type: 'DoubleStorage', bytes: new Uint8Array(Float64Array.from([0.1, -1e300]).buffer) },
      4: { type: 'LongStorage', bytes: new Uint8Array(BigInt64Array.from([0n, 1n]).buffer) },
    };
    const file = path.join(dir, 'pytorch_model.bin');
    writeTorchZip(
      file,
      [
        { name: 'matrix', storage: '0', shape: [2, 3] },
        { name: 'offset', storage: '0', offset: 7, shape: [3] },
        { name: 'transposed', storage: '0', shape: [3, 2], stride: [1, 3] },
        { name: 'columns', storage: '0', offset: 1, shape: [2, 2], stride: [4, 2] },
        { name: 'half', storage: '1', shape: [4] },
        { name: 'bfloat', storage: '2', shape: [2] },
        { name: 'double', storage: '3', shape: [2] },
        { name: 'ids', storage: '4', shape: [1, 2] },
      ],
      storages,
    );
    const read = readPytorch(file, { skipNonFloat: true });
    const values = (name: string) => Array.from(read.tensors.get(name)!.data);
    expect(values('matrix')).to.deep.equal([0, 1, 2, 3, 4, 5]);
    expect(read.tensors.get('matrix')!.shape).to.deep.equal([2, 3]);
    expect(values('offset')).to.deep.equal([7, 8, 9]);
    expect(values('transposed')).to.deep.equal([0, 3, 1, 4, 2, 5]);
    expect(values('columns')).to.deep.equal([1, 3, 5, 7]);
    expect(values('half')).to.deep.equal([1, -2, 0.333251953125, 2 ** -24]);
    expect(values('bfloat')).to.deep.equal([1, 3.140625]);
    expect(values('double')).to.deep.equal([Math.fround(0.1), -Infinity]);
    expect(read.tensors.has('ids')).to.equal(false);
    expect(read.dtypes.get('ids')).to.equal('I64');
    expect(read.dtypes.get('half')).to.equal('F16');
    expect(errorOf(() => readPytorch(file))).to.equal(
      `${file}: tensor "ids" has dtype I64; only F32, F16, BF16 and F64 can be read as float32`,
    );
  });

  it('refuses a view that reaches past its storage, naming the file and tensor', () => {
    const file = path.join(dir, 'pytorch_model.bin');
    writeTorchZip(file, [{ name: 'bert.pooler.dense.bias', storage: '0', offset: 2, shape: [2, 2] }], {
      0: floatStorage([1, 2, 3, 4, 5]),
    });
    expect(errorOf(() => readPytorch(file))).to.equal(
      `${file}: tensor "bert.pooler.dense.bias": offset 2, shape [2, 2] and stride [2, 1] reach element 5 of a 5-element storage`,
    );
  });

  it('refuses os.system in a hand-made malicious pickle without running it (committed fixture)', () => {
    fs.rmSync(PWNED_MARKER, { force: true });
    // The fixture is exactly what the helper writes (test/torch-zip.ts); it holds no Python-made bytes.
    expect(
      Buffer.from(torchZip(maliciousPickle())).equals(fs.readFileSync(FIXTURE)),
      'fixture matches its generator',
    ).to.equal(true);
    const message = errorOf(() => readPytorch(FIXTURE));
    expect(message).to.include(FIXTURE);
    expect(message).to.include('refused the global posix.system');
    expect(message).to.include('nothing was run');
    expect(fs.existsSync(PWNED_MARKER)).to.equal(false);
  });

  it('refuses any global outside the state-dict list before evaluating anything after it', () => {
    const calls: string[] = [];
    const pickle = Uint8Array.from([0x80, 2, ...Buffer.from('c__builtin__\neval\n'), 0x29, 0x52, 0x2e]);
    const message = errorOf(() => unpickle(pickle, 'x.pkl', { globals: { 'a.b': () => calls.push('a.b') } }));
    expect(message).to.equal(
      'x.pkl: refused the global __builtin__.eval: only a.b may appear in this file, and nothing was run (pickle byte 20)',
    );
    expect(calls).to.deep.equal([]);
  });

  it('refuses protocols above 2, unknown opcodes and persistent ids it was not given a loader for', () => {
    const opts = { globals: {} };
    expect(errorOf(() => unpickle(Uint8Array.from([0x80, 4, 0x4e, 0x2e]), 'p4', opts))).to.include(
      'p4: pickle protocol 4',
    );
    expect(errorOf(() => unpickle(Uint8Array.from([0x80, 2, 0x93, 0x2e]), 'op', opts))).to.include(
      'op: opcode 0x93 is not one a state dict needs',
    );
    expect(errorOf(() => unpickle(Uint8Array.from([0x4e, 0x51, 0x2e]), 'pid', opts))).to.include(
      'pid: a persistent id',
    );
    expect(unpickle(Uint8Array.from([0x80, 2, 0x7d, 0x4b, 7, 0x4e, 0x73, 0x2e]), 'ok', opts)).to.deep.equal(
      new Map([[7, null]]),
    );
  });

  it('reports a truncated archive, a damaged record and a file that is no zip, naming the file', () => {
    const file = path.join(dir, 'pytorch_model.bin');
    const storages = { 0: floatStorage([1, 2, 3, 4]) };
    const bytes = torchZip(stateDictPickle([{ name: 'w', storage: '0', shape: [4] }], storages), storages);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 30));
    expect(errorOf(() => readPytorch(file))).to.match(
      new RegExp(`^${file}: not a readable zip archive \\(truncated or damaged\\?\\)`),
    );
    fs.writeFileSync(file, 'not a zip');
    expect(errorOf(() => readPytorch(file))).to.equal(
      `${file}: not a PyTorch checkpoint (it does not start like a zip archive)`,
    );
    fs.writeFileSync(file, Uint8Array.from([0x80, 2, 0x8a, 0x0a]));
    expect(errorOf(() => readPytorch(file))).to.include('legacy format (torch.save before 1.6)');
    const wrongSize = { 0: { ...floatStorage([1, 2, 3]) } };
    fs.writeFileSync(
      file,
      torchZip(
        stateDictPickle([{ name: 'w', storage: '0', shape: [3] }], { 0: floatStorage([1, 2, 3, 4]) }),
        wrongSize,
      ),
    );
    expect(errorOf(() => readPytorch(file))).to.equal(
      `${file}: tensor "w": storage archive/data/0 has 12 bytes, not 4 × 4`,
    );
  });
});
