import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';

type CliBundle = (root: string) => Promise<string | null>;

describe('the command line bundle (bin/cli-bundle.mjs)', function () {
  this.timeout(60_000);
  let cliBundle: CliBundle;
  let root = '';
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  /** What the bundle's `main()` returns, required (as bin/fisherlab.js does: it is CommonJS) in a fresh process. */
  const runMain = (entry: string) => {
    const r = spawnSync(process.execPath, ['-e', 'console.log(require(process.argv[1]).main());', entry], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).to.equal(0);
    return r.stdout.trim();
  };
  const stamp = () => fs.readFileSync(path.join(root, '.fisherlab-cache', 'cli', 'sources.json'), 'utf8');

  before(async () => {
    const module = path.join(process.cwd(), 'bin', 'cli-bundle.mjs');
    ({ cliBundle } = (await import(pathToFileURL(module).href)) as { cliBundle: CliBundle });
  });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-bundle-'));
    write('tsconfig.json', '{}\n');
    write('lib/cli.ts', "import { word } from './words/word';\nexport function main(): string {\n  return word;\n}\n");
    write('lib/words/word.ts', "export const word: string = 'first';\n");
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('builds lib/cli.ts and what it imports into one CommonJS entry that runs the sources', async () => {
    const entry = await cliBundle(root);
    expect(entry).to.equal(path.join(root, '.fisherlab-cache', 'cli', 'cli.cjs'));
    expect(runMain(entry!)).to.equal('first');
  });

  it('reuses a bundle as long as nothing under lib/ changes, and rebuilds after an edit, an added or a removed file', async () => {
    const entry = (await cliBundle(root))!;
    const built = fs.statSync(entry).mtimeMs;
    const first = stamp();
    expect(await cliBundle(root)).to.equal(entry);
    expect(fs.statSync(entry).mtimeMs, 'rebuilt without a change').to.equal(built);
    expect(stamp()).to.equal(first);

    write('lib/words/word.ts', "export const word: string = 'second';\n");
    const later = new Date(Date.now() + 5_000); // past the filesystem's clock granularity
    fs.utimesSync(path.join(root, 'lib/words/word.ts'), later, later);
    expect(runMain((await cliBundle(root))!)).to.equal('second');
    const afterEdit = stamp();
    expect(afterEdit).to.not.equal(first);

    write('lib/words/unused.ts', 'export const unused = 1;\n');
    const evenLater = new Date(Date.now() + 10_000);
    fs.utimesSync(path.join(root, 'lib/words'), evenLater, evenLater);
    await cliBundle(root);
    expect(stamp(), 'a file added').to.not.equal(afterEdit);
    const afterAdd = stamp();

    fs.rmSync(path.join(root, 'lib/words/unused.ts'));
    const latest = new Date(Date.now() + 15_000);
    fs.utimesSync(path.join(root, 'lib/words'), latest, latest);
    await cliBundle(root);
    expect(stamp(), 'a file removed').to.not.equal(afterAdd);
  });

  it('keeps only the current build in its folder', async () => {
    await cliBundle(root);
    write('lib/words/word.ts', "export const word: string = 'third';\n");
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(path.join(root, 'lib/words/word.ts'), later, later);
    await cliBundle(root);
    const files = fs.readdirSync(path.join(root, '.fisherlab-cache', 'cli')).sort();
    expect(files).to.deep.equal(['cli.cjs', 'cli.cjs.map', 'sources.json']);
    expect(fs.readFileSync(path.join(root, '.fisherlab-cache', 'cli', 'cli.cjs'), 'utf8')).to.contain('third');
  });

  it('builds in several processes at once, as the children of a job do after an edit, each ending with the bundle', () => {
    // files of an older build, which each process removes once it has written its own
    const out = path.join(root, '.fisherlab-cache', 'cli');
    fs.mkdirSync(out, { recursive: true });
    for (let i = 0; i < 200; i++) fs.writeFileSync(path.join(out, `chunk-${i}.js`), '');
    const module = pathToFileURL(path.join(process.cwd(), 'bin', 'cli-bundle.mjs')).href;
    const script = `const { cliBundle } = await import(${JSON.stringify(module)}); console.log(await cliBundle(process.argv[1]));`;
    const children = Array.from({ length: 4 }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', script, root], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    return Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            let stderr = '';
            child.stderr.on('data', (d: Buffer) => (stderr += d));
            child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`a builder failed: ${stderr}`))));
          }),
      ),
    ).then(() => {
      expect(fs.readdirSync(out).sort()).to.deep.equal(['cli.cjs', 'cli.cjs.map', 'sources.json']);
      expect(runMain(path.join(out, 'cli.cjs'))).to.equal('first');
    });
  });

  it('names the file and line of a build error', async () => {
    write('lib/words/word.ts', "export const word: string = 'first';\nexport const broken = ;\n");
    let message = '';
    try {
      await cliBundle(root);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).to.match(/cannot build the command line from lib\/: .*lib\/words\/word\.ts:2:\d+: /);
  });

  it('returns null where the bundle cannot be written, so the sources run through tsx', async () => {
    write('.fisherlab-cache', 'a file where the folder would go\n');
    expect(await cliBundle(root)).to.equal(null);
  });
});
