/** Slurm's command-line tools: job-array scripts that record how each task ended, sbatch, squeue and sacct. */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Resources and pass-through arguments of a job array (`fisherlab sweep --partition ... --sbatch-arg ...`). */
export interface SlurmOptions {
  partition?: string;
  /** Time limit per task, in any format sbatch accepts (e.g. 2:00:00). */
  time?: string;
  cpusPerTask?: number;
  gres?: string;
  /** Tasks running at a time (the %K of --array). */
  maxParallel?: number;
  /** Further sbatch arguments, one per item (e.g. --mem=8G). */
  sbatchArgs?: string[];
}

/** What a job-array script runs. */
export interface ArrayScript {
  jobName: string;
  /** Folder of each task's log (JOB_TASK.log) and exit marker (JOB_TASK.exit). */
  logDir: string;
  /** Working folder of every task. */
  cwd: string;
  /** One command (argv) per array index. */
  commands: string[][];
  options: SlurmOptions;
}

/** How a task ended, from its exit marker. */
export type TaskEnd = { exit: number } | { signal: string };

/** The text of a job-array script: task I runs commands[I] in cwd and writes how it ended (exit status or signal) to its exit marker. */
export function arrayScript(s: ArrayScript): string {
  const o = s.options;
  if (s.commands.length === 0) throw new Error('slurm: a job array needs at least one task');
  const directives = [
    `--job-name=${s.jobName}`,
    `--array=0-${s.commands.length - 1}${o.maxParallel !== undefined ? `%${o.maxParallel}` : ''}`,
    `--output=${path.join(path.resolve(s.logDir), '%A_%a.log')}`,
    ...(o.partition !== undefined ? [`--partition=${o.partition}`] : []),
    ...(o.time !== undefined ? [`--time=${o.time}`] : []),
    ...(o.cpusPerTask !== undefined ? [`--cpus-per-task=${o.cpusPerTask}`] : []),
    ...(o.gres !== undefined ? [`--gres=${o.gres}`] : []),
    ...(o.sbatchArgs ?? []),
  ];
  for (const d of directives)
    if (/[\n\r]/.test(d)) throw new Error(`slurm: the sbatch argument ${JSON.stringify(d)} holds a line break`);
  const marker = `${shellQuote(path.resolve(s.logDir))}/"$SLURM_ARRAY_JOB_ID"_"$SLURM_ARRAY_TASK_ID".exit`;
  return [
    '#!/bin/bash',
    ...directives.map((d) => `#SBATCH ${d}`),
    '# Written by fisherlab. Each task runs one command and records how it ended in the exit marker beside its log,',
    '# also when the scheduler stops it with SIGTERM (time limit, scancel); a task with neither marker nor squeue entry was killed.',
    'set -euo pipefail',
    `marker=${marker}`,
    'record() { printf \'%s\\n\' "$1" >"$marker.tmp" && mv -f "$marker.tmp" "$marker"; }',
    'child=',
    'trap \'record "signal TERM"; if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi; exit 143\' TERM',
    `cd ${shellQuote(path.resolve(s.cwd))}`,
    'case "$SLURM_ARRAY_TASK_ID" in',
    ...s.commands.map((c, i) => `  ${i}) ${c.map(shellQuote).join(' ')} & ;;`),
    '  *) echo "no task $SLURM_ARRAY_TASK_ID in this job array" >&2; record "exit 2"; exit 2 ;;',
    'esac',
    'child=$!',
    'status=0',
    'wait "$child" || status=$?',
    'record "exit $status"',
    'exit "$status"',
    '',
  ].join('\n');
}

/** A word quoted for bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\/.,:=%+@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The log file of an array task. */
export function taskLog(logDir: string, job: string, index: number): string {
  return path.join(logDir, `${job}_${index}.log`);
}

/** How an array task ended, from the exit marker beside its log; null when it has none (not ended, or killed by SIGKILL). */
export function taskEnd(logDir: string, job: string, index: number): TaskEnd | null {
  const file = path.join(logDir, `${job}_${index}.exit`);
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8').trim();
  const m = /^(exit|signal) (\S+)$/.exec(text);
  if (!m)
    throw new Error(
      `slurm: ${file} is not an exit marker ("exit N" or "signal NAME"): ${JSON.stringify(text.slice(0, 80))}`,
    );
  return m[1] === 'exit' ? { exit: Number(m[2]) } : { signal: m[2] };
}

/** Submits a batch script with sbatch; returns the job id. */
export function sbatch(script: string): string {
  const r = slurmTool('sbatch', ['--parsable', script]);
  if (r.status !== 0) {
    const why = r.stderr.trim() || r.stdout.trim();
    throw new Error(
      `slurm: sbatch rejected ${script} (exit ${r.status}): ${why}; nothing was submitted: fix the options and run the same command again`,
    );
  }
  const job = r.stdout.trim().split(';')[0];
  if (!/^\d+$/.test(job)) {
    throw new Error(
      `slurm: sbatch printed no job id for ${script} (stdout ${JSON.stringify(r.stdout.trim())}); check \`squeue --me\` before submitting again`,
    );
  }
  return job;
}

/** The caller's array tasks of the given jobs that squeue still lists: "JOB_TASK" → state (PENDING, RUNNING...). */
export function queuedTasks(jobs: readonly string[]): Map<string, string> {
  const tasks = new Map<string, string>();
  if (jobs.length === 0) return tasks;
  const r = slurmTool('squeue', ['--me', '--noheader', '--array', '--format=%F|%K|%T']);
  if (r.status !== 0)
    throw new Error(`slurm: squeue failed (exit ${r.status}): ${r.stderr.trim()}; is the Slurm controller reachable?`);
  const wanted = new Set(jobs);
  for (const line of r.stdout.split('\n')) {
    const [job, index, state] = line.trim().split('|');
    if (wanted.has(job) && /^\d+$/.test(index ?? '')) tasks.set(`${job}_${index}`, state);
  }
  return tasks;
}

/** The accounted state (COMPLETED, TIMEOUT, CANCELLED, NODE_FAIL...) of array tasks of the jobs, or null when sacct does not answer (accounting off). */
export function accountedStates(jobs: readonly string[]): Map<string, string> | null {
  if (jobs.length === 0) return new Map();
  const r = slurmTool(
    'sacct',
    ['--noheader', '--parsable2', '--allocations', `--jobs=${jobs.join(',')}`, '--format=JobID,State'],
    true,
  );
  if (r.status !== 0) return null;
  const states = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [id, state] = line.trim().split('|');
    if (/^\d+_\d+$/.test(id ?? '') && state) states.set(id, state.split(' ')[0]);
  }
  return states;
}

/** Runs a Slurm tool; a missing tool is an error that says what to do (unless `optional`: then exit status 127). */
function slurmTool(tool: string, args: string[], optional = false): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    if (optional) return { status: 127, stdout: '', stderr: r.error.message };
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? `slurm: ${tool} is not on PATH: run this on a Slurm login node (or install slurm-wlm), or use --executor local`
        : `slurm: ${tool} failed: ${r.error.message}`,
    );
  }
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}
