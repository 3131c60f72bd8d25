/** `fisherlab info`: configuration, parameter count, named tensors and dropout sites of a model folder. */
import { Command } from 'commander';
import { backendInfo, initBackend } from '../backend';
import { loadBert } from '../bert/load';
import { architectureName } from '../bert/parameters';
import { resolveModelDir } from '../bert/model-dir';
import { fusedOpsNote } from '../fisher/fused-ops';

/** Adds the `info` command. */
export function register(program: Command): void {
  program
    .command('info')
    .summary('configuration, tensors and dropout sites of a model')
    .description(
      "print a model folder's configuration, parameter count, named tensors with shapes, and dropout sites, after the TensorFlow.js backend in force with its TensorFlow version and threads, and which kernels the Fisher pass uses (fused TensorFlow kernels or tfjs's own)",
    )
    .option(
      '--model <dir>',
      'Hugging Face BERT folder (config.json, weights in any layout transformers writes, vocab.txt)',
    )
    .option('--json', 'print one JSON object instead of text')
    .addHelpText('after', '\nExample:\n  npx fisherlab info --model data/models/bert-mini-fisherlab')
    .action(async (opts: { model?: string; json?: boolean }) => {
      await initBackend({ quiet: opts.json });
      const dir = resolveModelDir(opts.model);
      const { model, warnings } = loadBert(dir);
      const tensors = model.namedParameters().map(([name, v]) => ({ name, shape: v.shape }));
      const sites = model.dropoutSites().map((name) => ({ name, ...model.dropout.get(name) }));
      const backend = { ...(await backendInfo()), fisherKernels: fusedOpsNote() };
      if (opts.json) {
        console.log(
          JSON.stringify(
            {
              backend,
              model: dir,
              architecture: architectureName(model.parts),
              config: model.config,
              parameters: model.parameterCount(),
              tensors,
              dropoutSites: sites,
              warnings,
            },
            null,
            1,
          ),
        );
      } else {
        const tfVersion = backend.tensorflow ? `TensorFlow ${backend.tensorflow}, ` : '';
        console.log(
          `backend       ${backend.name} (${tfVersion}${backend.threads} thread${backend.threads > 1 ? 's' : ''} per op)`,
        );
        console.log(`Fisher pass   ${backend.fisherKernels}`);
        console.log(`model         ${dir}`);
        console.log(`architecture  ${architectureName(model.parts)}`);
        for (const [k, v] of Object.entries(model.config)) console.log(`${k.padEnd(30)} ${v}`);
        console.log(`\n${model.parameterCount().toLocaleString('en-US')} parameters in ${tensors.length} tensors:`);
        for (const t of tensors) console.log(`  ${t.name.padEnd(60)} [${t.shape.join(', ')}]`);
        console.log(`\n${sites.length} dropout sites:`);
        for (const s of sites) console.log(`  ${s.name.padEnd(60)} ${s.kind} p=${s.p}`);
        for (const w of warnings) console.log(`note: ${w}`);
      }
      model.dispose();
    });
}
