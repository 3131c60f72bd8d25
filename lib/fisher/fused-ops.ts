/**
 * Fused TensorFlow kernels for the native Fisher pass (fused-ops.cc): GELU, LayerNorm, the bias add, the attention
 * softmax and the masked-LM cross-entropy, forward and backward, and the sums of squares of per-sample gradients, each
 * one pass over memory where tfjs's eager ops take two to seven (the word embeddings' per-sample products are squared
 * as they are formed, never written). They are compiled on first use against the headers of
 * the TensorFlow wheel that scripts/tfjs-native.sh extracted, cached in .fisherlab-cache/ops/ by a hash of source,
 * flags and TensorFlow, loaded into the running TensorFlow, and called by op name. Where any step fails (another
 * backend, no compiler, no headers) the pass runs on tfjs's ops as before, after one line that says why;
 * FISHERLAB_FUSED_OPS=0 turns them off.
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendName } from '../backend';
import { projectRoot } from '../paths';

/** The fused kernels, on tensors of the tensorflow backend (float32). */
export interface FusedOps {
  /** GELU (erf form) of x, and Φ(x) for its gradient. */
  gelu(x: tf.Tensor): [tf.Tensor, tf.Tensor];
  /** dy ⊙ (Φ(x) + x φ(x)): GELU's gradient from x and the Φ(x) that `gelu` returned. */
  geluGrad(dy: tf.Tensor, x: tf.Tensor, cdf: tf.Tensor): tf.Tensor;
  /** Σ_k x[k]² over the leading axis, added to `total` (of x[0]'s shape) when given, in k's order. */
  squareSum(x: tf.Tensor, total?: tf.Tensor): tf.Tensor;
  /** LayerNorm over the last axis: x̂ γ + β, x̂ = (x − mean) / √(variance + eps), and 1/√(variance + eps) per row ([..., 1]). */
  layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): [tf.Tensor, tf.Tensor, tf.Tensor];
  /** LayerNorm's gradient with respect to x from dy, γ, and the x̂ and 1/√(variance + eps) that `layerNorm` returned. */
  layerNormGrad(dy: tf.Tensor, gamma: tf.Tensor, normed: tf.Tensor, inverseStd: tf.Tensor): tf.Tensor;
  /** x + b, b added to every row of x [..., w]. */
  biasAdd(x: tf.Tensor, bias: tf.Tensor): tf.Tensor;
  /** softmax(scale · scores + mask) over the last axis of scores [B, heads, T, S]; mask holds B × S additive values. */
  attentionSoftmax(scores: tf.Tensor, mask: tf.Tensor, scale: number): tf.Tensor;
  /** The gradient of `attentionSoftmax` with respect to its scores, from dy and the weights it returned. */
  attentionSoftmaxGrad(dy: tf.Tensor, weights: tf.Tensor, scale: number): tf.Tensor;
  /** Each row's cross-entropy −log softmax(logits)[target] [N], and its gradient softmax − one-hot [N, C]. */
  crossEntropyRows(logits: tf.Tensor2D, targets: tf.Tensor1D): [tf.Tensor1D, tf.Tensor2D];
  /** total + Σ_n (Σ_t a[n, t] ⊙ b[n, t])² for a, b [B, c, w] and total [w]; without b, of a[n, t] alone. */
  groupSquareSum(total: tf.Tensor, a: tf.Tensor, b?: tf.Tensor): tf.Tensor;
  /** total + Σ_n (a_nᵀ b_n)², element-wise, for a [R, p], b [R, q] whose sample n has rows starts[n] to starts[n + 1] ([B + 1], int32). */
  outerSquareSum(total: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, starts: tf.Tensor1D): tf.Tensor2D;
}

interface NativeBackend {
  binding: { TF_Version: string; TF_ATTR_FLOAT: number };
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.Tensor[]): tf.Tensor;
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.Tensor[], outputs: number): tf.Tensor[];
}

/** dlopen's RTLD_NODELETE (absent from os.constants.dlopen): the library must stay mapped after Node rejects it as an addon. */
const RTLD_NODELETE = 0x1000;

let loaded: { ops: FusedOps; library: string } | { ops: null; why: string } | undefined;

/** The fused kernels when the tensorflow backend is in force and they build and load, else null (see the file's doc). */
export function fusedOps(): FusedOps | null {
  if (backendName() !== 'tensorflow' || process.env.FISHERLAB_FUSED_OPS === '0') return null;
  if (loaded === undefined) {
    try {
      loaded = load();
    } catch (e) {
      loaded = { ops: null, why: (e as Error).message };
      console.error(`fisherlab: the Fisher pass runs on tfjs's own kernels: ${loaded.why}`);
    }
  }
  return loaded.ops;
}

/** Which kernels the Fisher pass uses here, and why (for `fisherlab info`). */
export function fusedOpsNote(): string {
  if (backendName() !== 'tensorflow') return `tfjs's own kernels (fused ones need the tensorflow backend)`;
  if (process.env.FISHERLAB_FUSED_OPS === '0') return `tfjs's own kernels (FISHERLAB_FUSED_OPS=0)`;
  fusedOps();
  return loaded!.ops
    ? `fused TensorFlow kernels (${path.relative(projectRoot(), (loaded as { library: string }).library)})`
    : `tfjs's own kernels (${(loaded as { why: string }).why})`;
}

/** Compiles (when not cached) and loads the library, then checks one op against its definition. */
function load(): { ops: FusedOps; library: string } {
  const backend = tf.backend() as unknown as NativeBackend;
  const library = build(backend.binding.TF_Version);
  try {
    process.dlopen(
      { exports: {} } as NodeJS.Module,
      library,
      os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE,
    );
  } catch (e) {
    // a TensorFlow op library is not a Node addon: loading registers the ops, then Node says so
    if (!/did not self-register/.test((e as Error).message)) throw new Error(`${library} did not load: ${e}`);
  }
  const float = (name: string, value: number) => ({ name, type: backend.binding.TF_ATTR_FLOAT, value });
  const ops: FusedOps = {
    gelu: (x) => backend.executeMultipleOutputs('FisherlabGelu', [], [x], 2) as [tf.Tensor, tf.Tensor],
    geluGrad: (dy, x, cdf) => backend.executeSingleOutput('FisherlabGeluGrad', [], [dy, x, cdf]),
    squareSum: (x, total) =>
      total
        ? backend.executeSingleOutput('FisherlabSquareSumInto', [], [total, x])
        : backend.executeSingleOutput('FisherlabSquareSum', [], [x]),
    layerNorm: (x, gamma, beta, eps) =>
      backend.executeMultipleOutputs('FisherlabLayerNorm', [float('eps', eps)], [x, gamma, beta], 3) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ],
    layerNormGrad: (dy, gamma, normed, inverseStd) =>
      backend.executeSingleOutput('FisherlabLayerNormGrad', [], [dy, gamma, normed, inverseStd]),
    biasAdd: (x, bias) => backend.executeSingleOutput('FisherlabBiasAdd', [], [x, bias]),
    attentionSoftmax: (scores, mask, scale) =>
      backend.executeSingleOutput('FisherlabAttentionSoftmax', [float('scale', scale)], [scores, mask]),
    attentionSoftmaxGrad: (dy, weights, scale) =>
      backend.executeSingleOutput('FisherlabAttentionSoftmaxGrad', [float('scale', scale)], [dy, weights]),
    crossEntropyRows: (logits, targets) =>
      backend.executeMultipleOutputs('FisherlabCrossEntropyRows', [], [logits, targets], 2) as [
        tf.Tensor1D,
        tf.Tensor2D,
      ],
    groupSquareSum: (total, a, b) =>
      b
        ? backend.executeSingleOutput('FisherlabGroupProductSquareSum', [], [total, a, b])
        : backend.executeSingleOutput('FisherlabGroupSquareSum', [], [total, a]),
    outerSquareSum: (total, a, b, starts) =>
      backend.executeSingleOutput('FisherlabOuterSquareSum', [], [total, a, b, starts]) as tf.Tensor2D,
  };
  const check = tf.tidy(() => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    return [...ops.squareSum(x).dataSync(), ...ops.squareSum(x, tf.tensor1d([1, 1])).dataSync()];
  });
  if (check.join() !== '10,20,11,21')
    throw new Error(`${library} computes [Σ x², 1 + Σ x²] as [${check}], not [10, 20, 11, 21]`);
  return { ops, library };
}

/** The path of the compiled library for this source, these flags and this TensorFlow, compiling it when missing. */
function build(tfVersion: string): string {
  const deps = path.join(projectRoot(), 'node_modules', '@tensorflow', 'tfjs-node', 'deps');
  const include = path.join(deps, 'include');
  if (!fs.existsSync(path.join(include, 'tensorflow', 'core', 'framework', 'op_kernel.h')))
    throw new Error(`no TensorFlow C++ headers in ${include} (bash scripts/setup.sh extracts them)`);
  const vector = vectorFlags();
  const flags = [
    '-std=c++17',
    '-O3',
    '-w',
    '-shared',
    '-fPIC',
    '-D_GLIBCXX_USE_CXX11_ABI=1',
    '-DEIGEN_MAX_ALIGN_BYTES=64',
    '-fopenmp-simd', // the row reductions' `omp simd` pragmas: vector sums without -ffast-math
    ...vector,
  ];
  const file = path.join(projectRoot(), 'lib', 'fisher', 'fused-ops.cc');
  const source = fs.readFileSync(file);
  const key = createHash('sha256')
    .update(source)
    .update(flags.join(' '))
    .update(tfVersion)
    .update(fs.realpathSync(deps))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(projectRoot(), '.fisherlab-cache', 'ops');
  // machines of one cluster may share this folder: each instruction set keeps its own build
  const [variant, other] = vector.length ? ['avx2', 'base'] : ['base', 'avx2'];
  const library = path.join(dir, `fisherlab-ops-${variant}-${key}.so`);
  if (fs.existsSync(library)) return library;
  fs.mkdirSync(dir, { recursive: true });
  const partial = `${library}.${process.pid}.tmp`;
  console.error('fisherlab: compiling the Fisher pass’s fused TensorFlow kernels (once, about 10 s)');
  const r = spawnSync(
    'c++',
    [...flags, '-I', include, file, '-o', partial, '-L', path.join(deps, 'lib'), '-l:libtensorflow_framework.so.2'],
    { encoding: 'utf8' },
  );
  if (r.error) throw new Error(`no C++ compiler (c++: ${r.error.message})`);
  if (r.status !== 0) {
    fs.rmSync(partial, { force: true });
    const first = (r.stderr ?? '').split('\n').find((line) => line.includes('error')) ?? r.stderr;
    throw new Error(`${file} did not compile: ${first.trim()}`);
  }
  fs.renameSync(partial, library);
  // builds of earlier sources are stale (a process that still maps one keeps it until it exits)
  for (const f of fs.readdirSync(dir))
    if (
      f.startsWith('fisherlab-ops-') &&
      !f.startsWith(`fisherlab-ops-${other}-`) &&
      f !== path.basename(library) &&
      !f.endsWith('.tmp')
    )
      fs.rmSync(path.join(dir, f), { force: true });
  return library;
}

/** AVX2 and FMA when this CPU has them (the library is built for the machine that runs it), else the compiler's default. */
function vectorFlags(): string[] {
  try {
    const flags =
      fs
        .readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        .split(/\s+/) ?? [];
    return flags.includes('avx2') && flags.includes('fma') ? ['-mavx2', '-mfma'] : [];
  } catch {
    return [];
  }
}
