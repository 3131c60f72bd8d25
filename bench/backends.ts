/**
 * Side by side on every backend: a bench script calls `benchEachBackend()` first; run plainly, it runs the script
 * again once per backend (FISHERLAB_BACKEND set), shows each run's output, and ends with a table of the figures
 * each run reported through `headline`, with GFLOP/s against the machine's peak and the ratio to wasm.
 */
import { spawnSync } from 'child_process';
import * as os from 'os';

/** The backends every bench compares, in this order. */
const BACKENDS = ['wasm', 'tensorflow'];

/**
 * fp32 peak of the project's machines, as measured: the best square matMul of `bench/matmul.ts` on the native
 * backend, 397 GFLOP/s on 2 threads (one thread: 212) on 2026-12-06. The same bench gave 209 (111) on 2026-12-05,
 * and figures printed before then divided by 150: the machine under the project changed, so compare "% of peak"
 * only between runs of one day.
 */
export const PEAK_GFLOPS = 400;

const TAG = 'bench-headline ';

interface Headline {
  label: string;
  value: number;
  gflops: number;
}

/**
 * Runs this script once per backend and prints the comparison, returning true (the caller then stops); under
 * FISHERLAB_BACKEND it returns false, and the caller runs the bench on that backend.
 */
export function benchEachBackend(): boolean {
  if (process.env.FISHERLAB_BACKEND) return false;
  const results: Array<{ backend: string; headlines: Headline[]; failure: string | null }> = [];
  for (const backend of BACKENDS) {
    console.log(`=== FISHERLAB_BACKEND=${backend}`);
    const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, FISHERLAB_BACKEND: backend },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const lines = (r.stdout ?? '').split('\n');
    process.stdout.write(lines.filter((l) => !l.startsWith(TAG)).join('\n'));
    const headlines = lines.filter((l) => l.startsWith(TAG)).map((l) => JSON.parse(l.slice(TAG.length)) as Headline);
    results.push({ backend, headlines, failure: r.status === 0 ? null : `exit ${r.status ?? r.signal}` });
  }
  const labels = [...new Set(results.flatMap((r) => r.headlines.map((h) => h.label)))];
  const width = Math.max(22, ...labels.map((l) => l.length));
  const cores = os.availableParallelism();
  console.log(
    `=== side by side, ${cores} cores; machine fp32 peak ≈ ${PEAK_GFLOPS} GFLOP/s (wasm: one thread per process)`,
  );
  console.log(
    `${'figure'.padEnd(width)} ${'backend'.padEnd(12)} ${'value'.padStart(10)} ${'GFLOP/s'.padStart(8)} ${'% of peak'.padStart(10)} ${'vs wasm'.padStart(8)}`,
  );
  for (const label of labels.length ? labels : ['figure']) {
    const base = results.find((r) => r.backend === 'wasm')?.headlines.find((h) => h.label === label);
    for (const { backend, headlines, failure } of results) {
      const h = headlines.find((x) => x.label === label);
      if (!h) {
        console.log(`${label.padEnd(width)} ${backend.padEnd(12)} did not run (${failure ?? 'no figure'})`);
        continue;
      }
      const ratio = base ? `${(h.value / base.value).toFixed(2)}×` : '—';
      const peak = `${((100 * h.gflops) / PEAK_GFLOPS).toFixed(0)}%`;
      console.log(
        `${label.padEnd(width)} ${backend.padEnd(12)} ${h.value.toPrecision(4).padStart(10)} ${h.gflops.toFixed(1).padStart(8)} ${peak.padStart(10)} ${ratio.padStart(8)}`,
      );
    }
  }
  if (results.some((r) => r.failure)) process.exitCode = 1;
  return true;
}

/** Reports a figure the backends are compared on (for example 'steps/s'), with the GFLOP/s it achieved; a bench may report several. */
export function headline(label: string, value: number, gflops: number): void {
  console.log(TAG + JSON.stringify({ label, value, gflops }));
}
