/** Attention by offset: the aggregation by hand, uniform attention in closed form, and the command on the embedded model. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { attentionByOffset, offsetMass } from '../lib/bert/attention-offsets';
import { readConfig } from '../lib/bert/config';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';
import { pretrainingRecipe } from '../lib/fisher/samples';
import { corpusUnavailable } from '../lib/pretrain/corpus';
import { defaultModelDir } from '../lib/shipped';
import { setupBackend, tinyConfig } from './helpers';
import { randomWeights } from './reference/bert-f64';

describe('attention by offset', function () {
  this.timeout(120_000);
  before(setupBackend);

  it('averages p[i][i+o] over the queries that have every offset in range, per head', () => {
    // one sequence, two heads, T = 4; offsets −1 and +1 leave queries 1 and 2
    const h0 = [
      [1, 0, 0, 0],
      [0.5, 0.25, 0.25, 0],
      [0, 0.6, 0.1, 0.3],
      [0, 0, 0, 1],
    ];
    const h1 = [
      [0.25, 0.25, 0.25, 0.25],
      [0.1, 0.2, 0.3, 0.4],
      [0.4, 0.3, 0.2, 0.1],
      [0.25, 0.25, 0.25, 0.25],
    ];
    expect(offsetMass([[h0, h1]], [-1, 1])).to.deep.equal([
      [(0.5 + 0.6) / 2, (0.25 + 0.3) / 2],
      [(0.1 + 0.3) / 2, (0.3 + 0.1) / 2],
    ]);
    expect(() => offsetMass([[h0]], [-2, 2])).to.throw(/too short for offsets -2, 2/);
  });

  it('gives 1/T at every offset when queries and keys are zero (uniform attention)', () => {
    const cfg = tinyConfig();
    const weights = randomWeights(cfg, MASKED_LM, 3);
    for (const [name, w] of weights) if (/attention\.self\.(query|key)\./.test(name)) w.data.fill(0);
    const model = Bert.fromWeights(cfg, MASKED_LM, weights);
    const { tokens, heads } = attentionByOffset(
      model,
      [
        [1, 5, 6, 7, 8, 9],
        [1, 9, 8, 7, 6, 5],
      ],
      [-2, -1, 0, 1, 2],
    );
    model.dispose();
    expect(tokens).to.equal(6);
    expect(heads).to.have.length(cfg.num_hidden_layers * cfg.num_attention_heads);
    for (const h of heads) for (const m of h.mass) expect(m).to.be.closeTo(1 / 6, 1e-6);
  });

  /** `fisherlab attention --sequences 2 --offsets -1,1` on the embedded model, with `env` added to this process's. */
  const attention = (env: Record<string, string> = {}) =>
    spawnSync(
      process.execPath,
      [path.join(process.cwd(), 'bin', 'fisherlab.js'), 'attention', '--sequences', '2', '--offsets', '-1,1'],
      { encoding: 'utf8', env: { ...process.env, ...env } },
    );

  it('the command names the missing corpus when the embedded model was pretrained on text not at hand', function () {
    const recipe = pretrainingRecipe(defaultModelDir());
    if (!recipe.corpus.split(',').includes('glue-train')) {
      console.warn(`    skipped: the embedded model's corpus (${recipe.corpus}) has no source outside the project`);
      this.skip();
    }
    const r = attention({ FISHERLAB_DATA: path.join(process.cwd(), 'no-such-data-folder') });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain(
      `fisherlab: ${recipe.source}: this needs the model's pretraining corpus (${recipe.corpus}), and glue-train needs the GLUE tasks (set FISHERLAB_DATA`,
    );
  });

  it('the command prints one row per layer and head for the embedded model', function () {
    const missing = corpusUnavailable(pretrainingRecipe(defaultModelDir()).corpus);
    if (missing !== null) {
      console.warn(`    skipped: ${missing}`);
      this.skip();
    }
    const r = attention();
    expect(r.status, r.stderr).to.equal(0);
    const rows = r.stdout.trim().split('\n').slice(2);
    const cfg = readConfig(path.join(defaultModelDir(), 'config.json'));
    expect(rows).to.have.length(cfg.num_hidden_layers * cfg.num_attention_heads);
    expect(r.stdout).to.match(/over 2 held-out sequences of 128 tokens \(uniform: 0\.0078\)/);
    rows.forEach((row, i) => {
      const [layer, head, ...values] = row.trim().split(/\s+/).map(Number);
      expect([layer, head]).to.deep.equal([Math.floor(i / cfg.num_attention_heads), i % cfg.num_attention_heads]);
      expect(values).to.have.length(2);
      for (const v of values) expect(v).to.be.within(0, 1);
    });
  });
});
