/** Child `fisherlab` processes: stderr lines reach the caller, and a failure names the command and shows its stderr. */
import { expect } from 'chai';
import { runFisherlab } from '../lib/util/child-process';
import { rejection } from './helpers';

describe('fisherlab in a child process', function () {
  this.timeout(60_000);
  it('passes stderr lines on and rejects with the command and the end of its stderr', async () => {
    const lines: string[] = [];
    const error = await rejection(
      runFisherlab(['landscape', '--mask', 'bogus', '--output', 'never.json'], { onLine: (l) => lines.push(l) }),
    );
    expect(error).to.match(
      /^fisherlab landscape failed \(1\): fisherlab landscape --mask bogus --output never\.json\n/,
    );
    expect(error).to.match(/unknown mask "bogus"/);
    expect(lines.some((l) => /unknown mask "bogus"/.test(l))).to.equal(true);
  });

  it('resolves when the command succeeds', async () => {
    await runFisherlab(['schedule', '--help']);
  });
});
