/**
 * Aggregation of a diagonal Fisher estimate (one tensor per BERT parameter, by Hugging Face name) as the authors do it:
 * per-tensor means, group scores, dropout-site scores, and the top / bottom Fisher tensor sets.
 */
import { CONFIG_DEFAULTS } from '../bert/config';
import type { BertConfig } from '../bert/config';
import { parameterSpecs } from '../bert/parameters';

/** One Fisher tensor per parameter, keyed by Hugging Face name (as read from a safetensors file). */
export type FisherTensors = ReadonlyMap<string, { shape: number[]; data: Float32Array }>;

/** The mean Fisher score of one parameter tensor. */
export interface TensorMean {
  name: string;
  /** Unweighted mean over the tensor's entries (computed in float64). */
  mean: number;
  /** Number of entries. */
  size: number;
  /** Position in Hugging Face's `named_parameters()` order. */
  index: number;
}

/** A Fisher estimate as tensors, or already reduced to per-tensor means. */
export type FisherInput = FisherTensors | readonly TensorMean[];

/** Kinds of parameter groups, in architectural order. */
export const GROUP_KINDS = [
  'embeddings',
  'attention_self',
  'attention_output',
  'intermediate',
  'output',
  'mlm_head',
  'pooler',
  'classifier',
] as const;
export type GroupKind = (typeof GROUP_KINDS)[number];

/** Where a tensor belongs: group name (`embeddings`, `3.attention_self`, `mlm_head`...), kind and encoder layer. */
export interface GroupRef {
  group: string;
  kind: GroupKind;
  /** Encoder layer, or null outside the encoder. */
  layer: number | null;
}

/** The score of one group of tensors. */
export interface GroupScore extends GroupRef {
  score: number;
  /** Member tensors in architectural order. */
  tensors: string[];
  /** Total number of entries of the member tensors. */
  size: number;
}

/** The score a dropout site inherits from the group that precedes it. */
export interface SiteScore extends GroupRef {
  /** Hugging Face name of the dropout module. */
  site: string;
  score: number;
}

/**
 * How a group's score combines its tensors' means. `tensor` (the authors'): the unweighted mean of the tensor means,
 * so a 768-entry bias or LayerNorm vector counts as much as a 768×768 weight. `size`: the mean weighted by tensor
 * size, i.e. the mean over all of the group's scalar entries, which the large weight matrices dominate.
 */
export type GroupWeighting = 'tensor' | 'size';

/** Top and bottom tensor sets by mean Fisher score (names). */
export interface TopBottom {
  top: string[];
  bottom: string[];
}

const ENCODER = /^bert\.encoder\.layer\.(\d+)\.(attention\.self|attention\.output|intermediate|output)\./;

/** The group a parameter tensor belongs to, from its Hugging Face name. */
export function groupOf(name: string): GroupRef {
  const m = ENCODER.exec(name);
  if (m) {
    const layer = Number(m[1]);
    const kind = m[2].replace('.', '_') as GroupKind;
    return { group: `${layer}.${kind}`, kind, layer };
  }
  const outside: Array<[string, GroupKind]> = [
    ['bert.embeddings.', 'embeddings'],
    ['cls.predictions.', 'mlm_head'],
    ['bert.pooler.', 'pooler'],
    ['classifier.', 'classifier'],
  ];
  for (const [prefix, kind] of outside) {
    if (name.startsWith(prefix)) return { group: kind, kind, layer: null };
  }
  throw new Error(
    `fisher: "${name}" is not a BERT parameter name (expected bert.embeddings.*, bert.encoder.layer.N.*, bert.pooler.*, cls.predictions.* or classifier.*)`,
  );
}

/** The names in Hugging Face `named_parameters()` order; the layer count and the parts present (pooler, MLM head, classifier) come from the names. */
export function parameterOrder(names: Iterable<string>): string[] {
  const given = new Set(names);
  let layers = 0;
  for (const n of given) {
    const { layer } = groupOf(n);
    if (layer !== null) layers = Math.max(layers, layer + 1);
  }
  const parts = {
    pooler: given.has('bert.pooler.dense.weight'),
    mlm: given.has('cls.predictions.bias'),
    classifier: given.has('classifier.weight'),
  };
  // Only the names of parameterSpecs are used, so every size is 1.
  const cfg: BertConfig = {
    ...CONFIG_DEFAULTS,
    vocab_size: 1,
    hidden_size: 1,
    num_hidden_layers: layers,
    num_attention_heads: 1,
    intermediate_size: 1,
    max_position_embeddings: 1,
    type_vocab_size: 1,
  };
  const order = parameterSpecs(cfg, parts).map((s) => s.name);
  const missing = order.filter((n) => !given.has(n));
  const known = new Set(order);
  const extra = [...given].filter((n) => !known.has(n));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `fisher: not the parameter set of a ${layers}-layer BERT: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`,
    );
  }
  return order;
}

/** Per-tensor mean Fisher scores in Hugging Face `named_parameters()` order. */
export function tensorMeans(fisher: FisherTensors): TensorMean[] {
  return parameterOrder(fisher.keys()).map((name, index) => {
    const { shape, data } = fisher.get(name)!;
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length)
      throw new Error(
        `fisher: tensor "${name}" has shape [${shape.join(', ')}] (${size} entries) but ${data.length} values`,
      );
    if (size === 0) throw new Error(`fisher: tensor "${name}" is empty`);
    let sum = 0;
    for (let i = 0; i < data.length; i++) sum += data[i];
    return { name, mean: sum / size, size, index };
  });
}

/** Per-tensor means of either form of Fisher input. */
export function meansOf(fisher: FisherInput): readonly TensorMean[] {
  return Array.isArray(fisher) ? (fisher as readonly TensorMean[]) : tensorMeans(fisher as FisherTensors);
}

/** Group scores in architectural order: embeddings, per layer attention_self/attention_output/intermediate/output, then heads. */
export function groupScores(fisher: FisherInput, weighting: GroupWeighting = 'tensor'): GroupScore[] {
  const groups = new Map<string, { ref: GroupRef; members: TensorMean[] }>();
  for (const t of [...meansOf(fisher)].sort((a, b) => a.index - b.index)) {
    const ref = groupOf(t.name);
    const entry = groups.get(ref.group) ?? groups.set(ref.group, { ref, members: [] }).get(ref.group)!;
    entry.members.push(t);
  }
  return [...groups.values()].map(({ ref, members }) => {
    const size = members.reduce((s, t) => s + t.size, 0);
    const score =
      weighting === 'tensor'
        ? members.reduce((s, t) => s + t.mean, 0) / members.length
        : members.reduce((s, t) => s + t.mean * t.size, 0) / size;
    return { ...ref, score, tensors: members.map((t) => t.name), size };
  });
}

/** The dropout module that follows each kind of group (intermediate and the heads have none). */
const SITE_AFTER: Partial<Record<GroupKind, string>> = {
  embeddings: 'dropout',
  attention_self: 'attention.self.dropout',
  attention_output: 'attention.output.dropout',
  output: 'output.dropout',
};

/** Dropout-site scores in forward order (1 + 3 × layers sites): each site gets the score of the group preceding it. */
export function dropoutSiteScores(groups: readonly GroupScore[]): SiteScore[] {
  const sites: SiteScore[] = [];
  for (const g of groups) {
    const suffix = SITE_AFTER[g.kind];
    if (suffix === undefined) continue;
    const site = g.layer === null ? `bert.embeddings.${suffix}` : `bert.encoder.layer.${g.layer}.${suffix}`;
    sites.push({ site, group: g.group, kind: g.kind, layer: g.layer, score: g.score });
  }
  return sites;
}

/** Tensors in ascending order of mean Fisher score, ties broken by architectural index (a stable argsort). */
export function ascendingTensors(fisher: FisherInput): TensorMean[] {
  return [...meansOf(fisher)].sort((a, b) => a.mean - b.mean || a.index - b.index);
}

/** Names of the top ⌈n·k/100⌉ tensors by mean Fisher score (highest last). */
export function topPercent(fisher: FisherInput, k: number): string[] {
  checkPercent(k);
  const sorted = ascendingTensors(fisher);
  return sorted.slice(cutAt(sorted.length, 100 - k)).map((t) => t.name);
}

/** Names of the bottom ⌊n·k/100⌋ tensors by mean Fisher score (lowest first). */
export function bottomPercent(fisher: FisherInput, k: number): string[] {
  checkPercent(k);
  const sorted = ascendingTensors(fisher);
  return sorted.slice(0, cutAt(sorted.length, k)).map((t) => t.name);
}

/**
 * The authors' split: argsort ascending, bottom = argsort[:cut], top = argsort[cut:] with cut = ⌊n·(1 − fraction)⌋
 * (202 tensors, fraction 0.5: bottom = argsort[:101], top = argsort[101:202]); the two sets partition the tensors.
 */
export function topBottomSets(fisher: FisherInput, fraction = 0.5): TopBottom {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`fisher: fraction must be in [0, 1] (got ${fraction})`);
  const sorted = ascendingTensors(fisher);
  const cut = cutAt(sorted.length, 100 * (1 - fraction));
  return { top: sorted.slice(cut).map((t) => t.name), bottom: sorted.slice(0, cut).map((t) => t.name) };
}

/** Throws unless k is a percentage in [0, 100]. */
function checkPercent(k: number): void {
  if (!(k >= 0 && k <= 100)) throw new Error(`fisher: percentage must be in [0, 100] (got ${k})`);
}

/** ⌊n·k/100⌋ for k in [0, 100], immune to binary rounding just below an integer (10 · 10% is 1, not 0). */
function cutAt(n: number, k: number): number {
  return Math.min(n, Math.max(0, Math.floor((n * k) / 100 + 1e-9)));
}
