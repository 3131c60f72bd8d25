/**
 * Data-parallel pretraining: child processes (sharing the cores) that compute the gradients of shards 1..n-1
 * of every step from the weights the parent sends, while the parent computes shard 0 and applies the update.
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { projectRoot } from '../paths';
import type { PretrainSettings } from './settings';
import type { RemoteShards, ShardGradient } from '../train/loop';

/** A request from the parent: compute the shard's gradient of step `step` at these weights. */
export interface ShardRequest {
  step: number;
  seed: number;
  weights: Map<string, Float32Array>;
}

/** A reply from a child: `ready` once it has built the run's data, then one gradient per request. */
export type ShardReply = { ready: true } | ({ ready?: false } & ShardGradient);

interface Waiter {
  resolve: (reply: ShardReply) => void;
  reject: (error: Error) => void;
}

/** The child processes of one pretraining run, each computing one shard of every batch. */
export class ShardProcesses implements RemoteShards {
  private constructor(
    readonly count: number,
    private readonly children: ChildProcess[],
    private readonly waiters: Waiter[][],
  ) {}

  /** Starts `count - 1` children for shards 1..count-1 and waits until each has built the run's data. */
  static async start(settings: PretrainSettings, count: number): Promise<ShardProcesses> {
    const children: ChildProcess[] = [];
    const waiters: Waiter[][] = [];
    for (let shard = 1; shard < count; shard++) {
      const args = [
        path.join(projectRoot(), 'bin', 'fisherlab.js'),
        'pretrain-shard',
        '--settings',
        JSON.stringify(settings),
        '--shard',
        String(shard),
        '--shards',
        String(count),
      ];
      const child = spawn(process.execPath, args, {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
      });
      const queue: Waiter[] = [];
      let tail = '';
      child.stderr!.on('data', (d: Buffer) => {
        tail = (tail + d).slice(-4000);
      });
      child.on('message', (m: ShardReply) => queue.shift()?.resolve(m));
      const fail = (why: string) => {
        const error = new Error(
          `pretrain: the process of shard ${shard} of ${count} ${why}\n${tail.replace(/^fisherlab: TensorFlow.js backend.*\n/m, '')}`,
        );
        for (const w of queue.splice(0)) w.reject(error);
      };
      child.on('error', (e) => fail(`could not run (${e.message})`));
      child.on('exit', (code, signal) => fail(`stopped (${code ?? signal})`));
      children.push(child);
      waiters.push(queue);
    }
    const pool = new ShardProcesses(count, children, waiters);
    try {
      await Promise.all(children.map((_, i) => pool.next(i)));
    } catch (e) {
      pool.close();
      throw e;
    }
    return pool;
  }

  /** Sends step `step` at `weights` to every child; `gradients` gives shards 1..count-1 in shard order. */
  request(
    step: number,
    seed: number,
    weights: Map<string, Float32Array>,
  ): { sent: Promise<void>; gradients: Promise<ShardGradient[]> } {
    const message: ShardRequest = { step, seed, weights };
    const replies = this.children.map((_, i) => this.next(i));
    const sent = Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            child.send(message, (e) => (e ? reject(e) : resolve()));
          }),
      ),
    ).then(() => undefined);
    const gradients = Promise.all(replies).then((rs) =>
      rs.map((r) => {
        // `in` narrows the union in every compiler mode (tslab type-checks notebooks without strictNullChecks)
        if (!('grads' in r)) throw new Error('pretrain: a shard process answered out of turn');
        return { loss: r.loss, grads: r.grads };
      }),
    );
    gradients.catch(() => {}); // marked handled: the caller awaits `sent` first and may stop there on an error
    return { sent, gradients };
  }

  /** Stops the children. */
  close(): void {
    for (const child of this.children) {
      child.removeAllListeners('exit');
      if (child.connected) child.disconnect();
    }
  }

  private next(i: number): Promise<ShardReply> {
    if (this.children[i].exitCode !== null || this.children[i].signalCode !== null) {
      return Promise.reject(new Error(`pretrain: the process of shard ${i + 1} of ${this.count} has stopped`));
    }
    return new Promise((resolve, reject) => this.waiters[i].push({ resolve, reject }));
  }
}
