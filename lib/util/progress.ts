/** Progress lines with rate and ETA for long jobs, printed at most every few seconds. */

/** Formats seconds as "1h02m", "3m05s" or "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export interface ProgressOptions {
  /** Units already done when this process started (a resumed job); the rate counts only new ones. */
  startDone?: number;
  /** Minimum milliseconds between two lines (the last line always prints). */
  intervalMs?: number;
  /** Where lines go (default: stderr). */
  write?: (line: string) => void;
  unit?: string;
}

/** Reports `done / total` with the rate and the estimated time left. */
export class Progress {
  private readonly started = Date.now();
  private last = 0;
  private readonly startDone: number;
  private readonly intervalMs: number;
  private readonly write: (line: string) => void;
  private readonly unit: string;

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: ProgressOptions = {},
  ) {
    this.startDone = opts.startDone ?? 0;
    this.intervalMs = opts.intervalMs ?? 5000;
    this.write = opts.write ?? ((line) => process.stderr.write(`${line}\n`));
    this.unit = opts.unit ?? 'steps';
  }

  /**
   * The progress line for `done` units (with optional extra information). The ETA is `etaSeconds` when the caller
   * knows better (units of unequal cost), else the units left at the rate so far.
   */
  line(done: number, info = '', etaSeconds?: number): string {
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = (done - this.startDone) / Math.max(elapsed, 1e-9);
    const eta = etaSeconds ?? (rate > 0 ? (this.total - done) / rate : Infinity);
    const pct = ((100 * done) / Math.max(1, this.total)).toFixed(1);
    // under 0.1 a second, per hour: "0.00 runs/s" says nothing
    const speed =
      rate >= 0.1 || rate === 0 ? `${rate.toFixed(2)} ${this.unit}/s` : `${(rate * 3600).toFixed(1)} ${this.unit}/h`;
    return `${this.label}: ${done}/${this.total} ${this.unit} (${pct}%), ${speed}, elapsed ${formatDuration(elapsed)}, ETA ${formatDuration(eta)}${info ? `, ${info}` : ''}`;
  }

  /** Prints the line if enough time has passed since the last one, or when the job is complete. */
  update(done: number, info = '', etaSeconds?: number): void {
    const now = Date.now();
    if (done < this.total && now - this.last < this.intervalMs) return;
    this.last = now;
    this.write(this.line(done, info, etaSeconds));
  }
}
