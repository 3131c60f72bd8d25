// Which command modules the CLI loads: only the invoked command's, all of them for help and mistakes.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { COMMANDS, commandModules } from '../lib/commands';

const CLI = path.join(process.cwd(), 'bin', 'fisherlab.js');

describe('the command line loads only the command it runs', () => {
  it('one module for a known command (a hidden child loads its parent command module), every module otherwise', () => {
    const argv = (...rest: string[]) => ['node', 'fisherlab', ...rest];
    expect(commandModules(argv('fisher', '--help'))).to.deep.equal([COMMANDS.fisher]);
    expect(commandModules(argv('fisher-shard'))).to.deep.equal([COMMANDS.fisher]);
    expect(commandModules(argv('kernel'))).to.deep.equal([COMMANDS.notebooks]);
    const all = new Set(Object.values(COMMANDS));
    for (const rest of [[], ['help', 'fisher'], ['fishr'], ['constructor'], ['--help']])
      expect(new Set(commandModules(argv(...rest))), rest.join(' ')).to.deep.equal(all);
  });

  it('registers every command of COMMANDS under its own name (help lists them; each answers --help)', function () {
    this.timeout(120000);
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).to.equal(0);
    for (const name of Object.keys(COMMANDS)) {
      if (!name.endsWith('-shard') && name !== 'sweep-run')
        expect(help.stdout, name).to.match(new RegExp(`^  ${name} `, 'm'));
      const one = spawnSync(process.execPath, [CLI, name, '--help'], { encoding: 'utf8' });
      expect(one.status, `${name}: ${one.stderr}`).to.equal(0);
      expect(one.stdout, name).to.match(new RegExp(`^Usage: fisherlab ${name} `));
    }
    const typo = spawnSync(process.execPath, [CLI, 'fishr'], { encoding: 'utf8' });
    expect(typo.status).to.not.equal(0);
    expect(typo.stderr).to.match(/unknown command 'fishr'[\s\S]*Did you mean fisher\?/);
  });
});
