/** The settings of a pretraining run: what they are, their defaults, and how an older run's settings are completed. */

/** Everything that determines a pretraining run; a run folder only resumes with the same settings. */
export interface PretrainSettings {
  corpus: string;
  vocabFile: string;
  heldOutFraction: number;
  maxLength: number;
  /**
   * Sequence-length warm-up: the first `shortSteps` steps train on sequences of `shortLength` tokens, in batches
   * grown so each step still sees about `batchSize × maxLength` tokens. Attention spread over fewer positions finds
   * word order (heads that read the neighbouring tokens) far sooner; BERT's own recipe likewise trained 90% of its
   * steps at 128 tokens before 512.
   */
  shortLength: number;
  shortSteps: number;
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  batchSize: number;
  steps: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** Dropout probability at every site during pretraining (the saved config keeps BERT's 0.1 for fine-tuning). */
  dropout: number;
  /**
   * Initial position embeddings: `normal` (BERT's N(0, initializer_range²)) or `sinusoidal` (Vaswani et al.'s table
   * scaled to the same root mean square); either way they are then learned.
   */
  positionInit: PositionInit;
  /** Share of tokens selected for the masked-LM loss in training (BERT: 0.15; the held-out evaluation always uses 0.15). */
  maskProbability: number;
  /** `mimetic`: each key weight starts equal to its query weight, so initial attention follows similarity (Trockman and Kolter, 2023). */
  attentionInit: AttentionInit;
  /** Standard deviation of the initial weights (config.json's initializer_range; BERT's 0.02 was set for hidden size 768). */
  initializerRange: number;
  /** Processes that share each batch (data parallelism); part of the settings because it changes the dropout masks and rounding. */
  jobs: number;
  seed: number;
  evalExamples: number;
  evalEvery: number;
  checkpointEvery: number;
}

export const POSITION_INITS = ['normal', 'sinusoidal'] as const;
export type PositionInit = (typeof POSITION_INITS)[number];
export const ATTENTION_INITS = ['normal', 'mimetic'] as const;
export type AttentionInit = (typeof ATTENTION_INITS)[number];

/** The defaults of `fisherlab pretrain`: fisherlab-bert-l4-h128's recipe, whose corpus installs with `npm ci`. */
export const PRETRAIN_DEFAULTS: Omit<PretrainSettings, 'vocabFile'> = {
  corpus: 'brown,sotu',
  heldOutFraction: 0.05,
  maxLength: 128,
  shortLength: 16,
  shortSteps: 2000,
  layers: 4,
  hidden: 128,
  heads: 2,
  intermediate: 512,
  batchSize: 16,
  steps: 5000,
  lr: 1e-3,
  warmupSteps: 400,
  weightDecay: 0.01,
  dropout: 0,
  positionInit: 'sinusoidal',
  initializerRange: 0.05,
  attentionInit: 'mimetic',
  maskProbability: 0.15,
  jobs: 2,
  seed: 0,
  evalExamples: 512,
  evalEvery: 500,
  checkpointEvery: 100,
};

/** The share of the steps `fisherlab pretrain` spends on short sequences unless told (fisherlab-bert-l4-h128's 2,000 of 5,000). */
export const SHORT_STEPS_SHARE = 0.4;

/** What runs begun before a setting existed used for it: their settings.json and reports lack the key. */
const BEFORE_SETTING: Partial<PretrainSettings> = {
  shortLength: 16,
  shortSteps: 0,
  dropout: 0.1,
  positionInit: 'normal',
  initializerRange: 0.02,
  attentionInit: 'normal',
  maskProbability: 0.15,
  jobs: 1,
};

/** A run's saved settings with every key: those it predates take the value the run used. */
export function completeSettings(saved: Partial<PretrainSettings>): PretrainSettings {
  return { ...PRETRAIN_DEFAULTS, ...BEFORE_SETTING, ...saved } as PretrainSettings;
}
