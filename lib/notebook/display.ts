/** The bridge to tslab's rich output: present inside a notebook kernel, absent in the CLI and tests. */
import * as path from 'path';
import type { Display } from 'tslab';

export type { Display };

/** tslab's `display` when this code runs inside a tslab kernel, else null. */
export function notebookDisplay(): Display | null {
  // tslab's executor defines `globalThis.__tslab__` and compiles notebook imports (lib included) to
  // CommonJS whose `require('tslab')` it hooks to return the kernel's own, connected module.
  // Outside a kernel there is nothing to display to, and tslab (a devDependency) is never loaded.
  if (!('__tslab__' in globalThis) || typeof require !== 'function') return null;
  return (require('tslab') as typeof import('tslab')).display;
}

/** A display's data: mime type to content (text, base64 for binary types, or a JSON value). */
export type MimeBundle = Record<string, unknown>;

/** Sends one display holding several forms of the same output, so that each front end shows its richest form once. */
export function displayBundle(bundle: MimeBundle): void {
  if (!notebookDisplay()) throw new Error('displayBundle needs a tslab kernel');
  // tslab's `display.raw` sends a single mime type. Its kernel keeps the function that sends a display message
  // (`lastWriteDisplayData`, set for each cell) in its jupyter.js, beside the module `require('tslab')` returns;
  // the require cache holds the kernel's own instance of both.
  const tslab: unknown = require('tslab');
  const main = Object.values(require.cache).find((m) => m?.exports === tslab);
  const jupyter = main && require.cache[path.join(path.dirname(main.filename), 'jupyter.js')];
  const send: unknown = jupyter?.exports?.lastWriteDisplayData;
  if (typeof send !== 'function')
    throw new Error('this tslab kernel cannot send a display bundle: run npm ci (tslab 1.0.22)');
  send({ data: bundle, metadata: {}, transient: {} }, false);
}
