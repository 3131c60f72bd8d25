/** `fisherlab landscape`: a 2-D slice of the masked-LM loss around a model's weights (the paper's Figure 1). */
import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../backend';
import { loadBert } from '../bert/load';
import { fisherlabVersion, readFisher } from '../fisher';
import { corpusSamples, pretrainingRecipe } from '../fisher-samples';
import { BiasBn, DirectionPair, axisSeeds, directionPair, readDirections, writeDirections } from '../landscape/directions';
import { maskLabel, maskPair, maskedTensors, parseMask } from '../landscape/masks';
import { Grid, linspace, sweep } from '../landscape/surface';
import { SurfaceMetadata, writeSurface } from '../landscape/surface-file';
import { MaskedExample, readMaskedExamples } from '../mlm-data';
import { resolveModelDir } from '../models';
import { outputDir } from '../paths';
import { formatDuration } from '../progress';
import { loadTokenizer } from '../tokenizer';

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
}

/** Parses a numeric option, naming it on error. */
function number(value: string, flag: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v)) throw new Error(`${flag}: "${value}" is not a number`);
  return v;
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
    .summary('loss surface around a model along two random directions (the paper\'s Figure 1; resumable)')
    .description('compute the masked-LM loss at θ0 + x·d1 + y·d2 over a grid (Li et al. 2018, as the authors do for Figure 1): two seeded Gaussian directions, filter-normalized per row of every 2-D tensor, 1-D tensors (biases, LayerNorm) not perturbed unless --biasbn says otherwise; only the tensors of --mask move (all, or the top/bottom tensors by mean Fisher, split by tensor count as the authors do); the loss is the mean cross-entropy over the masked tokens of one fixed evaluation set (a seeded sub-sample of the pretraining corpus\'s training split, masked 15% once, or --examples), in evaluation mode. Writes JSON in the loss-landscape layout (xcoordinates, ycoordinates, train_loss with index nx·iy + ix) plus metadata. Progress with ETA on stderr; every finished point is saved in --run-dir and running the same command again resumes (Ctrl-C saves and stops).')
    .option('--model <dir>', 'Hugging Face BertForMaskedLM folder (default: the embedded model)')
    .option('--fisher <file>', 'Fisher file of `fisherlab fisher` (needed by the top/bottom masks)')
    .requiredOption('--mask <mask>', 'all | top50 | bottom50 | top:K | bottom:K (K a percentage of tensors) | names:A,B,...')
    .option('--grid <n>', 'points per axis: N, or NXxNY (NXx1 without --y-range: a 1-D slice along x at y = 0)', '16')
    .option('--range <min,max>', 'x range (and y range unless --y-range)', '-1.5,1.5')
    .option('--y-range <min,max>', 'y range (default: --range)')
    .option('--eval-examples <n>', 'sequences in the fixed evaluation set', '64')
    .option('--eval-seed <n>', 'seed of the evaluation set\'s choice and masks', '0')
    .option('--examples <file>', 'JSONL of pre-masked examples {input_ids, labels, attention_mask?} to evaluate on, instead of the corpus')
    .option('--seed <n>', 'seed of the two directions (default 0)')
    .option('--biasbn <mode>', '1-D tensors: zero (the authors: not perturbed), copy (Li et al.: the weights themselves), normalize (Gaussian scaled to the tensor\'s norm) (default zero)')
    .option('--directions <file>', 'safetensors file of the directions: read when it exists, else written (default: in the run folder)')
    .option('--batch-size <n>', 'sequences per forward pass', '32')
    .requiredOption('--output <file>', 'surface JSON to write')
    .option('--run-dir <dir>', 'partial results (default: out/landscape/<name of --output>)')
    .option('--stop-after <n>', 'stop after this many points (saved); run again to continue')
    .addHelpText('after', '\nExamples:\n  npx fisherlab landscape --mask all --output out/landscape/all.json\n  npx fisherlab landscape --fisher out/fisher/embedded-1pct.safetensors --mask top50 --output out/landscape/top50.json\n  npx fisherlab landscape --mask all --grid 31x1 --range=-1,1 --output out/landscape/slice-x.json')
    .action(async (opts: LandscapeOpts) => {
      const spec = parseMask(opts.mask);
      const grid = parseGrid(opts.grid, opts.range, opts.yRange);
      if (opts.biasbn !== undefined && !['zero', 'copy', 'normalize'].includes(opts.biasbn)) throw new Error(`--biasbn: expected zero, copy or normalize (got "${opts.biasbn}")`);
      await initBackend();
      const dir = resolveModelDir(opts.model);
      const { model } = loadBert(dir);
      if (!model.parts.mlm) throw new Error(`${dir}: the model has no masked-LM head (cls.predictions.*); the landscape of the pretraining loss needs a BertForMaskedLM`);
      const names = model.namedParameters().map(([n]) => n);
      const fisher = opts.fisher === undefined ? undefined : readFisher(opts.fisher).tensors;
      const tensors = maskedTensors(spec, names, fisher);

      const runDir = opts.runDir ?? path.join(outputDir(), 'landscape', path.basename(opts.output).replace(/\.json$/, ''));
      const dirFile = opts.directions ?? path.join(runDir, 'directions.safetensors');
      const weights = model.toWeights();
      let seed = opts.seed === undefined ? 0 : number(opts.seed, '--seed');
      let biasbn = (opts.biasbn ?? 'zero') as BiasBn;
      let pair: DirectionPair;
      if (fs.existsSync(dirFile)) {
        const read = readDirections(dirFile, weights);
        const saved = { seed: Number(read.metadata.seed), biasbn: read.metadata.biasbn as BiasBn };
        if ((opts.seed !== undefined && saved.seed !== seed) || (opts.biasbn !== undefined && saved.biasbn !== biasbn)) {
          throw new Error(`${dirFile} holds directions of seed ${saved.seed}, biasbn ${saved.biasbn}; drop --seed/--biasbn or use another --directions file`);
        }
        ({ seed, biasbn } = saved);
        pair = read.pair;
        console.error(`landscape: directions from ${dirFile} (seed ${seed}, biasbn ${biasbn})`);
      } else {
        pair = directionPair(weights, seed, biasbn);
        fs.mkdirSync(path.dirname(path.resolve(dirFile)), { recursive: true });
        writeDirections(dirFile, pair, { model: dir, seed: String(seed), biasbn, normalization: 'filter (rows of 2-D tensors)' });
        console.error(`landscape: wrote directions to ${dirFile}`);
      }

      let examples: MaskedExample[];
      let source: string;
      const evalSeed = number(opts.evalSeed, '--eval-seed');
      if (opts.examples !== undefined) {
        examples = readMaskedExamples(opts.examples, { vocabSize: model.config.vocab_size });
        source = path.resolve(opts.examples);
      } else {
        const recipe = pretrainingRecipe(dir);
        examples = corpusSamples(loadTokenizer(dir), recipe, { samples: number(opts.evalExamples, '--eval-examples') }, evalSeed).examples;
        source = `training split of ${recipe.corpus} (${recipe.maxLength} tokens per sequence, 15% masked once; recipe: ${recipe.source})`;
      }
      const batchSize = number(opts.batchSize, '--batch-size');
      let interrupted = false;
      process.once('SIGINT', () => {
        interrupted = true;
        console.error('landscape: interrupted; saving after this point');
      });
      const masked = maskPair(pair, tensors);
      const result = await sweep({
        model, pair: masked, grid, examples, padId: model.config.pad_token_id, batchSize, runDir,
        settings: { model: dir, mask: maskLabel(spec), fisher: opts.fisher ? path.resolve(opts.fisher) : '', directions: path.resolve(dirFile) },
        stopAfter: opts.stopAfter === undefined ? undefined : number(opts.stopAfter, '--stop-after'),
        shouldStop: () => interrupted,
      });
      if (!result.loss) {
        console.error(`landscape: stopped after ${result.done} of ${grid.x.length * grid.y.length} points; run the same command again to resume`);
      } else {
        const perturbed = tensors.filter((n) => masked.x.get(n)!.data.some((v) => v !== 0) || masked.y.get(n)!.data.some((v) => v !== 0));
        const metadata: SurfaceMetadata = {
          model: dir, mask: maskLabel(spec), tensors, fisher: opts.fisher ? path.resolve(opts.fisher) : null,
          seed, direction_seeds: axisSeeds(seed), biasbn, directions: path.resolve(dirFile),
          perturbed_tensors: perturbed.length,
          perturbed_parameters: perturbed.reduce((s, n) => s + weights.get(n)!.data.length, 0),
          grid: { nx: grid.x.length, ny: grid.y.length },
          eval: { source, examples: examples.length, masked_tokens: result.maskedTokens, seed: opts.examples === undefined ? evalSeed : null, batch_size: batchSize },
          loss: 'masked-LM cross-entropy (nats), mean over the masked tokens of the evaluation set, evaluation mode',
          points_per_second: result.pointsPerSecond,
          fisherlab_version: fisherlabVersion(),
        };
        writeSurface(opts.output, { x: grid.x, y: grid.y, loss: result.loss, metadata });
        const lowest = Math.min(...result.loss);
        console.log(`wrote ${opts.output}: ${grid.x.length}×${grid.y.length} points, mask ${maskLabel(spec)} (${perturbed.length} tensors perturbed), lowest loss ${lowest.toFixed(4)}, ${result.pointsPerSecond.toFixed(2)} points/s, ${formatDuration(result.seconds)}`);
      }
      model.dispose();
    });
}
