import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIB = path.join(ROOT, 'lib');

/** The backticked paths in the first column of the README's Layout table. */
function layoutPaths(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Layout$/m)[1]?.split(/^## /m)[0];
  if (!section) throw new Error('README.md has no "## Layout" section');
  const rows = section.split('\n').filter((l) => /^\| `/.test(l));
  return rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
}

describe('layout', () => {
  it("the README's Layout table names every entry at the top of lib/, and every path it names exists", () => {
    const named = layoutPaths();
    expect(named.length).to.be.greaterThan(10);
    for (const p of named) expect(fs.existsSync(path.join(ROOT, p)), `README names ${p}`).to.equal(true);
    const top = fs
      .readdirSync(LIB, { withFileTypes: true })
      .map((e) => `lib/${e.name}${e.isDirectory() ? '/' : ''}`)
      .filter((p) => !p.startsWith('lib/.'));
    const missing = top.filter((p) => !named.includes(p));
    expect(missing, 'entries of lib/ missing from the README Layout table').to.deep.equal([]);
  });

  it('lib/ has at most six files at its top, and every folder an index.ts', () => {
    const entries = fs.readdirSync(LIB, { withFileTypes: true });
    const files = entries.filter((e) => e.isFile()).map((e) => e.name);
    expect(files.length, files.join(', ')).to.be.at.most(6);
    const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    const withoutIndex = folders.filter((d) => !fs.existsSync(path.join(LIB, d, 'index.ts')));
    expect(withoutIndex).to.deep.equal([]);
  });

  it("each folder's index.ts re-exports every module of the folder", () => {
    for (const d of fs
      .readdirSync(LIB, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name !== 'commands')) {
      const dir = path.join(LIB, d.name);
      const index = fs.readFileSync(path.join(dir, 'index.ts'), 'utf8');
      const modules = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
        .map((f) => f.replace(/\.ts$/, ''));
      const missing = modules.filter((m) => !index.includes(`from './${m}'`));
      expect(missing, `lib/${d.name}/index.ts`).to.deep.equal([]);
    }
  });
});
