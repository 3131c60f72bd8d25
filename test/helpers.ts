/** Shared test helpers: backend start-up and a tiny configuration. */
import { initBackend } from '../lib/backend';
import { BertConfig, parseConfig } from '../lib/bert/config';

/** Starts the backend once, quietly. */
export async function setupBackend(): Promise<string> {
  return initBackend({ quiet: true });
}

/** A tiny BERT configuration for tests (vocab 50, hidden 16, 2 layers, 2 heads). */
export function tinyConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return parseConfig({
    vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32,
    max_position_embeddings: 24, type_vocab_size: 2, ...overrides,
  });
}

/** Largest absolute difference between two equally long numeric arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
