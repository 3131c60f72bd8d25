/** `fisherlab forward` on checkpoints written by another tool (numpy), against that tool's float64 BERT. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findPython, runScript, skipWithoutNumpy } from './reference/python';
import { FORWARD_INPUT_IDS as INPUT_IDS, FORWARD_TOKEN_TYPES as TOKEN_TYPES, forwardArgs, maxAbsDiff } from './helpers';

const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');

/** Runs the fisherlab CLI, failing with its stderr. */
function fisherlab(args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, FISHERLAB_ROOT: process.cwd() },
  });
  if (r.status !== 0) throw new Error(`fisherlab ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

describe('fisherlab forward against the numpy reference', function () {
  this.timeout(120_000);
  const python = findPython();
  let dir = '';
  before(function () {
    skipWithoutNumpy(this, python);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-forward-'));
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  for (const [label, args] of [
    ['F32, masked LM + pooler', ['--parts', 'mlm+pooler']],
    [
      'F16, legacy names (gamma/beta, decoder copy, seq_relationship)',
      ['--parts', 'mlm+pooler', '--dtype', 'F16', '--legacy-names'],
    ],
    ['BF16, BertModel (pooler only)', ['--parts', 'base', '--dtype', 'BF16']],
    [
      'F32, 3 layers, 4 heads, classifier',
      ['--parts', 'classifier', '--layers', '3', '--heads', '4', '--hidden', '32', '--intermediate', '48'],
    ],
  ] as const) {
    it(`matches within 1e-4: ${label}`, () => {
      const model = path.join(dir, label.replace(/\W+/g, '-'));
      runScript(python!, ['make-checkpoint', '--out', model, '--seed', '3', ...args]);
      const want = path.join(dir, `${path.basename(model)}-numpy.json`);
      const got = path.join(dir, `${path.basename(model)}-fisherlab.json`);
      runScript(python!, forwardArgs(model, want));
      fisherlab(forwardArgs(model, got));
      const ref = JSON.parse(fs.readFileSync(want, 'utf8'));
      const out = JSON.parse(fs.readFileSync(got, 'utf8'));
      expect(out.input_ids).to.deep.equal(INPUT_IDS);
      expect(out.token_type_ids).to.deep.equal(TOKEN_TYPES);
      expect(out.attention_mask).to.deep.equal(INPUT_IDS.map(() => 1));
      const keys = ['last_hidden_state', 'pooled_output', 'mlm_logits', 'logits'].filter((k) => k in ref);
      expect(
        Object.keys(out)
          .filter((k) => keys.includes(k) || k === 'last_hidden_state')
          .sort(),
      ).to.deep.equal([...keys].sort());
      for (const k of keys) {
        const r = ref[k][0] as number[] | number[][];
        expect(maxAbsDiff((out[k] as number[] | number[][]).flat(), r.flat()), k).to.be.below(1e-4);
      }
    });
  }
});
