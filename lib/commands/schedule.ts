/** `fisherlab schedule`: the guided-dropout schedule of a Fisher file, site → (score, rank, p). */
import { Command } from 'commander';
import {
  CLASSIFIER_SITE,
  guidedSchedule,
  methodDropout,
  modelDropoutSites,
  STANDARD_P,
} from '../guided-dropout/methods';
import { readFisher } from '../fisher/estimate';
import { resolveModelDir } from '../bert/model-dir';
import { formatNumber } from '../notebook/table';
import { number } from './options';

interface ScheduleOpts {
  fisher: string;
  model?: string;
  pUpper?: string;
  pLower?: string;
  authorsStep?: boolean;
  json?: boolean;
}

/** Adds the `schedule` command. */
export function register(program: Command): void {
  program
    .command('schedule')
    .summary('guided-dropout schedule of a Fisher file: site → score, rank, p')
    .description(
      `rank the dropout sites by the Fisher score of the group each follows (the unweighted mean of its tensors' mean Fisher) and give them p linearly from P_upper at the lowest score to P_lower at the highest; the classifier's dropout keeps ${STANDARD_P}. The schedule depends on the pretrained model's Fisher only, never on the task`,
    )
    .requiredOption('--fisher <file>', "the pretrained model's Fisher file (safetensors from `fisherlab fisher`)")
    .option(
      '--model <dir>',
      'check the Fisher and the schedule against this BERT folder (its tensors and dropout sites)',
    )
    .option('--p-upper <p>', 'p at the lowest-Fisher site (default 0.1)')
    .option('--p-lower <p>', 'p at the highest-Fisher site (default 0)')
    .option('--authors-step', "the authors' values instead: 0.099 down to 0 (step 0.00275 for BERT-base's 37 sites)")
    .option('--json', 'print JSON instead of a table')
    .addHelpText(
      'after',
      '\nExamples:\n  npx fisherlab schedule --fisher out/fisher/embedded-1pct.safetensors\n  npx fisherlab schedule --fisher fisher-bert-base.safetensors --authors-step --json',
    )
    .action((o: ScheduleOpts) => {
      const model = o.model === undefined ? undefined : resolveModelDir(o.model);
      const fisher = readFisher(o.fisher, { model }).tensors;
      const range = {
        pUpper: o.pUpper === undefined ? undefined : number(o.pUpper, '--p-upper'),
        pLower: o.pLower === undefined ? undefined : number(o.pLower, '--p-lower'),
      };
      const rows = guidedSchedule(fisher, { ...range, authors: o.authorsStep });
      const sites = model !== undefined ? modelDropoutSites(model) : [...rows.map((r) => r.site), CLASSIFIER_SITE];
      const settings = methodDropout(o.authorsStep ? 'guided-authors' : 'guided', sites, { fisher, ...range });
      const table = sites.map((site) => {
        const row = rows.find((r) => r.site === site);
        return {
          site,
          group: row?.group ?? null,
          score: row?.score ?? null,
          rank: row?.rank ?? null,
          p: settings[site].p,
        };
      });
      if (o.json) {
        console.log(JSON.stringify({ fisher: o.fisher, authors: Boolean(o.authorsStep), sites: table }, null, 1));
        return;
      }
      const header = o.authorsStep
        ? "the authors' 0.099 → 0"
        : `P_upper ${range.pUpper ?? 0.1} → P_lower ${range.pLower ?? 0}`;
      console.log(`guided dropout from ${o.fisher}: ${header}, linear in Fisher rank (0 = lowest score)`);
      console.log(`${'site'.padEnd(48)} ${'group'.padEnd(20)} ${'score'.padStart(12)} ${'rank'.padStart(5)}  p`);
      for (const r of table) {
        const score = r.score === null ? '-' : formatNumber(r.score);
        const note = r.site === CLASSIFIER_SITE ? '  (classifier, kept)' : '';
        console.log(
          `${r.site.padEnd(48)} ${(r.group ?? '-').padEnd(20)} ${score.padStart(12)} ${String(r.rank ?? '-').padStart(5)}  ${formatNumber(r.p, 6)}${note}`,
        );
      }
    });
}
