/**
 * The paper's claims about guided dropout, each read off the tests of one design's results: Table 2 (better than
 * standard and Gaussian dropout), Figure 4 (better at every training size, and most when data are scarce), the
 * restarts (a narrower spread), and our two controls (better than uniform dropout at its mean rate, and than its own
 * rates on a shuffled order of the sites). A claim's outcome counts only differences that survive Holm's correction
 * in their family.
 */
import { ALPHA, paucityComparisons, table2Comparisons, verdict, type Comparison } from './results';
import { gainGrowth, restartSpread } from './robustness';
import type { DesignCoverage } from './designs';
import type { SweepRecord } from './run';

/** What a design's tests say of a claim. */
export type ClaimOutcome = 'holds' | 'holds in part' | 'not shown' | 'contradicted' | 'mixed' | 'untested';

/** One claim, where it is tested, and what the tests say. */
export interface ClaimCheck {
  claim: string;
  /** Whose claim it is and where it is made: the paper's abstract or figures, or our own question or control. */
  source: string;
  /** The design and family of tests it rests on. */
  test: string;
  /** Members of the family that bear on the claim, by what their test says. */
  support: string[];
  against: string[];
  unclear: string[];
  untested: string[];
  outcome: ClaimOutcome;
}

/** A family member's label and its reading: `for` / `against` the claim where its Holm p is below ALPHA. */
interface Reading {
  label: string;
  reading: 'for' | 'against' | 'unclear' | 'untested';
}

/**
 * The outcome of a claim from its members: holds when every member supports it, in part when some do and none is
 * against, contradicted when some are against and none for, mixed when both, not shown when none is decided.
 */
export function claimOutcome(c: Pick<ClaimCheck, 'support' | 'against' | 'unclear' | 'untested'>): ClaimOutcome {
  const decided = c.support.length + c.against.length;
  if (decided + c.unclear.length === 0) return 'untested';
  if (c.support.length && c.against.length) return 'mixed';
  if (c.against.length) return 'contradicted';
  if (!c.support.length) return 'not shown';
  return c.unclear.length || c.untested.length ? 'holds in part' : 'holds';
}

/** A claim from its members' readings. */
function check(claim: string, source: string, test: string, readings: readonly Reading[]): ClaimCheck {
  const of = (r: Reading['reading']) => readings.filter((x) => x.reading === r).map((x) => x.label);
  const members = { support: of('for'), against: of('against'), unclear: of('unclear'), untested: of('untested') };
  return { claim, source, test, ...members, outcome: claimOutcome(members) };
}

/** A comparison of guided against a baseline, read for "guided is better". */
function comparisonReading(c: Comparison, label: string): Reading {
  const v = verdict(c);
  const reading = { better: 'for', worse: 'against', unclear: 'unclear', untested: 'untested' } as const;
  return { label, reading: reading[v] };
}

/** A test with a signed statistic, read for the claim that points `up` (t > 0) or down. */
function signedReading(
  label: string,
  c: { test: { t: number } | null; pHolm: number },
  claimPoints: 'up' | 'down',
): Reading {
  if (!c.test) return { label, reading: 'untested' };
  if (!(c.pHolm < ALPHA)) return { label, reading: 'unclear' };
  return { label, reading: c.test.t > 0 === (claimPoints === 'up') ? 'for' : 'against' };
}

/** Where the paper states its headline claim. */
const ABSTRACT = 'paper, abstract: "consistently better performance, even in scenarios of data paucity"';

/** The paper's two baselines, and what each of our controls asks. */
const PAPER_BASELINES = ['standard', 'gaussian'] as const;
const NAMES: Record<string, string> = { standard: 'standard', gaussian: 'Gaussian' };
const CONTROLS = {
  'uniform-mean': 'Guided dropout beats uniform dropout at its own mean rate (its gain is not just less dropout)',
  shuffled: "Guided dropout beats its own rates on a shuffled order of the sites (the Fisher's order matters)",
} as const;

/** The (task, pct) cells of some records, in record order. */
function cellsOf(records: readonly SweepRecord[]): Array<{ task: string; pct: number }> {
  const keys = [...new Set(records.map((r) => `${r.task}\u0000${r.pct}`))];
  return keys.map((k) => {
    const [task, pct] = k.split('\u0000');
    return { task, pct: Number(pct) };
  });
}

/** Whether a baseline is one of the paper's. */
const isPaperBaseline = (b: string) => (PAPER_BASELINES as readonly string[]).includes(b);

/** Table 2's claims: guided beats each of the paper's baselines, and each of our controls, at each task's largest size. */
function table2Claims(records: readonly SweepRecord[]): ClaimCheck[] {
  const family = table2Comparisons(records, 'largest');
  const test = `Table 2: guided − baseline per task, paired t, Holm over ${tested(family)} tests`;
  const readings = (b: string) => family.filter((c) => c.baseline === b).map((c) => comparisonReading(c, c.task));
  return [
    ...PAPER_BASELINES.map((b) =>
      check(`Guided dropout beats ${NAMES[b]} dropout on GLUE`, ABSTRACT, test, readings(b)),
    ),
    ...(Object.keys(CONTROLS) as Array<keyof typeof CONTROLS>).map((b) =>
      check(CONTROLS[b], 'our control, notebook 06', test, readings(b)),
    ),
  ];
}

/** Figure 4's claims: guided beats each of the paper's baselines at every size, and its gain grows as data shrink. */
function paucityClaims(records: readonly SweepRecord[]): ClaimCheck[] {
  const family = paucityComparisons(records);
  const test = `Figure 4: guided − baseline per task and size, paired t, Holm over ${tested(family)} tests`;
  const growth = gainGrowth(records);
  return [
    ...PAPER_BASELINES.map((b) =>
      check(
        `Guided dropout beats ${NAMES[b]} dropout at every training size, scarce data included`,
        ABSTRACT,
        test,
        family.filter((c) => c.baseline === b).map((c) => comparisonReading(c, `${c.task} ${c.pct}%`)),
      ),
    ),
    check(
      "Guided dropout's gain over the paper's baselines grows as training data shrink",
      'paper, Figure 4 and its comparison with Lodha et al. at 100% and 50% of the data',
      `Figure 4: guided's gain at each task's smallest size against its largest, paired t, Holm over ${tested(growth)} tests`,
      growth
        .filter((c) => isPaperBaseline(c.baseline))
        .map((c) => signedReading(`${c.task} vs ${c.baseline}`, c, 'up')),
    ),
  ];
}

/** The restarts' claim: guided's spread over seeds is narrower than each of the paper's baselines', in every cell. */
function restartClaims(records: readonly SweepRecord[]): ClaimCheck[] {
  const family = cellsOf(records).flatMap(({ task, pct }) => restartSpread(records, task, pct));
  return [
    check(
      'Guided dropout narrows the spread of fine-tuning outcomes over restarts',
      "ours, notebook 08; the paper's restart results were not retrieved",
      `restarts: guided's variance over seeds against the baseline's, Pitman–Morgan, Holm over ${tested(family)} tests per cell`,
      family
        .filter((c) => isPaperBaseline(c.baseline))
        .map((c) => signedReading(`${c.task} ${c.pct}% vs ${c.baseline}`, c, 'down')),
    ),
  ];
}

/** How many members of a family have a test. */
function tested(family: ReadonlyArray<{ test: unknown }>): number {
  return family.filter((c) => c.test).length;
}

/**
 * The paper's claims and our controls, tested on the records of each design given (an empty list leaves its claims
 * untested; a design not given leaves them out): the same families of tests as notebooks 06–08 (Table 2 and Figure
 * 4 over every baseline that ran, the gain growth over tasks × baselines, the restarts' spread per cell), each
 * claim counting the members that bear on it.
 */
export function paperClaims(d: {
  table2?: readonly SweepRecord[];
  paucity?: readonly SweepRecord[];
  restarts?: readonly SweepRecord[];
}): ClaimCheck[] {
  return [
    ...(d.table2 ? table2Claims(d.table2) : []),
    ...(d.paucity ? paucityClaims(d.paucity) : []),
    ...(d.restarts ? restartClaims(d.restarts) : []),
  ];
}

/** The members named, or "none". */
function names(list: readonly string[]): string {
  return list.length ? list.join(', ') : 'none';
}

/** How many of a claim's members show no clear difference, out of all its members ("no runs" without any). */
function unclearShare(c: ClaimCheck): string {
  const n = c.support.length + c.against.length + c.unclear.length + c.untested.length;
  return n ? `${c.unclear.length} of ${n}` : 'no runs';
}

/** The claims as a table: the claim, whose it is, its outcome, the members for and against, and the test behind it. */
export function claimRows(claims: readonly ClaimCheck[]): Array<Record<string, string>> {
  return claims.map((c) => ({
    claim: c.claim,
    source: c.source,
    outcome: c.outcome,
    'supports it': names(c.support),
    'against it': names(c.against),
    'no clear difference': unclearShare(c),
    'no test': names(c.untested),
    test: c.test,
  }));
}

/** One claim in a line: its outcome, the claim, the members for and against it and how many are unclear, and its test. */
export function describeClaim(c: ClaimCheck): string {
  const untested = c.untested.length ? `, ${c.untested.length} without a test` : '';
  const share = unclearShare(c);
  const tally =
    share === 'no runs'
      ? 'No runs to test it.'
      : `For it: ${names(c.support)}; against it: ${names(c.against)}; no clear difference: ${share}${untested}.`;
  return `${c.outcome} — ${c.claim}. Source: ${c.source}. ${tally} Test: ${c.test}.`;
}

/** Text for a cell of a Markdown table: its pipes escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** How many runs of each design the claims rest on, in one line: "Runs: Table 2 150 of 150, Figure 4 130 of 375." */
export function describeRuns(coverage: readonly DesignCoverage[]): string {
  const label: Record<string, string> = { table2: 'Table 2', paucity: 'Figure 4', restarts: 'restarts' };
  return `Runs: ${coverage.map((c) => `${label[c.design] ?? c.design} ${c.present} of ${c.expected}`).join(', ')}.`;
}

/**
 * The claims as the README's Markdown: how many runs of each design the results hold, then a row per claim with its
 * outcome, the members for and against it, and how many show no clear difference.
 */
export function claimsMarkdown(claims: readonly ClaimCheck[], coverage: readonly DesignCoverage[]): string {
  const rows = claims.map((c) => {
    const whose = c.source.split(',')[0];
    return `| ${cell(c.claim)} (${cell(whose)}) | **${c.outcome}** | ${cell(names(c.support))} | ${cell(names(c.against))} | ${unclearShare(c)} |`;
  });
  return [
    describeRuns(coverage),
    '',
    '| claim | outcome | for it | against it | no clear difference |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
