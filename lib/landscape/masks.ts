/**
 * Which parameter tensors a landscape perturbs: all of them, the top or bottom tensors by mean Fisher (the authors'
 * split is by tensor count: argsort of the means, top = the upper half), or an explicit list; the directions of
 * every other tensor are zeroed.
 */
import { bottomPercent, FisherInput, meansOf, topBottomSets, topPercent } from '../fisher/aggregate';
import type { Direction, DirectionPair } from './directions';

/** A mask: `all`, `top`/`bottom` with a percentage of tensors, or `names`. */
export type MaskSpec =
  { kind: 'all' } | { kind: 'top' | 'bottom'; percent: number } | { kind: 'names'; names: string[] };

/** Parses `all`, `top50`, `bottom50`, `top:K`, `bottom:K` (K a percentage) or `names:A,B,...`. */
export function parseMask(text: string): MaskSpec {
  if (text === 'all') return { kind: 'all' };
  const pct = /^(top|bottom):?(\d+(?:\.\d+)?)$/.exec(text);
  if (pct) {
    const percent = Number(pct[2]);
    if (!(percent > 0 && percent <= 100)) throw new Error(`mask "${text}": the percentage must be in (0, 100]`);
    return { kind: pct[1] as 'top' | 'bottom', percent };
  }
  if (text.startsWith('names:')) {
    const names = text
      .slice(6)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length === 0) throw new Error(`mask "${text}": no tensor names after "names:"`);
    return { kind: 'names', names };
  }
  throw new Error(`unknown mask "${text}" (expected all, top50, bottom50, top:K, bottom:K or names:A,B,...)`);
}

/** The mask's canonical text (`all`, `top:50`, `names:A,B`), as written to surface metadata. */
export function maskLabel(spec: MaskSpec): string {
  if (spec.kind === 'all') return 'all';
  if (spec.kind === 'names') return `names:${spec.names.join(',')}`;
  return `${spec.kind}:${spec.percent}`;
}

/**
 * The tensors a mask selects, in the order of `names` (the model's parameter order). Top/bottom 50 use the authors'
 * partition (`topBottomSets`), other percentages `topPercent`/`bottomPercent`; they need a Fisher estimate of the
 * same tensors.
 */
export function maskedTensors(spec: MaskSpec, names: readonly string[], fisher?: FisherInput): string[] {
  let chosen: Set<string>;
  if (spec.kind === 'all') chosen = new Set(names);
  else if (spec.kind === 'names') {
    const unknown = spec.names.filter((n) => !names.includes(n));
    if (unknown.length) throw new Error(`mask: not parameters of the model: ${unknown.join(', ')}`);
    chosen = new Set(spec.names);
  } else {
    if (!fisher) throw new Error(`mask ${maskLabel(spec)} needs a Fisher estimate (--fisher FILE)`);
    const scored = new Set(meansOf(fisher).map((t) => t.name));
    const unscored = names.filter((n) => !scored.has(n));
    const foreign = [...scored].filter((n) => !names.includes(n));
    if (unscored.length || foreign.length)
      throw new Error(
        `mask: the Fisher estimate is not over the model's tensors: missing [${unscored.join(', ')}], unexpected [${foreign.join(', ')}]`,
      );
    const sets = spec.percent === 50 ? topBottomSets(fisher, 0.5) : null;
    const picked =
      spec.kind === 'top'
        ? (sets?.top ?? topPercent(fisher, spec.percent))
        : (sets?.bottom ?? bottomPercent(fisher, spec.percent));
    chosen = new Set(picked);
  }
  return names.filter((n) => chosen.has(n));
}

/** The direction with every tensor outside `keep` replaced by zeros (tensors inside are shared, not copied). */
export function maskDirection(direction: Direction, keep: readonly string[]): Direction {
  const inside = new Set(keep);
  const out: Direction = new Map();
  for (const [name, t] of direction)
    out.set(name, inside.has(name) ? t : { name, shape: t.shape, data: new Float32Array(t.data.length) });
  return out;
}

/** Both directions of a pair masked to `keep`. */
export function maskPair(pair: DirectionPair, keep: readonly string[]): DirectionPair {
  return { x: maskDirection(pair.x, keep), y: maskDirection(pair.y, keep) };
}
