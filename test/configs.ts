/** BERT configurations shared by tests and benchmarks (no backend: importing this loads only lib/bert/config). */
import { BertConfig, parseConfig } from '../lib/bert/config';

/** A tiny BERT configuration for tests (vocab 50, hidden 16, 2 layers, 2 heads). */
export function tinyConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return parseConfig({
    vocab_size: 50,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 24,
    type_vocab_size: 2,
    ...overrides,
  });
}

/** A BERT too small to train (vocab 4, hidden 2, 2 layers, 1 head, intermediate 3, 3 positions), for checking per-tensor bookkeeping by hand. */
export const MICRO_CONFIG: BertConfig = parseConfig({
  vocab_size: 4,
  hidden_size: 2,
  num_hidden_layers: 2,
  num_attention_heads: 1,
  intermediate_size: 3,
  max_position_embeddings: 3,
  type_vocab_size: 2,
});

/** A one-layer configuration for weight-file tests (vocab 30, hidden 8, 2 heads, intermediate 16, 16 positions). */
export function weightFileConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return parseConfig({
    vocab_size: 30,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 16,
    type_vocab_size: 2,
    ...overrides,
  });
}

/** The one-layer model (hidden 16, 2 heads, intermediate 32, 32 positions) fine-tuned on the sentiment tasks of writeSentimentTask, for `vocab`. */
export function sentimentConfig(vocab: string[]): BertConfig {
  return parseConfig({
    vocab_size: vocab.length,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 32,
    type_vocab_size: 2,
  });
}
