/** PyTorch's zip checkpoint format (torch.save since 1.6, pytorch_model.bin) read into Float32Arrays, without Python. */
import * as fs from 'fs';
import { unzipSync } from 'fflate';
import { PickleGlobal, unpickle } from './pickle';
import { DTYPE_SIZES, FLOAT_DTYPES, ReadSafetensorsOptions, SafetensorsContents, decodeFloats } from './safetensors';

/** torch's storage classes and the safetensors dtype of their elements. */
const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

/** A storage named by a persistent id: one record `data/KEY` of the archive. */
interface StorageRef {
  key: string;
  dtype: string;
  numel: number;
}

/** A tensor as `_rebuild_tensor_v2` describes it: a strided view of a storage. */
interface TensorRef {
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** Reads a PyTorch zip checkpoint holding a state dict, converting F32, F16, BF16 and F64 tensors to Float32Arrays. */
export function readPytorch(file: string, options: ReadSafetensorsOptions = {}): SafetensorsContents {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read PyTorch checkpoint (${(e as Error).message})`);
  }
  if (bytes.subarray(0, 4).toString('latin1') !== 'PK\x03\x04') {
    const legacy = bytes[0] === 0x80 && bytes[1] === 0x02;
    throw new Error(
      legacy
        ? `${file}: PyTorch's legacy format (torch.save before 1.6) is not read; save it again with a current torch`
        : `${file}: not a PyTorch checkpoint (it does not start like a zip archive)`,
    );
  }
  const records = (filter: (name: string) => boolean): Record<string, Uint8Array> => {
    const sizes = new Map<string, number>();
    let out: Record<string, Uint8Array>;
    try {
      out = unzipSync(bytes, { filter: (f) => filter(f.name) && (sizes.set(f.name, f.originalSize), true) });
    } catch (e) {
      throw new Error(`${file}: not a readable zip archive (truncated or damaged?): ${(e as Error).message}`);
    }
    for (const [name, size] of sizes) {
      const got = out[name].byteLength;
      if (got !== size) throw new Error(`${file}: record ${name} has ${got} of its ${size} bytes (truncated file?)`);
    }
    return out;
  };
  const pickles = Object.keys(records((name) => /^[^/]+\/data\.pkl$/.test(name)));
  if (pickles.length !== 1)
    throw new Error(`${file}: expected one ARCHIVE/data.pkl record in the zip archive, found ${pickles.length}`);
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const head = records((name) => name === pickles[0] || name === `${prefix}byteorder`);
  const order = head[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order) !== 'little')
    throw new Error(`${file}: big-endian checkpoints are not read`);
  const globals = stateDictGlobals();
  const state = unpickle(head[pickles[0]], `${file}: ${pickles[0]}`, {
    globals,
    persistentLoad: (pid) => storageRef(pid, file),
  });
  if (!(state instanceof Map)) throw new Error(`${file}: the pickle holds no state dict (a dict of tensors)`);
  const refs = new Map<string, TensorRef>();
  for (const [name, value] of state) {
    if (typeof name !== 'string' || !isTensorRef(value)) {
      throw new Error(`${file}: state dict entry ${JSON.stringify(name)} is not a tensor`);
    }
    refs.set(name, value);
  }
  const read = [...refs.values()].filter((t) => FLOAT_DTYPES.has(t.storage.dtype) || !options.skipNonFloat);
  const wanted = new Set(read.map((t) => `${prefix}data/${t.storage.key}`));
  const storages = records((name) => wanted.has(name));
  const tensors: SafetensorsContents['tensors'] = new Map();
  const dtypes = new Map<string, string>();
  for (const [name, t] of refs) {
    dtypes.set(name, t.storage.dtype);
    if (!FLOAT_DTYPES.has(t.storage.dtype)) {
      if (options.skipNonFloat) continue;
      throw new Error(
        `${file}: tensor "${name}" has dtype ${t.storage.dtype}; only F32, F16, BF16 and F64 can be read as float32`,
      );
    }
    const record = `${prefix}data/${t.storage.key}`;
    const storage = storages[record];
    if (!storage) throw new Error(`${file}: tensor "${name}": its storage ${record} is not in the archive`);
    const size = DTYPE_SIZES[t.storage.dtype];
    if (storage.byteLength !== t.storage.numel * size) {
      throw new Error(
        `${file}: tensor "${name}": storage ${record} has ${storage.byteLength} bytes, not ${t.storage.numel} × ${size}`,
      );
    }
    const bytes = contiguousBytes(t, storage, size, `${file}: tensor "${name}"`);
    tensors.set(name, { name, shape: t.shape, data: decodeFloats(t.storage.dtype, bytes) });
  }
  return { tensors, metadata: {}, dtypes };
}

/** The globals a state dict's pickle may name: OrderedDict, the tensor and parameter rebuilders, storage classes. */
function stateDictGlobals(): Record<string, PickleGlobal> {
  const globals: Record<string, PickleGlobal> = {
    'collections.OrderedDict': (args) => {
      if (args.length > 0)
        throw new Error(`OrderedDict(...) with ${args.length} arguments; a state dict pickles it empty`);
      return new Map();
    },
    'torch._utils._rebuild_tensor_v2': rebuildTensor,
    'torch._utils._rebuild_parameter': (args) => args[0],
  };
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES))
    globals[`torch.${name}`] = { value: { storageDtype: dtype } };
  return globals;
}

/** `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])` as data. */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, shape, stride] = args;
  const ints = (v: unknown) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (
    args.length < 6 ||
    !isStorageRef(storage) ||
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0 ||
    !ints(shape) ||
    !ints(stride) ||
    (shape as number[]).length !== (stride as number[]).length
  ) {
    throw new Error(
      '_rebuild_tensor_v2 with arguments that do not describe a tensor (storage, offset, size, stride...)',
    );
  }
  return { storage, offset: offset as number, shape: shape as number[], stride: stride as number[] };
}

/** The storage a persistent id ('storage', StorageClass, key, location, numel) names. */
function storageRef(pid: unknown, file: string): StorageRef {
  const [kind, type, key, , numel] = Array.isArray(pid) ? pid : [];
  const dtype = (type as { storageDtype?: string } | undefined)?.storageDtype;
  if (
    !Array.isArray(pid) ||
    pid.length !== 5 ||
    kind !== 'storage' ||
    !dtype ||
    typeof key !== 'string' ||
    !/^\w+$/.test(key) ||
    !Number.isSafeInteger(numel) ||
    (numel as number) < 0
  ) {
    throw new Error(
      `${file}: persistent id ${JSON.stringify(pid)} is not a storage ('storage', type, key, location, numel)`,
    );
  }
  return { key, dtype, numel: numel as number };
}

function isStorageRef(v: unknown): v is StorageRef {
  return typeof v === 'object' && v !== null && 'key' in v && 'numel' in v && 'dtype' in v;
}

function isTensorRef(v: unknown): v is TensorRef {
  return typeof v === 'object' && v !== null && 'storage' in v && 'stride' in v;
}

/** The bytes of a strided view of a storage in row-major order (a subarray when the view is already contiguous). */
function contiguousBytes(t: TensorRef, storage: Uint8Array, size: number, where: string): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (n === 0) return new Uint8Array(0);
  const last = t.offset + t.shape.reduce((sum, d, i) => sum + (d - 1) * t.stride[i], 0);
  if (last >= t.storage.numel) {
    const view = `offset ${t.offset}, shape [${t.shape.join(', ')}] and stride [${t.stride.join(', ')}]`;
    throw new Error(`${where}: ${view} reach element ${last} of a ${t.storage.numel}-element storage`);
  }
  let expected = 1;
  let contiguous = true;
  for (let i = t.shape.length - 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expected) contiguous = false;
    expected *= t.shape[i];
  }
  if (contiguous) return storage.subarray(t.offset * size, (t.offset + n) * size);
  const out = new Uint8Array(n * size);
  const index = new Array<number>(t.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let at = t.offset;
    for (let i = 0; i < index.length; i++) at += index[i] * t.stride[i];
    out.set(storage.subarray(at * size, (at + 1) * size), k * size);
    for (let i = index.length - 1; i >= 0 && ++index[i] === t.shape[i]; i--) index[i] = 0;
  }
  return out;
}
