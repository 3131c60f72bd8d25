/**
 * Child `fisherlab` processes: stderr lines reach the caller, and a failure names the command and shows its stderr;
 * `runLanes` runs work items a few at a time, in order, and stops at the first failure.
 */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runFisherlab, runLanes } from '../lib/util/child-process';
import { rejection } from './helpers';

describe('fisherlab in a child process', function () {
  this.timeout(60_000);
  it('passes stderr lines on and rejects with the command and the end of its stderr', async () => {
    const lines: string[] = [];
    const error = await rejection(
      runFisherlab(['landscape', '--mask', 'bogus', '--output', 'never.json'], { onLine: (l) => lines.push(l) }),
    );
    expect(error).to.match(
      /^fisherlab landscape failed \(1\): fisherlab landscape --mask bogus --output never\.json\n/,
    );
    expect(error).to.match(/unknown mask "bogus"/);
    expect(lines.some((l) => /unknown mask "bogus"/.test(l))).to.equal(true);
  });

  it('resolves when the command succeeds', async () => {
    await runFisherlab(['schedule', '--help']);
  });

  it('once shouldStop is true, interrupts the child, which saves and stops as on Ctrl-C', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-child-'));
    try {
      // 64 short pre-masked examples for the embedded model, one per batch
      const examples = Array.from({ length: 64 }, (_, i) => ({
        input_ids: Array.from({ length: 16 }, (_, t) => 1000 + ((i * 31 + t * 7) % 5000)),
        labels: Array.from({ length: 16 }, (_, t) => (t % 5 === 2 ? 1000 + t : -100)),
      }));
      fs.writeFileSync(path.join(dir, 'ex.jsonl'), examples.map((e) => JSON.stringify(e)).join('\n') + '\n');
      const lines: string[] = [];
      const args = ['fisher', '--examples', path.join(dir, 'ex.jsonl'), '--batch-size', '1', '--jobs', '1'];
      const out = ['--output', path.join(dir, 'f.safetensors'), '--run-dir', path.join(dir, 'run')];
      await runFisherlab([...args, ...out], {
        onLine: (l) => lines.push(l),
        // stop once the pass is under way
        shouldStop: () => lines.some((l) => /fisher: \d+\/64 samples/.test(l)),
        interruptOk: true,
      });
      const log = lines.join('\n');
      expect(log).to.match(/fisher: interrupted; saving a checkpoint after this batch/);
      expect(fs.existsSync(path.join(dir, 'f.safetensors'))).to.equal(false);
      expect(fs.existsSync(path.join(dir, 'run', 'checkpoints', 'latest.json'))).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A promise settled by hand, standing in for a child process. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ([resolve, reject] = [res, rej]));
  return { promise, resolve, reject };
}

/** Lets every pending promise callback run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('runLanes', () => {
  it('starts items in order, never runs more than `jobs` at once, and returns results in input order', async () => {
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const results = await runLanes([50, 10, 30, 0, 20, 5, 40], 3, async (ms, i) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return ms * 2;
    });
    expect(started).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    expect(most).to.equal(3);
    expect(results).to.deep.equal([100, 20, 60, 0, 40, 10, 80]);
  });

  it('a free lane takes the next item as soon as one ends', async () => {
    const gates = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const done = runLanes(gates, 2, async (g, i) => {
      started.push(i);
      await g.promise;
    });
    await settle();
    expect(started).to.deep.equal([0, 1]);
    gates[1].resolve();
    await settle();
    expect(started).to.deep.equal([0, 1, 2]);
    gates[0].resolve();
    await settle();
    expect(started).to.deep.equal([0, 1, 2, 3]);
    gates[2].resolve();
    gates[3].resolve();
    await done;
  });

  it('after a failure starts nothing new and rejects with the first failure once the running items end', async () => {
    const gates = [deferred(), deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    let settled = false;
    const done = runLanes(gates, 3, async (g, i) => {
      started.push(i);
      await g.promise;
    }).finally(() => (settled = true));
    await settle();
    gates[1].reject(new Error('item 1 failed'));
    await settle();
    expect(started).to.deep.equal([0, 1, 2]);
    expect(settled).to.equal(false);
    gates[2].reject(new Error('item 2 failed too'));
    await settle();
    expect(settled).to.equal(false);
    gates[0].resolve();
    expect(await rejection(done)).to.equal('item 1 failed');
    expect(started).to.deep.equal([0, 1, 2]);
  });

  it('takes no items with no work, and refuses a jobs count that is not a positive integer', async () => {
    expect(await runLanes([], 2, async () => 1)).to.deep.equal([]);
    expect(await rejection(runLanes([1], 0, async () => 1))).to.match(/jobs must be a positive integer \(got 0\)/);
    expect(await rejection(runLanes([1], 1.5, async () => 1))).to.match(/got 1\.5/);
  });
});
