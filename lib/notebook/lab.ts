/** A JupyterLab server on a loopback port, started from the project's Jupyter environment with the tslab kernel. */
import { spawn } from 'child_process';
import type { ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as net from 'net';
import * as path from 'path';
import { ensureKernel, jupyterEnv, jupyterPython } from './jupyter-env';
import { projectRoot } from '../paths';

/** The only address the server listens on. */
export const LOOPBACK = '127.0.0.1';

/** How to start JupyterLab. */
export interface LabOptions {
  /** Folder the file browser opens on (default notebooks/). */
  rootDir?: string;
  /** Port; 0 (the default) picks a free one. */
  port?: number;
  /** Access token (default: a random one). */
  token?: string;
  /** More `jupyter lab` options, e.g. `--LabApp.user_settings_dir=DIR`. */
  args?: string[];
  /** Extra environment variables for the server and its kernels. */
  env?: NodeJS.ProcessEnv;
  /** Seconds to wait for the server to answer (default 120). */
  startTimeout?: number;
  /** Run the server in its own process group, so that Ctrl-C in a terminal reaches only us (default true). */
  detached?: boolean;
  /** Where the server's log goes (default: this process's stderr). */
  log?: (chunk: string) => void;
}

/** A running JupyterLab server. */
export interface LabServer {
  /** The URL to open, token included. */
  url: string;
  /** The server's base URL, without the token. */
  baseUrl: string;
  token: string;
  port: number;
  /** Resolves with the exit code when the server has exited. */
  exited: Promise<number | null>;
  /** Stops the server (SIGTERM, then SIGKILL after 15 s) and waits until it has exited. */
  stop(): Promise<void>;
}

/** A free TCP port on the loopback address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether the Jupyter server at baseUrl answers its status API with this token. */
async function answers(baseUrl: string, token: string): Promise<boolean> {
  try {
    const headers = { Authorization: `token ${token}` };
    const res = await fetch(`${baseUrl}api/status`, { headers, signal: AbortSignal.timeout(5000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Sends SIGTERM to a child, then SIGKILL (to its group) if it still runs after `graceMs`; resolves on its exit. */
function terminate(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, graceMs);
  return exited.then(() => clearTimeout(timer));
}

/** Starts JupyterLab (registering the tslab kernel first if needed); resolves once the server answers. */
export async function startLab(options: LabOptions = {}): Promise<LabServer> {
  ensureKernel();
  const port = options.port || (await freePort());
  const token = options.token ?? randomBytes(24).toString('hex');
  const rootDir = path.resolve(options.rootDir ?? path.join(projectRoot(), 'notebooks'));
  const args = [
    '-m',
    'jupyter',
    'lab',
    '--no-browser',
    `--ServerApp.ip=${LOOPBACK}`,
    `--ServerApp.port=${port}`,
    '--ServerApp.port_retries=0',
    `--ServerApp.root_dir=${rootDir}`,
    `--IdentityProvider.token=${token}`,
    ...(options.args ?? []),
    ...(process.getuid?.() === 0 ? ['--allow-root'] : []),
  ];
  const env = jupyterEnv({ FISHERLAB_ROOT: projectRoot(), ...options.env });
  const detached = options.detached ?? true;
  const child = spawn(jupyterPython(), args, { env, detached, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = options.log ?? ((chunk: string) => process.stderr.write(chunk));
  let tail = '';
  const onData = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-20_000);
    log(d.toString());
  };
  const lastLines = () =>
    tail
      .trim()
      .split('\n')
      .slice(-12)
      .map((line) => line.slice(0, 300))
      .join('\n');
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      tail += String(e);
      resolve(null);
    });
    child.on('exit', (code) => resolve(code));
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));
  const baseUrl = `http://${LOOPBACK}:${port}/`;
  const stop = () => terminate(child, exited, 15_000);
  const deadline = Date.now() + (options.startTimeout ?? 120) * 1000;
  while (!(await answers(baseUrl, token))) {
    if (hasExited) throw new Error(`JupyterLab exited before it answered; its last output:\n${lastLines()}`);
    if (Date.now() > deadline) {
      await stop();
      const seconds = options.startTimeout ?? 120;
      throw new Error(`JupyterLab did not answer on ${baseUrl} within ${seconds} s; its last output:\n${lastLines()}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { url: `${baseUrl}lab?token=${token}`, baseUrl, token, port, exited, stop };
}
