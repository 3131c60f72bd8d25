/**
 * Writes PyTorch zip checkpoints byte by byte, without Python: the records torch.save writes (ARCHIVE/data.pkl,
 * ARCHIVE/byteorder, ARCHIVE/data/KEY, stored uncompressed) around a protocol 2 pickle of a state dict, as
 * pickletools shows torch's own. Lets the reader's tests cover offsets, strides, shared storages and dtypes,
 * and build a malicious file, on machines without torch.
 */
import * as fs from 'fs';
import { zipSync } from 'fflate';
import type { NamedArray } from '../lib/weights/safetensors';

/** One tensor of the state dict: a view of a storage. */
export interface TorchTensor {
  name: string;
  storage: string;
  offset?: number;
  shape: number[];
  /** Default: row-major. */
  stride?: number[];
}

/** One storage: torch's class name (FloatStorage, HalfStorage...) and its little-endian bytes. */
export interface TorchStorage {
  type: string;
  bytes: Uint8Array;
}

const ITEM_SIZES: Record<string, number> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  DoubleStorage: 8,
  LongStorage: 8,
};
/** The command the malicious fixture's pickle asks os.system to run; it must never run. */
export const PWNED_MARKER = '/tmp/fisherlab-pwned-fixture';

/** Pickle opcodes, as bytes. */
class PickleBytes {
  private parts: number[] = [];
  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  text(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return this.op(0x58, ...n, ...b); // BINUNICODE
  }
  int(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return this.op(0x4a, ...b); // BININT
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'latin1'));
  }
  ints(values: number[]): this {
    this.op(0x28); // MARK
    for (const v of values) this.int(v);
    return this.op(0x74); // TUPLE
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** The pickle of an OrderedDict state dict of the given tensors, as torch.save writes it (protocol 2). */
export function stateDictPickle(tensors: TorchTensor[], storages: Record<string, TorchStorage>): Uint8Array {
  const p = new PickleBytes().op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52, 0x28); // () REDUCE MARK
  for (const t of tensors) {
    const s = storages[t.storage];
    const stride = t.stride ?? t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.text(t.name).global('torch._utils', '_rebuild_tensor_v2').op(0x28, 0x28).text('storage').global('torch', s.type);
    p.text(t.storage)
      .text('cpu')
      .int(s.bytes.byteLength / ITEM_SIZES[s.type])
      .op(0x74, 0x51); // TUPLE BINPERSID
    p.int(t.offset ?? 0)
      .ints(t.shape)
      .ints(stride)
      .op(0x89)
      .global('collections', 'OrderedDict')
      .op(0x29, 0x52, 0x74, 0x52);
  }
  return p.op(0x75, 0x2e).bytes(); // SETITEMS STOP
}

/** A pickle whose state dict holds `os.system('touch PWNED_MARKER')` (the global as Linux pickles it: posix.system). */
export function maliciousPickle(): Uint8Array {
  return new PickleBytes()
    .op(0x80, 2)
    .global('collections', 'OrderedDict')
    .op(0x29, 0x52, 0x28)
    .text('bert.embeddings.word_embeddings.weight')
    .global('posix', 'system')
    .text(`touch ${PWNED_MARKER}`)
    .op(0x85, 0x52, 0x75, 0x2e)
    .bytes(); // TUPLE1 REDUCE SETITEMS STOP
}

/** The bytes of a PyTorch zip checkpoint holding `pickle` and the storages' records. */
export function torchZip(
  pickle: Uint8Array,
  storages: Record<string, TorchStorage> = {},
  archive = 'archive',
): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  const mtime = new Date(Date.UTC(2000, 0, 1));
  files[`${archive}/data.pkl`] = [pickle, { level: 0, mtime }];
  files[`${archive}/byteorder`] = [Buffer.from('little'), { level: 0, mtime }];
  for (const [key, s] of Object.entries(storages)) files[`${archive}/data/${key}`] = [s.bytes, { level: 0, mtime }];
  files[`${archive}/version`] = [Buffer.from('3\n'), { level: 0, mtime }];
  return zipSync(files);
}

/** Writes a state dict as a PyTorch zip checkpoint. */
export function writeTorchZip(file: string, tensors: TorchTensor[], storages: Record<string, TorchStorage>): void {
  fs.writeFileSync(file, torchZip(stateDictPickle(tensors, storages), storages));
}

/** A storage of float32 values. */
export function floatStorage(values: ArrayLike<number>): TorchStorage {
  return { type: 'FloatStorage', bytes: new Uint8Array(Float32Array.from(values).buffer) };
}

/** Writes float32 tensors as a PyTorch zip state dict, one storage each; `aliases` adds names sharing another's storage. */
export function writeStateDict(file: string, tensors: NamedArray[], aliases: Record<string, string> = {}): void {
  const storages: Record<string, TorchStorage> = {};
  const entries: TorchTensor[] = tensors.map((t, i) => {
    storages[i] = floatStorage(t.data);
    return { name: t.name, storage: String(i), shape: t.shape };
  });
  for (const [alias, name] of Object.entries(aliases))
    entries.push({ ...entries.find((e) => e.name === name)!, name: alias });
  writeTorchZip(file, entries, storages);
}
