/** Named dropout sites whose kind and probability can be changed at run time. */
import * as tf from '@tensorflow/tfjs';
import { mixSeed, splitMix32 } from '../util/random';

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
    // the noise is drawn in JavaScript and multiplied in as one tensor: one upload and one kernel per site
    const noise = s.kind === 'bernoulli' ? bernoulliMask(x.size, s.p, siteSeed) : gaussianNoise(x.size, s.p, siteSeed);
    return tf.tidy(() => tf.mul(x, tf.tensor(noise, x.shape, 'float32')));
  }
}

/** Inverted-dropout multipliers: 0 with probability p, else 1/(1-p), from the SplitMix32 stream of `seed`. */
export function bernoulliMask(size: number, p: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  const keep = 1 / (1 - p);
  // a unit is dropped when its 32-bit draw is below p·2³², so P(drop) = p to within 2⁻³²
  const threshold = Math.round(p * 2 ** 32);
  let state = mixSeed(seed) | 0;
  for (let i = 0; i < size; i++) {
    state = (state + 0x9e3779b9) | 0;
    if (splitMix32(state) >= threshold) out[i] = keep;
  }
  return out;
}

/** Gaussian-dropout multipliers N(1, p/(1-p)) (Srivastava et al. 2014), by Marsaglia's polar method from the SplitMix32 stream of `seed`. */
export function gaussianNoise(size: number, p: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  const std = Math.sqrt(p / (1 - p));
  let state = mixSeed(seed) | 0;
  const uniform = () => {
    state = (state + 0x9e3779b9) | 0;
    return (splitMix32(state) + 0.5) / 2 ** 31 - 1; // in (−1, 1)
  };
  for (let i = 0; i < size; i += 2) {
    // a point uniform in the unit disc (about 1.27 tries), then two independent normals without sin or cos
    let u: number;
    let v: number;
    let r2: number;
    do {
      u = uniform();
      v = uniform();
      r2 = u * u + v * v;
    } while (r2 >= 1 || r2 === 0);
    const scale = std * Math.sqrt((-2 * Math.log(r2)) / r2);
    out[i] = 1 + u * scale;
    if (i + 1 < size) out[i + 1] = 1 + v * scale;
  }
  return out;
}
