/**
 * Reads GLUE task files (TASK/train.tsv, dev*.tsv, test*.tsv in the official GLUE layout) into examples.
 *
 * Files are split on tabs with CSV quoting OFF (RTE, QNLI and WNLI sentences contain unbalanced `"`); a byte-order
 * mark (MRPC), CRLF line ends and a missing final newline (CoLA dev.tsv) are accepted. Every line after the header
 * becomes an example: a row with the wrong number of columns, an empty text or an unknown label is an error naming
 * the file, the line and the bad value, never a skipped row (the official files need no skipping). Test files have no
 * label column: their examples carry label NaN.
 */
import * as fs from 'fs';
import * as path from 'path';
import { sharedDataDir } from '../paths';
import { TaskSpec, taskSpec, taskSplits } from './tasks';

/** One example: a sentence (or pair) and its label index (a float score for STS-B; NaN in test files). */
export interface Example {
  text: string;
  textPair?: string;
  label: number;
  /** The 1-based line number of the example in its file. */
  index: number;
}

/** The GLUE folder of the shared data (sharedDataDir()/glue), or null when absent. */
export function glueDataDir(): string | null {
  const data = sharedDataDir();
  const dir = data && path.join(data, 'glue');
  return dir && fs.existsSync(dir) ? dir : null;
}

/** Reads one split ('train', 'dev', MNLI's 'dev_matched', 'test', …) of a task from a GLUE root folder. */
export function loadTask(dataDir: string, taskName: string, split: string): Example[] {
  const task = taskSpec(taskName);
  const splits = taskSplits(task);
  if (!splits.includes(split))
    throw new Error(
      `GLUE task ${task.name} has no split ${JSON.stringify(split)}: expected one of ${splits.join(', ')}`,
    );
  const folder = path.join(dataDir, task.folder);
  const file = path.join(folder, `${split}.tsv`);
  const hint = `get it with \`npx fisherlab glue-download --tasks ${task.name} --to ${dataDir}\``;
  if (!fs.existsSync(folder))
    throw new Error(`GLUE task ${task.name}: no folder ${folder} (looked for ${file}); ${hint}`);
  if (!fs.existsSync(file)) {
    throw new Error(
      `GLUE task ${task.name}: ${file} does not exist (the folder holds: ${fs.readdirSync(folder).join(', ') || 'nothing'}); ${hint}, which fills in missing files`,
    );
  }
  return parseTaskFile(task, fs.readFileSync(file, 'utf8'), file, !task.testSplits.includes(split));
}

/** Reads a task's dev split(s), keyed by split name (MNLI: dev_matched and dev_mismatched). */
export function loadDevSets(dataDir: string, taskName: string): Record<string, Example[]> {
  const task = taskSpec(taskName);
  return Object.fromEntries(task.devSplits.map((split) => [split, loadTask(dataDir, task.name, split)]));
}

/** Parses the text of one task file; `labelled` is false for test files. */
function parseTaskFile(task: TaskSpec, content: string, file: string, labelled: boolean): Example[] {
  const lines = content.replace(/^\uFEFF/, '').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new Error(`${file}: the file is empty`);
  const headerless = labelled ? task.headerless : null;
  const columns = headerless ?? splitLine(lines[0]);
  const column = (name: string) => {
    const i = columns.indexOf(name);
    if (i < 0)
      throw new Error(
        `${file}:1: the header has no column ${JSON.stringify(name)} (it has ${columns.map((c) => JSON.stringify(c)).join(', ')})`,
      );
    return i;
  };
  const textAt = column(task.text);
  const pairAt = task.textPair === undefined ? -1 : column(task.textPair);
  const labelAt = labelled ? column(task.label) : -1;
  const examples: Example[] = [];
  for (let i = headerless ? 0 : 1; i < lines.length; i++) {
    const line = i + 1;
    const cells = splitLine(lines[i]);
    if (cells.length !== columns.length) {
      throw new Error(
        `${file}:${line}: expected ${columns.length} tab-separated columns (${columns.join(', ')}), found ${cells.length}: ${preview(lines[i])}`,
      );
    }
    const text = cells[textAt];
    if (text.trim() === '') throw new Error(`${file}:${line}: empty ${task.text} in ${preview(lines[i])}`);
    const label = labelled ? parseLabel(task, cells[labelAt], `${file}:${line}`) : NaN;
    if (pairAt < 0) {
      examples.push({ text, label, index: line });
      continue;
    }
    const textPair = cells[pairAt];
    if (textPair.trim() === '') throw new Error(`${file}:${line}: empty ${task.textPair} in ${preview(lines[i])}`);
    examples.push({ text, textPair, label, index: line });
  }
  return examples;
}

/** The tab-separated cells of a line, without a trailing carriage return. */
function splitLine(line: string): string[] {
  return (line.endsWith('\r') ? line.slice(0, -1) : line).split('\t');
}

/** A label cell as a class index, or as a score within the task's range for regression. */
function parseLabel(task: TaskSpec, value: string, where: string): number {
  if (task.labelValues) {
    const index = task.labelValues.indexOf(value);
    if (index < 0)
      throw new Error(
        `${where}: unknown ${task.label} ${JSON.stringify(value)}: expected one of ${task.labelValues.join(', ')}`,
      );
    return index;
  }
  const [low, high] = task.range!;
  const score = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) ? Number(value) : NaN;
  if (!(score >= low && score <= high))
    throw new Error(`${where}: ${task.label} ${JSON.stringify(value)} is not a number in [${low}, ${high}]`);
  return score;
}

/** The start of a line, quoted, for error messages. */
function preview(line: string): string {
  return JSON.stringify(line.length > 100 ? `${line.slice(0, 100)}…` : line);
}
