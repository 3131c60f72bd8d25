/** Finding a Chrome or Chromium for playwright-core, and the flags it needs on a closed, loopback-only network. */
import * as fs from 'fs';

/** Where Chrome or Chromium usually lives: Debian's chromium, Google Chrome on Linux and macOS. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
];

/** The browser to use: $CHROME_PATH, else the first installed of the usual places, else null. */
export function findChrome(): string | null {
  if (process.env.CHROME_PATH) return process.env.CHROME_PATH;
  return CANDIDATES.find((p) => fs.existsSync(p)) ?? null;
}

/** Flags for headless Chromium as root without a GPU, and with no connections but the ones the test makes. */
export const CHROME_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
