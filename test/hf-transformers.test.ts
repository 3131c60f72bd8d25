/**
 * Optional cross-check against the real Hugging Face implementation: transformers + PyTorch in float64,
 * run by test/reference/hf_transformers.py inside .venv-hf/ (made by scripts/hf-venv.sh). Skipped when that
 * environment is missing. Checks parameter and dropout names on BERT-base, the forward pass of checkpoints
 * written by transformers' save_pretrained, masked-LM loss gradients on a padded batch and the per-sample
 * Fisher diagonal, and the forward pass of tiny checkpoints in every folder layout fisherlab reads (with the
 * real bert-base-uncased vocabulary, skipped when ../shared/data lacks it), damaged copies of them included.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { createHash } from 'crypto';
import { BERT_BASE_SIZES, readConfig } from '../lib/bert/config';
import { loadBert } from '../lib/bert/load';
import type { Batch, Bert } from '../lib/bert/model';
import {
  BASE_MODEL,
  BertParts,
  MASKED_LM,
  SEQUENCE_CLASSIFICATION,
  dropoutSiteNames,
  parameterSpecs,
} from '../lib/bert/parameters';
import { readCheckpoint } from '../lib/bert/folder';
import { modelFingerprint } from '../lib/bert/model-dir';
import { sharedDataDir } from '../lib/paths';
import { readSafetensors } from '../lib/weights/safetensors';
import {
  errorOf,
  FORWARD_INPUT_IDS as INPUT_IDS,
  FORWARD_TOKEN_TYPES as TOKEN_TYPES,
  forwardArgs,
  maxAbsDiff,
} from './helpers';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV_PYTHON = path.join(ROOT, '.venv-hf', 'bin', 'python');
const SCRIPT = path.join(ROOT, 'test', 'reference', 'hf_transformers.py');
const CLI = path.join(ROOT, 'bin', 'fisherlab.js');
const SHARED_BERT_BASE = '/work/shared/data/bert-base-uncased/bert_config.json';
/** bert-base-uncased's configuration, used when the shared copy is absent. */
const BERT_BASE = {
  ...BERT_BASE_SIZES,
  attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  initializer_range: 0.02,
};

/** A padded batch of 2 for the gradient check (vocabulary 60, pad id 0). */
const GRAD_BATCH: Required<Batch> = {
  input_ids: [
    [2, 17, 4, 33, 41, 8, 3, 12, 4, 3],
    [2, 44, 4, 19, 3, 0, 0, 0, 0, 0],
  ],
  token_type_ids: [
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ],
  attention_mask: [
    [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  ],
};
const GRAD_LABELS = [
  [-100, -100, 9, -100, 57, -100, -100, -100, 25, -100],
  [-100, 6, 21, -100, -100, -100, -100, -100, -100, -100],
];
/** Examples for the per-sample Fisher (one sequence each, one of them padded). */
const FISHER_EXAMPLES = [
  { input_ids: [2, 4, 30, 3], attention_mask: [1, 1, 1, 1], labels: [-100, 11, -100, -100] },
  { input_ids: [2, 17, 4, 4, 3, 0], attention_mask: [1, 1, 1, 1, 1, 0], labels: [-100, -100, 50, 7, -100, -100] },
  { input_ids: [2, 9, 10, 4, 3], attention_mask: [1, 1, 1, 1, 1], labels: [-100, -100, -100, 12, -100] },
];

/** The tiny checkpoints transformers writes: [label, parts, extra make-checkpoint flags]. */
const CHECKPOINTS = [
  { label: 'BertForMaskedLM', parts: 'mlm', flags: ['--seed', '3'] },
  {
    label: 'BertForSequenceClassification (3 labels, 3 layers, 2 heads)',
    parts: 'classifier',
    flags: [
      '--seed',
      '4',
      '--num-labels',
      '3',
      '--layers',
      '3',
      '--heads',
      '2',
      '--hidden',
      '24',
      '--intermediate',
      '40',
    ],
  },
  { label: 'BertModel', parts: 'base', flags: ['--seed', '5', '--heads', '8'] },
] as const;

/** The real bert-base-uncased vocabulary (30,522 tokens), or null when the shared data is absent. */
const REAL_VOCAB = ((dir) =>
  dir && fs.existsSync(path.join(dir, 'bert-base-uncased', 'vocab.txt'))
    ? path.join(dir, 'bert-base-uncased', 'vocab.txt')
    : null)(sharedDataDir());
/** "Hello, my dog is cute" as BertTokenizer encodes it with that vocabulary (shared/data/README.md). */
const HELLO = { text: 'Hello, my dog is cute', ids: [101, 7592, 1010, 2026, 3899, 2003, 10140, 102] };
const NSP_WARNING = 'ignored the next-sentence head';
/** Tiny checkpoints (2 layers, hidden 32, 2 heads, intermediate 37) in every layout: [folder, what, make-checkpoint flags, file read]. */
const LAYOUTS = [
  {
    id: 'pretraining',
    label: 'BertForPreTraining with pooler and next-sentence head, model.safetensors',
    flags: ['--parts', 'pretraining'],
    file: 'model.safetensors',
    warning: NSP_WARNING,
  },
  {
    id: 'legacy-bin',
    label: 'BertForPreTraining, legacy LayerNorm gamma/beta, strided and offset views, pytorch_model.bin',
    flags: ['--parts', 'pretraining', '--layout', 'bin', '--legacy-names', '--views'],
    file: 'pytorch_model.bin',
    warning: NSP_WARNING,
  },
  {
    id: 'sharded',
    label: 'BertForMaskedLM, sharded safetensors (1 MB shards)',
    flags: ['--max-shard-size', '1MB'],
    file: 'model.safetensors.index.json',
  },
  { id: 'bin', label: 'BertForMaskedLM, pytorch_model.bin', flags: ['--layout', 'bin'], file: 'pytorch_model.bin' },
  {
    id: 'sharded-bin',
    label: 'BertForMaskedLM, sharded pytorch_model.bin (1 MB shards)',
    flags: ['--layout', 'bin', '--max-shard-size', '1MB'],
    file: 'pytorch_model.bin.index.json',
  },
  { id: 'base', label: 'BertModel only, model.safetensors', flags: ['--parts', 'base'], file: 'model.safetensors' },
  {
    id: 'f16',
    label: 'BertForMaskedLM, F16 model.safetensors',
    flags: ['--dtype', 'float16'],
    file: 'model.safetensors',
  },
  {
    id: 'bf16-bin',
    label: 'BertForMaskedLM, BF16 pytorch_model.bin',
    flags: ['--dtype', 'bfloat16', '--layout', 'bin'],
    file: 'pytorch_model.bin',
  },
  {
    id: 'f64-bin',
    label: 'BertForMaskedLM, F64 pytorch_model.bin',
    flags: ['--dtype', 'float64', '--layout', 'bin'],
    file: 'pytorch_model.bin',
  },
] as const;

type Named = Array<[string, number[]]>;
interface NamesOut {
  architecture: string;
  parameters: Named;
  dropouts: string[];
  versions: Record<string, string>;
}
interface Grads {
  loss: number;
  grads: Record<string, { shape: number[]; data: number[] }>;
  loading_problems: object;
}

function readJson<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** Runs the fisherlab CLI, returning stdout and failing with its stderr. */
function fisherlab(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FISHERLAB_ROOT: ROOT },
  });
  if (r.status !== 0) throw new Error(`fisherlab ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Max abs difference over the max abs reference value. */
function relDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  return maxAbsDiff(got, want) / (scale || 1);
}

describe('fisherlab against Hugging Face transformers + PyTorch (float64)', function () {
  this.timeout(300_000);
  let dir = '';
  let versions: Record<string, string> = {};
  const names: Record<string, NamesOut> = {};
  let bertBaseConfig = SHARED_BERT_BASE;

  before(function () {
    if (!fs.existsSync(VENV_PYTHON)) {
      console.warn('    skipped: no .venv-hf/bin/python (run scripts/hf-venv.sh to create it from local wheels)');
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-hf-'));
    if (!fs.existsSync(bertBaseConfig)) {
      bertBaseConfig = path.join(dir, 'bert_config.json');
      fs.writeFileSync(bertBaseConfig, JSON.stringify(BERT_BASE));
    }
    // Everything transformers computes, in one Python process (importing torch + transformers takes seconds).
    const jobs: string[][] = [];
    for (const parts of ['mlm', 'classifier', 'base']) {
      jobs.push([
        'names',
        '--parts',
        parts,
        '--config',
        bertBaseConfig,
        '--output',
        path.join(dir, `names-${parts}.json`),
      ]);
    }
    for (const c of CHECKPOINTS) {
      const model = path.join(dir, c.parts);
      jobs.push(['make-checkpoint', '--out', model, '--parts', c.parts, ...c.flags]);
      jobs.push(forwardArgs(model, path.join(dir, `${c.parts}-hf.json`)));
    }
    fs.writeFileSync(path.join(dir, 'grad-inputs.json'), JSON.stringify({ ...GRAD_BATCH, labels: GRAD_LABELS }));
    jobs.push([
      'grads',
      '--model',
      path.join(dir, 'mlm'),
      '--inputs',
      path.join(dir, 'grad-inputs.json'),
      '--output',
      path.join(dir, 'grads-hf.json'),
    ]);
    fs.writeFileSync(
      path.join(dir, 'fisher-examples.jsonl'),
      FISHER_EXAMPLES.map((e) => JSON.stringify(e)).join('\n') + '\n',
    );
    jobs.push([
      'per-sample-fisher',
      '--model',
      path.join(dir, 'mlm'),
      '--examples',
      path.join(dir, 'fisher-examples.jsonl'),
      '--output',
      path.join(dir, 'fisher-hf.safetensors'),
    ]);
    jobs.push(['malicious', '--out', path.join(dir, 'malicious'), '--marker', path.join(dir, 'pwned')]);
    if (REAL_VOCAB) {
      LAYOUTS.forEach((l, i) => {
        const model = path.join(dir, 'layouts', l.id);
        jobs.push([
          'make-checkpoint',
          '--out',
          model,
          '--vocab',
          REAL_VOCAB,
          '--heads',
          '2',
          '--intermediate',
          '37',
          '--seed',
          String(20 + i),
          ...l.flags,
        ]);
        jobs.push([
          'forward',
          '--model',
          model,
          '--input-ids',
          HELLO.ids.join(','),
          '--output',
          path.join(dir, 'layouts', `${l.id}-hf.json`),
        ]);
      });
    }
    fs.writeFileSync(path.join(dir, 'jobs.json'), JSON.stringify(jobs));
    const r = spawnSync(VENV_PYTHON, [SCRIPT, 'batch', '--jobs', path.join(dir, 'jobs.json')], { encoding: 'utf8' });
    if (r.status !== 0) {
      const missing = /No module named '(torch|transformers|safetensors|numpy)'/.exec(r.stderr ?? '');
      if (missing) {
        console.warn(`    skipped: .venv-hf cannot import ${missing[1]} (run scripts/hf-venv.sh --force)`);
        this.skip();
      }
      throw new Error(`hf_transformers.py batch failed (${r.status}): ${r.stderr}`);
    }
    for (const parts of ['mlm', 'classifier', 'base'])
      names[parts] = readJson<NamesOut>(path.join(dir, `names-${parts}.json`));
    versions = names.mlm.versions;
    console.log(`      (torch ${versions.torch}, transformers ${versions.transformers})`);
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  describe('parameter and dropout names (BERT-base configuration)', () => {
    const specs = (parts: BertParts): Named =>
      parameterSpecs(readConfig(bertBaseConfig), parts).map((s) => [s.name, s.shape]);

    it('BertForMaskedLM: parameterSpecs equals named_parameters() (202 tensors, same order and shapes)', () => {
      expect(names.mlm.architecture).to.equal('BertForMaskedLM');
      expect(names.mlm.parameters).to.have.length(202);
      expect(specs(MASKED_LM)).to.deep.equal(names.mlm.parameters);
    });

    it('BertForSequenceClassification: parameterSpecs equals named_parameters()', () => {
      expect(names.classifier.architecture).to.equal('BertForSequenceClassification');
      expect(specs(SEQUENCE_CLASSIFICATION)).to.deep.equal(names.classifier.parameters);
    });

    it('BertModel: parameterSpecs equals named_parameters() with the canonical "bert." prefix', () => {
      // BertModel itself names its tensors without the base-model prefix ("embeddings.…"); fisherlab always uses
      // the prefixed names (and readCheckpoint adds the prefix), as BertFor* models name the same tensors.
      expect(names.base.architecture).to.equal('BertModel');
      expect(specs(BASE_MODEL)).to.deep.equal(names.base.parameters.map(([n, s]) => [`bert.${n}`, s]));
    });

    it('dropoutSiteNames equals the Dropout module names (classifier, masked LM, base model)', () => {
      const cfg = readConfig(bertBaseConfig);
      expect(dropoutSiteNames(cfg, SEQUENCE_CLASSIFICATION)).to.deep.equal(names.classifier.dropouts);
      expect(dropoutSiteNames(cfg, MASKED_LM)).to.deep.equal(names.mlm.dropouts);
      expect(dropoutSiteNames(cfg, BASE_MODEL)).to.deep.equal(names.base.dropouts.map((n) => `bert.${n}`));
    });
  });

  describe('forward pass of checkpoints written by transformers save_pretrained', () => {
    for (const c of CHECKPOINTS) {
      it(`${c.label}: every output within 1e-4 of transformers' float64 forward; info reports no warnings`, () => {
        const model = path.join(dir, c.parts);
        const got = path.join(dir, `${c.parts}-fisherlab.json`);
        fisherlab(forwardArgs(model, got));
        const ref = readJson(path.join(dir, `${c.parts}-hf.json`));
        const out = readJson(got);
        expect(ref.loading_problems, 'transformers loading its own checkpoint').to.deep.equal({});
        expect(out.input_ids).to.deep.equal(INPUT_IDS);
        expect(out.token_type_ids).to.deep.equal(TOKEN_TYPES);
        const keys = ['last_hidden_state', 'pooled_output', 'mlm_logits', 'logits'];
        const want = {
          mlm: ['last_hidden_state', 'mlm_logits'],
          classifier: ['last_hidden_state', 'pooled_output', 'logits'],
          base: ['last_hidden_state', 'pooled_output'],
        }[c.parts];
        expect(keys.filter((k) => k in ref)).to.deep.equal(want);
        expect(keys.filter((k) => k in out)).to.deep.equal(want);
        const diffs: string[] = [];
        for (const k of want) {
          const r = (ref[k] as number[] | number[][]).flat();
          const o = (out[k] as number[] | number[][]).flat();
          expect(o.length, k).to.equal(r.length);
          const d = maxAbsDiff(o, r);
          diffs.push(`${k} ${d.toExponential(1)}`);
          expect(d, k).to.be.below(1e-4);
        }
        console.log(`      (max abs differences: ${diffs.join(', ')})`);
        const info = JSON.parse(fisherlab(['info', '--model', model, '--json'])) as {
          architecture: string;
          warnings: string[];
        };
        expect(info.architecture).to.equal(ref.architecture);
        expect(info.warnings).to.deep.equal([]);
      });
    }
  });

  describe('masked-LM loss gradients and the per-sample Fisher', () => {
    let model: Bert;
    before(async () => {
      await initBackend({ quiet: true });
      model = loadBert(path.join(dir, 'mlm')).model;
    });
    after(() => model?.dispose());

    /**
     * Per-tensor comparison, max abs difference / max abs reference value below 1e-4, except for the attention key
     * biases: softmax is invariant to the per-query constant q·b_k they add, so their gradient is zero in exact
     * arithmetic (transformers gives ~1e-17, fisherlab's float32 ~1e-9). For them both sides must be negligible
     * next to the largest gradient (1e-12 relative for float64, 1e-6 for float32, squared for the Fisher: power 2).
     * Returns the failures.
     */
    function compare(got: Map<string, ArrayLike<number>>, want: Map<string, ArrayLike<number>>, power = 1): string[] {
      const maxAbs = (a: ArrayLike<number>) => {
        let m = 0;
        for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
        return m;
      };
      const scale = Math.max(...[...want.values()].map(maxAbs));
      const bad: string[] = [];
      let worst: [number, string] = [0, ''];
      for (const [name, g] of got) {
        const r = want.get(name)!;
        if (/attention\.self\.key\.bias$/.test(name)) {
          if (!(maxAbs(r) < 1e-12 ** power * scale))
            bad.push(`${name}: reference max |value| ${maxAbs(r).toExponential(2)} is not ~0`);
          if (!(maxAbs(g) < 1e-6 ** power * scale))
            bad.push(`${name}: fisherlab max |value| ${maxAbs(g).toExponential(2)} is not ~0`);
          continue;
        }
        if (!(maxAbs(r) > 1e-6 ** power * scale))
          bad.push(`${name}: reference is ~0 (max |value| ${maxAbs(r).toExponential(2)})`);
        const d = relDiff(g, r);
        if (!(d < 1e-4)) bad.push(`${name}: relative difference ${d.toExponential(2)}`);
        if (d > worst[0]) worst = [d, name];
      }
      console.log(`      (largest relative difference ${worst[0].toExponential(2)}, ${worst[1]})`);
      return bad;
    }

    /** fisherlab's loss and gradients by Hugging Face name. */
    function grads(batch: Batch, labels: number[][]): { loss: number; grads: Map<string, Float32Array> } {
      const vars = model.namedParameters();
      const { value, grads: g } = tf.variableGrads(
        () => model.maskedLmLoss(batch, labels),
        vars.map(([, v]) => v),
      );
      const out = new Map(vars.map(([name, v]) => [name, g[v.name].dataSync() as Float32Array]));
      const loss = value.dataSync()[0];
      tf.dispose([value, g]);
      return { loss, grads: out };
    }

    it("match transformers' float64 gradients per tensor within 1e-4 relative on a padded batch of 2", () => {
      const ref = readJson<Grads>(path.join(dir, 'grads-hf.json'));
      expect(ref.loading_problems).to.deep.equal({});
      const got = grads(GRAD_BATCH, GRAD_LABELS);
      expect(Math.abs(got.loss - ref.loss) / Math.abs(ref.loss), 'loss').to.be.below(1e-5);
      expect([...got.grads.keys()]).to.deep.equal(Object.keys(ref.grads));
      for (const [name, g] of got.grads) expect(model.parameter(name).shape, name).to.deep.equal(ref.grads[name].shape);
      const bad = compare(got.grads, new Map(Object.entries(ref.grads).map(([n, r]) => [n, r.data])));
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });

    it("per-sample-fisher equals the mean of fisherlab's squared per-example gradients within 1e-4 relative", () => {
      const fisher = readSafetensors(path.join(dir, 'fisher-hf.safetensors'));
      expect(fisher.metadata.examples).to.equal(String(FISHER_EXAMPLES.length));
      const names = model.namedParameters().map(([n]) => n);
      expect([...fisher.tensors.keys()].sort()).to.deep.equal([...names].sort());
      const sum = new Map(names.map((n) => [n, new Float64Array(model.parameter(n).size)]));
      for (const ex of FISHER_EXAMPLES) {
        const { grads: g } = grads({ input_ids: [ex.input_ids], attention_mask: [ex.attention_mask] }, [ex.labels]);
        for (const [n, v] of g) {
          const s = sum.get(n)!;
          for (let i = 0; i < v.length; i++) s[i] += v[i] * v[i];
        }
      }
      for (const n of names) expect(fisher.tensors.get(n)!.shape, n).to.deep.equal(model.parameter(n).shape);
      const mean = new Map([...sum].map(([n, s]) => [n, s.map((x) => x / FISHER_EXAMPLES.length)]));
      const bad = compare(mean, new Map([...fisher.tensors].map(([n, t]) => [n, t.data])), 2);
      expect(bad, bad.join('\n')).to.deep.equal([]);
    });
  });

  it('refuses a pytorch_model.bin made by torch.save whose pickle calls os.system, and runs nothing', () => {
    const folder = path.join(dir, 'malicious');
    const file = path.join(folder, 'pytorch_model.bin');
    expect(fs.existsSync(file), 'torch.save wrote the file').to.equal(true);
    const message = errorOf(() => readCheckpoint(folder));
    expect(message).to.match(new RegExp(`^${file}: \\w+/data\\.pkl: refused the global posix\\.system: `));
    const r = spawnSync(process.execPath, [CLI, 'info', '--model', folder], {
      encoding: 'utf8',
      env: { ...process.env, FISHERLAB_ROOT: ROOT },
    });
    expect(r.status).not.to.equal(0);
    expect(r.stderr).to.include('refused the global posix.system');
    expect(fs.existsSync(path.join(dir, 'pwned')), 'the marker file of os.system').to.equal(false);
  });

  describe('every folder layout, with the real 30,522-token vocabulary', () => {
    before(async function () {
      if (!REAL_VOCAB) {
        console.warn('    skipped: no bert-base-uncased/vocab.txt in $FISHERLAB_DATA or ../shared/data');
        this.skip();
      }
      await initBackend({ quiet: true });
    });
    const layoutDir = (id: string) => path.join(dir, 'layouts', id);

    for (const l of LAYOUTS) {
      it(`${l.label}: reads ${l.file}; hidden states (and MLM logits) within 1e-4 of transformers`, () => {
        const folder = layoutDir(l.id);
        expect(fs.existsSync(path.join(folder, l.file)), `${l.file} written`).to.equal(true);
        const ref = readJson(path.join(dir, 'layouts', `${l.id}-hf.json`));
        expect(ref.loading_problems, 'transformers loading the folder').to.deep.equal({});
        const { model, warnings } = loadBert(folder);
        expect(
          warnings.map((w) =>
            w.replace(/ \(cls\.seq_relationship\.(weight|bias), cls\.seq_relationship\.(weight|bias)\)$/, ''),
          ),
        ).to.deep.equal('warning' in l ? [`${path.join(folder, l.file)}: ${l.warning}`] : []);
        expect(model.config.vocab_size).to.equal(30522);
        const out = model.forward({
          input_ids: [HELLO.ids],
          token_type_ids: [HELLO.ids.map(() => 0)],
          attention_mask: [HELLO.ids.map(() => 1)],
        });
        const got: Record<string, number[]> = {
          last_hidden_state: (out.lastHiddenState.arraySync()[0] as number[][]).flat(),
        };
        if (out.pooledOutput) got.pooled_output = out.pooledOutput.arraySync()[0] as number[];
        if (out.mlmLogits) got.mlm_logits = (out.mlmLogits.arraySync()[0] as number[][]).flat();
        tf.dispose(Object.values(out));
        model.dispose();
        const want = ['last_hidden_state', 'pooled_output', 'mlm_logits'].filter((k) => k in ref);
        expect(Object.keys(got)).to.deep.equal(want);
        const diffs = want.map((k) => {
          const d = maxAbsDiff(got[k], (ref[k] as number[] | number[][]).flat());
          expect(d, k).to.be.below(1e-4);
          return `${k} ${d.toExponential(1)}`;
        });
        console.log(`      (max abs differences: ${diffs.join(', ')})`);
        expect(modelFingerprint(folder)).to.match(/^[0-9a-f]{16}$/);
      });
    }

    it('`fisherlab forward --text` on the legacy pytorch_model.bin tokenizes with the real vocabulary and matches transformers', () => {
      const got = path.join(dir, 'layouts', 'legacy-cli.json');
      fisherlab(['forward', '--model', layoutDir('legacy-bin'), '--text', HELLO.text, '--output', got]);
      const out = readJson(got);
      const ref = readJson(path.join(dir, 'layouts', 'legacy-bin-hf.json'));
      expect(out.input_ids).to.deep.equal(HELLO.ids);
      for (const k of ['last_hidden_state', 'pooled_output', 'mlm_logits']) {
        expect(
          maxAbsDiff((out[k] as number[] | number[][]).flat(), (ref[k] as number[] | number[][]).flat()),
          k,
        ).to.be.below(1e-4);
      }
    });

    it('fingerprints a single weights file by its own SHA-256, and a sharded folder by its index and shards', () => {
      const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
      expect(modelFingerprint(layoutDir('bin'))).to.equal(sha(path.join(layoutDir('bin'), 'pytorch_model.bin')));
      expect(modelFingerprint(layoutDir('f16'))).to.equal(sha(path.join(layoutDir('f16'), 'model.safetensors')));
      expect(modelFingerprint(layoutDir('sharded'))).not.to.equal(
        sha(path.join(layoutDir('sharded'), 'model.safetensors.index.json')),
      );
    });

    /** A copy of a layout folder to damage. */
    const copy = (id: string) => {
      const to = path.join(
        dir,
        'damaged',
        `${id}-${fs.existsSync(path.join(dir, 'damaged')) ? fs.readdirSync(path.join(dir, 'damaged')).length : 0}`,
      );
      fs.cpSync(layoutDir(id), to, { recursive: true });
      return to;
    };

    it('damaged copies: a truncated pytorch_model.bin, an index naming a missing shard, a shape that disagrees with config.json', () => {
      const truncated = copy('bin');
      const bin = path.join(truncated, 'pytorch_model.bin');
      fs.truncateSync(bin, fs.statSync(bin).size - 1000);
      expect(errorOf(() => readCheckpoint(truncated))).to.match(new RegExp(`^${bin}: not a readable zip archive`));

      const sharded = copy('sharded-bin');
      const index = path.join(sharded, 'pytorch_model.bin.index.json');
      fs.rmSync(path.join(sharded, 'pytorch_model-00002-of-00002.bin'));
      expect(errorOf(() => readCheckpoint(sharded))).to.match(
        new RegExp(
          `^${index}: shard pytorch_model-00002-of-00002\\.bin \\(holding bert\\.\\S+, among others\\) is missing from ${sharded}$`,
        ),
      );

      const shape = copy('sharded');
      const config = JSON.parse(fs.readFileSync(path.join(shape, 'config.json'), 'utf8'));
      fs.writeFileSync(path.join(shape, 'config.json'), JSON.stringify({ ...config, intermediate_size: 40 }));
      const message = errorOf(() => readCheckpoint(shape));
      expect(message).to.include(
        `${path.join(shape, 'model.safetensors.index.json')} does not match ${path.join(shape, 'config.json')}`,
      );
      expect(message).to.match(
        /wrong shape: bert\.encoder\.layer\.0\.intermediate\.dense\.weight \(in model-0000\d-of-00002\.safetensors\) has shape \[37, 32\] but \[40, 32\] is expected \(config\.json says intermediate_size 40, hidden_size 32\)/,
      );
    });
  });
});
