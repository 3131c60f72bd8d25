/** Unlabelled pretraining text from the GLUE training splits, with every sentence that any dev set scores left out. */
import * as fs from 'fs';
import * as path from 'path';
import { glueDataDir, loadTask } from '../glue/load';
import { TASK_NAMES, taskSpec } from '../glue/tasks';
import type { Document } from './document';

/** Examples per document: GLUE rows are short and unrelated, so blocks of them fill 128-token sequences. */
export const GLUE_BLOCK = 50;

/** A sentence as compared against the dev sets: lower case, single spaces, trimmed. */
export const normalizeSentence = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();

/** What the GLUE source read and what it left out (docs/embedded-model.md gives the counts on the shared data). */
export interface GlueTextReport {
  /** Tasks whose train.tsv was read, with their example counts. */
  tasks: Record<string, number>;
  /** Tasks with a folder but no train.tsv (QNLI in some copies), so nothing of them is used. */
  withoutTrain: string[];
  /** Training sentences dropped because a dev set of some task holds the same sentence. */
  droppedAsDev: number;
}

/** Every sentence of every dev split of every task present under the GLUE root, normalized. */
export function devSentences(glueDir: string): Set<string> {
  const out = new Set<string>();
  for (const name of TASK_NAMES) {
    const task = taskSpec(name);
    for (const split of task.devSplits) {
      if (!fs.existsSync(path.join(glueDir, task.folder, `${split}.tsv`))) continue;
      for (const ex of loadTask(glueDir, name, split)) {
        out.add(normalizeSentence(ex.text));
        if (ex.textPair !== undefined) out.add(normalizeSentence(ex.textPair));
      }
    }
  }
  return out;
}

/** The training splits of the GLUE tasks under `glueDir` as documents of GLUE_BLOCK rows; labels unused, dev sentences removed. */
export function loadGlueTrainText(glueDir = glueDataDir()): { docs: Document[]; report: GlueTextReport } {
  if (glueDir === null)
    throw new Error(
      'glue-train: no GLUE folder (set FISHERLAB_DATA to a folder holding glue/, or get it with `npx fisherlab glue-download`)',
    );
  const dev = devSentences(glueDir);
  const report: GlueTextReport = { tasks: {}, withoutTrain: [], droppedAsDev: 0 };
  const docs: Document[] = [];
  for (const name of TASK_NAMES) {
    const task = taskSpec(name);
    if (!fs.existsSync(path.join(glueDir, task.folder))) continue;
    if (!fs.existsSync(path.join(glueDir, task.folder, 'train.tsv'))) {
      report.withoutTrain.push(name);
      continue;
    }
    const rows = loadTask(glueDir, name, 'train');
    report.tasks[name] = rows.length;
    for (let start = 0; start < rows.length; start += GLUE_BLOCK) {
      const sentences: string[] = [];
      for (const ex of rows.slice(start, start + GLUE_BLOCK))
        for (const s of ex.textPair === undefined ? [ex.text] : [ex.text, ex.textPair]) {
          if (dev.has(normalizeSentence(s))) report.droppedAsDev++;
          else sentences.push(s.trim());
        }
      if (sentences.length > 0) docs.push({ id: `glue/${name}/train:${start + 1}`, sentences, source: 'glue-train' });
    }
  }
  if (docs.length === 0) throw new Error(`glue-train: ${glueDir} holds no task with a train.tsv`);
  return { docs, report };
}

/** Whether a model folder's pretrain-report.json names glue-train among its corpus sources (false without a report). */
export function pretrainedOnGlueText(modelDir: string): boolean {
  const file = path.join(modelDir, 'pretrain-report.json');
  if (!fs.existsSync(file)) return false;
  let corpus: unknown;
  try {
    corpus = (JSON.parse(fs.readFileSync(file, 'utf8')) as { settings?: { corpus?: unknown } }).settings?.corpus;
  } catch (e) {
    throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
  }
  return typeof corpus === 'string' && corpus.split(',').some((s) => s.trim() === 'glue-train');
}
