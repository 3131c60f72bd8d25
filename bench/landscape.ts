/**
 * Loss-surface grid points per second on a model folder (default: the embedded model), in this process and
 * split over worker processes (`--jobs`), with GFLOP/s: the matMul FLOPs of one forward pass over the
 * evaluation set (encoder, attention, MLM head at the masked positions) per point.
 *
 * The default, 64 points, is the size of one quick-mode Figure 1 surface (8 × 8), the smallest surface a user runs;
 * child processes' start-up (about 1.5 s each) is included, as a user pays it.
 *
 *   npx tsx bench/landscape.ts [--model DIR] [--points 64] [--eval-examples 64] [--jobs 1,2]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from 'node:util';
import { initBackend } from '../lib/backend';
import { parseConfig } from '../lib/bert/config';
import { forwardFlops } from '../lib/train/cost';
import { pretrainingRecipe } from '../lib/fisher/samples';
import { FIGURE1_GRIDS } from '../lib/landscape/figure1';
import { runLandscape } from '../lib/landscape/run';
import { linspace } from '../lib/landscape/surface';
import { resolveModelDir } from '../lib/bert/model-dir';
import { benchEachBackend, headline } from './backends';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    points: { type: 'string', default: String(FIGURE1_GRIDS.quick.points ** 2) },
    'eval-examples': { type: 'string', default: '64' },
    jobs: { type: 'string', default: '1,2' },
  },
});
if (benchEachBackend()) process.exit();
const points = Number(values.points);
const evalExamples = Number(values['eval-examples']);
const backend = await initBackend();
const modelDir = resolveModelDir(values.model);
const cfg = parseConfig(JSON.parse(fs.readFileSync(path.join(modelDir, 'config.json'), 'utf8')));
const { hidden_size: H, num_hidden_layers: L, vocab_size: V } = cfg;
// The evaluation sequences are packed to the pretraining length.
const tokens = pretrainingRecipe(modelDir).maxLength;

// `points` rows × 1 column of the quick Figure 1 range, so that --jobs splits it evenly.
const { range } = FIGURE1_GRIDS.quick;
const grid = { x: [0.25], y: linspace(range[0], range[1], points) };
console.log(
  `model ${modelDir} (L${L} H${H} V${V}), backend ${backend}, ${points} points, ${evalExamples} evaluation sequences, ${os.cpus().length} cores`,
);
// lib/train/cost.ts counts the full pass; the last layer runs at masked rows only, so GFLOP/s are of equivalent work
console.log(`${'processes'.padEnd(10)} ${'seconds'.padStart(8)} ${'points/s'.padStart(9)} ${'GFLOP/s'.padStart(8)}`);
let best = { rate: 0, gflops: 0 };
for (const jobs of values.jobs.split(',').map(Number)) {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-bench-landscape-'));
  const r = await runLandscape({ model: modelDir, mask: 'all', grid, evalExamples, runDir, jobs, write: () => {} });
  const meta = r.surface!.metadata as { eval: { masked_tokens: number; examples: number } };
  const flopsPerPoint = forwardFlops(cfg, { sequences: meta.eval.examples, tokens, masked: meta.eval.masked_tokens });
  const gflops = (r.pointsPerSecond * flopsPerPoint) / 1e9;
  console.log(
    `${String(jobs).padEnd(10)} ${r.seconds.toFixed(1).padStart(8)} ${r.pointsPerSecond.toFixed(3).padStart(9)} ${gflops.toFixed(2).padStart(8)}`,
  );
  if (r.pointsPerSecond > best.rate) best = { rate: r.pointsPerSecond, gflops };
  fs.rmSync(runDir, { recursive: true, force: true });
}
headline('points/s (best --jobs)', best.rate, best.gflops);
