/** The names and shapes of BERT's parameter tensors, in Hugging Face's `named_parameters()` order. */
import type { BertConfig } from './config';

/** Which parts a model has besides the embeddings and encoder. */
export interface BertParts {
  /** The pooler (dense + tanh on [CLS]); BertForMaskedLM has none. */
  pooler: boolean;
  /** The masked-LM head `cls.predictions.*` (decoder tied to the word embeddings). */
  mlm: boolean;
  /** The sequence classification / regression head `classifier.*`. */
  classifier: boolean;
}

/** Parts of Hugging Face's BertForMaskedLM. */
export const MASKED_LM: BertParts = { pooler: false, mlm: true, classifier: false };
/** Parts of Hugging Face's BertForSequenceClassification. */
export const SEQUENCE_CLASSIFICATION: BertParts = { pooler: true, mlm: false, classifier: true };
/** Parts of Hugging Face's BertModel. */
export const BASE_MODEL: BertParts = { pooler: true, mlm: false, classifier: false };

export interface ParameterSpec {
  name: string;
  shape: number[];
}

/** Hugging Face class name for a set of parts. */
export function architectureName(parts: BertParts): string {
  if (parts.classifier) return 'BertForSequenceClassification';
  if (parts.mlm) return parts.pooler ? 'BertForPreTraining' : 'BertForMaskedLM';
  return 'BertModel';
}

/** Names and shapes of every parameter tensor in Hugging Face order (nn.Linear weights are [out, in]). */
export function parameterSpecs(cfg: BertConfig, parts: BertParts): ParameterSpec[] {
  const H = cfg.hidden_size;
  const I = cfg.intermediate_size;
  const specs: ParameterSpec[] = [];
  const add = (name: string, shape: number[]) => specs.push({ name, shape });
  const linear = (prefix: string, out: number, inp: number) => {
    add(`${prefix}.weight`, [out, inp]);
    add(`${prefix}.bias`, [out]);
  };
  const layerNorm = (prefix: string) => {
    add(`${prefix}.weight`, [H]);
    add(`${prefix}.bias`, [H]);
  };
  add('bert.embeddings.word_embeddings.weight', [cfg.vocab_size, H]);
  add('bert.embeddings.position_embeddings.weight', [cfg.max_position_embeddings, H]);
  add('bert.embeddings.token_type_embeddings.weight', [cfg.type_vocab_size, H]);
  layerNorm('bert.embeddings.LayerNorm');
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    linear(`${l}.attention.self.query`, H, H);
    linear(`${l}.attention.self.key`, H, H);
    linear(`${l}.attention.self.value`, H, H);
    linear(`${l}.attention.output.dense`, H, H);
    layerNorm(`${l}.attention.output.LayerNorm`);
    linear(`${l}.intermediate.dense`, I, H);
    linear(`${l}.output.dense`, H, I);
    layerNorm(`${l}.output.LayerNorm`);
  }
  if (parts.pooler) linear('bert.pooler.dense', H, H);
  if (parts.mlm) {
    add('cls.predictions.bias', [cfg.vocab_size]);
    linear('cls.predictions.transform.dense', H, H);
    layerNorm('cls.predictions.transform.LayerNorm');
  }
  if (parts.classifier) linear('classifier', cfg.num_labels, H);
  return specs;
}

/** Names of the dropout sites, as Hugging Face names the dropout modules, in forward order. */
export function dropoutSiteNames(cfg: BertConfig, parts: BertParts): string[] {
  const names = ['bert.embeddings.dropout'];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    names.push(`${l}.attention.self.dropout`, `${l}.attention.output.dropout`, `${l}.output.dropout`);
  }
  if (parts.classifier) names.push('dropout');
  return names;
}

/** The component a parameter belongs to: the embeddings, an encoder layer, the masked-LM head, or its own name. */
export function parameterComponent(name: string): string {
  if (name.startsWith('bert.embeddings')) return 'embeddings';
  if (name.startsWith('cls.')) return 'masked-LM head';
  return name.replace(/^bert\.encoder\.layer\.(\d+)\..*/, 'encoder layer $1');
}

/** Parameters per component, components in the order their first tensor comes. */
export function parametersPerComponent(
  named: ReadonlyArray<readonly [string, { size: number }]>,
): Array<{ component: string; parameters: number }> {
  const counts = new Map<string, number>();
  for (const [name, v] of named)
    counts.set(parameterComponent(name), (counts.get(parameterComponent(name)) ?? 0) + v.size);
  return [...counts].map(([component, parameters]) => ({ component, parameters }));
}
