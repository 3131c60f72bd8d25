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
  /** Number of updates applied so far. */
  t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Array<[string, tf.Variable]>,
    cfg: Omit<AdamWConfig, 'lr'> = {},
  ) {
    this.beta1 = cfg.beta1 ?? 0.9;
    this.beta2 = cfg.beta2 ?? 0.999;
    this.eps = cfg.eps ?? 1e-8;
    this.weightDecay = cfg.weightDecay ?? 0.01;
    for (const [name, p] of params) {
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
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
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        m.assign(m1);
        v.assign(v1);
        const decayed = decays(name) && this.weightDecay > 0 ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v1), Math.sqrt(bc2)), this.eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m1, denom), lr / bc1)));
      });
    }
  }

  /** The moment estimates as named arrays (`exp_avg.<name>`, `exp_avg_sq.<name>`), for checkpoints. */
  stateArrays(): NamedArray[] {
    const out: NamedArray[] = [];
    for (const [prefix, map] of [
      ['exp_avg', this.m],
      ['exp_avg_sq', this.v],
    ] as const) {
      for (const [name, t] of map)
        out.push({ name: `${prefix}.${name}`, shape: [...t.shape], data: t.dataSync() as Float32Array });
    }
    return out;
  }

  /** Restores the state written by `stateArrays` and the update count. */
  loadState(arrays: Map<string, NamedArray>, t: number): void {
    for (const [prefix, map] of [
      ['exp_avg', this.m],
      ['exp_avg_sq', this.v],
    ] as const) {
      for (const [name, variable] of map) {
        const a = arrays.get(`${prefix}.${name}`);
        if (!a) throw new Error(`optimizer state lacks ${prefix}.${name}`);
        if (a.shape.join() !== variable.shape.join())
          throw new Error(`optimizer state ${prefix}.${name} has shape [${a.shape}], expected [${variable.shape}]`);
        tf.tidy(() => variable.assign(tf.tensor(a.data, a.shape)));
      }
    }
    this.t = t;
  }

  /** Frees the moment estimates. */
  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
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
