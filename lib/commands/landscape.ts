/** `fisherlab landscape`: a 2-D slice of the masked-LM loss around a model's weights (the paper's Figure 1). */
import { Command, Option } from 'commander';
import { defaultJobs, initBackend, JOBS_HELP } from '../backend';
import type { BiasBn } from '../landscape/directions';
import { runLandscape, saveSurface } from '../landscape/run';
import { FIGURE1_GRIDS } from '../landscape/figure1';
import { Grid, linspace } from '../landscape/surface';
import type { SurfaceMetadata } from '../landscape/surface-file';
import { defaultRunDir } from '../paths';
import { formatDuration } from '../util/progress';
import { number, positiveInt } from './options';
import { stopOnInterrupt } from '../util/run-dir';

interface LandscapeOpts {
  model?: string;
  fisher?: string;
  mask: string;
  grid: string;
  range: string;
  yRange?: string;
  evalExamples: string;
  evalSeed: string;
  examples?: string;
  seed?: string;
  biasbn?: string;
  directions?: string;
  batchSize: string;
  output: string;
  runDir?: string;
  stopAfter?: string;
  jobs: string;
  hdf5?: string;
  rows?: string;
  gridJson?: string;
}

/** Parses "MIN,MAX" with MIN ≤ MAX. */
function parseRange(text: string, flag: string): [number, number] {
  const parts = text.split(',');
  if (parts.length !== 2) throw new Error(`${flag}: expected MIN,MAX (got "${text}")`);
  const [lo, hi] = parts.map((p) => number(p, flag));
  if (!(lo <= hi)) throw new Error(`${flag}: MIN must not exceed MAX (got "${text}")`);
  return [lo, hi];
}

/** The grid of --grid N or NXxNY, --range and --y-range; a single row without --y-range lies at y = 0 (a 1-D slice along x). */
export function parseGrid(grid: string, range: string, yRange?: string): Grid {
  const m = /^(\d+)(?:x(\d+))?$/.exec(grid);
  if (!m) throw new Error(`--grid: expected N or NXxNY (got "${grid}")`);
  const nx = Number(m[1]);
  const ny = Number(m[2] ?? m[1]);
  if (nx < 1 || ny < 1) throw new Error(`--grid: sizes must be at least 1 (got "${grid}")`);
  const [x0, x1] = parseRange(range, '--range');
  if (yRange === undefined && ny === 1) return { x: linspace(x0, x1, nx), y: [0] };
  const [y0, y1] = yRange === undefined ? [x0, x1] : parseRange(yRange, '--y-range');
  return { x: linspace(x0, x1, nx), y: linspace(y0, y1, ny) };
}

/** Adds the `landscape` command. */
export function register(program: Command): void {
  program
    .command('landscape')
    .summary("loss surface around a model along two random directions (the paper's Figure 1; resumable)")
    .description(
      "compute the masked-LM loss at θ0 + x·d1 + y·d2 over a grid (Li et al. 2018, as the authors do for Figure 1): two seeded Gaussian directions, filter-normalized per row of every 2-D tensor, 1-D tensors (biases, LayerNorm) not perturbed unless --biasbn says otherwise; only the tensors of --mask move (all, or the top/bottom tensors by mean Fisher, split by tensor count as the authors do); the loss is the mean cross-entropy over the masked tokens of one fixed evaluation set (a seeded sub-sample of the pretraining corpus's training split, masked 15% once, or --examples; the embedded model's corpus includes the GLUE training text, so without --examples FISHERLAB_DATA must hold glue/), in evaluation mode. Writes JSON in the loss-landscape layout (xcoordinates, ycoordinates, train_loss with index nx·iy + ix) plus metadata. Progress with ETA on stderr; every finished point is saved in --run-dir and running the same command again resumes (Ctrl-C saves and stops).",
    )
    .option('--model <dir>', 'Hugging Face BertForMaskedLM folder (default: the embedded model)')
    .option('--fisher <file>', 'Fisher file of `fisherlab fisher` (needed by the top/bottom masks)')
    .requiredOption(
      '--mask <mask>',
      'all | top50 | bottom50 | top:K | bottom:K (K a percentage of tensors) | names:A,B,...',
    )
    .option(
      '--grid <n>',
      'points per axis: N, or NXxNY (NXx1 without --y-range: a 1-D slice along x at y = 0)',
      String(FIGURE1_GRIDS.full.points),
    )
    .option('--range <min,max>', 'x range (and y range unless --y-range)', FIGURE1_GRIDS.full.range.join(','))
    .option('--y-range <min,max>', 'y range (default: --range)')
    .option('--eval-examples <n>', 'sequences in the fixed evaluation set', '64')
    .option('--eval-seed <n>', "seed of the evaluation set's choice and masks", '0')
    .option(
      '--examples <file>',
      'JSONL of pre-masked examples {input_ids, labels, attention_mask?} to evaluate on, instead of the corpus',
    )
    .option('--seed <n>', 'seed of the two directions (default 0)')
    .option(
      '--biasbn <mode>',
      "1-D tensors: zero (the authors: not perturbed), copy (Li et al.: the weights themselves), normalize (Gaussian scaled to the tensor's norm) (default zero)",
    )
    .option(
      '--directions <file>',
      'safetensors file of the directions: read when it exists, else written (default: in the run folder)',
    )
    .option('--batch-size <n>', 'sequences per forward pass', '32')
    .requiredOption('--output <file>', 'surface JSON to write')
    .option(
      '--run-dir <dir>',
      'partial results (default: out/landscape/<name of --output>-<hash of its absolute path>)',
    )
    .option('--stop-after <n>', 'stop after this many points (saved); run again to continue')
    .option('--jobs <n>', `processes to split the grid's rows over (${JOBS_HELP})`, String(defaultJobs()))
    .option(
      '--hdf5 <file>',
      "also write the surface as HDF5 in the loss-landscape tool's layout (xcoordinates, ycoordinates, train_loss)",
    )
    .addOption(new Option('--rows <from:to>', 'only these rows of the grid (used by --jobs)').hideHelp())
    .addOption(new Option('--grid-json <json>', 'exact grid coordinates (used by --jobs)').hideHelp())
    .addHelpText(
      'after',
      '\nExamples:\n  npx fisherlab landscape --mask all --output out/landscape/all.json\n  npx fisherlab landscape --fisher out/fisher/embedded-1pct.safetensors --mask top50 --output out/landscape/top50.json\n  npx fisherlab landscape --mask all --jobs 2 --hdf5 out/landscape/all.h5 --output out/landscape/all.json\n  npx fisherlab landscape --mask all --grid 31x1 --range=-1,1 --output out/landscape/slice-x.json',
    )
    .action(async (opts: LandscapeOpts) => {
      const grid = opts.gridJson ? parseGridJson(opts.gridJson) : parseGrid(opts.grid, opts.range, opts.yRange);
      if (opts.biasbn !== undefined && !['zero', 'copy', 'normalize'].includes(opts.biasbn))
        throw new Error(`--biasbn: expected zero, copy or normalize (got "${opts.biasbn}")`);
      const jobs = positiveInt(opts.jobs, '--jobs');
      await initBackend();
      const interrupt = stopOnInterrupt('landscape', 'after this point');
      const r = await runLandscape({
        model: opts.model,
        fisher: opts.fisher,
        mask: opts.mask,
        grid,
        evalExamples: number(opts.evalExamples, '--eval-examples'),
        evalSeed: number(opts.evalSeed, '--eval-seed'),
        examples: opts.examples,
        seed: opts.seed === undefined ? undefined : number(opts.seed, '--seed'),
        biasbn: opts.biasbn as BiasBn | undefined,
        directions: opts.directions,
        batchSize: number(opts.batchSize, '--batch-size'),
        runDir: opts.runDir ?? defaultRunDir('landscape', opts.output),
        rows: opts.rows === undefined ? undefined : parseRows(opts.rows, grid.y.length),
        jobs,
        stopAfter: opts.stopAfter === undefined ? undefined : number(opts.stopAfter, '--stop-after'),
        shouldStop: interrupt.stopped,
      }).finally(interrupt.dispose);
      if (!r.surface) {
        console.error(`landscape: stopped after ${r.done} of ${r.total} points; run the same command again to resume`);
        return;
      }
      await saveSurface(r.surface, opts.output, opts.hdf5);
      const m = r.surface.metadata as SurfaceMetadata;
      console.log(
        `wrote ${opts.output}${opts.hdf5 ? ` and ${opts.hdf5}` : ''}: ${r.surface.x.length}×${r.surface.y.length} points, mask ${m.mask} (${m.perturbed_tensors} tensors perturbed), lowest loss ${Math.min(...r.surface.loss).toFixed(4)}, ${r.pointsPerSecond.toFixed(3)} points/s, ${formatDuration(r.seconds)}`,
      );
    });
}

/** Parses the hidden --grid-json option (exact coordinates passed from a parent process). */
function parseGridJson(text: string): Grid {
  const g = JSON.parse(text) as Grid;
  if (
    !Array.isArray(g.x) ||
    !Array.isArray(g.y) ||
    ![...g.x, ...g.y].every((v) => typeof v === 'number' && Number.isFinite(v))
  )
    throw new Error('--grid-json: expected {"x": [numbers], "y": [numbers]}');
  return g;
}

/** Parses --rows FROM:TO (0-based, TO excluded) within a grid of `ny` rows. */
function parseRows(text: string, ny: number): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m || !(Number(m[1]) < Number(m[2]) && Number(m[2]) <= ny))
    throw new Error(`--rows: expected FROM:TO with 0 ≤ FROM < TO ≤ ${ny} (got "${text}")`);
  return [Number(m[1]), Number(m[2])];
}
