/** Run folders that resume only with the settings they were begun with, and Ctrl-C that stops a run at a safe point. */
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from './atomic';

/** The file of a run folder that holds the settings of its first sitting. */
const SETTINGS_FILE = 'settings.json';

/** The keys whose values differ between two settings objects, a key present on one side only included. */
export function differingKeys(before: object, after: object): string[] {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

/** Each differing setting as `key: old → new` in JSON (a missing key shows as null). */
export function settingsDiff(before: object, after: object): string[] {
  const json = (o: object, k: string) => JSON.stringify((o as Record<string, unknown>)[k] ?? null);
  return differingKeys(before, after).map((k) => `${k}: ${json(before, k)} → ${json(after, k)}`);
}

/** How `openRunDir` reads an earlier sitting's settings and words its refusal. */
export interface RunDirOptions {
  /** What to do instead (default: "use another run folder or the same settings"). */
  advice?: string;
  /** Name only the differing keys, not their values (for settings too long to show). */
  keysOnly?: boolean;
  /** Brings settings saved by an older version up to date before comparing (e.g. fills in keys added since). */
  upgrade?: (saved: Record<string, unknown>) => object;
}

/** Creates a run folder with its settings.json on the first sitting; on a later one, refuses settings that differ. */
export function openRunDir(dir: string, settings: object, what: string, o: RunDirOptions = {}): void {
  const file = path.join(dir, SETTINGS_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(settings, null, 1) + '\n');
    return;
  }
  let saved: Record<string, unknown>;
  try {
    saved = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved))
    throw new Error(`${file}: expected a JSON object of settings`);
  const before = o.upgrade ? o.upgrade(saved) : saved;
  const diff = o.keysOnly ? differingKeys(before, settings) : settingsDiff(before, settings);
  if (diff.length)
    throw new Error(
      `${dir} holds a ${what} with other settings (${diff.join(', ')}${o.keysOnly ? ' differ' : ''}); ${o.advice ?? 'use another run folder or the same settings'}`,
    );
}

/** How a resumable run is stopped early and reports progress. */
export interface RunControl {
  /** Polled wherever the run can save (after a batch, a point, a step); true saves and stops (e.g. after Ctrl-C). */
  shouldStop?: () => boolean;
  /** Progress lines (default: stderr every 5 s). */
  write?: (line: string) => void;
  /** Milliseconds between progress lines. */
  progressIntervalMs?: number;
}

/** Ctrl-C (SIGINT) handling for a run that stops itself at its next safe point. */
export interface Interrupt {
  /** Whether Ctrl-C was pressed. */
  stopped: () => boolean;
  /** Stops listening (a second Ctrl-C, or one after this, ends the process as usual). */
  dispose: () => void;
}

/** Listens for one Ctrl-C, which says `${what}: interrupted; saving ${saving}` and makes `stopped()` true. */
export function stopOnInterrupt(what: string, saving: string, say: (line: string) => void = console.error): Interrupt {
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    say(`${what}: interrupted; saving ${saving}`);
  };
  process.once('SIGINT', onSigint);
  return { stopped: () => interrupted, dispose: () => process.off('SIGINT', onSigint) };
}
