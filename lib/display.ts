/** The bridge to tslab's rich output: present inside a notebook kernel, absent in the CLI and tests. */
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
