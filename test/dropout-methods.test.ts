/** Dropout methods: the guided schedule of a hand-made Fisher file, per-site application by name, and the Gaussian noise's moments. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { errorOf, setupBackend, tinyConfig } from './helpers';
import { Bert } from '../lib/bert/model';
import { dropoutSiteNames, MASKED_LM, parameterSpecs, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import type { DropoutSetting } from '../lib/bert/dropout';
import { dropoutNoiseCheck, kindBlocks, scheduleReadBack } from '../lib/guided-dropout/check';
import {
  CLASSIFIER_SITE,
  DROPOUT_METHODS,
  guidedSchedule,
  methodDropout,
  parseDropoutMethod,
} from '../lib/guided-dropout/methods';
import { readFisher, writeFisher } from '../lib/fisher/estimate';
import { writeCheckpoint } from '../lib/bert/folder';
import type { DropoutMethod } from '../lib/guided-dropout/methods';

/**
 * The value of every entry of each tensor of the hand-made Fisher. Group scores (unweighted mean of tensor means):
 * embeddings 5; layer 0: attention_self 1, attention_output (2 + 4 + 3 + 3)/4 = 3 (size-weighted it would be 2.2),
 * intermediate 100, output 6; layer 1: attention_self 0.5, attention_output 3 (a tie with layer 0's), intermediate
 * 0.1 (lowest of all, but no dropout site follows it), output 8; MLM head 0.01.
 */
function fisherValue(name: string): number {
  if (name.startsWith('bert.embeddings.')) return 5;
  if (name.startsWith('cls.')) return 0.01;
  const [, layer, rest] = /^bert\.encoder\.layer\.(\d)\.(.*)$/.exec(name)!;
  if (rest.startsWith('attention.self.')) return layer === '0' ? 1 : 0.5;
  if (rest.startsWith('attention.output.'))
    return { 'dense.weight': 2, 'dense.bias': 4, 'LayerNorm.weight': 3, 'LayerNorm.bias': 3 }[
      rest.slice('attention.output.'.length)
    ]!;
  if (rest.startsWith('intermediate.')) return layer === '0' ? 100 : 0.1;
  return layer === '0' ? 6 : 8;
}

const L0 = 'bert.encoder.layer.0';
const L1 = 'bert.encoder.layer.1';
/** Site, group score, rank, p for P_upper 0.1 → P_lower 0 (p = 0.1 − 0.1·rank/6), in forward order. */
const EXPECTED: Array<[string, number, number, number]> = [
  ['bert.embeddings.dropout', 5, 4, 0.1 / 3],
  [`${L0}.attention.self.dropout`, 1, 1, 0.5 / 6],
  [`${L0}.attention.output.dropout`, 3, 2, 0.2 / 3],
  [`${L0}.output.dropout`, 6, 5, 0.1 / 6],
  [`${L1}.attention.self.dropout`, 0.5, 0, 0.1],
  [`${L1}.attention.output.dropout`, 3, 3, 0.05],
  [`${L1}.output.dropout`, 8, 6, 0],
];

describe('dropout methods', function () {
  let dir = '';
  let fisherFile = '';
  let model: Bert;
  const config = tinyConfig({ hidden_dropout_prob: 0.3, attention_probs_dropout_prob: 0.2 });
  const sites = dropoutSiteNames(config, SEQUENCE_CLASSIFICATION);

  before(async () => {
    await setupBackend();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-dropout-methods-'));
    fisherFile = path.join(dir, 'fisher.safetensors');
    const tensors = parameterSpecs(config, MASKED_LM).map(({ name, shape }) => ({
      name,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fisherValue(name)),
    }));
    writeFisher(fisherFile, new Map(tensors.map((t) => [t.name, t])), 10);
    model = Bert.random(config, SEQUENCE_CLASSIFICATION, 3);
  });
  after(() => {
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('ranks the 7 sites of a 2-layer model by the Fisher of the group each follows and sets p linearly', () => {
    const rows = guidedSchedule(readFisher(fisherFile).tensors);
    expect(rows.map((r) => [r.site, r.score, r.rank])).to.deep.equal(
      EXPECTED.map(([site, score, rank]) => [site, score, rank]),
    );
    expect(rows.map((r) => r.group)).to.deep.equal([
      'embeddings',
      '0.attention_self',
      '0.attention_output',
      '0.output',
      '1.attention_self',
      '1.attention_output',
      '1.output',
    ]);
    rows.forEach((r, i) => expect(r.p, r.site).to.be.closeTo(EXPECTED[i][3], 1e-15));
  });

  it("takes P_upper and P_lower, and the authors' range 0.099 → 0 as an option", () => {
    const fisher = readFisher(fisherFile).tensors;
    const custom = guidedSchedule(fisher, { pUpper: 0.2, pLower: 0.05 }).map((r) => r.p);
    [0.1, 0.175, 0.15, 0.075, 0.2, 0.125, 0.05].forEach((p, i) => expect(custom[i]).to.be.closeTo(p, 1e-15));
    const authors = guidedSchedule(fisher, { authors: true }).map((r) => r.p);
    [0.033, 0.0825, 0.066, 0.0165, 0.099, 0.0495, 0].forEach((p, i) => expect(authors[i]).to.be.closeTo(p, 1e-15));
    expect(errorOf(() => guidedSchedule(fisher, { authors: true, pUpper: 0.1 }))).to.match(
      /authors' schedule fixes its own range/,
    );
    expect(errorOf(() => guidedSchedule(fisher, { pUpper: 0.05, pLower: 0.1 }))).to.match(
      /need 0 <= pLower <= pUpper < 1/,
    );
  });

  it("guided: Bernoulli at the scheduled p on every encoder site, the classifier's dropout kept at 0.1", () => {
    const settings = methodDropout('guided', sites, { fisher: fisherFile });
    expect(Object.keys(settings)).to.deep.equal(sites);
    EXPECTED.forEach(([site, , , p]) => {
      expect(settings[site].kind).to.equal('bernoulli');
      expect(settings[site].p, site).to.be.closeTo(p, 1e-15);
    });
    expect(settings.dropout).to.deep.equal({ kind: 'bernoulli', p: 0.1 });
  });

  it("controls: uniform-mean puts guided's mean p on every encoder site; shuffled puts guided's p values on a seeded order", () => {
    const guided = methodDropout('guided', sites, { fisher: fisherFile });
    const encoder = sites.filter((s) => s !== 'dropout');
    const guidedPs = encoder.map((s) => guided[s].p);
    const mean = guidedPs.reduce((a, b) => a + b, 0) / guidedPs.length;
    expect(mean).to.be.closeTo(0.05, 1e-15);
    const uniform = methodDropout('uniform-mean', sites);
    for (const s of encoder) {
      expect(uniform[s].kind).to.equal('bernoulli');
      expect(uniform[s].p).to.be.closeTo(mean, 1e-15);
    }
    expect(uniform.dropout).to.deep.equal({ kind: 'bernoulli', p: 0.1 });
    const orders = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) {
      const a = methodDropout('shuffled', sites, { seed });
      expect(methodDropout('shuffled', sites, { seed }), 'same seed, same order').to.deep.equal(a);
      expect(a.dropout).to.deep.equal({ kind: 'bernoulli', p: 0.1 });
      const ps = encoder.map((s) => a[s].p);
      expect(
        [...ps].sort((x, y) => x - y),
        'the same p values as guided',
      ).to.deep.equal([...guidedPs].sort((x, y) => x - y));
      orders.add(ps.join(','));
    }
    expect(orders.size, 'different seeds draw different orders').to.be.greaterThan(1);
    expect(errorOf(() => methodDropout('shuffled', sites))).to.match(/needs the run's seed/);
    expect(methodDropout('uniform-mean', sites, { pUpper: 0.2, pLower: 0 })[encoder[0]].p).to.be.closeTo(0.1, 1e-15);
  });

  it('assigns by site name, not by position', () => {
    const shuffled = [...sites].reverse();
    const a = methodDropout('guided-authors', sites, { fisher: fisherFile });
    const b = methodDropout('guided-authors', shuffled, { fisher: fisherFile });
    expect(Object.keys(b)).to.deep.equal(shuffled);
    for (const s of sites) expect(b[s]).to.deep.equal(a[s]);
  });

  it("applying any method sets exactly the model's named sites, every one checked", () => {
    const base = model.dropout.toJSON();
    expect(base[`${L0}.attention.self.dropout`]).to.deep.equal({ kind: 'bernoulli', p: 0.2 });
    expect(base[`${L0}.output.dropout`]).to.deep.equal({ kind: 'bernoulli', p: 0.3 });
    const guidedP = Object.fromEntries([...EXPECTED.map(([s, , , p]) => [s, p] as [string, number]), ['dropout', 0.1]]);
    const authorsP = Object.fromEntries([
      ...EXPECTED.map(([s, , rank]) => [s, 0.099 - (0.099 * rank) / 6] as [string, number]),
      ['dropout', 0.1],
    ]);
    const expected: Record<DropoutMethod, (site: string) => DropoutSetting> = {
      standard: () => ({ kind: 'bernoulli', p: 0.1 }),
      none: () => ({ kind: 'none', p: 0 }),
      guided: (s) => ({ kind: 'bernoulli', p: guidedP[s] }),
      'guided-authors': (s) => ({ kind: 'bernoulli', p: authorsP[s] }),
      gaussian: () => ({ kind: 'gaussian', p: 0.1 }),
      'gaussian-authors': () => ({ kind: 'gaussian', p: 1 / 82 }),
      'uniform-mean': (s) => ({ kind: 'bernoulli', p: s === 'dropout' ? 0.1 : 0.05 }),
      shuffled: (s) => shuffledP[s],
    };
    const shuffledP = methodDropout('shuffled', sites, { seed: 3 });
    for (const method of DROPOUT_METHODS) {
      model.dropout.setAll({ kind: 'none', p: 0.9 });
      const settings = methodDropout(method, model.dropoutSites(), { fisher: fisherFile, seed: 3 });
      expect(Object.keys(settings), method).to.deep.equal(sites);
      for (const [site, setting] of Object.entries(settings)) model.dropout.set(site, setting);
      for (const site of sites) {
        const got = model.dropout.get(site);
        const want = expected[method](site);
        expect(got.kind, `${method} ${site}`).to.equal(want.kind);
        expect(got.p, `${method} ${site}`).to.be.closeTo(want.p, 1e-15);
      }
    }
  });

  it('gaussian: multiplicative noise of mean 1 and variance p/(1−p) = 1/9 in training, the identity in evaluation', () => {
    const site = `${L1}.output.dropout`;
    model.dropout.set(site, methodDropout('gaussian', [site])[site]);
    const { mean, variance, evalEqual } = noiseMoments(model, site);
    expect(mean).to.be.closeTo(1, 0.002);
    expect(variance).to.be.closeTo(1 / 9, 0.002);
    expect(evalEqual).to.equal(true);
  });

  it("gaussian-authors: the authors' std p/(1−p) = 1/9 (variance 1/81), and still the identity in evaluation", () => {
    const site = 'dropout';
    model.dropout.set(site, methodDropout('gaussian-authors', [site])[site]);
    const { mean, variance, evalEqual } = noiseMoments(model, site);
    expect(mean).to.be.closeTo(1, 0.001);
    expect(Math.sqrt(variance)).to.be.closeTo(1 / 9, 0.001);
    expect(evalEqual).to.equal(true);
  });

  it('`fisherlab schedule` prints the site → score, rank, p table, the classifier row included', () => {
    const cli = (args: string[]) =>
      spawnSync(
        process.execPath,
        [path.join(process.cwd(), 'bin', 'fisherlab.js'), 'schedule', '--fisher', fisherFile, ...args],
        { encoding: 'utf8' },
      );
    const json = cli(['--json']);
    expect(json.status, json.stderr).to.equal(0);
    const table = JSON.parse(json.stdout) as {
      authors: boolean;
      sites: Array<{ site: string; group: string | null; score: number | null; rank: number | null; p: number }>;
    };
    expect(table.authors).to.equal(false);
    expect(table.sites.map((r) => [r.site, r.score, r.rank])).to.deep.equal([
      ...EXPECTED.map(([site, score, rank]) => [site, score, rank]),
      ['dropout', null, null],
    ]);
    table.sites.forEach((r, i) => expect(r.p, r.site).to.be.closeTo(i < EXPECTED.length ? EXPECTED[i][3] : 0.1, 1e-15));
    const text = cli(['--p-upper', '0.2', '--p-lower', '0.05']);
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout.split('\n')[0]).to.match(
      /^guided dropout from .*fisher\.safetensors: P_upper 0\.2 → P_lower 0\.05, linear in Fisher rank/,
    );
    expect(text.stdout).to.match(
      /\nbert\.encoder\.layer\.1\.attention\.self\.dropout +1\.attention_self +0\.5 +0 +0\.2\n/,
    );
    expect(text.stdout).to.match(/\ndropout +- +- +- +0\.1 +\(classifier, kept\)\n/);
    const wrong = cli(['--authors-step', '--p-upper', '0.2']);
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr).to.match(/authors' schedule fixes its own range/);
  });

  it('rejects unknown methods, guided without a Fisher, a Fisher of another model, and P options for other methods', () => {
    expect(errorOf(() => parseDropoutMethod('dropconnect'))).to.equal(
      'unknown dropout method "dropconnect" (methods: standard, none, guided, guided-authors, gaussian, gaussian-authors, uniform-mean, shuffled)',
    );
    expect(errorOf(() => methodDropout('dropconnect' as DropoutMethod, sites))).to.match(
      /unknown dropout method "dropconnect"/,
    );
    expect(errorOf(() => methodDropout('guided', sites))).to.match(
      /dropout method guided needs the pretrained model's Fisher file/,
    );
    expect(errorOf(() => methodDropout('guided-authors', sites))).to.match(
      /guided-authors needs the pretrained model's Fisher file/,
    );
    const threeLayers = dropoutSiteNames(tinyConfig({ num_hidden_layers: 3 }), SEQUENCE_CLASSIFICATION);
    expect(errorOf(() => methodDropout('guided', threeLayers, { fisher: fisherFile }))).to.equal(
      'guided dropout: the Fisher does not fit the model (its sites without a Fisher score: [bert.encoder.layer.2.attention.self.dropout, bert.encoder.layer.2.attention.output.dropout, bert.encoder.layer.2.output.dropout]; Fisher sites the model lacks: [])',
    );
    expect(errorOf(() => methodDropout('gaussian', sites, { pUpper: 0.2 }))).to.match(
      /pUpper and pLower apply to guided dropout only/,
    );
  });

  it("refuses a weights file given as the Fisher, and a Fisher whose tensors are not the model's", () => {
    const modelDir = path.join(dir, 'model');
    const weights = Bert.random(config, MASKED_LM, 1);
    writeCheckpoint(modelDir, {
      config,
      parts: MASKED_LM,
      weights: new Map([...weights.toWeights()].map(([name, w]) => [name, { name, ...w }])),
    });
    weights.dispose();
    const weightsFile = path.join(modelDir, 'model.safetensors');
    expect(errorOf(() => methodDropout('guided', sites, { fisher: weightsFile, model: modelDir }))).to.equal(
      `${weightsFile}: not a Fisher file (its metadata has kind null, expected "empirical-fisher-diagonal"; \`fisherlab fisher\` writes them)`,
    );
    expect(methodDropout('guided', sites, { fisher: fisherFile, model: modelDir })[sites[1]].p).to.be.closeTo(
      EXPECTED[1][3],
      1e-15,
    );
    const wider = path.join(dir, 'wider');
    const other = tinyConfig({ hidden_size: 8, intermediate_size: 12 });
    const otherModel = Bert.random(other, MASKED_LM, 1);
    writeCheckpoint(wider, {
      config: other,
      parts: MASKED_LM,
      weights: new Map([...otherModel.toWeights()].map(([name, w]) => [name, { name, ...w }])),
    });
    otherModel.dispose();
    const message = errorOf(() => methodDropout('guided', sites, { fisher: fisherFile, model: wider }));
    expect(message).to.include(
      `${fisherFile} is not a Fisher of the model in ${wider} (${parameterSpecs(other, MASKED_LM).length} BertForMaskedLM tensors expected): `,
    );
    expect(message).to.include("bert.embeddings.word_embeddings.weight has shape [50, 16], the model's is [50, 8]");
    const cli = spawnSync(
      process.execPath,
      [path.join(process.cwd(), 'bin', 'fisherlab.js'), 'schedule', '--fisher', weightsFile],
      { encoding: 'utf8' },
    );
    expect(cli.status).to.equal(1);
    expect(cli.stderr).to.include('not a Fisher file');
  });

  it("checks on a model: the p each site reads back against the schedule, kinds in Fisher order, and each method's noise", () => {
    const schedule = guidedSchedule(readFisher(fisherFile).tensors);
    const probe = Bert.random(config, SEQUENCE_CLASSIFICATION, 4);
    try {
      for (const [site, setting] of Object.entries(methodDropout('guided', sites, { fisher: fisherFile })))
        probe.dropout.set(site, setting);
      const { rows, mismatches } = scheduleReadBack(probe, schedule);
      expect(mismatches).to.deep.equal([]);
      expect(rows.find((r) => r.site === CLASSIFIER_SITE)!['schedule says']).to.equal('0.1 (classifier, kept)');
      expect(rows.find((r) => r.site === `${L1}.output.dropout`)!['schedule says']).to.equal('0.0000');
      probe.dropout.set(`${L1}.output.dropout`, { kind: 'bernoulli', p: 0.2 });
      expect(scheduleReadBack(probe, schedule).mismatches).to.deep.equal([`${L1}.output.dropout`]);
      // Ascending: L1 self (0.5), L0 self (1), L0 output-attention (3), L1 attention-output (3), embeddings (5), L0 output (6), L1 output (8).
      expect(kindBlocks(schedule)).to.deep.equal(['attention_self', 'attention_output', 'embeddings', 'output']);
      const noise = dropoutNoiseCheck(probe, sites[1], ['standard', 'none'], 50_000);
      expect(noise.map((r) => [r.method, r.kind, r.p, r['evaluation = identity']])).to.deep.equal([
        ['standard', 'bernoulli', 0.1, 'yes'],
        ['none', 'none', 0, 'yes'],
      ]);
      expect(noise[0]['training: variance'] as number).to.be.closeTo(0.1 / 0.9, 0.01);
      expect(noise[1]['training: variance']).to.equal(0);
    } finally {
      probe.dispose();
    }
  });
});

/** Mean and variance of site `site` applied in training to a 1000×1000 tensor of ones, and whether evaluation returns it unchanged. */
function noiseMoments(model: Bert, site: string): { mean: number; variance: number; evalEqual: boolean } {
  return tf.tidy(() => {
    const ones = tf.ones([1000, 1000]);
    const noisy = model.dropout.apply(site, ones, 11);
    const { mean, variance } = tf.moments(noisy);
    const evalOut = model.dropout.apply(site, ones, undefined);
    return {
      mean: mean.dataSync()[0],
      variance: variance.dataSync()[0],
      evalEqual: tf.equal(evalOut, ones).all().dataSync()[0] === 1,
    };
  });
}
