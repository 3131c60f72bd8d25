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
  private readonly m = new Map<string, tf.Variable | Float32Array>();
  private readonly v = new Map<string, tf.Variable | Float32Array>();

  constructor(
    private readonly params: Array<[string, tf.Variable]>,
    cfg: Omit<AdamWConfig, 'lr'> & { moments?: MomentPlacement } = {},
  ) {
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.weightDecay = cfg.weightDecay ?? 0.01;
    this.placement = cfg.moments ?? momentPlacement();
    for (const [name, p] of params) {
      const zeros = () => {
        if (this.placement === 'host') return new Float32Array(p.size);
        // a variable shares its initial value's data, so the initial tensor is disposed at once, or it would outlive the variable
        const init = tf.zerosLike(p);
        const moment = tf.variable(init, false);
        init.dispose();
        return moment;
      };
      this.m.set(name, zeros());
      this.v.set(name, zeros());
    }
  }

  /** Applies one update with learning rate `lr` from gradients keyed by parameter name. */
  step(grads: Map<string, tf.Tensor>, lr: number): void {
    this.t += 1;
    const bc1 = 1 - this.beta1 ** this.t;
    const bc2 = 1 - this.beta2 ** this.t;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g) throw new Error(`no gradient for parameter ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      if (m instanceof Float32Array && v instanceof Float32Array) {
        this.hostUpdate(name, p, g, m, v, lr, bc1, bc2);
        continue;
      }
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m as tf.Variable, this.beta1), tf.mul(g, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v as tf.Variable, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        (m as tf.Variable).assign(m1);
        (v as tf.Variable).assign(v1);
        const decayed = decays(name) && this.weightDecay > 0 ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), this.eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / bc1)));
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
    for (const [prefix, map] of [
      ['exp_avg', this.m],
      ['exp_avg_sq', this.v],
    ] as const) {
      for (const [name, t] of map) {
        const shape = [...this.shapeOf(name)];
        out.push({
          name: `${prefix}.${name}`,
          shape,
          data: t instanceof Float32Array ? t : (t.dataSync() as Float32Array),
        });
      }
    }
    return out;
  }

  /** Restores the state written by `stateArrays` (on either placement) and the update count. */
  loadState(arrays: Map<string, NamedArray>, t: number): void {
    for (const [prefix, map] of [
      ['exp_avg', this.m],
      ['exp_avg_sq', this.v],
    ] as const) {
      for (const [name, moment] of map) {
        const a = arrays.get(`${prefix}.${name}`);
        if (!a) throw new Error(`optimizer state lacks ${prefix}.${name}`);
        const shape = this.shapeOf(name);
        if (a.shape.join() !== shape.join())
          throw new Error(`optimizer state ${prefix}.${name} has shape [${a.shape}], expected [${shape}]`);
        if (moment instanceof Float32Array) moment.set(a.data);
        else tf.tidy(() => moment.assign(tf.tensor(a.data, a.shape)));
      }
    }
    this.t = t;
  }

  /** Frees the moment estimates. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) if (!(t instanceof Float32Array)) t.dispose();
    this.m.clear();
    this.v.clear();
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
