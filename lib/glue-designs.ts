/**
 * The sweeps behind the paper's GLUE results for one model (notebooks 06–08): Table 2 at full data, Figure 4's
 * training-set sizes, and many restarts of one cell. They share one results folder: a cell run for one design
 * is not run again for another.
 */
import type { SweepSpec } from './sweep';

/** One design: the cells it needs, and what it is for. */
export interface SweepDesign {
  name: string;
  purpose: string;
  cells: Array<Pick<SweepSpec, 'tasks' | 'pcts' | 'seeds'>>;
}

export const DESIGN_METHODS = ['standard', 'guided', 'gaussian'] as const;

/** Seeds 1..n. */
const seeds = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/**
 * The designs. Percentages 10, 50 and 100 (the paper's Lodha comparison reports 100 and 50); SST-2 (54,576
 * training sentences under the authors' split) only at 1, 5 and 10%, WNLI (564) only at full size. Restarts use
 * CoLA at 25%, where single runs vary most. In all, 174 fine-tuning runs of the embedded model.
 */
export const DESIGNS: readonly SweepDesign[] = [
  {
    name: 'table2',
    purpose: 'Table 2: every task at its largest size, 3 seeds',
    cells: [{ tasks: ['CoLA', 'MRPC', 'STS-B', 'RTE', 'WNLI'], pcts: [100], seeds: seeds(3) }, { tasks: ['SST-2'], pcts: [10], seeds: seeds(3) }],
  },
  {
    name: 'paucity',
    purpose: 'Figure 4: score against training-set size, 3 seeds',
    cells: [{ tasks: ['CoLA', 'MRPC', 'STS-B', 'RTE'], pcts: [10, 50, 100], seeds: seeds(3) }, { tasks: ['SST-2'], pcts: [1, 5, 10], seeds: seeds(3) }],
  },
  {
    name: 'restarts',
    purpose: 'fine-tuning stability: CoLA at 25% over 10 seeds',
    cells: [{ tasks: ['CoLA'], pcts: [25], seeds: seeds(10) }],
  },
];

/** The designs named in a comma-separated list (`all` for every one). */
export function parseDesigns(text: string): SweepDesign[] {
  const names = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.includes('all')) return [...DESIGNS];
  return names.map((n) => {
    const d = DESIGNS.find((x) => x.name === n);
    if (!d) throw new Error(`unknown design "${n}" (designs: ${DESIGNS.map((x) => x.name).join(', ')}, all)`);
    return d;
  });
}

/** The sweep specs of some designs on top of the shared settings: one spec per cell group, in design order. */
export function designSpecs(designs: readonly SweepDesign[], base: Omit<SweepSpec, 'tasks' | 'pcts' | 'seeds' | 'methods'>): SweepSpec[] {
  return designs.flatMap((d) => d.cells.map((c) => ({ ...base, methods: [...DESIGN_METHODS], tasks: c.tasks, pcts: c.pcts, seeds: c.seeds })));
}
