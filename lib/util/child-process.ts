/** Running `fisherlab` commands in child processes (the cores shared among them: `sharedEnv`), and work items a few at a time, so that jobs use several cores. */
import { spawn } from 'child_process';
import * as path from 'path';
import { projectRoot } from '../paths';
import { sharedEnv } from '../backend';

/** Options of `runFisherlab`. */
export interface ChildOptions {
  /** Receives each line the child writes to stderr (its progress), except the backend banner. */
  onLine?: (line: string) => void;
  /** Treat a child stopped by Ctrl-C (SIGINT, after saving its state) as a success. */
  interruptOk?: boolean;
  /** Processes (this child included) that run at once and share the cores and memory (default 1; see `sharedEnv`). */
  share?: number;
  /** Polled every 200 ms while the child runs: once true, the child gets SIGINT (it saves and stops, as on Ctrl-C). */
  shouldStop?: () => boolean;
}

/** Runs `fisherlab ARGS` in a child process; rejects with the command and the end of its stderr when it fails. */
export function runFisherlab(args: string[], o: ChildOptions = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'fisherlab.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: sharedEnv(o.share ?? 1),
    });
    let tail = '';
    let partial = '';
    child.stderr.on('data', (d: Buffer) => {
      tail = (tail + d).slice(-4000);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines)
        if (line.trim() && !line.startsWith('fisherlab: TensorFlow.js backend')) o.onLine?.(line);
    });
    const poll =
      o.shouldStop &&
      setInterval(() => {
        if (!o.shouldStop!()) return;
        child.kill('SIGINT');
        clearInterval(poll!);
      }, 200);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (poll) clearInterval(poll);
      if (code === 0 || (o.interruptOk && signal === 'SIGINT')) resolve();
      else reject(new Error(`fisherlab ${args[0]} failed (${code ?? signal}): fisherlab ${args.join(' ')}\n${tail}`));
    });
  });
}

/**
 * Runs `work` on every item, at most `jobs` at a time, starting them in order; resolves with the results in input
 * order. After the first failure no further item starts, and the promise rejects with that failure once the
 * running items end.
 */
export async function runLanes<T, R>(
  items: readonly T[],
  jobs: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`runLanes: jobs must be a positive integer (got ${jobs})`);
  const results = new Array<R>(items.length);
  const failures: unknown[] = [];
  let next = 0;
  const lane = async () => {
    while (failures.length === 0 && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i], i);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, lane));
  if (failures.length > 0) throw failures[0];
  return results;
}
