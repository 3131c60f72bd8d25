/** The tiny sweep of the sweep tests: an SST-2-shaped sentiment task and a one-layer random BERT. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sentimentConfig, sentimentVocab, setupBackend, writeSentimentTask } from './helpers';
import { saveBert } from '../lib/bert/load';
import { Bert } from '../lib/bert/model';
import { MASKED_LM } from '../lib/bert/parameters';

const WORDS = ['the', 'film', 'was', 'plot', 'acting', 'very', 'and', 'a'];
export const SWEEP_VOCAB = sentimentVocab(WORDS);
export const SWEEP_CONFIG = sentimentConfig(SWEEP_VOCAB);

/** Starts the backend and makes a temporary folder with glue/ (a sentiment task of `train` and `dev` sentences) and model/ (a random tiny BERT). */
export async function sweepFixture(prefix: string, o: { train: number; dev: number }): Promise<string> {
  await setupBackend();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  writeSentimentTask(path.join(dir, 'glue'), { words: WORDS, train: o.train, dev: o.dev, seed: 5, extraWords: 4 });
  const model = Bert.random(SWEEP_CONFIG, MASKED_LM, 0);
  saveBert(path.join(dir, 'model'), model, { vocabTokens: SWEEP_VOCAB });
  model.dispose();
  return dir;
}
