/** AdamW (PyTorch's torch.optim.AdamW), gradient clipping by global norm, and the linear warm-up/decay schedule. */
import * as tf from '@tensorflow/tfjs';
import type { NamedArray } from '../weights/safetensors';

export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Where AdamW keeps its moments: `device` as tensors of the backend, `host` as Float32Arrays in JavaScript memory. */
export type MomentPlacement = 'host' | 'device';

/** The moments' placement for a backend: host on wasm and cpu (outside wasm's 4 GiB heap), device on TensorFlow. */
export function momentPlacement(backend = tf.getBackend()): MomentPlacement {
  return backend === 'wasm' || backend === 'cpu' ? 'host' : 'device';
}

/** Whether a parameter gets weight decay: not biases and not LayerNorm weights (as Hugging Face's Trainer). */
export function decays(name: string): boolean {
  return !(name.endsWith('.bias') || name.includes('LayerNorm.') || name === 'cls.predictions.bias');
}

/** Parameters updated together on the device: their moments as one flat pair (one parameter's own shape when alone). */
interface DeviceGroup {
  members: Array<[string, tf.Variable]>;
  decays: boolean;
  m: tf.Variable;
  v: tf.Variable;
}

/** Tensors at least this large are updated alone: concatenating them would copy more than the kernels saved cost. */
const ALONE = 1 << 16;
/** Floats per group of small tensors at most, which bounds the update's temporaries. */
const GROUP_MAX = 1 << 18;
/** Tensors of a group's size that one device update holds at its peak (the flat copies, moments and intermediates of its tidy). */
const UPDATE_TEMPORARIES = 17;

/** Parameter indices by group: every large tensor alone, the small ones packed in order into groups of like weight decay, each of at most GROUP_MAX floats. */
function packGroups(sizes: readonly number[], decay: readonly boolean[]): number[][] {
  const groups: number[][] = [];
  for (const d of [true, false]) {
    let open: number[] = [];
    let floats = 0;
    sizes.forEach((size, i) => {
      if (size >= ALONE || decay[i] !== d) return;
      if (floats + size > GROUP_MAX && open.length > 0) {
        groups.push(open);
        [open, floats] = [[], 0];
      }
      open.push(i);
      floats += size;
    });
    if (open.length > 0) groups.push(open);
  }
  sizes.forEach((size, i) => size >= ALONE && groups.push([i]));
  return groups;
}

/**
 * Bytes the temporaries of the largest group of small tensors take during a device AdamW update: what grouping adds
 * to updating each tensor alone (a tensor updated alone has the same temporaries as before grouping).
 */
export function adamUpdateBytes(sizes: readonly number[]): number {
  const small = packGroups(
    sizes,
    sizes.map(() => true),
  ).filter((g) => sizes[g[0]] < ALONE);
  return 4 * UPDATE_TEMPORARIES * Math.max(0, ...small.map((g) => g.reduce((s, i) => s + sizes[i], 0)));
}

/** The device groups of `packGroups`, with their flat moments. */
function deviceGroups(params: Array<[string, tf.Variable]>): DeviceGroup[] {
  const groups = packGroups(
    params.map(([, p]) => p.size),
    params.map(([name]) => decays(name)),
  );
  return groups.map((indices) => {
    const members = indices.map((i) => params[i]);
    const shape = members.length === 1 ? members[0][1].shape : [members.reduce((s, [, p]) => s + p.size, 0)];
    // a variable shares its initial value's data, so the initial tensor is disposed at once, or it would outlive the variable
    const zeros = () => {
      const init = tf.zeros(shape);
      const moment = tf.variable(init, false);
      init.dispose();
      return moment;
    };
    return { members, decays: decays(members[0][0]), m: zeros(), v: zeros() };
  });
}

/** AdamW over named variables; `step(grads, lr)` updates them in place; its state can be saved and restored. */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Where the moments live (by default the backend's `momentPlacement`). */
  readonly placement: MomentPlacement;
  /** Number of updates applied so far. */
  t = 0;
  /** Host moments by parameter name. */
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();
  /** Device moments, one flat pair per group of parameters updated together. */
  private readonly groups: DeviceGroup[];

  constructor(
    private readonly params: Array<[string, tf.Variable]>,
    cfg: Omit<AdamWConfig, 'lr'> & { moments?: MomentPlacement } = {},
  ) {
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.weightDecay = cfg.weightDecay ?? 0.01;
    this.placement = cfg.moments ?? momentPlacement();
    this.groups = [];
    if (this.placement === 'host') {
      for (const [name, p] of params) {
        this.m.set(name, new Float32Array(p.size));
        this.v.set(name, new Float32Array(p.size));
      }
    } else this.groups = deviceGroups(params);
  }

  /** Applies one update with learning rate `lr` from gradients keyed by parameter name. */
  step(grads: Map<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    const gradient = (name: string) => {
      const g = grads.get(name);
      if (!g) throw new Error(`no gradient for parameter ${name}`);
      return g;
    };
    for (const [name, p] of this.params) {
      if (this.placement === 'host')
        this.hostUpdate(name, p, gradient(name), this.m.get(name)!, this.v.get(name)!, lr, bc1, bc2);
    }
    for (const group of this.groups) {
      tf.tidy(() => {
        const { m, v, members } = group;
        // one flat vector per group: the same elementwise arithmetic, a dozen kernels per group instead of per tensor
        const flat = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0] : tf.concat(ts.map((t) => tf.reshape(t, [-1]))));
        const g = flat(members.map(([name]) => gradient(name)));
        const p = flat(members.map(([, w]) => w));
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(m1);
        v.assign(v1);
        const decayed = group.decays && this.weightDecay > 0 ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), this.eps);
        const updated = tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / bc1));
        if (members.length === 1) members[0][1].assign(updated);
        else {
          const parts = tf.split(
            updated,
            members.map(([, w]) => w.size),
          );
          members.forEach(([, w], i) => w.assign(tf.reshape(parts[i], w.shape)));
        }
      });
    }
  }

  /** The device path's update of one parameter, in JavaScript with float32 rounding after every operation. */
  private hostUpdate(
    name: string,
    p: tf.Variable,
    g: tf.Tensor,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    bc1: number,
    bc2: number,
  ): void {
    const f = Math.fround;
    const gd = g.dataSync() as Float32Array;
    const pd = p.dataSync() as Float32Array;
    if (gd.length !== m.length) throw new Error(`gradient of ${name} has ${gd.length} values, expected ${m.length}`);
    const b1 = f(this.beta1);
    const b2 = f(this.beta2);
    const c1 = f(1 - this.beta1);
    const c2 = f(1 - this.beta2);
    const keep = decays(name) && this.weightDecay > 0 ? f(1 - lr * this.weightDecay) : 1;
    const sqrtBc2 = f(Math.sqrt(bc2));
    const eps = f(this.eps);
    const rate = f(lr / bc1);
    // a new array: on cpu, dataSync returns the tensor's own storage, and tf.tensor may keep `out` without copying
    const out = new Float32Array(pd.length);
    for (let i = 0; i < out.length; i++) {
      const gi = gd[i];
      const m1 = f(f(m[i] * b1) + f(gi * c1));
      const v1 = f(f(v[i] * b2) + f(f(gi * gi) * c2));
      m[i] = m1;
      v[i] = v1;
      const denom = f(f(f(Math.sqrt(v1)) / sqrtBc2) + eps);
      const decayed = keep === 1 ? pd[i] : f(pd[i] * keep);
      out[i] = f(decayed - f(f(m1 / denom) * rate));
    }
    tf.tidy(() => p.assign(tf.tensor(out, p.shape)));
  }

  /** The moment estimates as named arrays (`exp_avg.<name>`, `exp_avg_sq.<name>`), for checkpoints. */
  stateArrays(): NamedArray[] {
    const out: NamedArray[] = [];
    for (const [prefix, which] of [
      ['exp_avg', 'm'],
      ['exp_avg_sq', 'v'],
    ] as const) {
      const data = this.momentArrays(which);
      for (const [name] of this.params)
        out.push({ name: `${prefix}.${name}`, shape: [...this.shapeOf(name)], data: data.get(name)! });
    }
    return out;
  }

  /** Restores the state written by `stateArrays` (on either placement) and the update count. */
  loadState(arrays: Map<string, NamedArray>, t: number): void {
    for (const [prefix, which] of [
      ['exp_avg', 'm'],
      ['exp_avg_sq', 'v'],
    ] as const) {
      const named = new Map<string, Float32Array>();
      for (const [name] of this.params) {
        const a = arrays.get(`${prefix}.${name}`);
        if (!a) throw new Error(`optimizer state lacks ${prefix}.${name}`);
        const shape = this.shapeOf(name);
        if (a.shape.join() !== shape.join())
          throw new Error(`optimizer state ${prefix}.${name} has shape [${a.shape}], expected [${shape}]`);
        named.set(name, a.data);
      }
      if (this.placement === 'host')
        for (const [name, moment] of which === 'm' ? this.m : this.v) moment.set(named.get(name)!);
      for (const group of this.groups) {
        const flat = new Float32Array(group[which].size);
        let at = 0;
        for (const [name, w] of group.members) {
          flat.set(named.get(name)!, at);
          at += w.size;
        }
        tf.tidy(() => group[which].assign(tf.tensor(flat, group[which].shape)));
      }
    }
    this.t = t;
  }

  /** Frees the moment estimates. */
  dispose(): void {
    for (const group of this.groups) tf.dispose([group.m, group.v]);
    this.groups.length = 0;
    this.m.clear();
    this.v.clear();
  }

  /** Each parameter's first or second moment as its own array (views into a group's data on the device). */
  private momentArrays(which: 'm' | 'v'): Map<string, Float32Array> {
    if (this.placement === 'host') return which === 'm' ? this.m : this.v;
    const out = new Map<string, Float32Array>();
    for (const group of this.groups) {
      const data = group[which].dataSync() as Float32Array;
      let at = 0;
      for (const [name, w] of group.members) {
        out.set(name, data.subarray(at, at + w.size));
        at += w.size;
      }
    }
    return out;
  }

  private shapeOf(name: string): number[] {
    const p = this.params.find(([n]) => n === name);
    if (!p) throw new Error(`no parameter ${name}`);
    return p[1].shape;
  }
}

/** Scales gradients in place so their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_); returns the norm before clipping. */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const norm = Math.sqrt(tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]));
  if (!Number.isFinite(norm)) return norm;
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const [name, g] of grads) {
      grads.set(name, tf.mul(g, coef));
      g.dispose();
    }
  }
  return norm;
}

/** Learning rate at (0-based) step: linear warm-up from 0, then linear decay to 0 at totalSteps (get_linear_schedule_with_warmup). */
export function warmupLinearDecay(step: number, peak: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
  return peak * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}
