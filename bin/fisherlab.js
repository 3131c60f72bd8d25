#!/usr/bin/env node
// The fisherlab command: runs lib/cli.ts from its bundle (bin/cli-bundle.mjs; rebuilt when lib/ changes), or through
// tsx where the bundle cannot be written, with the project root known to lib/paths.ts.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cliBundle } from './cli-bundle.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.FISHERLAB_ROOT ??= root;
let entry;
try {
  entry = await cliBundle(root);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
// (the bundle has source maps: NODE_OPTIONS=--enable-source-maps gives stack traces in lib/*.ts, at 0.1 s a start)
let main;
if (entry) {
  ({ main } = createRequire(import.meta.url)(entry));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(pathToFileURL(join(root, 'lib', 'cli.ts')).href));
}
await main(process.argv);
