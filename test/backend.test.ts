import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import { backendInfo, backendName, defaultJobs, defaultShardJobs, sharedEnv } from '../lib/backend';
import { setupBackend, maxAbsDiff } from './helpers';
import { Rng } from '../lib/util/random';

/** Plain float64 batched matMul with optional transposes, the reference for the patched kernel. */
function refMatMul(a: number[][][], b: number[][][], ta: boolean, tb: boolean): number[] {
  const out: number[] = [];
  for (let n = 0; n < a.length; n++) {
    const A = ta ? a[n][0].map((_, j) => a[n].map((r) => r[j])) : a[n];
    const Bm = tb ? b[n][0].map((_, j) => b[n].map((r) => r[j])) : b[n];
    for (let i = 0; i < A.length; i++)
      for (let j = 0; j < Bm[0].length; j++) {
        let s = 0;
        for (let k = 0; k < Bm.length; k++) s += A[i][k] * Bm[k][j];
        out.push(s);
      }
  }
  return out;
}

function randn(rng: Rng, shape: number[]): number[][][] {
  return Array.from({ length: shape[0] }, () =>
    Array.from({ length: shape[1] }, () => Array.from({ length: shape[2] }, () => rng.normal())),
  );
}

describe('backend', () => {
  let backend = '';
  before(async () => {
    backend = await setupBackend();
  });

  it('matMul with every transpose combination equals a float64 reference', () => {
    const rng = new Rng(3);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const a = randn(rng, ta ? [3, 7, 5] : [3, 5, 7]);
      const b = randn(rng, tb ? [3, 4, 7] : [3, 7, 4]);
      const got = tf.tidy(() => tf.matMul(tf.tensor3d(a), tf.tensor3d(b), ta, tb).dataSync());
      expect(maxAbsDiff(got, refMatMul(a, b, ta, tb)), `transposeA=${ta} transposeB=${tb}`).to.be.below(1e-4);
    }
  });

  it('multiplies stacks of matrices (rank 4, as attention does) like a float64 reference, and broadcasts a single matrix', () => {
    const rng = new Rng(8);
    const a = randn(rng, [6, 4, 5]);
    const b = randn(rng, [6, 5, 3]);
    const got = tf.tidy(() =>
      tf.matMul(tf.reshape(tf.tensor3d(a), [2, 3, 4, 5]), tf.reshape(tf.tensor3d(b), [2, 3, 5, 3])).dataSync(),
    );
    expect(maxAbsDiff(got, refMatMul(a, b, false, false))).to.be.below(1e-4);
    const single = randn(rng, [1, 5, 3]);
    const broadcast = tf.tidy(() => tf.matMul(tf.tensor3d(a), tf.tensor3d(single)).dataSync());
    expect(
      maxAbsDiff(
        broadcast,
        refMatMul(
          a,
          a.map(() => single[0]),
          false,
          false,
        ),
      ),
    ).to.be.below(1e-4);
  });

  it('the matMul patch leaks no tensors, forward or backward', () => {
    const a = tf.randomNormal([2, 6, 5]);
    const b = tf.randomNormal([2, 4, 5]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y, false, true)))([a, b]);
      tf.dispose(g);
    }
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([a, b]);
  });

  it('unsortedSegmentSum (the gradient of gather) adds rows with repeated ids', () => {
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
      [7, 8],
    ]);
    const s = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 2], 'int32'), 3);
    expect(Array.from(s.dataSync())).to.deep.equal([3, 4, 0, 0, 13, 16]);
    const g = tf.grad((w: tf.Tensor) =>
      tf.sum(
        tf.mul(
          tf.gather(w, tf.tensor1d([1, 1, 3], 'int32')),
          tf.tensor2d([
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
        ),
      ),
    )(tf.zeros([4, 2]));
    expect(Array.from(g.dataSync())).to.deep.equal([0, 0, 4, 6, 0, 0, 5, 6]);
    tf.dispose([x, s, g]);
  });

  it('reports the backend it chose', () => {
    expect(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).to.include(backend);
    expect(tf.getBackend()).to.equal(backend.startsWith('tensorflow') ? 'tensorflow' : backend);
  });

  it("describes the backend: TensorFlow's version and threads on the native ones, one thread on wasm", async () => {
    const info = await backendInfo();
    expect(info.name).to.equal(backend);
    expect(backendName()).to.equal(backend);
    if (backend.startsWith('tensorflow')) {
      expect(info.tensorflow).to.match(/^2\.\d+\.\d+/);
      expect(info.threads).to.equal(Number(process.env.TF_NUM_INTRAOP_THREADS) || os.availableParallelism());
    } else {
      expect(info).to.deep.equal({ name: backend, tensorflow: null, threads: 1 });
    }
  });

  it("defaults --jobs to one process per core, and pretraining's to 1 on TensorFlow and one per core on wasm", () => {
    const forced = process.env.FISHERLAB_BACKEND;
    try {
      process.env.FISHERLAB_BACKEND = 'tensorflow';
      expect(defaultJobs()).to.equal(os.availableParallelism());
      expect(defaultShardJobs()).to.equal(1);
      process.env.FISHERLAB_BACKEND = 'wasm';
      expect(defaultJobs()).to.equal(os.availableParallelism());
      expect(defaultShardJobs()).to.equal(os.availableParallelism());
    } finally {
      if (forced === undefined) delete process.env.FISHERLAB_BACKEND;
      else process.env.FISHERLAB_BACKEND = forced;
    }
  });

  it("gives processes run together their share of TensorFlow's threads and of the memory budget, unless the user set them", () => {
    const cores = os.availableParallelism();
    expect(sharedEnv(1, { A: 'b' })).to.deep.equal({ A: 'b' });
    expect(sharedEnv(2, { A: 'b' })).to.deep.equal({
      A: 'b',
      TF_NUM_INTRAOP_THREADS: String(Math.max(1, Math.floor(cores / 2))),
      FISHERLAB_PROCESSES: '2',
    });
    expect(sharedEnv(2, { TF_NUM_INTRAOP_THREADS: '8' }).TF_NUM_INTRAOP_THREADS).to.equal('8');
    expect(sharedEnv(4 * cores, {}).TF_NUM_INTRAOP_THREADS).to.equal('1');
    // a child of a child: the shares multiply
    expect(sharedEnv(3, { FISHERLAB_PROCESSES: '2' }).FISHERLAB_PROCESSES).to.equal('6');
    expect(() => sharedEnv(0)).to.throw(/share must be a positive integer/);
  });

  it("takeShare gives a process that has not started its backend a child's share; its children still get theirs from the environment it started with", function () {
    this.timeout(60_000);
    const script = `
      import { initBackend, sharedEnv, takeShare, threadsPerOp } from ${JSON.stringify(path.resolve('lib', 'backend.ts'))};
      takeShare(2);
      const own = { threads: process.env.TF_NUM_INTRAOP_THREADS, processes: process.env.FISHERLAB_PROCESSES };
      await initBackend({ quiet: true });
      takeShare(4); // too late: the backend has started
      const child = sharedEnv(2);
      console.log(JSON.stringify({
        own,
        later: process.env.FISHERLAB_PROCESSES,
        threadsPerOp: threadsPerOp(),
        child: { threads: child.TF_NUM_INTRAOP_THREADS, processes: child.FISHERLAB_PROCESSES },
      }));`;
    const env: NodeJS.ProcessEnv = { ...process.env, FISHERLAB_PROCESSES: '3' };
    delete env.TF_NUM_INTRAOP_THREADS;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env,
    });
    expect(r.status, r.stderr).to.equal(0);
    const half = String(Math.max(1, Math.floor(os.availableParallelism() / 2)));
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(got).to.deep.equal({
      own: { threads: half, processes: '6' },
      later: '6',
      threadsPerOp: backend.startsWith('tensorflow') ? Number(half) : 1,
      // 2 × 3 processes, as for a child of the process as it started: not 2 × 6
      child: { threads: half, processes: '6' },
    });
  });
});
