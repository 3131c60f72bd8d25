/** `fisherlab lab`: JupyterLab on the notebooks with the tslab kernel, on a loopback port, until Ctrl-C. */
import { Command } from 'commander';
import { startLab } from '../notebook/lab';

interface LabOpts {
  port: string;
  dir?: string;
}

/** Adds the `lab` command. */
export function register(program: Command): void {
  program
    .command('lab')
    .summary('open the notebooks in JupyterLab (loopback, with a token)')
    .description(
      "start JupyterLab from the project's Jupyter environment (.venv/, made by scripts/setup.sh) on notebooks/ with " +
        'the tslab kernel, listening on 127.0.0.1 with a random token; prints the URL to open and stops on Ctrl-C',
    )
    .option('--port <n>', 'port to listen on; 0 picks a free one', '8888')
    .option('--dir <folder>', 'folder to open (default: notebooks/)')
    .addHelpText(
      'after',
      '\nExamples:\n  npx fisherlab lab\n  npx fisherlab lab --port 0\n\n' +
        'From another machine: ssh -L 8888:127.0.0.1:8888 HOST, then open the printed URL.',
    )
    .action(async (opts: LabOpts) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new Error(`--port: "${opts.port}" is not a port number (0-65535)`);
      }
      console.log('lab: starting JupyterLab …');
      const lab = await startLab({ port, rootDir: opts.dir });
      console.log(
        `lab: JupyterLab is serving ${opts.dir ?? 'notebooks/'} with the tslab kernel; open\n\n    ${lab.url}\n`,
      );
      console.log('lab: Ctrl-C stops it');
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        console.log('\nlab: stopping JupyterLab and its kernels …');
        void lab.stop();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      const code = await lab.exited;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (stopping) console.log('lab: stopped');
      else
        throw new Error(`JupyterLab exited on its own (code ${code}); see its log above, and run fisherlab lab again`);
    });
}
