/** The Slurm executor of sweeps: job-array scripts, clear errors, and a tiny sweep through a real one-node Slurm cluster. */
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { errorOf } from './helpers';
import { clusterUnavailable, startCluster, TestCluster, waitFor } from './slurm-cluster';
import { sweepFixture } from './sweep-fixture';
import { FINETUNE_DEFAULTS } from '../lib/glue/finetune';
import { projectRoot } from '../lib/paths';
import { arrayScript, taskEnd } from '../lib/sweep/slurm-tools';
import { readSweepResults, runSweep, SweepRecord, SweepSpec } from '../lib/sweep/run';
import { formatStatus, submitSweep, sweepStatus } from '../lib/sweep/slurm';

/** Fields of a run that legitimately differ between executors: the wall time. Everything else must be equal. */
const DIFFERING_FIELDS = ['wallSeconds'] as const;

/** A record without the fields that legitimately differ between executors. */
function comparable(r: SweepRecord): Partial<SweepRecord> {
  const copy: Partial<SweepRecord> = { ...r };
  for (const f of DIFFERING_FIELDS) delete copy[f];
  return copy;
}

/** "method task pct seed" of a record. */
function keyOf(r: SweepRecord): string {
  return `${r.method} ${r.task} ${r.pct} ${r.seed}`;
}

describe('sweeps on Slurm', function () {
  this.timeout(120_000);
  let dir = '';
  let spec: SweepSpec;
  const log: string[] = [];
  const write = (line: string) => log.push(line);
  before(async () => {
    dir = await sweepFixture('fisherlab-slurm-', { train: 60, dev: 20 });
    spec = {
      methods: ['standard', 'gaussian'],
      tasks: ['sst2'],
      pcts: [50, 100],
      seeds: [1],
      model: path.join(dir, 'model'),
      glueDir: path.join(dir, 'glue'),
      out: path.join(dir, 'local'),
      training: { ...FINETUNE_DEFAULTS, epochs: 1, batchSize: 16, lr: 1e-2, maxLength: 32 },
    };
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes a job-array script with the resources, and an exit marker per task', () => {
    const text = arrayScript({
      jobName: 'j',
      logDir: '/o/logs',
      cwd: '/p',
      commands: [
        ['node', 'a b'],
        ['node', "it's"],
      ],
      options: {
        partition: 'gpu',
        time: '1:00:00',
        cpusPerTask: 4,
        gres: 'gpu:1',
        maxParallel: 3,
        sbatchArgs: ['--mem=8G'],
      },
    });
    expect(text.split('\n').filter((l) => l.startsWith('#SBATCH'))).to.deep.equal([
      '#SBATCH --job-name=j',
      '#SBATCH --array=0-1%3',
      '#SBATCH --output=/o/logs/%A_%a.log',
      '#SBATCH --partition=gpu',
      '#SBATCH --time=1:00:00',
      '#SBATCH --cpus-per-task=4',
      '#SBATCH --gres=gpu:1',
      '#SBATCH --mem=8G',
    ]);
    expect(text).to.include("  0) node 'a b' & ;;\n  1) node 'it'\\''s' & ;;");
    expect(text).to.include('set -euo pipefail');
    expect(
      errorOf(() =>
        arrayScript({
          jobName: 'j',
          logDir: '/o',
          cwd: '/p',
          commands: [['x']],
          options: { sbatchArgs: ['--a\n--b'] },
        }),
      ),
    ).to.match(/holds a line break/);
  });

  it("runs a script's task with bash and records its exit status, also when it is stopped by SIGTERM", async () => {
    const logs = path.join(dir, 'script-logs');
    fs.mkdirSync(logs);
    const script = path.join(dir, 'array.sh');
    fs.writeFileSync(
      script,
      arrayScript({
        jobName: 'j',
        logDir: logs,
        cwd: dir,
        commands: [
          ['sh', '-c', 'exit 3'],
          ['sh', '-c', `touch ${dir}/started; exec sleep 30`],
        ],
        options: {},
      }),
    );
    const env = (task: number) => ({ ...process.env, SLURM_ARRAY_JOB_ID: '7', SLURM_ARRAY_TASK_ID: String(task) });
    expect(spawnSync('bash', [script], { env: env(0), timeout: 20_000 }).status).to.equal(3);
    expect(taskEnd(logs, '7', 0)).to.deep.equal({ exit: 3 });
    const { spawn } = await import('child_process');
    const child = spawn('bash', [script], { env: env(1), stdio: 'ignore' });
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'started')), 20_000); // the trap is set before the task starts
      child.kill('SIGTERM');
      const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).to.equal(143);
      expect(taskEnd(logs, '7', 1)).to.deep.equal({ signal: 'TERM' });
    } finally {
      child.kill('SIGKILL');
    }
    expect(taskEnd(logs, '7', 2)).to.equal(null);
  });

  it('says what to do when sbatch is not on PATH, and submits nothing', async () => {
    const saved = process.env.PATH;
    process.env.PATH = path.join(dir, 'empty-path');
    try {
      expect(errorOf(() => submitSweep([{ ...spec, out: path.join(dir, 'no-slurm') }], {}, write))).to.equal(
        'slurm: sbatch is not on PATH: run this on a Slurm login node (or install slurm-wlm), or use --executor local',
      );
    } finally {
      process.env.PATH = saved;
    }
    expect(fs.existsSync(path.join(dir, 'no-slurm', 'slurm', 'jobs.json'))).to.equal(false);
  });

  it('names each failed run with its reason and log, and resubmits only those (stand-ins for sbatch, squeue and sacct)', () => {
    const out = path.join(dir, 'fake');
    const bin = path.join(dir, 'fake-bin');
    fs.mkdirSync(bin);
    const tool = (name: string, body: string) =>
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    tool(
      'sbatch',
      `n=$(cat ${bin}/next.txt 2>/dev/null || echo 41); n=$((n + 1)); echo $n >${bin}/next.txt; echo "$n;cluster"`,
    );
    tool('squeue', `cat ${bin}/queue.txt 2>/dev/null || true`);
    tool('sacct', `cat ${bin}/sacct.txt 2>/dev/null || { echo "Slurm accounting storage is disabled" >&2; exit 1; }`);
    const saved = process.env.PATH;
    process.env.PATH = `${bin}:${saved}`;
    try {
      expect(submitSweep([{ ...spec, out }], {}, write)).to.deep.equal({
        total: 4,
        done: 0,
        queued: 0,
        submitted: 4,
        job: '42',
      });
      const logs = path.join(out, 'slurm', 'logs');
      fs.writeFileSync(path.join(bin, 'queue.txt'), '42|3|RUNNING\n7|0|RUNNING\n');
      fs.writeFileSync(path.join(logs, '42_0.exit'), 'exit 1\n');
      fs.writeFileSync(path.join(logs, '42_0.log'), 'fisherlab: something failed\n');
      fs.writeFileSync(path.join(logs, '42_1.exit'), 'signal TERM\n');
      expect(sweepStatus(out).map((r) => [r.state, r.task, r.reason])).to.deep.equal([
        ['failed', '42_0', 'exit 1'],
        ['failed', '42_1', 'stopped by SIGTERM: time limit, scancel or node shutdown'],
        [
          'failed',
          '42_2',
          'no exit marker and no longer in squeue: killed without SIGTERM (node failure, out of memory) or cancelled before it started',
        ],
        ['running', '42_3', undefined],
      ]);
      fs.writeFileSync(path.join(bin, 'sacct.txt'), '42_0|FAILED\n42_1|TIMEOUT\n42_2|NODE_FAIL\n42_3|RUNNING\n');
      const status = sweepStatus(out);
      expect(status.map((r) => r.reason)).to.deep.equal([
        'exit 1 (FAILED)',
        'stopped by SIGTERM (TIMEOUT): time limit, scancel or node shutdown',
        'NODE_FAIL: killed without SIGTERM (node failure, out of memory) or cancelled before it started',
        undefined,
      ]);
      expect(formatStatus(out, status).slice(1)).to.deep.equal([
        `  running: gaussian SST-2 100% seed 1 (task 42_3; log ${logs}/42_3.log)`,
        `  failed: standard SST-2 50% seed 1 (task 42_0): exit 1 (FAILED); log ${logs}/42_0.log`,
        '  failed: gaussian SST-2 50% seed 1 (task 42_1): stopped by SIGTERM (TIMEOUT): time limit, scancel or node shutdown; log none',
        '  failed: standard SST-2 100% seed 1 (task 42_2): NODE_FAIL: killed without SIGTERM (node failure, out of memory) or cancelled before it started; log none',
        '  run the same sweep command again to resubmit the failed and unsubmitted runs',
      ]);
      expect(submitSweep([{ ...spec, out }], {}, write)).to.deep.equal({
        total: 4,
        done: 0,
        queued: 1,
        submitted: 3,
        job: '43',
      });
      const jobs = JSON.parse(fs.readFileSync(path.join(out, 'slurm', 'jobs.json'), 'utf8')) as Array<{
        job: string;
        runs: string[];
      }>;
      expect(jobs.map((j) => [j.job, j.runs.length])).to.deep.equal([
        ['42', 4],
        ['43', 3],
      ]);
      expect(jobs[1].runs).to.deep.equal([
        'standard SST-2 50% seed 1',
        'gaussian SST-2 50% seed 1',
        'standard SST-2 100% seed 1',
      ]);
      expect(fs.readFileSync(path.join(out, 'slurm', 'array-2.sh'), 'utf8')).to.match(/#SBATCH --array=0-2\n/);
    } finally {
      process.env.PATH = saved;
    }
  });

  describe('with a real one-node cluster', function () {
    let cluster: TestCluster | null = null;
    const savedConf = process.env.SLURM_CONF;
    before(async function () {
      const why = clusterUnavailable();
      if (why !== null) {
        console.log(`      (skipped: ${why})`);
        this.skip();
      }
      cluster = await startCluster(path.join(dir, 'cluster'));
      process.env.SLURM_CONF = cluster.conf;
    });
    after(async function () {
      this.timeout(60_000);
      if (savedConf === undefined) delete process.env.SLURM_CONF;
      else process.env.SLURM_CONF = savedConf;
      await cluster?.stop();
    });

    it("reports a rejected submission with sbatch's reason, and records no job", () => {
      const out = path.join(dir, 'rejected');
      expect(errorOf(() => submitSweep([{ ...spec, out }], { partition: 'no-such-partition' }, write))).to.match(
        /^slurm: sbatch rejected .*array-1\.sh \(exit 1\): .*[Ii]nvalid partition.*; nothing was submitted: fix the options and run the same command again$/s,
      );
      expect(fs.existsSync(path.join(out, 'slurm', 'jobs.json'))).to.equal(false);
    });

    it("finishes a sweep cancelled halfway with one more call, with the local executor's results bit for bit", async function () {
      this.timeout(300_000);
      const out = path.join(dir, 'slurm');
      const slurmSpec = { ...spec, out };
      // Held at submission, so that which tasks run before the scancel does not depend on timing: task 0 finishes,
      // task 1 is cancelled (while running, unless it was quicker than the scancel), tasks 2 and 3 never start.
      const first = submitSweep([slurmSpec], { maxParallel: 1, sbatchArgs: ['--hold'] }, write);
      expect(first).to.deep.include({ total: 4, done: 0, queued: 0, submitted: 4 });
      const job = first.job!;
      const run = (tool: string, ...args: string[]) =>
        expect(spawnSync(tool, args, { timeout: 10_000 }).status, `${tool} ${args.join(' ')}`).to.equal(0);
      const runFiles = () =>
        fs.existsSync(path.join(out, 'runs'))
          ? fs.readdirSync(path.join(out, 'runs')).filter((f) => f.endsWith('.json'))
          : [];
      expect(sweepStatus(out).map((r) => r.state)).to.deep.equal(['pending', 'pending', 'pending', 'pending']);
      run('scontrol', 'release', `${job}_0`);
      await waitFor(() => runFiles().length === 1, 90_000);
      run('scontrol', 'release', `${job}_1`);
      await waitFor(() => sweepStatus(out)[1].state !== 'pending', 60_000);
      run('scancel', job);
      await waitFor(() => sweepStatus(out).every((r) => r.state !== 'running' && r.state !== 'pending'), 30_000);

      const status = sweepStatus(out);
      expect(status.map((r) => r.state)).to.deep.equal([
        'finished',
        status[1].state === 'finished' ? 'finished' : 'failed',
        'failed',
        'failed',
      ]);
      if (status[1].state === 'failed')
        expect(status[1].reason).to.match(/^stopped by SIGTERM: time limit, scancel or node shutdown$/);
      expect(status[2].reason).to.match(
        /killed without SIGTERM \(node failure, out of memory\) or cancelled before it started$/,
      );
      const finished = status.filter((r) => r.state === 'finished').length;
      const report = formatStatus(out, status);
      expect(report[0]).to.equal(
        `sweep ${out}: 4 runs: ${finished} done (${finished} not yet merged into results.jsonl: run the sweep command again), 0 running, 0 pending, ${4 - finished} failed, 0 not submitted`,
      );
      expect(report.filter((l) => l.startsWith('  failed: '))).to.deep.equal(
        status
          .filter((r) => r.state === 'failed')
          .map(
            (r) =>
              `  failed: ${r.key} (task ${r.task}): ${r.reason}; log ${r.task === `${job}_1` ? path.join(out, 'slurm', 'logs', `${job}_1.log`) : 'none'}`,
          ),
      );

      // One more call finishes the sweep: it merges the finished run, resubmits the others, waits for them and merges them.
      const cli = (...args: string[]) =>
        spawnSync(process.execPath, [path.join(projectRoot(), 'bin', 'fisherlab.js'), 'sweep', ...args], {
          encoding: 'utf8',
          timeout: 150_000,
        });
      const t = spec.training;
      const second = cli(
        '--executor',
        'slurm',
        '--wait',
        '--tasks',
        'SST-2',
        '--methods',
        'standard,gaussian',
        '--pcts',
        '50,100',
        '--seeds',
        '1',
        '--model',
        spec.model,
        '--glue',
        spec.glueDir,
        '--protocol',
        t.protocol,
        '--max-train',
        String(t.maxTrainExamples),
        '--max-eval',
        String(t.maxEvalExamples),
        '--epochs',
        String(t.epochs),
        '--batch-size',
        String(t.batchSize),
        '--lr',
        String(t.lr),
        '--warmup-ratio',
        String(t.warmupRatio),
        '--weight-decay',
        String(t.weightDecay),
        '--max-length',
        String(t.maxLength),
        '--out',
        out,
      );
      expect(second.stderr).to.match(
        new RegExp(
          `sweep: merged ${finished} finished runs? of .*\\n(.*\\n)*sweep: submitted ${4 - finished} runs as Slurm job array \\d+ `,
        ),
      );
      expect(second.stdout, second.stderr).to.equal(
        `sweep: all 4 runs done; results in ${out}/results.jsonl, summary in ${out}/summary.csv\n`,
      );
      expect(readSweepResults(out)).to.have.length(4);
      expect(submitSweep([slurmSpec], {}, write)).to.deep.equal({
        total: 4,
        done: 4,
        queued: 0,
        submitted: 0,
        job: null,
      }); // idempotent
      const shown = cli('--status', '--out', out);
      expect(shown.stdout, shown.stderr).to.equal(
        `sweep ${out}: 4 runs: 4 done, 0 running, 0 pending, 0 failed, 0 not submitted\n`,
      );

      await runSweep(spec, { write });
      const local = readSweepResults(spec.out);
      const slurm = readSweepResults(out);
      expect(slurm.map(keyOf).sort()).to.deep.equal(local.map(keyOf).sort());
      const byKey = new Map(slurm.map((r) => [keyOf(r), r]));
      for (const r of local) expect(comparable(byKey.get(keyOf(r))!)).to.deep.equal(comparable(r));
      const summary = (d: string) => fs.readFileSync(path.join(d, 'summary.csv'), 'utf8');
      expect(summary(out)).to.equal(summary(spec.out));
    });
  });
});
