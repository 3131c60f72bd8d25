#!/usr/bin/env node
// The fisherlab command: runs lib/cli.ts through tsx, with the project root known to lib/paths.ts.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.FISHERLAB_ROOT ??= root;
register();
const { main } = await import(pathToFileURL(join(root, 'lib', 'cli.ts')).href);
await main(process.argv);
