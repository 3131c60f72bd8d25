/**
 * The sweeps behind the paper's GLUE results for one model (notebooks 06–08): Table 2 at full data, Figure 4's
 * training-set sizes, and many restarts of one cell. They share one results folder: a cell run for one design
 * is not run again for another.
 */
import * as fs from 'fs';
import * as path from 'path';
import { FINETUNE_DEFAULTS } from '../glue/finetune';
import { onePercentFisher } from '../fisher/one-percent';
import { glueDataDir } from '../glue/load';
import { resolveModelDir } from '../bert/model-dir';
import { outputDir } from '../paths';
import { pretrainedOnGlueText } from '../pretrain/glue-text';
import { shippedPath } from '../shipped';
import { describeRecipe, modelRecipe, recipeSettings } from '../glue/recipes';
import { readSweepResults, RESULTS_FILE, runSweep } from './run';
import type { SweepRecord, SweepSpec, TrainingSettings } from './run';

/** One design: the cells it needs, and what it is for. */
export interface SweepDesign {
  name: string;
  purpose: string;
  cells: Array<Pick<SweepSpec, 'tasks' | 'pcts' | 'seeds'>>;
}

/** The methods of every design: the paper's three, and the two controls that separate the Fisher's ordering from guided's lower mean p. */
export const DESIGN_METHODS = ['standard', 'guided', 'gaussian', 'uniform-mean', 'shuffled'] as const;

/** Seeds 1..n. */
const seeds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * The designs. Percentages 10, 50 and 100 (the paper's Lodha comparison reports 100 and 50); SST-2 (54,576
 * training sentences under the authors' split) only at 1, 5 and 10%, WNLI (564) only at full size. Restarts use
 * CoLA at 25%, where single runs vary most. Five seeds per cell (ten for the restarts), so that a paired t-test
 * with a Holm correction can see effects of a few points: 450 fine-tuning runs in all, of which Table 2 and Figure 4
 * share the runs at each task's largest size.
 */
export const DESIGNS: readonly SweepDesign[] = [
  {
    name: 'table2',
    purpose: 'Table 2: every task at its largest size, 5 seeds',
    cells: [
      { tasks: ['CoLA', 'MRPC', 'STS-B', 'RTE', 'WNLI'], pcts: [100], seeds: seeds(5) },
      { tasks: ['SST-2'], pcts: [10], seeds: seeds(5) },
    ],
  },
  {
    name: 'paucity',
    purpose: 'Figure 4: score against training-set size, 5 seeds',
    cells: [
      { tasks: ['CoLA', 'MRPC', 'STS-B', 'RTE'], pcts: [10, 50, 100], seeds: seeds(5) },
      { tasks: ['SST-2'], pcts: [1, 5, 10], seeds: seeds(5) },
    ],
  },
  {
    name: 'restarts',
    purpose: 'fine-tuning stability: CoLA at 25% over 10 seeds',
    cells: [{ tasks: ['CoLA'], pcts: [25], seeds: seeds(10) }],
  },
];

/** The designs named in a comma-separated list (`all` for every one). */
export function parseDesigns(text: string): SweepDesign[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.includes('all')) return [...DESIGNS];
  return names.map((n) => {
    const d = DESIGNS.find((x) => x.name === n);
    if (!d) throw new Error(`unknown design "${n}" (designs: ${DESIGNS.map((x) => x.name).join(', ')}, all)`);
    return d;
  });
}

/** The sweep specs of some designs on top of the shared settings: one spec per cell group, in design order. */
export function designSpecs(
  designs: readonly SweepDesign[],
  base: Omit<SweepSpec, 'tasks' | 'pcts' | 'seeds' | 'methods'>,
): SweepSpec[] {
  return designs.flatMap((d) =>
    d.cells.map((c) => ({ ...base, methods: [...DESIGN_METHODS], tasks: c.tasks, pcts: c.pcts, seeds: c.seeds })),
  );
}

/**
 * The protocol of the designs' runs on a model: the authors' pooled 80/20 split, or the official train/dev split when
 * the model was pretrained on the GLUE training text (the authors' held-out part of train.tsv would then be text it
 * saw; the dev sets are not in it).
 */
export function designProtocol(modelDir: string): 'authors' | 'official' {
  return pretrainedOnGlueText(modelDir) ? 'official' : 'authors';
}

/** The training settings of the designs' runs on a model: its recipe (recipes.ts) under its design protocol. */
export function designTraining(modelDir: string): TrainingSettings {
  const { protocol: _official, trainPct: _all, ...general } = FINETUNE_DEFAULTS;
  return { ...general, ...recipeSettings(modelRecipe(modelDir)), protocol: designProtocol(modelDir) };
}

/** Whether a record belongs to one of the designs' cells. */
export function inDesigns(
  designs: readonly SweepDesign[],
  r: Pick<SweepRecord, 'method' | 'task' | 'pct' | 'seed'>,
): boolean {
  return (
    (DESIGN_METHODS as readonly string[]).includes(r.method) &&
    designs.some((d) =>
      d.cells.some((c) => c.tasks.includes(r.task) && c.pcts.includes(r.pct) && c.seeds.includes(r.seed)),
    )
  );
}

/** The records of each design by its name (a run shared by two designs is in both). */
export function designRecords(records: readonly SweepRecord[]): Record<string, SweepRecord[]> {
  return Object.fromEntries(DESIGNS.map((d) => [d.name, records.filter((r) => inDesigns([d], r))]));
}

/** How much of a design the records hold: the runs it asks for, those present, and each (method, task, pct) cell short of seeds. */
export interface DesignCoverage {
  design: string;
  expected: number;
  present: number;
  missing: Array<{ method: string; task: string; pct: number; seeds: number[] }>;
}

/** The coverage of one design by some records (a run counts once, whatever design it was run for). */
export function designCoverage(
  design: SweepDesign,
  records: ReadonlyArray<Pick<SweepRecord, 'method' | 'task' | 'pct' | 'seed'>>,
): DesignCoverage {
  const done = new Set(records.map((r) => JSON.stringify([r.method, r.task, r.pct, r.seed])));
  let expected = 0;
  let present = 0;
  const missing: DesignCoverage['missing'] = [];
  for (const c of design.cells)
    for (const task of c.tasks)
      for (const pct of c.pcts)
        for (const method of DESIGN_METHODS) {
          const absent = c.seeds.filter((seed) => !done.has(JSON.stringify([method, task, pct, seed])));
          expected += c.seeds.length;
          present += c.seeds.length - absent.length;
          if (absent.length) missing.push({ method, task, pct, seeds: absent });
        }
  return { design: design.name, expected, present, missing };
}

/** One line saying how complete a design is, naming up to three of its short cells. */
export function describeCoverage(c: DesignCoverage): string {
  const head = `${c.design}: ${c.present} of ${c.expected} runs`;
  if (!c.missing.length) return `${head} (complete)`;
  const cells = c.missing.map(
    (m) => `${m.method} ${m.task} ${m.pct}% (seed${m.seeds.length > 1 ? 's' : ''} ${m.seeds.join(',')})`,
  );
  const more = cells.length > 3 ? `, and ${cells.length - 3} more cells` : '';
  return `${head}; missing ${cells.slice(0, 3).join('; ')}${more}: its verdicts rest on the runs present`;
}

/**
 * The records of some designs: read from the shipped results (quick), or computed for the model in use into
 * out/results/<model> (full: resumable, `jobs` runs at a time, the model's 1% Fisher computed when missing), with
 * how much of each design they cover.
 */
export async function designResults(
  names: string,
  o: { full: boolean; jobs?: number; write?: (line: string) => void },
): Promise<{ dir: string; records: SweepRecord[]; coverage: DesignCoverage[] }> {
  const designs = parseDesigns(names);
  let dir = shippedPath('results');
  if (o.full) {
    const model = resolveModelDir();
    const glueDir = glueDataDir();
    if (!glueDir) throw new Error('full mode needs the GLUE data: set FISHERLAB_DATA (see `fisherlab glue-download`)');
    dir = path.join(outputDir(), 'results', path.basename(model));
    (o.write ?? console.log)(`${path.basename(model)}: ${describeRecipe(modelRecipe(model))}`);
    const base = { model, fisher: await onePercentFisher(model), glueDir, out: dir, training: designTraining(model) };
    for (const spec of designSpecs(designs, base)) await runSweep(spec, { jobs: o.jobs ?? 2, write: o.write });
  }
  if (!fs.existsSync(path.join(dir, RESULTS_FILE)))
    throw new Error(
      `${dir} has no ${RESULTS_FILE}: run \`npx fisherlab sweep --design ${names} --out ${dir} ...\` (see its --help)`,
    );
  const records = readSweepResults(dir).filter((r) => inDesigns(designs, r));
  return { dir, records, coverage: designs.map((d) => designCoverage(d, records)) };
}
