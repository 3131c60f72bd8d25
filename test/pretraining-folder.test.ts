/**
 * A folder in bert-base-uncased's layout, written by transformers (BertForPreTraining: masked-LM head, pooler and
 * next-sentence head; the real 30,522-token vocabulary), through every command that runs a model: the Fisher is
 * exactly BertForMaskedLM's and equals transformers' per-sample Fisher; schedule, landscape, landscape-figure1,
 * guided fine-tuning and sweep run on it; a folder without the masked-LM head is refused where the head is needed.
 * Skipped without .venv-hf (scripts/hf-venv.sh) or the shared vocabulary.
 */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import { readFisher } from '../lib/fisher/estimate';
import { glueDataDir } from '../lib/glue/load';
import { sharedDataDir } from '../lib/paths';
import { readSafetensors } from '../lib/weights/safetensors';
import { Rng } from '../lib/util/random';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VENV_PYTHON = path.join(ROOT, '.venv-hf', 'bin', 'python');
const SCRIPT = path.join(ROOT, 'test', 'reference', 'hf_transformers.py');
const CLI = path.join(ROOT, 'bin', 'fisherlab.js');
const [CLS, SEP, MASK] = [101, 102, 103];

/** Runs the CLI; fails the test with its stderr when it exits non-zero. */
function fisherlab(args: string[], env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`fisherlab ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** Runs hf_transformers.py with a list of subcommands in one process. */
function transformers(dir: string, jobs: string[][]): void {
  const file = path.join(dir, `jobs-${jobs[0][0]}.json`);
  fs.writeFileSync(file, JSON.stringify(jobs));
  const r = spawnSync(VENV_PYTHON, [SCRIPT, 'batch', '--jobs', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hf_transformers.py failed (${r.status}): ${r.stderr}`);
}

describe('a BertForPreTraining folder written by transformers, end to end', function () {
  this.timeout(900_000);
  let dir = '';
  let model = '';
  let examples = '';
  let fisherFile = '';
  let names: Array<[string, number[]]> = [];

  before(function () {
    const vocab = sharedDataDir() && path.join(sharedDataDir()!, 'bert-base-uncased', 'vocab.txt');
    if (!fs.existsSync(VENV_PYTHON) || !vocab || !fs.existsSync(vocab)) {
      console.warn('    skipped: needs .venv-hf (scripts/hf-venv.sh) and ../shared/data/bert-base-uncased/vocab.txt');
      this.skip();
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-pretraining-folder-'));
    model = path.join(dir, 'bert-for-pretraining');
    examples = path.join(dir, 'examples.jsonl');
    const rng = new Rng(5);
    const lines = Array.from({ length: 6 }, (_, i) => {
      const length = 12 + 2 * i;
      const ids = [CLS, ...Array.from({ length: length - 2 }, () => 1000 + rng.int(29000)), SEP];
      const labels = ids.map(() => -100);
      for (const at of [2, 5, length - 3]) {
        labels[at] = ids[at];
        ids[at] = MASK;
      }
      return JSON.stringify({ input_ids: ids, labels });
    });
    fs.writeFileSync(examples, lines.join('\n') + '\n');
    transformers(dir, [
      [
        'make-checkpoint',
        '--out',
        model,
        '--parts',
        'pretraining',
        '--vocab',
        vocab,
        '--max-positions',
        '64',
        '--seed',
        '11',
      ],
      [
        'names',
        '--parts',
        'mlm',
        '--config',
        path.join(model, 'config.json'),
        '--output',
        path.join(dir, 'names.json'),
      ],
      [
        'per-sample-fisher',
        '--model',
        model,
        '--as-class',
        'BertForMaskedLM',
        '--examples',
        examples,
        '--output',
        path.join(dir, 'fisher-hf.safetensors'),
      ],
    ]);
    names = (
      JSON.parse(fs.readFileSync(path.join(dir, 'names.json'), 'utf8')) as { parameters: Array<[string, number[]]> }
    ).parameters;
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it("fisher writes exactly BertForMaskedLM's named_parameters(), in order, equal to transformers' per-sample Fisher", () => {
    fisherFile = path.join(dir, 'out', 'fisher.safetensors');
    const { stderr } = fisherlab([
      'fisher',
      '--model',
      model,
      '--examples',
      examples,
      '--batch-size',
      '4',
      '--output',
      fisherFile,
    ]);
    expect(stderr).to.match(
      /read as BertForMaskedLM \(42 tensors\); ignored bert\.pooler\.dense\.weight, bert\.pooler\.dense\.bias and the next-sentence head/,
    );
    const ours = readFisher(fisherFile, { model });
    expect([...ours.tensors].map(([n, t]) => [n, t.shape])).to.deep.equal(names);
    const theirs = readSafetensors(path.join(dir, 'fisher-hf.safetensors')).tensors;
    const bad: string[] = [];
    for (const [name, t] of ours.tensors) {
      const ref = theirs.get(name)!.data;
      let [scale, diff] = [0, 0];
      ref.forEach((r, i) => {
        scale = Math.max(scale, Math.abs(r));
        diff = Math.max(diff, Math.abs(t.data[i] - r));
      });
      if (!(diff <= 1e-3 * scale + 1e-12)) bad.push(`${name}: max |diff| ${diff} against max ${scale}`);
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('schedule, landscape and landscape-figure1 run on it and check the Fisher against it', () => {
    const schedule = JSON.parse(fisherlab(['schedule', '--fisher', fisherFile, '--model', model, '--json']).stdout) as {
      sites: Array<{ site: string; p: number }>;
    };
    expect(schedule.sites.map((s) => s.site)).to.have.length(1 + 2 * 3 + 1);
    expect(Math.max(...schedule.sites.slice(0, -1).map((s) => s.p))).to.be.closeTo(0.1, 1e-12);
    const surface = path.join(dir, 'out', 'top50.json');
    fisherlab([
      'landscape',
      '--model',
      model,
      '--mask',
      'top50',
      '--fisher',
      fisherFile,
      '--examples',
      examples,
      '--grid',
      '2',
      '--output',
      surface,
    ]);
    const loss = (JSON.parse(fs.readFileSync(surface, 'utf8')) as { train_loss: number[] }).train_loss;
    expect(loss).to.have.length(4);
    loss.forEach((l) => expect(l).to.be.greaterThan(0).and.lessThan(Infinity));
    const fig1 = path.join(dir, 'out', 'figure1');
    fisherlab([
      'landscape-figure1',
      '--model',
      model,
      '--fisher',
      fisherFile,
      '--examples',
      examples,
      '--grid',
      '2',
      '--no-hdf5',
      '--out',
      fig1,
    ]);
    expect(
      fs
        .readdirSync(fig1)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).to.include.members(['all.json', 'bottom50.json', 'top50.json']);
    const other = path.join(dir, 'other.safetensors');
    fs.copyFileSync(path.join(model, 'model.safetensors'), other);
    expect(() => fisherlab(['schedule', '--fisher', other, '--model', model])).to.throw(/not a Fisher file/);
  });

  it('guided fine-tuning and a sweep start the pooler from the folder, under the recipe the model gets', function () {
    const glue = glueDataDir();
    if (!glue) {
      console.warn('    skipped: no GLUE data (set FISHERLAB_DATA)');
      this.skip();
    }
    const caps = ['--max-train', '16', '--max-eval', '16', '--epochs', '1', '--glue', glue!];
    const run = path.join(dir, 'out', 'rte-guided.json');
    const { stderr } = fisherlab([
      'finetune',
      '--model',
      model,
      '--task',
      'RTE',
      '--dropout',
      'guided',
      '--fisher',
      fisherFile,
      ...caps,
      '--output',
      run,
    ]);
    expect(stderr).to.match(
      /finetune: recipe small \(hidden size 32 < 768, no finetune-recipe\.json in the folder; max length 128 capped at max_position_embeddings\): lr 0\.001, batch 32, 3 epochs.* max length 64/,
    );
    expect(stderr).to.match(/overridden by flags: epochs 1/);
    expect(stderr).to.include('encoder from the folder, pooler from the folder, classifier freshly initialized');
    const result = JSON.parse(fs.readFileSync(run, 'utf8')) as {
      settings: { lr: number; epochs: number };
      final: { dev: { main: number } };
    };
    expect(result.settings.lr).to.equal(1e-3);
    expect(result.settings.epochs).to.equal(1);
    expect(result.final.dev.main).to.be.within(0, 1);
    const sweep = path.join(dir, 'out', 'sweep');
    fisherlab([
      'sweep',
      '--model',
      model,
      '--tasks',
      'RTE',
      '--methods',
      'standard,guided',
      '--seeds',
      '1',
      '--fisher',
      fisherFile,
      ...caps,
      '--recipe',
      'paper',
      '--out',
      sweep,
    ]);
    const records = fs
      .readFileSync(path.join(sweep, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { settings: { lr: number; batchSize: number } });
    expect(records).to.have.length(2);
    records.forEach((r) => expect([r.settings.lr, r.settings.batchSize]).to.deep.equal([2e-5, 18]));
  });

  it('a BertModel folder (no masked-LM head) fine-tunes but is refused by fisher, naming the missing tensors', function () {
    const base = path.join(dir, 'bert-model');
    transformers(dir, [
      [
        'make-checkpoint',
        '--out',
        base,
        '--parts',
        'base',
        '--vocab',
        path.join(model, 'vocab.txt'),
        '--max-positions',
        '64',
        '--seed',
        '12',
      ],
    ]);
    const r = spawnSync(
      process.execPath,
      [CLI, 'fisher', '--model', base, '--examples', examples, '--output', path.join(dir, 'never.safetensors')],
      { encoding: 'utf8' },
    );
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(
      `${base}: fisher needs a masked-LM head (a BertForMaskedLM or BertForPreTraining folder), but the checkpoint lacks cls.predictions.bias, cls.predictions.transform.dense.weight`,
    );
    const glue = glueDataDir();
    if (!glue) return;
    const { stderr } = fisherlab([
      'finetune',
      '--model',
      base,
      '--task',
      'RTE',
      '--max-train',
      '8',
      '--max-eval',
      '8',
      '--epochs',
      '1',
      '--glue',
      glue,
      '--output',
      path.join(dir, 'out', 'base.json'),
    ]);
    expect(stderr).to.include('pooler from the folder');
  });
});
