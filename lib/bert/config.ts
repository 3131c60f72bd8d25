/** BERT configuration with Hugging Face `config.json` field names. */
import * as fs from 'fs';

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu';
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  num_labels: number;
  pad_token_id: number;
  /** Hugging Face's problem_type for sequence classification ("regression" when num_labels = 1). */
  problem_type?: 'regression' | 'single_label_classification';
}

const REQUIRED_INTS = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
] as const;

/** Defaults Hugging Face's BertConfig uses for fields a config.json may omit. */
export const CONFIG_DEFAULTS = {
  hidden_act: 'gelu' as const,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  num_labels: 2,
  pad_token_id: 0,
};

/** Validates a parsed config.json object and fills Hugging Face's defaults; `source` names it in errors. */
export function parseConfig(raw: unknown, source = 'config.json'): BertConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  for (const k of REQUIRED_INTS) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new Error(`${source}: field "${k}" must be a positive integer (got ${JSON.stringify(v)})`);
    }
  }
  const act = o.hidden_act ?? CONFIG_DEFAULTS.hidden_act;
  if (act !== 'gelu') {
    throw new Error(`${source}: field "hidden_act" is ${JSON.stringify(act)}; only "gelu" (erf form) is supported`);
  }
  const num = (k: keyof typeof CONFIG_DEFAULTS, lo: number, hi: number): number => {
    const v = o[k] ?? CONFIG_DEFAULTS[k];
    if (typeof v !== 'number' || !(v >= lo && v <= hi)) {
      throw new Error(`${source}: field "${k}" must be a number in [${lo}, ${hi}] (got ${JSON.stringify(v)})`);
    }
    return v;
  };
  // num_labels: explicit field, else the length of id2label, else 2.
  let numLabels = o.num_labels;
  if (numLabels === undefined && o.id2label && typeof o.id2label === 'object')
    numLabels = Object.keys(o.id2label).length;
  const cfg: BertConfig = {
    vocab_size: o.vocab_size as number,
    hidden_size: o.hidden_size as number,
    num_hidden_layers: o.num_hidden_layers as number,
    num_attention_heads: o.num_attention_heads as number,
    intermediate_size: o.intermediate_size as number,
    hidden_act: 'gelu',
    max_position_embeddings: o.max_position_embeddings as number,
    type_vocab_size: o.type_vocab_size as number,
    layer_norm_eps: num('layer_norm_eps', 0, 1),
    hidden_dropout_prob: num('hidden_dropout_prob', 0, 1),
    attention_probs_dropout_prob: num('attention_probs_dropout_prob', 0, 1),
    initializer_range: num('initializer_range', 0, 10),
    num_labels: numLabels === undefined ? CONFIG_DEFAULTS.num_labels : (numLabels as number),
    pad_token_id: num('pad_token_id', 0, Number.MAX_SAFE_INTEGER),
  };
  if (!Number.isInteger(cfg.num_labels) || cfg.num_labels < 1) {
    throw new Error(`${source}: field "num_labels" must be a positive integer (got ${JSON.stringify(numLabels)})`);
  }
  if (o.problem_type === 'regression' || o.problem_type === 'single_label_classification')
    cfg.problem_type = o.problem_type;
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new Error(
      `${source}: hidden_size ${cfg.hidden_size} is not a multiple of num_attention_heads ${cfg.num_attention_heads}`,
    );
  }
  return cfg;
}

/** Reads and validates a Hugging Face config.json file. */
export function readConfig(file: string): BertConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read config (${(e as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseConfig(raw, file);
}

/** The config.json object written beside a checkpoint (Hugging Face fields plus architecture and model_type). */
export function configToJson(cfg: BertConfig, architecture: string): Record<string, unknown> {
  return { architectures: [architecture], model_type: 'bert', ...cfg };
}

/** Whether a classification head with this config does regression (one output, mean-squared error). */
export function isRegression(cfg: BertConfig): boolean {
  return cfg.problem_type === 'regression' || (cfg.problem_type === undefined && cfg.num_labels === 1);
}

/** bert-base-uncased's sizes: the fields of its config.json that have no Hugging Face default. */
export const BERT_BASE_SIZES = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  type_vocab_size: 2,
};

/** bert-base-uncased's configuration: its sizes and Hugging Face's defaults. */
export const BERT_BASE: BertConfig = parseConfig(BERT_BASE_SIZES);
