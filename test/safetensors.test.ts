import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  NamedArray,
  bfloat16ToFloat,
  halfToFloat,
  readSafetensors,
  writeSafetensors,
} from '../lib/weights/safetensors';

/** The bytes of a safetensors file with a hand-written header (padded as given) and data buffer. */
function build(header: unknown, data: Uint8Array, headerText?: string): Buffer {
  const json = Buffer.from(headerText ?? JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, data]);
}

/** Little-endian u16 bytes. */
function u16(...values: number[]): Uint8Array {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16LE(v, 2 * i));
  return b;
}

describe('safetensors', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-st-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const file = (name = 'x.safetensors') => path.join(dir, name);
  const expectError = (bytes: Uint8Array, ...parts: (string | RegExp)[]) => {
    fs.writeFileSync(file(), bytes);
    let message = '';
    try {
      readSafetensors(file());
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message, 'an error was expected').not.to.equal('');
    expect(message).to.include(file());
    for (const p of parts) {
      if (typeof p === 'string') expect(message).to.include(p);
      else expect(message).to.match(p);
    }
  };

  it('round-trips tensors bit-exactly, in order, with metadata and a header padded to 8 bytes', () => {
    const odd = new Float32Array([NaN, Infinity, -Infinity, -0, 1e-45, 3.4028234663852886e38, Math.PI]);
    const tensors: NamedArray[] = [
      { name: 'z.last.first', shape: [7], data: odd },
      { name: 'a.matrix', shape: [2, 3], data: Float32Array.from({ length: 6 }, (_, i) => i / 7 - 0.3) },
      { name: 'scalar', shape: [], data: new Float32Array([42.5]) },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
    ];
    writeSafetensors(file(), tensors, { format: 'pt', note: 'héllo' });
    const bytes = fs.readFileSync(file());
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).to.equal(0);
    const read = readSafetensors(file());
    expect([...read.tensors.keys()]).to.deep.equal(['z.last.first', 'a.matrix', 'scalar', 'empty']);
    expect(read.metadata).to.deep.equal({ format: 'pt', note: 'héllo' });
    expect([...read.dtypes.values()]).to.deep.equal(['F32', 'F32', 'F32', 'F32']);
    for (const t of tensors) {
      const r = read.tensors.get(t.name)!;
      expect(r.shape).to.deep.equal(t.shape);
      expect(Array.from(new Uint32Array(r.data.buffer, r.data.byteOffset, r.data.length))).to.deep.equal(
        Array.from(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)),
      );
    }
    expect(fs.readdirSync(dir)).to.deep.equal(['x.safetensors']);
  });

  it('reads F32 data at an offset that is not 4-byte aligned', () => {
    const values = new Float32Array([1.5, -2.25, 1e-30]);
    // A header of 9 bytes puts the data at byte 17.
    const header = JSON.stringify({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 12] } });
    const bytes = build(null, new Uint8Array(values.buffer), header + ' '.repeat(8 - ((header.length + 8) % 8) + 1));
    expect((8 + Number(bytes.readBigUInt64LE(0))) % 4).to.not.equal(0);
    fs.writeFileSync(file(), bytes);
    expect(Array.from(readSafetensors(file()).tensors.get('t')!.data)).to.deep.equal(Array.from(values));
  });

  it('decodes F16 exactly: normals, max, subnormals, zeros, infinities, NaN', () => {
    expect(halfToFloat(0x3c00)).to.equal(1);
    expect(halfToFloat(0xc000)).to.equal(-2);
    expect(halfToFloat(0x7bff)).to.equal(65504);
    expect(halfToFloat(0x0001)).to.equal(2 ** -24);
    expect(halfToFloat(0x03ff)).to.equal(1023 * 2 ** -24);
    expect(halfToFloat(0x0400)).to.equal(2 ** -14);
    expect(halfToFloat(0x3555)).to.equal(0.333251953125);
    expect(Object.is(halfToFloat(0x8000), -0)).to.equal(true);
    expect(halfToFloat(0x7c00)).to.equal(Infinity);
    expect(halfToFloat(0xfc00)).to.equal(-Infinity);
    expect(halfToFloat(0x7e00)).to.be.NaN;
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000];
    fs.writeFileSync(file(), build({ h: { dtype: 'F16', shape: [2, 4], data_offsets: [0, 16] } }, u16(...bits)));
    const read = readSafetensors(file());
    expect(read.dtypes.get('h')).to.equal('F16');
    const t = read.tensors.get('h')!;
    expect(t.shape).to.deep.equal([2, 4]);
    expect(Array.from(t.data.subarray(0, 6))).to.deep.equal([1, -2, 65504, 2 ** -24, Infinity, -Infinity]);
    expect(t.data[6]).to.be.NaN;
    expect(Object.is(t.data[7], -0)).to.equal(true);
  });

  it('decodes BF16 exactly', () => {
    expect(bfloat16ToFloat(0x3f80)).to.equal(1);
    expect(bfloat16ToFloat(0x4049)).to.equal(3.140625);
    expect(bfloat16ToFloat(0xc000)).to.equal(-2);
    expect(bfloat16ToFloat(0x0001)).to.equal(2 ** -133);
    expect(bfloat16ToFloat(0x7f80)).to.equal(Infinity);
    expect(bfloat16ToFloat(0x7fc0)).to.be.NaN;
    const bits = [0x3f80, 0x4049, 0xc000, 0x0001, 0xff80, 0x7fc0];
    fs.writeFileSync(file(), build({ b: { dtype: 'BF16', shape: [6], data_offsets: [0, 12] } }, u16(...bits)));
    const t = readSafetensors(file()).tensors.get('b')!;
    expect(Array.from(t.data.subarray(0, 5))).to.deep.equal([1, 3.140625, -2, 2 ** -133, -Infinity]);
    expect(t.data[5]).to.be.NaN;
  });

  it('decodes F64 to the nearest float32', () => {
    const data = Buffer.alloc(16);
    data.writeDoubleLE(0.1, 0);
    data.writeDoubleLE(-1e300, 8);
    fs.writeFileSync(file(), build({ d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }, data));
    expect(Array.from(readSafetensors(file()).tensors.get('d')!.data)).to.deep.equal([Math.fround(0.1), -Infinity]);
  });

  it('refuses non-float dtypes naming the tensor, or skips them when asked', () => {
    const data = Buffer.concat([Buffer.alloc(16), new Uint8Array(new Float32Array([7]).buffer)]);
    const header = {
      'bert.embeddings.position_ids': { dtype: 'I64', shape: [1, 2], data_offsets: [0, 16] },
      w: { dtype: 'F32', shape: [1], data_offsets: [16, 20] },
    };
    expectError(build(header, data), 'bert.embeddings.position_ids', 'I64');
    const read = readSafetensors(file(), { skipNonFloat: true });
    expect([...read.tensors.keys()]).to.deep.equal(['w']);
    expect(read.dtypes.get('bert.embeddings.position_ids')).to.equal('I64');
    expect(read.tensors.get('w')!.data[0]).to.equal(7);
  });

  describe('reports corrupt files naming the file and tensor', () => {
    const f32 = (n: number) => new Uint8Array(new Float32Array(n).fill(1).buffer);

    it('a file shorter than 8 bytes', () =>
      expectError(Buffer.from([1, 2, 3]), 'shorter than the 8-byte header length'));

    it('a header length beyond the end of the file', () => {
      const b = build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(1));
      b.writeBigUInt64LE(BigInt(b.length), 0);
      expectError(b, 'runs past the end');
    });

    it('an absurd header length', () => {
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(2n ** 62n, 0);
      expectError(b, 'absurd');
    });

    it('a header that is not JSON', () =>
      expectError(build(null, f32(1), '{"w": {"dtype": "F32",'), 'not valid UTF-8 JSON'));

    it('a header that is not an object', () => expectError(build([1, 2], new Uint8Array(0)), 'must be a JSON object'));

    it('an entry without data_offsets', () =>
      expectError(build({ 'enc.w': { dtype: 'F32', shape: [1] } }, f32(1)), '"enc.w"', 'no "data_offsets"'));

    it('an unknown dtype', () =>
      expectError(
        build({ 'enc.w': { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, f32(1)),
        '"enc.w"',
        'unknown dtype "F33"',
      ));

    it('a negative or fractional dimension', () => {
      expectError(
        build({ 'enc.w': { dtype: 'F32', shape: [-1, 2], data_offsets: [0, 4] } }, f32(1)),
        '"enc.w"',
        'non-negative integers',
      );
      expectError(
        build({ 'enc.w': { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1)),
        '"enc.w"',
        'non-negative integers',
      );
    });

    it('data_offsets that disagree with the shape', () =>
      expectError(
        build({ 'enc.w': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, f32(5)),
        '"enc.w"',
        'header lies about sizes',
        'needs 24 bytes',
        'span 20',
      ));

    it('offsets beyond the data buffer (a truncated file)', () => {
      const header = {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        'enc.b': { dtype: 'F32', shape: [4], data_offsets: [8, 24] },
      };
      expectError(build(header, f32(6)).subarray(0, -4), '"enc.b"', 'beyond the 20-byte data buffer');
    });

    it('overlapping tensors', () => {
      const header = {
        a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        'enc.b': { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      };
      expectError(build(header, f32(3)), '"a"', '"enc.b"', 'overlap');
    });

    it('a hole between tensors and trailing bytes', () => {
      const gap = {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        'enc.b': { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      };
      expectError(build(gap, f32(3)), '"enc.b"', 'belong to no tensor');
      expectError(
        build({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)),
        '4 bytes after the last tensor',
      );
    });

    it('a missing file', () => {
      expect(() => readSafetensors(file('absent.safetensors'))).to.throw(file('absent.safetensors'));
    });
  });

  it('accepts tensors listed out of offset order and NaN/Inf values', () => {
    const data = new Uint8Array(new Float32Array([NaN, Infinity, 3]).buffer);
    const header = {
      second: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      first: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
    };
    fs.writeFileSync(file(), build(header, data));
    const read = readSafetensors(file());
    expect([...read.tensors.keys()]).to.deep.equal(['first', 'second']);
    expect(read.tensors.get('first')!.data[0]).to.be.NaN;
    expect(read.tensors.get('first')!.data[1]).to.equal(Infinity);
    expect(read.tensors.get('second')!.data[0]).to.equal(3);
  });

  it('refuses to write a tensor whose data does not fit its shape, naming the file and tensor', () => {
    const bad = [{ name: 'enc.w', shape: [2, 2], data: new Float32Array(3) }];
    expect(() => writeSafetensors(file(), bad)).to.throw(/x\.safetensors.*"enc\.w".*holds 4 values but data has 3/);
    expect(fs.existsSync(file())).to.equal(false);
  });
});
