/** The sweep's time estimate against hand-computed example passes, and progress lines with an ETA given or measured. */
import { expect } from 'chai';
import { describeRemaining, remainingTime, type TimedRun } from '../lib/sweep/eta';
import { formatDuration, Progress } from '../lib/util/progress';

/** A finished run of `task` at `pct` that took `wall` seconds. */
function run(task: string, pct: number, train: number, dev: number, wall: number, epochs = 3): TimedRun {
  return { task, pct, wallSeconds: wall, trainExamples: train, evalExamples: { dev }, settings: { epochs } };
}

describe('sweep time estimate', () => {
  // CoLA at 100%: 3 epochs × (900 + 300/3) = 3000 passes in 300 s and in 600 s, and at 50%: 3 × (450 + 100) = 1650
  // passes in 330 s: 0.1, 0.2 and 0.2 s per pass, median 0.2. RTE at 100%: 2 × (100 + 60/3) = 240 passes in 24 s.
  const records = [
    run('CoLA', 100, 900, 300, 300),
    run('CoLA', 100, 900, 300, 600),
    run('CoLA', 50, 450, 300, 330),
    run('RTE', 100, 100, 60, 24, 2),
  ];

  it("sums each run's example passes times its task's median seconds per pass", () => {
    // CoLA 10%: 3 × (90 + 100) = 570 passes × 0.2 = 114 s; CoLA 25%: 3 × (225 + 100) = 975 × 0.2 = 195 s;
    // RTE 50%: 2 × (50 + 20) = 140 passes × 0.1 = 14 s; SST-2 has no finished run
    const t = remainingTime(records, [
      { task: 'CoLA', pct: 10 },
      { task: 'CoLA', pct: 25 },
      { task: 'RTE', pct: 50 },
      { task: 'SST-2', pct: 1 },
    ]);
    expect(t.timed).to.equal(3);
    expect(t.untimed).to.equal(1);
    expect(t.seconds).to.be.closeTo(114 + 195 + 14, 1e-9);
    expect(remainingTime([], [{ task: 'CoLA', pct: 10 }])).to.deep.equal({ seconds: 0, timed: 0, untimed: 1 });
  });

  it('says in one line what is left, at one run at a time and at --jobs, and what it leaves out', () => {
    expect(
      describeRemaining(
        records,
        [
          { task: 'CoLA', pct: 10 },
          { task: 'SST-2', pct: 1 },
        ],
        2,
      ),
    ).to.equal(
      'remaining: 2 runs, about 1m54s of run time (57s at 2 at a time), from the wall times of the finished runs; 1 of tasks with no finished run are not counted',
    );
    expect(describeRemaining(records, [{ task: 'SST-2', pct: 1 }])).to.equal(
      'remaining: 1 run, not yet timed (no finished run of their tasks)',
    );
    expect(describeRemaining(records, [])).to.equal('remaining: none');
  });
});

describe('progress lines', () => {
  it('take a given ETA over the measured rate', () => {
    const lines: string[] = [];
    const p = new Progress('sweep', 10, { startDone: 2, intervalMs: 0, unit: 'runs', write: (l) => lines.push(l) });
    p.update(3, 'x', 4000);
    expect(lines[0]).to.match(/^sweep: 3\/10 runs \(30\.0%\), [\d.]+ runs\/s, elapsed 0s, ETA 1h06m, x$/);
    // nothing done yet in this process: no rate, no ETA
    expect(p.line(2)).to.match(/, 0\.00 runs\/s, elapsed 0s, ETA \?$/);
    expect(formatDuration(4000)).to.equal('1h06m');
  });

  it('shows a rate under 0.1 units a second per hour', () => {
    const p = new Progress('sweep', 10, { intervalMs: 0, unit: 'runs', write: () => undefined });
    // rates are read off the clock: a start 36 s ago makes 1 run 100 an hour, and 9 more 5m24s
    (p as unknown as { started: number }).started = Date.now() - 36_000;
    expect(p.line(1)).to.match(/, 100\.0 runs\/h, elapsed 36s, ETA 5m2[4-6]s$/);
  });
});
