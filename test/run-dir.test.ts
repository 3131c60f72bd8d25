/** Run folders (settings.json written on the first sitting, other settings refused later) and the Ctrl-C helper. */
import { expect } from 'chai';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { differingKeys, openRunDir, settingsDiff, stopOnInterrupt } from '../lib/util/run-dir';

describe('run folders', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'run-dir-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('settingsDiff lists each differing key with both JSON values; differingKeys names them', () => {
    const before = { a: 1, b: 'x', c: [1, 2], gone: true };
    const after = { a: 1, b: 'y', c: [1, 3], added: null };
    expect(settingsDiff(before, after)).to.deep.equal([
      'b: "x" → "y"',
      'c: [1,2] → [1,3]',
      'gone: true → null',
      'added: null → null',
    ]);
    expect(differingKeys(before, after)).to.deep.equal(['b', 'c', 'gone', 'added']);
    expect(settingsDiff({ a: 1, b: [2] }, { b: [2], a: 1 })).to.deep.equal([]);
  });

  it('the first sitting creates the folder and writes settings.json; the same settings reopen it', () => {
    const dir = path.join(tmp, 'deep', 'run');
    openRunDir(dir, { steps: 10, name: 'tiny' }, 'run');
    const file = path.join(dir, 'settings.json');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.deep.equal({ steps: 10, name: 'tiny' });
    expect(fs.readdirSync(dir)).to.deep.equal(['settings.json']); // no temporary file left behind
    openRunDir(dir, { name: 'tiny', steps: 10 }, 'run');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).to.deep.equal({ steps: 10, name: 'tiny' });
  });

  it('a changed key is refused, naming the folder, the key and both values', () => {
    const dir = path.join(tmp, 'run');
    openRunDir(dir, { steps: 10, name: 'tiny' }, 'Fisher run');
    expect(() => openRunDir(dir, { steps: 11, name: 'tiny' }, 'Fisher run')).to.throw(
      `${dir} holds a Fisher run with other settings (steps: 10 → 11); use another run folder or the same settings`,
    );
    expect(() => openRunDir(dir, { steps: 11, name: 'other' }, 'run', { advice: 'use another --run-dir' })).to.throw(
      `${dir} holds a run with other settings (steps: 10 → 11, name: "tiny" → "other"); use another --run-dir`,
    );
    expect(() => openRunDir(dir, { steps: 11, name: 'other' }, 'landscape run', { keysOnly: true })).to.throw(
      /other settings \(steps, name differ\); use another run folder or the same settings$/,
    );
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'settings.json'), 'utf8'))).to.deep.equal({
      steps: 10,
      name: 'tiny',
    });
  });

  it('an added or a removed key is refused', () => {
    const dir = path.join(tmp, 'run');
    openRunDir(dir, { steps: 10 }, 'run');
    expect(() => openRunDir(dir, { steps: 10, seed: 1 }, 'run')).to.throw(/other settings \(seed: null → 1\)/);
    expect(() => openRunDir(dir, {}, 'run')).to.throw(/other settings \(steps: 10 → null\)/);
  });

  it('upgrade fills in what an older settings.json lacks before comparing', () => {
    const dir = path.join(tmp, 'run');
    openRunDir(dir, { steps: 10 }, 'run');
    const upgrade = (saved: Record<string, unknown>) => ({ seed: 0, ...saved });
    openRunDir(dir, { steps: 10, seed: 0 }, 'run', { upgrade });
    expect(() => openRunDir(dir, { steps: 10, seed: 1 }, 'run', { upgrade })).to.throw(/\(seed: 0 → 1\)/);
  });

  it('a settings.json that is not a JSON object is named', () => {
    const dir = path.join(tmp, 'run');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'settings.json');
    fs.writeFileSync(file, '{"steps": 1');
    expect(() => openRunDir(dir, { steps: 1 }, 'run')).to.throw(`${file}: not valid JSON`);
    fs.writeFileSync(file, '[1]');
    expect(() => openRunDir(dir, { steps: 1 }, 'run')).to.throw(`${file}: expected a JSON object of settings`);
  });
});

describe('stopOnInterrupt', () => {
  it('one Ctrl-C says the line and stops; dispose stops listening', () => {
    const lines: string[] = [];
    const before = process.listeners('SIGINT');
    const interrupt = stopOnInterrupt('fisher', 'a checkpoint after this batch', (l) => lines.push(l));
    const added = process.listeners('SIGINT').filter((l) => !before.includes(l));
    expect(added).to.have.length(1);
    expect(interrupt.stopped()).to.equal(false);
    added[0].call(process, 'SIGINT'); // as Ctrl-C would, without signalling the test runner
    expect(interrupt.stopped()).to.equal(true);
    expect(lines).to.deep.equal(['fisher: interrupted; saving a checkpoint after this batch']);
    interrupt.dispose();
    expect(process.listeners('SIGINT')).to.deep.equal(before);

    const unused = stopOnInterrupt('pretrain', 'a checkpoint after this step', (l) => lines.push(l));
    expect(process.listeners('SIGINT')).to.have.length(before.length + 1);
    unused.dispose();
    expect(process.listeners('SIGINT')).to.deep.equal(before);
    expect(unused.stopped()).to.equal(false);
  });
});
