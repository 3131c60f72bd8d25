/** Named dropout sites whose kind and probability can be changed at run time. */
import * as tf from '@tensorflow/tfjs';
import { mixSeed } from '../util/random';

/** none: identity; bernoulli: inverted dropout; gaussian: multiplicative noise N(1, p/(1-p)). */
export type DropoutKind = 'none' | 'bernoulli' | 'gaussian';

export interface DropoutSetting {
  kind: DropoutKind;
  p: number;
}

/** The dropout sites of one model, by Hugging Face module name, each with its own setting. */
export class DropoutSites {
  private readonly settings = new Map<string, DropoutSetting>();
  private readonly index = new Map<string, number>();

  constructor(names: string[], initial: (name: string) => DropoutSetting) {
    names.forEach((n, i) => {
      this.index.set(n, i);
      this.set(n, initial(n));
    });
  }

  /** Site names in forward order. */
  names(): string[] {
    return [...this.index.keys()];
  }

  /** The setting of one site. */
  get(name: string): DropoutSetting {
    const s = this.settings.get(name);
    if (!s) throw new Error(`unknown dropout site "${name}" (sites: ${this.names().join(', ')})`);
    return { ...s };
  }

  /** Changes one site's kind and probability. */
  set(name: string, setting: DropoutSetting): void {
    if (!this.index.has(name)) throw new Error(`unknown dropout site "${name}" (sites: ${this.names().join(', ')})`);
    const { kind, p } = setting;
    if (!['none', 'bernoulli', 'gaussian'].includes(kind))
      throw new Error(`dropout site "${name}": unknown kind "${kind}"`);
    if (!(p >= 0 && p < 1)) throw new Error(`dropout site "${name}": probability must be in [0, 1) (got ${p})`);
    this.settings.set(name, { kind, p });
  }

  /** Applies one setting to every site. */
  setAll(setting: DropoutSetting): void {
    for (const n of this.names()) this.set(n, setting);
  }

  /** All settings as a plain object (site → setting). */
  toJSON(): Record<string, DropoutSetting> {
    return Object.fromEntries([...this.settings].map(([n, s]) => [n, { ...s }]));
  }

  /** Applies site `name` to x: the identity unless `seed` is given (training mode). */
  apply(name: string, x: tf.Tensor, seed: number | undefined): tf.Tensor {
    const s = this.get(name);
    if (seed === undefined || s.kind === 'none' || s.p === 0) return x;
    const siteSeed = mixSeed(seed, this.index.get(name)!);
    return tf.tidy(() => {
      if (s.kind === 'bernoulli') {
        const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', siteSeed), s.p);
        return tf.mul(x, tf.mul(tf.cast(keep, 'float32'), 1 / (1 - s.p)));
      }
      const std = Math.sqrt(s.p / (1 - s.p));
      return tf.mul(x, tf.randomNormal(x.shape, 1, std, 'float32', siteSeed));
    });
  }
}
