/**
 * Loss surfaces as HDF5 in the layout of Li et al.'s loss-landscape tool (`surf_file`): float64 datasets
 * `xcoordinates`, `ycoordinates` and `train_loss` (shape [nx, ny], flat index nx·iy + ix, as their
 * `losses.ravel()[k]` fills it), plus `dir_file` and fisherlab's metadata as a JSON attribute. Their plotting
 * scripts read our files and `readSurfaceHdf5` reads theirs (the authors' `Surfs/*.h5`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkSurface, LossSurface } from './surface-file';

/** The part of h5wasm's API used here (declared locally: its types resolve only through package exports, which tslab's TypeScript cannot follow). */
interface H5Dataset {
  readonly value: unknown;
}
interface H5File {
  readonly file_id: bigint | number;
  readonly attrs: Record<string, { value: unknown } | undefined>;
  keys(): string[];
  get(name: string): unknown;
  create_dataset(args: { name: string; data: Float64Array | string; shape?: number[] }): unknown;
  create_attribute(name: string, data: string): void;
  close(): unknown;
}
interface H5 {
  ready: Promise<unknown>;
  File: new (filename: string, mode: 'r' | 'w') => H5File;
  Dataset: abstract new (...args: never[]) => H5Dataset;
}

/** A real dynamic import, also where TypeScript compiles to CommonJS (tslab), whose require() cannot load ES modules. */
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let h5: Promise<H5> | null = null;

/** h5wasm (an ES module), loaded once and ready. */
async function loadH5(): Promise<H5> {
  h5 ??= importEsm('h5wasm/node').then(async (m) => {
    const mod = m as H5;
    await mod.ready;
    return mod;
  });
  return h5;
}

/** Writes a surface as an HDF5 file in the loss-landscape layout, atomically (a temporary file renamed). */
export async function writeSurfaceHdf5(file: string, surface: LossSurface): Promise<void> {
  const s = checkSurface(surface.x, surface.y, surface.loss, surface.metadata, file);
  const h5wasm = await loadH5();
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const f = new h5wasm.File(tmp, 'w');
  if (!f.file_id) throw new Error(`${file}: cannot create the HDF5 file`);
  try {
    f.create_dataset({ name: 'xcoordinates', data: Float64Array.from(s.x) });
    f.create_dataset({ name: 'ycoordinates', data: Float64Array.from(s.y) });
    f.create_dataset({ name: 'train_loss', data: Float64Array.from(s.loss), shape: [s.x.length, s.y.length] });
    if (typeof s.metadata.directions === 'string') f.create_dataset({ name: 'dir_file', data: s.metadata.directions });
    f.create_attribute('fisherlab_metadata', JSON.stringify(s.metadata));
  } finally {
    f.close();
  }
  fs.renameSync(tmp, file);
}

/** Whether the file carries the HDF5 signature at offset 0, 512, 1024 or 2048 (after a user block). */
function hasHdf5Signature(file: string): boolean {
  const magic = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
  const head = Buffer.alloc(2048 + 8);
  const fd = fs.openSync(file, 'r');
  try {
    const n = fs.readSync(fd, head, 0, head.length, 0);
    return [0, 512, 1024, 2048].some((o) => o + 8 <= n && head.subarray(o, o + 8).equals(magic));
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads `xcoordinates`, `ycoordinates` (absent: a 1-D slice at y = 0) and `train_loss` of a loss-landscape HDF5 file. */
export async function readSurfaceHdf5(file: string, lossName = 'train_loss'): Promise<LossSurface> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  if (!hasHdf5Signature(file)) throw new Error(`${file}: not an HDF5 file (no HDF5 signature)`);
  const h5wasm = await loadH5();
  const f = new h5wasm.File(file, 'r');
  if (!f.file_id) throw new Error(`${file}: not an HDF5 file`);
  try {
    const values = (name: string): number[] | undefined => {
      const d = f.get(name);
      if (d === null) return undefined;
      if (!(d instanceof h5wasm.Dataset)) throw new Error(`${file}: "${name}" is not a dataset`);
      const v = (d as H5Dataset).value;
      if (!ArrayBuffer.isView(v) || v instanceof BigInt64Array || v instanceof BigUint64Array)
        throw new Error(`${file}: "${name}" is not a numeric array`);
      return Array.from(v as Float64Array);
    };
    const x = values('xcoordinates');
    if (!x) throw new Error(`${file}: no "xcoordinates" dataset (has ${f.keys().join(', ')})`);
    const loss = values(lossName);
    if (!loss) throw new Error(`${file}: no "${lossName}" dataset (has ${f.keys().join(', ')})`);
    const attr = f.attrs.fisherlab_metadata?.value;
    const metadata =
      typeof attr === 'string' ? (JSON.parse(attr) as Record<string, unknown>) : { source: path.resolve(file) };
    return checkSurface(x, values('ycoordinates') ?? [0], loss, metadata, file);
  } finally {
    f.close();
  }
}
