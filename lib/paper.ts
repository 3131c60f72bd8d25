/**
 * Every number fisherlab takes from the paper (Sharma et al., 2024, "Information Guided Regularization for Fine-tuning
 * Language Models") or from the authors' code and notebooks, each with where it comes from (sections of
 * ../shared/docs/paper.md). The authors' loss surfaces are data files, read by lib/landscape/surface-file.ts.
 */
import type { GroupKind } from './fisher/aggregate';

/** Guided dropout's range (the paper's algorithm box): P_upper = 10% at the lowest-Fisher site. */
export const P_UPPER = 0.1;
/** Guided dropout's range (the paper's algorithm box): P_lower = 0% at the highest-Fisher site. */
export const P_LOWER = 0;
/** The top probability the authors' code actually used: np.arange(0, 0.099, 0.00275) reversed (paper.md §1.5). */
export const AUTHORS_P_UPPER = 0.099;

/**
 * The authors' BERT-base guided-dropout schedule in ascending Fisher order, as [module index, layer, group kind, p]:
 * their code and notebook output, copied from the table in paper.md §1.5.
 */
export const AUTHORS_SCHEDULE_ROWS: ReadonlyArray<readonly [number, number | null, GroupKind, number]> = [
  [136, 7, 'attention_self', 0.099],
  [187, 10, 'attention_self', 0.09625],
  [170, 9, 'attention_self', 0.0935],
  [153, 8, 'attention_self', 0.09075],
  [34, 1, 'attention_self', 0.088],
  [119, 6, 'attention_self', 0.08525],
  [204, 11, 'attention_self', 0.0825],
  [51, 2, 'attention_self', 0.07975],
  [16, 0, 'attention_self', 0.077],
  [102, 5, 'attention_self', 0.07425],
  [68, 3, 'attention_self', 0.0715],
  [85, 4, 'attention_self', 0.06875],
  [208, 11, 'attention_output', 0.066],
  [20, 0, 'attention_output', 0.06325],
  [174, 9, 'attention_output', 0.0605],
  [191, 10, 'attention_output', 0.05775],
  [140, 7, 'attention_output', 0.055],
  [38, 1, 'attention_output', 0.05225],
  [123, 6, 'attention_output', 0.0495],
  [157, 8, 'attention_output', 0.04675],
  [55, 2, 'attention_output', 0.044],
  [106, 5, 'attention_output', 0.04125],
  [89, 4, 'attention_output', 0.0385],
  [72, 3, 'attention_output', 0.03575],
  [214, 11, 'output', 0.033],
  [180, 9, 'output', 0.03025],
  [129, 6, 'output', 0.0275],
  [112, 5, 'output', 0.02475],
  [61, 2, 'output', 0.022],
  [27, 0, 'output', 0.01925],
  [197, 10, 'output', 0.0165],
  [163, 8, 'output', 0.01375],
  [146, 7, 'output', 0.011],
  [44, 1, 'output', 0.00825],
  [95, 4, 'output', 0.0055],
  [78, 3, 'output', 0.00275],
  [7, null, 'embeddings', 0],
];

/**
 * The authors' BERT-base dropout-site scores in ascending order per kind of group preceding the site, digitized from
 * their sorted-scores chart (paper.md §2); the embeddings' site (> 0.006) is off that chart.
 */
export const AUTHORS_SORTED_SITE_SCORES: ReadonlyArray<readonly [GroupKind, readonly number[]]> = [
  [
    'attention_self',
    [
      0.000065, 0.000074, 0.000075, 0.00009, 0.00009, 0.000091, 0.000091, 0.000094, 0.000098, 0.000105, 0.000118,
      0.000136,
    ],
  ],
  [
    'attention_output',
    [
      0.000278, 0.000315, 0.000328, 0.000329, 0.00034, 0.00034, 0.000377, 0.000381, 0.000408, 0.000423, 0.000445,
      0.000472,
    ],
  ],
  [
    'output',
    [
      0.000554, 0.000597, 0.00062, 0.000716, 0.000733, 0.000748, 0.000752, 0.000775, 0.00079, 0.000848, 0.000868,
      0.00096,
    ],
  ],
];

/** The authors' guided-dropout scores for BERT-base (paper.md §3, their Lodha et al. comparison table; MRPC and RTE in %). */
export const PAPER_GUIDED_BERT_BASE: ReadonlyArray<{ task: string; pct: number; value: number; note: string }> = [
  { task: 'CoLA', pct: 100, value: 0.6096, note: 'Matthews correlation' },
  { task: 'MRPC', pct: 100, value: 0.8241, note: 'accuracy or F1 (not stated)' },
  { task: 'RTE', pct: 100, value: 0.6877, note: 'accuracy' },
  { task: 'STS-B', pct: 100, value: 0.8813, note: 'Pearson, Spearman or their mean (not stated)' },
  { task: 'CoLA', pct: 50, value: 0.5557, note: 'Matthews correlation' },
  { task: 'MRPC', pct: 50, value: 0.8046, note: 'accuracy or F1 (not stated)' },
  { task: 'RTE', pct: 50, value: 0.6209, note: 'accuracy' },
  { task: 'STS-B', pct: 50, value: 0.8502, note: 'Pearson, Spearman or their mean (not stated)' },
];

/**
 * The authors' fine-tuning recipe for BERT-base (paper.md, their training setup): transformers' AdamW at lr 2e-5 with
 * the Trainer's linear decay and no warm-up, weight decay 0, batch 18, 3 epochs, sequences of up to 512 tokens.
 */
export const PAPER_RECIPE = {
  epochs: 3,
  batchSize: 18,
  lr: 2e-5,
  warmupRatio: 0,
  weightDecay: 0,
  maxLength: 512,
} as const;

/** The authors' held-out fraction (their code: `train_test_split(test_size=0.2)`). */
export const AUTHORS_TEST_FRACTION = 0.2;

/** The vocabulary size of the authors' model, BERT-base uncased (its config.json), for their Figure 1 surfaces' ln V. */
export const BERT_BASE_VOCAB_SIZE = 30522;
