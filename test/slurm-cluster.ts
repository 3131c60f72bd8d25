/** A throwaway one-node Slurm cluster for tests: munged, slurmctld and slurmd on 127.0.0.1, all files in one folder. */
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

const TOOLS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo'];

/** A running test cluster: its slurm.conf, and `stop`, which cancels its jobs and ends every daemon it started. */
export interface TestCluster {
  conf: string;
  stop: () => Promise<void>;
}

/** Why a test cluster cannot start here (not root, Slurm or munge missing), or null when it can. */
export function clusterUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the Slurm test cluster needs root (its daemons run as root)';
  const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length > 0
    ? `${missing.join(', ')} not on PATH: install Debian's slurm-wlm and munge (bash scripts/slurm-deps.sh)`
    : null;
}

/**
 * Starts munged (own key and socket), slurmctld and slurmd with a slurm.conf in `dir`, ports free a moment ago, both
 * bound to 127.0.0.1, accounting off; waits (at most `timeoutMs`) until the node is idle. On failure it stops what it started.
 */
export async function startCluster(dir: string, timeoutMs = 60_000): Promise<TestCluster> {
  const host = os.hostname().split('.')[0];
  const munge = path.join(dir, 'munge');
  for (const d of ['munge', 'state', 'spool', 'log']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(munge, 0o711);
  fs.writeFileSync(path.join(munge, 'munge.key'), crypto.randomBytes(1024), { mode: 0o400 });
  const socket = path.join(munge, 'munge.socket');
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'slurm.conf');
  fs.writeFileSync(
    conf,
    [
      'ClusterName=fisherlab-test',
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'CommunicationParameters=NoCtldInAddrAny,NoInAddrAny',
      'SlurmUser=root',
      'SlurmdUser=root',
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${socket}`,
      'MailProg=/bin/true',
      `StateSaveLocation=${dir}/state`,
      `SlurmdSpoolDir=${dir}/spool`,
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd.log`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'MpiDefault=none',
      'ReturnToService=2',
      'KillWait=5',
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN`,
      `PartitionName=test Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const pidFiles = [path.join(dir, 'slurmd.pid'), path.join(dir, 'slurmctld.pid'), path.join(munge, 'munged.pid')];
  const stop = async () => {
    spawnSync('scancel', ['--full', '--quiet', `--partition=test`], { env, timeout: 10_000 });
    await waitFor(
      () => spawnSync('squeue', ['--noheader'], { env, encoding: 'utf8', timeout: 10_000 }).stdout?.trim() === '',
      20_000,
    ).catch(() => undefined);
    for (const file of pidFiles) await stopDaemon(file, dir);
  };
  const daemon = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`${cmd} did not start (${r.status ?? r.error?.message}): ${r.stderr}`);
  };
  try {
    const m = (file: string) => path.join(munge, file);
    daemon('munged', [
      '--force',
      `--socket=${socket}`,
      `--key-file=${m('munge.key')}`,
      `--log-file=${m('munged.log')}`,
      `--pid-file=${m('munged.pid')}`,
      `--seed-file=${m('munged.seed')}`,
    ]);
    daemon('slurmctld', ['-f', conf]);
    daemon('slurmd', ['-f', conf]);
    await waitFor(
      () =>
        /^idle/.test(
          spawnSync('sinfo', ['--noheader', '--format=%T'], { env, encoding: 'utf8', timeout: 10_000 }).stdout ?? '',
        ),
      timeoutMs,
    );
  } catch (e) {
    await stop();
    throw new Error(`the test cluster in ${dir} did not start: ${(e as Error).message} (logs in ${dir}/log)`);
  }
  return { conf, stop };
}

/** Resolves when `check` holds, polling twice a second; rejects after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Ends the daemon of a pid file, if its command line names `dir` (so that it is ours): SIGTERM, then SIGKILL after 10 s. */
async function stopDaemon(pidFile: string, dir: string): Promise<void> {
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  const alive = () => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  await waitFor(() => !alive(), 10_000).catch(() => process.kill(pid, 'SIGKILL'));
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
