/** Comparing Fisher estimates tensor by tensor (shared by the Fisher tests). */
import { expect } from 'chai';

/** max |a_i|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Max abs difference over the max abs reference value. */
export function relDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).to.equal(want.length);
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  return d / (maxAbs(want) || 1);
}

/**
 * Per-tensor comparison at `tol` relative; the attention key biases, whose true gradient is identically zero
 * (softmax ignores the per-query constant q·b_k), must instead be negligible next to the largest Fisher value
 * on both sides: below `zeroTol` times it. Returns the failures and the worst relative difference.
 */
export function compareFisher(
  got: Map<string, ArrayLike<number>>,
  want: Map<string, ArrayLike<number>>,
  tol: number,
  zeroTol = 1e-10,
): { bad: string[]; worst: [number, string] } {
  const scale = Math.max(...[...want.values()].map(maxAbs));
  const bad: string[] = [];
  let worst: [number, string] = [0, ''];
  expect([...got.keys()]).to.deep.equal([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    if (/attention\.self\.key\.bias$/.test(name)) {
      if (!(maxAbs(w) < zeroTol * scale && maxAbs(g) < zeroTol * scale))
        bad.push(`${name}: not ~0 (${maxAbs(g).toExponential(2)} vs ${maxAbs(w).toExponential(2)})`);
      continue;
    }
    if (!(maxAbs(w) > 1e-12 * scale)) bad.push(`${name}: the reference is ~0`);
    const d = relDiff(g, w);
    if (!(d < tol)) bad.push(`${name}: relative difference ${d.toExponential(2)}`);
    if (d > worst[0]) worst = [d, name];
  }
  return { bad, worst };
}
