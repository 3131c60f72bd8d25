/** The safetensors format: named tensors read into (and written from) Float32Arrays, with strict validation. */
import * as fs from 'fs';
import * as os from 'os';
import { writeFileAtomic } from '../util/atomic';

/** A named tensor of 32-bit floats in row-major order. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The contents of a safetensors file. */
export interface SafetensorsContents {
  /** Tensors converted to float32, in file (offset) order; tensors skipped for their dtype are absent. */
  tensors: Map<string, NamedArray>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
  /** The stored dtype of every tensor in the file, skipped ones included. */
  dtypes: Map<string, string>;
}

export interface ReadSafetensorsOptions {
  /** Leave out tensors whose dtype is not a float type (I64, BOOL...) instead of throwing. */
  skipNonFloat?: boolean;
}

/** Bytes per element of every dtype the safetensors format defines. */
export const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};
/** Dtypes converted to float32 when read. */
export const FLOAT_DTYPES = new Set(['F16', 'BF16', 'F32', 'F64']);
/** Largest header accepted: real headers are a few hundred kilobytes at most. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const LITTLE_ENDIAN = os.endianness() === 'LE';

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** Reads a safetensors file, converting F32, F16, BF16 and F64 tensors to Float32Arrays. */
export function readSafetensors(file: string, options: ReadSafetensorsOptions = {}): SafetensorsContents {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: cannot read safetensors file (${(e as Error).message})`);
  }
  return parseSafetensors(bytes, file, options);
}

/** Decodes the bytes of a safetensors file; `source` names the file in errors. */
export function parseSafetensors(
  bytes: Uint8Array,
  source: string,
  options: ReadSafetensorsOptions = {},
): SafetensorsContents {
  if (bytes.byteLength < 8) {
    throw new Error(
      `${source}: not a safetensors file: ${bytes.byteLength} bytes, shorter than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new Error(
      `${source}: header length ${headerLength} bytes is absurd (limit ${MAX_HEADER_BYTES}): not a safetensors file?`,
    );
  }
  const n = Number(headerLength);
  if (8 + n > bytes.byteLength) {
    throw new Error(
      `${source}: header length ${n} bytes runs past the end of the ${bytes.byteLength}-byte file (truncated, or not a safetensors file)`,
    );
  }
  const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + n), source);
  const dataStart = 8 + n;
  checkLayout(entries, bytes.byteLength - dataStart, source);
  const tensors = new Map<string, NamedArray>();
  const dtypes = new Map<string, string>();
  for (const e of entries) {
    dtypes.set(e.name, e.dtype);
    if (!FLOAT_DTYPES.has(e.dtype)) {
      if (options.skipNonFloat) continue;
      throw new Error(
        `${source}: tensor "${e.name}" has dtype ${e.dtype}; only F32, F16, BF16 and F64 can be read as float32`,
      );
    }
    const region = bytes.subarray(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { name: e.name, shape: e.shape, data: decodeFloats(e.dtype, region) });
  }
  return { tensors, metadata, dtypes };
}

/** Parses and checks the JSON header; entries come back sorted by data offset. */
function parseHeader(headerBytes: Uint8Array, source: string): { entries: Entry[]; metadata: Record<string, string> } {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new Error(`${source}: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(
      `${source}: the header must be a JSON object of tensors (got ${Array.isArray(raw) ? 'an array' : typeof raw})`,
    );
  }
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error(`${source}: "__metadata__" must be an object of strings`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new Error(`${source}: "__metadata__" field "${k}" must be a string (got ${JSON.stringify(v)})`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, source));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  return { entries, metadata };
}

/** Checks one tensor's header entry: dtype, shape, and offsets whose span matches the shape. */
function parseEntry(name: string, value: unknown, source: string): Entry {
  const where = `${source}: tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${where}: header entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (dtype === undefined) throw new Error(`${where}: header entry has no "dtype"`);
  if (shape === undefined) throw new Error(`${where}: header entry has no "shape"`);
  if (offsets === undefined) throw new Error(`${where}: header entry has no "data_offsets"`);
  if (typeof dtype !== 'string' || !(dtype in DTYPE_SIZES)) {
    throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_SIZES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new Error(`${where}: shape ${JSON.stringify(shape)} must be a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new Error(`${where}: data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as number[];
  const need = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_SIZES[dtype];
  if (end - begin !== need) {
    throw new Error(
      `${where}: the header lies about sizes: shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/** Checks that the sorted entries tile the data buffer exactly: in bounds, no overlap, no holes. */
function checkLayout(entries: Entry[], bufferLength: number, source: string): void {
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of entries) {
    if (e.end > bufferLength) {
      throw new Error(
        `${source}: tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] lie beyond the ${bufferLength}-byte data buffer (truncated file?)`,
      );
    }
    if (e.begin < pos) {
      throw new Error(
        `${source}: tensors "${prev!.name}" [${prev!.begin}, ${prev!.end}] and "${e.name}" [${e.begin}, ${e.end}] overlap`,
      );
    }
    if (e.begin > pos) {
      throw new Error(
        `${source}: bytes [${pos}, ${e.begin}) before tensor "${e.name}" belong to no tensor (the format forbids holes)`,
      );
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== bufferLength) {
    throw new Error(
      `${source}: ${bufferLength - pos} bytes after the last tensor belong to no tensor (the format forbids trailing data)`,
    );
  }
}

/** Converts little-endian bytes of a float dtype (F32, F16, BF16, F64) to a Float32Array. */
export function decodeFloats(dtype: string, region: Uint8Array): Float32Array {
  const view = new DataView(region.buffer, region.byteOffset, region.byteLength);
  if (dtype === 'F32') {
    if (!LITTLE_ENDIAN)
      return Float32Array.from({ length: region.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
    // A view when aligned (no copy of a large file); a copy otherwise, since Float32Array needs 4-byte alignment.
    if (region.byteOffset % 4 === 0) return new Float32Array(region.buffer, region.byteOffset, region.byteLength / 4);
    return new Float32Array(new Uint8Array(region).buffer);
  }
  if (dtype === 'F64') {
    const out = new Float32Array(region.byteLength / 8);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
    return out;
  }
  const out = new Float32Array(region.byteLength / 2);
  if (dtype === 'F16') {
    const table = halfTable();
    for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(2 * i, true)];
  } else {
    const bits = new Uint32Array(out.buffer);
    // bfloat16 is the top half of a float32: native-endian u32 and f32 views of one buffer agree on every machine.
    for (let i = 0; i < out.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
  }
  return out;
}

/** The float value of an IEEE 754 half-precision bit pattern (exact, subnormals, infinities and NaN included). */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** The float value of a bfloat16 bit pattern (the top half of a float32). */
export function bfloat16ToFloat(bits: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

let halfCache: Float32Array | null = null;
/** All 65536 half-precision values, computed once. */
function halfTable(): Float32Array {
  if (!halfCache) {
    halfCache = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfCache[i] = halfToFloat(i);
  }
  return halfCache;
}

/** Writes tensors as F32 in the given order, with optional string metadata; the file appears atomically. */
export function writeSafetensors(
  file: string,
  tensors: readonly NamedArray[] | Map<string, NamedArray>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata, file));
}

/** The bytes of a safetensors file (as chunks: header, then each tensor) holding the tensors as F32. */
export function encodeSafetensors(
  tensors: readonly NamedArray[] | Map<string, NamedArray>,
  metadata: Record<string, string> = {},
  source = 'safetensors',
): Uint8Array[] {
  const list = tensors instanceof Map ? [...tensors.values()] : tensors;
  const header: Record<string, unknown> = Object.create(null);
  const names = new Set<string>();
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string')
      throw new Error(`${source}: metadata field "${k}" must be a string (got ${JSON.stringify(v)})`);
  }
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const t of list) {
    const where = `${source}: tensor "${t.name}"`;
    if (t.name === '__metadata__' || names.has(t.name)) throw new Error(`${where}: duplicate or reserved name`);
    names.add(t.name);
    if (!(t.data instanceof Float32Array)) throw new Error(`${where}: data must be a Float32Array`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: shape ${JSON.stringify(t.shape)} must be a list of non-negative integers`);
    }
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length)
      throw new Error(`${where}: shape [${t.shape.join(', ')}] holds ${size} values but data has ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
    chunks.push(littleEndianBytes(t.data));
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20);
  json.copy(padded);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  return [prefix, padded, ...chunks];
}

/** The little-endian bytes of a Float32Array (a view on little-endian machines). */
function littleEndianBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  data.forEach((x, i) => view.setFloat32(4 * i, x, true));
  return out;
}
