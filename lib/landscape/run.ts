/**
 * One loss-surface job from files to a surface file: load the model, make or read the directions, mask them,
 * build the fixed evaluation set, sweep the grid (in this process, or split by rows over several `fisherlab
 * landscape` processes sharing the cores) and write the surface with its metadata. The CLI and the
 * notebooks both call `runLandscape`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendName } from '../backend';
import { loadMaskedLm } from '../bert/load';
import { runFisherlab, runLanes } from '../util/child-process';
import type { Bert } from '../bert/model';
import { fisherlabVersion, readFisher } from '../fisher/estimate';
import { corpusSamples, pretrainingRecipe } from '../fisher/samples';
import { MaskedExample, readMaskedExamples, writeMaskedExamples } from '../pretrain/mlm-data';
import { resolveModelDir } from '../bert/model-dir';
import { projectRelative } from '../paths';
import { loadTokenizer } from '../bert/tokenizer';
import { BiasBn, DirectionPair, axisSeeds, directionPair, readDirections, writeDirections } from './directions';
import { maskLabel, maskPair, maskedTensors, parseMask } from './masks';
import { Grid, sweep } from './surface';
import { LossSurface, readSurface, SurfaceMetadata, writeSurface } from './surface-file';
import { writeSurfaceHdf5 } from './surface-hdf5';
import type { RunControl } from '../util/run-dir';

/** What a landscape job needs; `shouldStop` is polled after every point. */
export interface LandscapeJob extends RunControl {
  /** Hugging Face BertForMaskedLM folder (default: the embedded model). */
  model?: string;
  /** Fisher file, needed by the top/bottom masks. */
  fisher?: string;
  /** all | top50 | bottom50 | top:K | bottom:K | names:A,B,... */
  mask: string;
  grid: Grid;
  /** Sequences in the fixed evaluation set drawn from the pretraining corpus (default 64). */
  evalExamples?: number;
  /** Seed of the evaluation set's choice and masks (default 0). */
  evalSeed?: number;
  /** JSONL of pre-masked examples to evaluate on instead of the corpus. */
  examples?: string;
  /** Seed of the directions (default 0; must match a saved directions file). */
  seed?: number;
  /** 1-D tensors: zero (default), copy or normalize. */
  biasbn?: BiasBn;
  /** Directions file: read when it exists, else written (default: runDir/directions.safetensors). */
  directions?: string;
  /** Sequences per forward pass (default 32). */
  batchSize?: number;
  /** Folder of partial results; a rerun resumes from it. */
  runDir: string;
  /** Only the rows [from, to) of the grid (a part of a split job). */
  rows?: [number, number];
  /** Processes to split the rows over (default 1: this process). */
  jobs?: number;
  /** Stop (saving) once this many points are done in total; run again to continue. */
  stopAfter?: number;
}

/** The finished surface, or null when the job stopped early (saved; run again to resume). */
export interface LandscapeResult {
  surface: LossSurface | null;
  done: number;
  total: number;
  pointsPerSecond: number;
  seconds: number;
}

/** Computes the surface of a job, resuming from its run folder. */
export async function runLandscape(job: LandscapeJob): Promise<LandscapeResult> {
  const spec = parseMask(job.mask);
  const say = job.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dir = resolveModelDir(job.model);
  const model = loadMaskedLm(dir, 'landscape', say);
  try {
    const names = model.namedParameters().map(([n]) => n);
    const fisher = job.fisher === undefined ? undefined : readFisher(job.fisher, { model: dir }).tensors;
    const tensors = maskedTensors(spec, names, fisher);
    const weights = model.toWeights();
    const dirFile = job.directions ?? path.join(job.runDir, 'directions.safetensors');
    const { pair, seed, biasbn } = directionsFor(dirFile, weights, dir, job, say);
    const masked = maskPair(pair, tensors);
    const evalSet = evaluationSet(job, dir, model);
    const batchSize = job.batchSize ?? 32;
    const settings = {
      model: projectRelative(dir),
      mask: maskLabel(spec),
      fisher: job.fisher ? projectRelative(job.fisher) : '',
      directions: projectRelative(dirFile),
    };
    const grid = job.rows ? { x: job.grid.x, y: job.grid.y.slice(...job.rows) } : job.grid;
    const total = grid.x.length * grid.y.length;

    const began = Date.now();
    let loss: number[] | null;
    let done: number;
    let computed: number;
    let maskedTokens: number;
    if ((job.jobs ?? 1) > 1 && !job.rows) {
      ({ loss, done, computed, maskedTokens } = await splitOverProcesses(job, dir, dirFile, evalSet.examples, say));
    } else {
      const r = await sweep({
        model,
        pair: masked,
        grid,
        examples: evalSet.examples,
        padId: model.config.pad_token_id,
        batchSize,
        runDir: job.runDir,
        settings,
        stopAfter: job.stopAfter,
        shouldStop: job.shouldStop,
        write: job.write,
        progressIntervalMs: job.progressIntervalMs,
      });
      ({ loss, done, maskedTokens } = r);
      computed = r.done - r.resumedFrom;
    }
    const seconds = (Date.now() - began) / 1000;
    const pointsPerSecond = computed / Math.max(seconds, 1e-9);
    if (!loss) return { surface: null, done, total, pointsPerSecond, seconds };
    const perturbed = tensors.filter(
      (n) => masked.x.get(n)!.data.some((v) => v !== 0) || masked.y.get(n)!.data.some((v) => v !== 0),
    );
    const metadata: SurfaceMetadata = {
      model: settings.model,
      mask: maskLabel(spec),
      tensors,
      fisher: settings.fisher || null,
      seed,
      direction_seeds: axisSeeds(seed),
      biasbn,
      directions: settings.directions,
      perturbed_tensors: perturbed.length,
      perturbed_parameters: perturbed.reduce((s, n) => s + weights.get(n)!.data.length, 0),
      grid: { nx: grid.x.length, ny: grid.y.length },
      eval: {
        source: evalSet.source,
        examples: evalSet.examples.length,
        masked_tokens: maskedTokens,
        seed: job.examples === undefined ? (job.evalSeed ?? 0) : null,
        batch_size: batchSize,
      },
      loss: 'masked-LM cross-entropy (nats), mean over the masked tokens of the evaluation set, evaluation mode',
      points_per_second: pointsPerSecond,
      processes: job.rows ? 1 : (job.jobs ?? 1),
      fisherlab_version: fisherlabVersion(),
      backend: backendName(),
    };
    return { surface: { x: grid.x, y: grid.y, loss, metadata }, done, total, pointsPerSecond, seconds };
  } finally {
    model.dispose();
  }
}

/** Writes a surface as JSON and, when `hdf5` is given, also as HDF5 in the loss-landscape layout. */
export async function saveSurface(surface: LossSurface, json: string, hdf5?: string): Promise<void> {
  writeSurface(json, surface);
  if (hdf5) await writeSurfaceHdf5(hdf5, surface);
}

/** Reads the directions file when it exists (checking seed and biasbn against the job's), else makes and writes it. */
function directionsFor(
  dirFile: string,
  weights: ReturnType<Bert['toWeights']>,
  modelDir: string,
  job: LandscapeJob,
  say: (line: string) => void,
): { pair: DirectionPair; seed: number; biasbn: BiasBn } {
  if (fs.existsSync(dirFile)) {
    const read = readDirections(dirFile, weights);
    const seed = Number(read.metadata.seed);
    const biasbn = read.metadata.biasbn as BiasBn;
    if ((job.seed !== undefined && job.seed !== seed) || (job.biasbn !== undefined && job.biasbn !== biasbn)) {
      throw new Error(
        `${dirFile} holds directions of seed ${seed}, biasbn ${biasbn}; drop --seed/--biasbn or use another --directions file`,
      );
    }
    if (!job.rows) say(`landscape: directions from ${dirFile} (seed ${seed}, biasbn ${biasbn})`);
    return { pair: read.pair, seed, biasbn };
  }
  const seed = job.seed ?? 0;
  const biasbn = job.biasbn ?? 'zero';
  const pair = directionPair(weights, seed, biasbn);
  fs.mkdirSync(path.dirname(path.resolve(dirFile)), { recursive: true });
  writeDirections(dirFile, pair, {
    model: modelDir,
    seed: String(seed),
    biasbn,
    normalization: 'filter (rows of 2-D tensors)',
  });
  say(`landscape: wrote directions to ${dirFile}`);
  return { pair, seed, biasbn };
}

/** The fixed evaluation set: the job's examples file, or a seeded sample of the pretraining corpus masked once. */
function evaluationSet(
  job: LandscapeJob,
  modelDir: string,
  model: Bert,
): { examples: MaskedExample[]; source: string } {
  if (job.examples !== undefined)
    return {
      examples: readMaskedExamples(job.examples, { vocabSize: model.config.vocab_size }),
      source: path.resolve(job.examples),
    };
  const recipe = pretrainingRecipe(modelDir);
  const { examples } = corpusSamples(
    loadTokenizer(modelDir),
    recipe,
    { samples: job.evalExamples ?? 64 },
    job.evalSeed ?? 0,
  );
  return {
    examples,
    source: `training split of ${recipe.corpus} (${recipe.maxLength} tokens per sequence, 15% masked once; recipe: ${recipe.source})`,
  };
}

/** Runs the job's rows in `jobs` child processes (contiguous blocks, each resumable in its own folder) and joins their surfaces. */
async function splitOverProcesses(
  job: LandscapeJob,
  modelDir: string,
  dirFile: string,
  examples: readonly MaskedExample[],
  say: (line: string) => void,
): Promise<{ loss: number[] | null; done: number; computed: number; maskedTokens: number }> {
  const ny = job.grid.y.length;
  const jobs = Math.min(job.jobs ?? 1, ny);
  const examplesFile = path.join(job.runDir, 'eval-examples.jsonl');
  fs.mkdirSync(job.runDir, { recursive: true });
  writeMaskedExamples(examplesFile, examples);
  const blocks = Array.from(
    { length: jobs },
    (_, j) => [Math.round((j * ny) / jobs), Math.round(((j + 1) * ny) / jobs)] as [number, number],
  );
  say(`landscape: ${ny} rows over ${jobs} processes (rows ${blocks.map(([a, b]) => `${a}–${b - 1}`).join(', ')})`);
  const gridArg = JSON.stringify(job.grid);
  const doneIn = (part: string) => {
    const saved = path.join(part, 'points.json');
    return fs.existsSync(saved) ? (JSON.parse(fs.readFileSync(saved, 'utf8')) as { done: number }).done : 0;
  };
  const before = blocks.reduce((s, [a, b]) => s + doneIn(path.join(job.runDir, `rows-${a}-${b}`)), 0);
  const parts = await runLanes(blocks, blocks.length, async ([a, b]) => {
    const part = path.join(job.runDir, `rows-${a}-${b}`);
    const output = `${part}.json`;
    if (fs.existsSync(output)) fs.rmSync(output);
    const args = [
      'landscape',
      '--model',
      modelDir,
      '--mask',
      job.mask,
      '--grid-json',
      gridArg,
      '--rows',
      `${a}:${b}`,
      '--examples',
      examplesFile,
      '--directions',
      dirFile,
      '--batch-size',
      String(job.batchSize ?? 32),
      '--run-dir',
      part,
      '--output',
      output,
      ...(job.fisher ? ['--fisher', job.fisher] : []),
      ...(job.stopAfter !== undefined ? ['--stop-after', String(Math.ceil((job.stopAfter * (b - a)) / ny))] : []),
    ];
    await runFisherlab(args, {
      onLine: (line) => say(`[rows ${a}–${b - 1}] ${line}`),
      interruptOk: true,
      share: jobs,
    });
    if (!fs.existsSync(output)) return { loss: null, done: doneIn(part), maskedTokens: 0 };
    const s = readSurface(output);
    return {
      loss: s.loss,
      done: s.loss.length,
      maskedTokens: (s.metadata.eval as { masked_tokens: number }).masked_tokens,
    };
  });
  const done = parts.reduce((s, p) => s + p.done, 0);
  const complete = parts.every((p) => p.loss);
  return {
    loss: complete ? parts.flatMap((p) => p.loss!) : null,
    done,
    computed: done - before,
    maskedTokens: parts[0].maskedTokens,
  };
}
