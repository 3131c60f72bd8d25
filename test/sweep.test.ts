/** Sweeps on a tiny synthetic GLUE task and a tiny model: one JSON line per run, resume, a cut last line, the summary, and errors. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { rejection } from './helpers';
import { SWEEP_CONFIG as CONFIG, SWEEP_VOCAB as VOCAB, sweepFixture } from './sweep-fixture';
import { Bert } from '../lib/bert/model';
import { dropoutSiteNames, MASKED_LM, parameterSpecs, SEQUENCE_CLASSIFICATION } from '../lib/bert/parameters';
import { saveBert } from '../lib/bert/load';
import { methodDropout } from '../lib/guided-dropout/methods';
import { finetune, FINETUNE_DEFAULTS } from '../lib/glue/finetune';
import { writeFisher } from '../lib/fisher/estimate';
import { planSweep, readSweepResults, runSweep, summarizeSweep, SweepRecord, SweepSpec } from '../lib/sweep/run';

/** A finetune that counts its calls and records the cells it ran. */
function counting(): { ran: string[]; finetune: typeof finetune } {
  const ran: string[] = [];
  return { ran, finetune: (s, glue, opts) => (ran.push(`${s.task} ${s.trainPct} ${s.seed}`), finetune(s, glue, opts)) };
}

/** The lines of a file. */
function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n');
}

describe('sweeps', function () {
  this.timeout(300_000);
  let dir = '';
  let spec: SweepSpec;
  const log: string[] = [];
  const write = (line: string) => log.push(line);
  before(async () => {
    dir = await sweepFixture('fisherlab-sweep-', { train: 120, dev: 40 });
    // Fisher: embeddings 3, attention_self 1, attention_output 2, output 4 → guided p 0.1/3, 0.1, 0.2/3, 0
    const value = (n: string) =>
      n.startsWith('bert.embeddings.')
        ? 3
        : n.includes('attention.self.')
          ? 1
          : n.includes('attention.output.')
            ? 2
            : n.includes('.output.')
              ? 4
              : 9;
    const fisher = parameterSpecs(CONFIG, MASKED_LM).map(({ name, shape }) => ({
      name,
      shape,
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value(name)),
    }));
    writeFisher(path.join(dir, 'fisher.safetensors'), new Map(fisher.map((t) => [t.name, t])), 10);
    spec = {
      methods: ['standard', 'guided', 'gaussian'],
      tasks: ['sst2'],
      pcts: [50, 100],
      seeds: [1, 2],
      model: path.join(dir, 'model'),
      fisher: path.join(dir, 'fisher.safetensors'),
      glueDir: path.join(dir, 'glue'),
      out: path.join(dir, 'sweep'),
      training: { ...FINETUNE_DEFAULTS, epochs: 1, batchSize: 16, lr: 1e-2, maxLength: 32 },
    };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("runs every cell once, seeds outermost, one JSON line per run, with each method's dropout", async () => {
    const counter = counting();
    const outcome = await runSweep(spec, { write, finetune: counter.finetune });
    expect(outcome).to.deep.equal({ total: 12, skipped: 0, ran: 12 });
    expect(counter.ran).to.have.length(12);
    const file = path.join(spec.out, 'results.jsonl');
    const text = lines(file);
    expect(text).to.have.length(13);
    expect(text[12]).to.equal('');
    const records = text.slice(0, 12).map((l) => JSON.parse(l) as SweepRecord);
    expect(records.map((r) => `${r.method} ${r.task} ${r.pct} ${r.seed}`)).to.deep.equal([
      'standard SST-2 50 1',
      'guided SST-2 50 1',
      'gaussian SST-2 50 1',
      'standard SST-2 100 1',
      'guided SST-2 100 1',
      'gaussian SST-2 100 1',
      'standard SST-2 50 2',
      'guided SST-2 50 2',
      'gaussian SST-2 50 2',
      'standard SST-2 100 2',
      'guided SST-2 100 2',
      'gaussian SST-2 100 2',
    ]);
    expect(records.map((r) => r.trainExamples)).to.deep.equal([60, 60, 60, 120, 120, 120, 60, 60, 60, 120, 120, 120]);
    const sites = dropoutSiteNames(CONFIG, SEQUENCE_CLASSIFICATION);
    expect(records[0].settings.dropout).to.deep.equal(methodDropout('standard', sites));
    expect(records[1].settings.dropout).to.deep.equal(methodDropout('guided', sites, { fisher: spec.fisher }));
    expect(records[1].settings.dropout!['bert.encoder.layer.0.attention.self.dropout']).to.deep.equal({
      kind: 'bernoulli',
      p: 0.1,
    });
    expect(records[1].settings.dropout!['bert.encoder.layer.0.output.dropout']).to.deep.equal({
      kind: 'bernoulli',
      p: 0,
    });
    expect(records[2].settings.dropout).to.deep.equal(methodDropout('gaussian', sites));
    expect(records.map((r) => r.fisher)).to.deep.equal(
      records.map((r) => (r.method === 'guided' ? path.resolve(spec.fisher!) : null)),
    );
    // the methods reach the model: same seed and data, different training losses
    const losses = records.slice(0, 3).map((r) => r.epochs[0].trainLoss);
    expect(new Set(losses).size).to.equal(3);
    expect(log.filter((l) => l.startsWith('sweep: ')).pop()).to.match(
      /^sweep: 12\/12 runs \(100\.0%\).*ETA 0s, gaussian SST-2 100% seed 2: dev /,
    );
  });

  it('gives each progress line the time the runs left will take, here and in the parts after, by example passes', async () => {
    const out = path.join(dir, 'sweep-eta');
    const progress: string[] = [];
    // every run takes "10 s"; the later part's 50% runs and a run this part has, counted once
    const later = [50, 50, 100].map((pct, i) => ({
      method: 'standard' as const,
      task: 'SST-2',
      pct,
      seed: [1, 2, 2][i],
    }));
    await runSweep(
      { ...spec, methods: ['standard'], pcts: [100], out },
      {
        write: (l) => l.startsWith('sweep: ') && progress.push(l),
        finetune: async (s, glue, o) => ({ ...(await finetune(s, glue, o)), wallSeconds: 10 }),
        later,
      },
    );
    const [first] = readSweepResults(out);
    const dev = Object.values(first.evalExamples).reduce((a, b) => a + b, 0);
    // passes: epochs × (training examples + evaluation examples / 3); 10 s for the first run's
    const seconds = (train: number) => (10 * (train + dev / 3)) / (first.trainExamples + dev / 3);
    const half = Math.round(first.trainExamples / 2);
    const eta = (s: number) => (s >= 60 ? /ETA \d+m\d\ds/ : new RegExp(`ETA ${Math.round(s)}s`));
    expect(progress).to.have.length(2);
    expect(progress[0]).to.match(/^sweep: 1\/2 runs/);
    expect(progress[0]).to.match(eta(10 + 2 * seconds(half)));
    expect(progress[1]).to.match(eta(2 * seconds(half)));
    expect(progress[1]).to.match(/; ETA counts 2 runs of the parts after this one$/);
  });

  it('with jobs 2 runs cells in two child processes and gets the in-process results', async () => {
    const out = path.join(dir, 'sweep-jobs');
    const lines: string[] = [];
    const outcome = await runSweep({ ...spec, out }, { write: (l) => lines.push(l), jobs: 2 });
    expect(outcome).to.deep.equal({ total: 12, skipped: 0, ran: 12 });
    const key = (r: SweepRecord) => `${r.method} ${r.task} ${r.pct} ${r.seed}`;
    const strip = (r: SweepRecord) => ({ ...r, wallSeconds: 0 });
    const parallel = new Map(readSweepResults(out).map((r) => [key(r), strip(r)]));
    const serial = readSweepResults(spec.out).map(strip);
    expect(parallel.size).to.equal(12);
    for (const r of serial) expect(parallel.get(key(r))).to.deep.equal(r);
    expect(fs.readdirSync(path.join(out, '.runs'))).to.deep.equal([]);
    // the children's progress comes through, labelled with the run
    expect(lines.some((l) => /^\[guided SST-2 50% seed 1\] finetune SST-2: \d+\/\d+ steps/.test(l))).to.equal(true);
  });

  it('writes summary.csv with the mean ± sample std over seeds of every metric, as computed by hand from the lines', () => {
    const records = lines(path.join(spec.out, 'results.jsonl'))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SweepRecord);
    const acc = records.filter((r) => r.method === 'guided' && r.pct === 50).map((r) => r.final.dev.metrics.accuracy);
    expect(acc).to.have.length(2);
    const mean = (acc[0] + acc[1]) / 2;
    const std = Math.abs(acc[0] - acc[1]) / Math.SQRT2;
    const csv = lines(path.join(spec.out, 'summary.csv'));
    expect(csv[0]).to.equal('method,task,pct,eval,metric,n,mean,std');
    expect(csv).to.have.length(1 + 3 * 2 * 2 + 1);
    const row = csv.find((l) => l.startsWith('guided,SST-2,50,dev,accuracy,'))!.split(',');
    expect(row[5]).to.equal('2');
    expect(Number(row[6])).to.be.closeTo(mean, 1e-15);
    expect(Number(row[7])).to.be.closeTo(std, 1e-15);
    expect(csv.slice(1, 5).map((l) => l.split(',').slice(0, 5).join(','))).to.deep.equal([
      'standard,SST-2,50,dev,main',
      'standard,SST-2,50,dev,accuracy',
      'standard,SST-2,100,dev,main',
      'standard,SST-2,100,dev,accuracy',
    ]);
  });

  it('resumes: skips finished runs, and redoes the run whose line a kill cut short', async () => {
    const file = path.join(spec.out, 'results.jsonl');
    const again = counting();
    expect(await runSweep(spec, { write, finetune: again.finetune })).to.deep.equal({ total: 12, skipped: 12, ran: 0 });
    expect(again.ran).to.deep.equal([]);

    const whole = lines(file);
    const eleventh = JSON.parse(whole[10]) as SweepRecord;
    fs.writeFileSync(file, `${whole.slice(0, 10).join('\n')}\n${whole[10].slice(0, 200)}`);
    expect(readSweepResults(spec.out)).to.have.length(10);
    const resumed = counting();
    log.length = 0;
    expect(await runSweep(spec, { write, finetune: resumed.finetune })).to.deep.equal({
      total: 12,
      skipped: 10,
      ran: 2,
    });
    expect(resumed.ran).to.deep.equal(['SST-2 100 2', 'SST-2 100 2']);
    expect(log[0]).to.match(/dropped the half-written last line of .*results\.jsonl \(line 11/);
    const after = lines(file);
    expect(after).to.have.length(13);
    const redone = JSON.parse(after[10]) as SweepRecord;
    expect([redone.method, redone.pct, redone.seed]).to.deep.equal([eleventh.method, eleventh.pct, eleventh.seed]);
    expect(redone.final).to.deep.equal(eleventh.final);
    expect(readSweepResults(spec.out)).to.have.length(12);
  });

  it('refuses to mix runs of other settings into a results file', async () => {
    const counter = counting();
    const other = {
      ...spec,
      methods: ['standard' as const],
      pcts: [50],
      seeds: [1],
      training: { ...spec.training, epochs: 2 },
    };
    expect(await rejection(runSweep(other, { write, finetune: counter.finetune }))).to.match(
      /already holds standard SST-2 50% seed 1 with other settings \(epochs\)/,
    );
    expect(counter.ran).to.deep.equal([]);
  });

  it('records the model and Fisher paths relative to the project root when they lie inside it', async () => {
    const saved = process.env.FISHERLAB_ROOT;
    process.env.FISHERLAB_ROOT = dir;
    try {
      const one = { ...spec, methods: ['guided' as const], pcts: [50], seeds: [1], out: path.join(dir, 'relative') };
      await runSweep(one, { write });
      const [record] = readSweepResults(one.out);
      expect([record.settings.model, record.fisher]).to.deep.equal(['model', 'fisher.safetensors']);
      expect(JSON.parse(lines(path.join(spec.out, 'results.jsonl'))[1]).settings.model).to.equal(
        path.resolve(spec.model),
      ); // outside the root: absolute
    } finally {
      if (saved === undefined) delete process.env.FISHERLAB_ROOT;
      else process.env.FISHERLAB_ROOT = saved;
    }
  });

  it('refuses to reuse runs of other weights saved under the same model folder', async () => {
    const retrained = { ...spec, model: path.join(dir, 'retrained') };
    fs.cpSync(spec.model, retrained.model, { recursive: true });
    const before = fs.readFileSync(path.join(spec.out, 'results.jsonl'), 'utf8');
    const same = counting();
    expect(await runSweep(retrained, { write, finetune: same.finetune })).to.deep.equal({
      total: 12,
      skipped: 12,
      ran: 0,
    }); // same weights elsewhere: reused
    const model = Bert.random(CONFIG, MASKED_LM, 1);
    saveBert(retrained.model, model, { vocabTokens: VOCAB });
    model.dispose();
    const counter = counting();
    expect(await rejection(runSweep(retrained, { write, finetune: counter.finetune }))).to.match(
      /already holds standard SST-2 50% seed 1 from other weights \(model\.safetensors sha256 [0-9a-f]{16}, now [0-9a-f]{16} in .*retrained\)/,
    );
    expect(counter.ran).to.deep.equal([]);
    fs.writeFileSync(path.join(spec.out, 'results.jsonl'), before);
  });

  it('summarizes hand-made results: mean and sample std per method, task, pct, evaluation set and metric', () => {
    const out = path.join(dir, 'hand');
    fs.mkdirSync(out);
    const rec = (
      method: string,
      task: string,
      pct: number,
      seed: number,
      metrics: Record<string, number | null>,
      main: number,
    ) => JSON.stringify({ method, task, pct, seed, fisher: null, final: { dev: { metrics, main } } });
    fs.writeFileSync(
      path.join(out, 'results.jsonl'),
      [
        rec('standard', 'SST-2', 10, 1, { accuracy: 0.25 }, 0.25),
        rec('standard', 'SST-2', 10, 2, { accuracy: 0.5 }, 0.5),
        rec('guided', 'CoLA', 100, 1, { matthews_correlation: 0.125 }, 0.125),
        rec('standard', 'SST-2', 10, 3, { accuracy: 0.75 }, 0.75),
        rec('guided', 'CoLA', 100, 2, { matthews_correlation: 0.375 }, 0.375),
        rec('gaussian', 'STS-B', 50, 1, { pearson: null, spearmanr: 0.5 }, 0.5),
        '{"method": "standard", "task": "SS',
      ].join('\n'),
    );
    const rows = summarizeSweep(readSweepResults(out));
    const s = 0.125 * Math.SQRT2;
    expect(rows.map((r) => [r.method, r.task, r.pct, r.eval, r.metric, r.n])).to.deep.equal([
      ['guided', 'CoLA', 100, 'dev', 'main', 2],
      ['guided', 'CoLA', 100, 'dev', 'matthews_correlation', 2],
      ['standard', 'SST-2', 10, 'dev', 'main', 3],
      ['standard', 'SST-2', 10, 'dev', 'accuracy', 3],
      ['gaussian', 'STS-B', 50, 'dev', 'main', 1],
      ['gaussian', 'STS-B', 50, 'dev', 'pearson', 1],
      ['gaussian', 'STS-B', 50, 'dev', 'spearmanr', 1],
    ]);
    const stats = rows.map((r) => [r.mean, r.std]);
    expect(stats[0][0]).to.equal(0.25);
    expect(stats[0][1]).to.be.closeTo(s, 1e-16);
    expect(stats[1][1]).to.be.closeTo(s, 1e-16);
    expect(stats.slice(2)).to.deep.equal([
      [0.5, 0.25],
      [0.5, 0.25],
      [0.5, 0],
      [NaN, 0],
      [0.5, 0],
    ]);
  });

  it("plans the controls without a Fisher: uniform-mean the same for every seed, shuffled's order drawn from each seed", () => {
    const plan = planSweep(
      {
        ...spec,
        methods: ['uniform-mean', 'shuffled'],
        fisher: undefined,
        pcts: [100],
        seeds: [1, 2, 3],
        out: path.join(dir, 'plan'),
      },
      write,
    );
    const of = (method: string, seed: number) =>
      plan.settingsOf(plan.cells.find((c) => c.method === method && c.seed === seed)!).dropout!;
    expect(of('uniform-mean', 1)).to.deep.equal(of('uniform-mean', 3));
    for (const seed of [1, 2, 3]) {
      expect(of('shuffled', seed)).to.deep.equal(
        methodDropout('shuffled', Object.keys(of('shuffled', seed)), { seed }),
      );
    }
    const orders = new Set([1, 2, 3].map((seed) => JSON.stringify(of('shuffled', seed))));
    expect(orders.size).to.be.greaterThan(1);
  });

  it('rejects unknown methods and tasks, guided without a Fisher, and bad percentages, before running anything', async () => {
    const counter = counting();
    const fails = (over: Partial<SweepSpec>) =>
      rejection(runSweep({ ...spec, out: path.join(dir, 'never'), ...over }, { write, finetune: counter.finetune }));
    expect(await fails({ methods: ['standard', 'dropconnect' as never] })).to.equal(
      'unknown dropout method "dropconnect" (methods: standard, none, guided, guided-authors, gaussian, gaussian-authors, uniform-mean, shuffled)',
    );
    expect(await fails({ tasks: ['SST-2', 'SST-3'] })).to.match(
      /^unknown GLUE task "SST-3": expected one of CoLA, SST-2/,
    );
    expect(await fails({ fisher: undefined })).to.equal(
      "sweep: guided dropout needs the pretrained model's Fisher file (--fisher FILE, written by `fisherlab fisher`)",
    );
    expect(await fails({ methods: ['guided-authors'], fisher: undefined })).to.match(
      /^sweep: guided-authors dropout needs/,
    );
    expect(await fails({ pcts: [0, 50] })).to.equal('sweep: training percentage 0 is outside (0, 100]');
    expect(await fails({ seeds: [1, 1] })).to.equal('sweep: seeds listed twice in [1, 1]');
    expect(counter.ran).to.deep.equal([]);
    expect(fs.existsSync(path.join(dir, 'never'))).to.equal(false);
  });
});
