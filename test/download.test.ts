import { expect } from 'chai';
import { Command } from 'commander';
import * as fs from 'fs';
import type * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { MASKED_LM, parameterSpecs } from '../lib/bert/parameters';
import { writeCheckpoint } from '../lib/bert/folder';
import { register } from '../lib/commands/download';
import { DownloadOptions, downloadModel, fileUrl, progressLine } from '../lib/bert/hub';
import { readSafetensors } from '../lib/weights/safetensors';
import {
  closedPort,
  localServer,
  randomTensors,
  rejection,
  sendBytes,
  sendHalfAndCut,
  weightFileConfig,
  writeShardedSafetensors,
} from './helpers';
import { writeStateDict } from './torch-zip';

const CONFIG = weightFileConfig();
const TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 25 }, (_, i) => `tok${i}`)];

/** How the test server misbehaves. */
interface Mode {
  /** Cut the connection halfway through this file, once. */
  cutOnce?: string;
  /** Announce this many extra bytes in x-linked-size. */
  linkedSizeLie?: number;
  /** Announce 10 bytes more in Content-Length than are sent (no x-linked-size). */
  shortBody?: boolean;
  /** Ignore Range headers (answer 200). */
  noRange?: boolean;
  /** Serve this folder instead of the model.safetensors one. */
  source?: string;
}

describe('download', function () {
  this.timeout(20000);
  let root: string;
  let source: string;
  let endpoint: string;
  let close: () => void;
  let mode: Mode = {};
  let seen: { url: string; range?: string }[] = [];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fisherlab-dl-'));
    source = path.join(root, 'source');
    writeCheckpoint(source, {
      config: CONFIG,
      parts: MASKED_LM,
      weights: randomTensors(CONFIG, MASKED_LM, 3),
      vocabTokens: TOKENS,
    });
    ({ base: endpoint, close } = await localServer(serve));
  });
  after(() => {
    close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    mode = {};
    seen = [];
  });

  /** Serves /org/tiny/resolve/main/FILE as a redirect to /cdn/FILE (like the Hub), /cdn/FILE with Range support; /hang/* never answers. */
  function serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '';
    seen.push({ url, range: req.headers.range });
    if (url.startsWith('/hang/')) return;
    const hub = /^\/org\/tiny\/resolve\/main\/([\w.-]+)$/.exec(url);
    const cdn = /^\/cdn\/([\w.-]+)$/.exec(url);
    const file = hub?.[1] ?? cdn?.[1];
    const folder = mode.source ?? source;
    if (!file || !fs.existsSync(path.join(folder, file))) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const bytes = fs.readFileSync(path.join(folder, file));
    if (hub) {
      const headers: http.OutgoingHttpHeaders = { location: `/cdn/${file}` };
      if (!mode.shortBody) headers['x-linked-size'] = String(bytes.length + (mode.linkedSizeLie ?? 0));
      res.writeHead(302, headers).end();
      return;
    }
    if (mode.shortBody) {
      res.writeHead(200, { 'content-length': bytes.length + 10 });
      res.write(bytes, () => res.socket?.destroy());
      return;
    }
    if (mode.cutOnce === file) {
      mode.cutOnce = undefined;
      sendHalfAndCut(res, bytes);
      return;
    }
    sendBytes(req, res, bytes, !mode.noRange);
  }

  let count = 0;
  /** A fresh destination folder. */
  const dest = () => path.join(root, `dest${++count}`);
  /** Options for the test server, collecting progress lines. */
  const options = (to: string, extra: Partial<DownloadOptions> = {}, lines: string[] = []): DownloadOptions => ({
    model: 'org/tiny',
    to,
    endpoint,
    progress: (line) => lines.push(line),
    ...extra,
  });
  const sameBytes = (to: string, file: string) =>
    expect(fs.readFileSync(path.join(to, file)).equals(fs.readFileSync(path.join(source, file))), file).to.equal(true);

  it('downloads a folder through the Hub redirect, verifies it and then skips complete files', async () => {
    const to = dest();
    const lines: string[] = [];
    const ckpt = await downloadModel(options(to, {}, lines));
    expect(fs.readdirSync(to).sort()).to.deep.equal(['config.json', 'model.safetensors', 'vocab.txt']);
    for (const f of ['config.json', 'model.safetensors', 'vocab.txt']) sameBytes(to, f);
    expect(ckpt.config).to.deep.equal(CONFIG);
    expect(ckpt.parts).to.deep.equal(MASKED_LM);
    expect(seen.map((r) => r.url)).to.deep.equal([
      '/org/tiny/resolve/main/config.json',
      '/cdn/config.json',
      '/org/tiny/resolve/main/vocab.txt',
      '/cdn/vocab.txt',
      '/org/tiny/resolve/main/model.safetensors',
      '/cdn/model.safetensors',
    ]);
    const size = fs.statSync(path.join(to, 'model.safetensors')).size;
    const last = lines.filter((l) => l.startsWith('model.safetensors:')).at(-1)!;
    expect(last).to.match(
      new RegExp(
        `^model\\.safetensors: ${(size / 1024).toFixed(1)} KiB / ${(size / 1024).toFixed(1)} KiB \\(100%\\)  .*/s  ETA 0:00$`,
      ),
    );

    seen = [];
    lines.length = 0;
    await downloadModel(options(to, {}, lines));
    expect(seen).to.deep.equal([]);
    expect(lines).to.deep.equal(
      ['config.json', 'vocab.txt', 'model.safetensors'].map((f) => `${f}: already complete, skipped`),
    );
  });

  it('resumes with a Range request after the server cuts the connection mid-file', async () => {
    const to = dest();
    mode.cutOnce = 'model.safetensors';
    const lines: string[] = [];
    await downloadModel(options(to, {}, lines));
    sameBytes(to, 'model.safetensors');
    const ranges = seen.filter((r) => r.url === '/cdn/model.safetensors').map((r) => r.range);
    expect(ranges).to.have.length(2);
    expect(ranges[0]).to.equal(undefined);
    expect(Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1])).to.be.greaterThan(0);
    expect(lines.join('\n')).to.match(/interrupted after \d+ bytes.*resuming \(attempt 2 of 3\)/);
  });

  it('completes a pre-existing .part file with a Range request', async () => {
    const to = dest();
    fs.mkdirSync(to);
    fs.writeFileSync(
      path.join(to, 'model.safetensors.part'),
      fs.readFileSync(path.join(source, 'model.safetensors')).subarray(0, 100),
    );
    await downloadModel(options(to));
    sameBytes(to, 'model.safetensors');
    expect(seen.filter((r) => r.url === '/cdn/model.safetensors').map((r) => r.range)).to.deep.equal(['bytes=100-']);
    expect(fs.existsSync(path.join(to, 'model.safetensors.part'))).to.equal(false);
  });

  it('starts over when the server ignores the Range request', async () => {
    const to = dest();
    fs.mkdirSync(to);
    fs.writeFileSync(path.join(to, 'model.safetensors.part'), Buffer.alloc(100, 0xff));
    mode.noRange = true;
    await downloadModel(options(to));
    sameBytes(to, 'model.safetensors');
  });

  it('renames a .part file that is already complete (the server answers 416)', async () => {
    const to = dest();
    fs.mkdirSync(to);
    fs.copyFileSync(path.join(source, 'vocab.txt'), path.join(to, 'vocab.txt.part'));
    await downloadModel(options(to));
    sameBytes(to, 'vocab.txt');
  });

  it('refuses a file whose size differs from the announced x-linked-size, leaving no file', async () => {
    const to = dest();
    mode.linkedSizeLie = 10;
    const message = await rejection(downloadModel(options(to)));
    expect(message).to.include(`${endpoint}/org/tiny/resolve/main/config.json`);
    expect(message).to.match(/size mismatch: the Hub announces \d+ bytes \(x-linked-size\) but the server sends \d+/);
    expect(fs.readdirSync(to)).to.deep.equal([]);
  });

  it('fails after its attempts when the server sends fewer bytes than Content-Length, leaving no final file', async () => {
    const to = dest();
    mode.shortBody = true;
    const message = await rejection(downloadModel(options(to, { attempts: 2 })));
    expect(message).to.match(
      /^download of http:\/\/127\.0\.0\.1:\d+\/org\/tiny\/resolve\/main\/config\.json interrupted after \d+ bytes/,
    );
    expect(seen.filter((r) => r.url === '/cdn/config.json')).to.have.length(2);
    expect(fs.existsSync(path.join(to, 'config.json'))).to.equal(false);
  });

  it('names the URL of a 404, and of the repository when it has no weights fisherlab reads', async () => {
    const message = await rejection(downloadModel(options(dest(), { model: 'org/absent' })));
    expect(message).to.equal(
      `${endpoint}/org/absent/resolve/main/config.json: HTTP 404 Not Found: no such model, revision or file (check --model and --revision)`,
    );
    mode.source = path.join(root, 'tf-only');
    fs.mkdirSync(mode.source, { recursive: true });
    for (const f of ['config.json', 'vocab.txt']) fs.copyFileSync(path.join(source, f), path.join(mode.source, f));
    const missing = await rejection(downloadModel(options(dest())));
    expect(missing).to.include(
      `${endpoint}/org/tiny/resolve/main/: the repository has none of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json`,
    );
    expect(missing).to.include('from_tf=True');
  });

  it('fetches the index and its shards when the repository has sharded safetensors, resuming with the shards', async () => {
    mode.source = path.join(root, 'sharded');
    fs.mkdirSync(mode.source, { recursive: true });
    for (const f of ['config.json', 'vocab.txt']) fs.copyFileSync(path.join(source, f), path.join(mode.source, f));
    writeShardedSafetensors(
      mode.source,
      [...readSafetensors(path.join(source, 'model.safetensors')).tensors.values()],
      2,
    );
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    mode.cutOnce = shards[1];
    const to = dest();
    const ckpt = await downloadModel(options(to));
    expect(fs.readdirSync(to).sort()).to.deep.equal([
      'config.json',
      ...shards,
      'model.safetensors.index.json',
      'vocab.txt',
    ]);
    for (const f of [...shards, 'model.safetensors.index.json'])
      expect(fs.readFileSync(path.join(to, f)).equals(fs.readFileSync(path.join(mode.source, f))), f).to.equal(true);
    expect(ckpt.parts).to.deep.equal(MASKED_LM);
    expect(
      seen.filter((r) => r.url.startsWith('/org/')).map((r) => r.url.replace('/org/tiny/resolve/main/', '')),
    ).to.deep.equal([
      'config.json',
      'vocab.txt',
      'model.safetensors',
      'model.safetensors.index.json',
      ...shards,
      shards[1],
    ]);

    fs.rmSync(path.join(to, shards[0]));
    seen = [];
    await downloadModel(options(to));
    expect(
      seen.filter((r) => r.url.startsWith('/org/')).map((r) => r.url.replace('/org/tiny/resolve/main/', '')),
    ).to.deep.equal([shards[0]]);
  });

  it('fetches pytorch_model.bin when the repository has no safetensors', async () => {
    mode.source = path.join(root, 'torch');
    fs.mkdirSync(mode.source, { recursive: true });
    for (const f of ['config.json', 'vocab.txt']) fs.copyFileSync(path.join(source, f), path.join(mode.source, f));
    writeStateDict(path.join(mode.source, 'pytorch_model.bin'), [
      ...readSafetensors(path.join(source, 'model.safetensors')).tensors.values(),
    ]);
    const to = dest();
    const ckpt = await downloadModel(options(to));
    expect(fs.readdirSync(to).sort()).to.deep.equal(['config.json', 'pytorch_model.bin', 'vocab.txt']);
    expect(ckpt.weights.size).to.equal(parameterSpecs(CONFIG, MASKED_LM).length);
    expect(seen.filter((r) => r.url.startsWith('/org/')).map((r) => r.url.split('/').at(-1))).to.deep.equal([
      'config.json',
      'vocab.txt',
      'model.safetensors',
      'model.safetensors.index.json',
      'pytorch_model.bin',
    ]);
  });

  it('fails fast and clearly when the endpoint cannot be reached', async () => {
    const port = await closedPort();
    const began = Date.now();
    const message = await rejection(downloadModel(options(dest(), { endpoint: `http://127.0.0.1:${port}` })));
    expect(Date.now() - began).to.be.lessThan(5000);
    expect(message).to.match(new RegExp(`^cannot reach http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): `));
    expect(message).to.include('this machine has no network access');
    expect(message).to.include(
      'copy a Hugging Face BERT folder (config.json, model.safetensors or pytorch_model.bin, vocab.txt) here and pass --model DIR',
    );
  });

  it('gives up on a server that does not answer within the timeout', async () => {
    const began = Date.now();
    const message = await rejection(
      downloadModel(options(dest(), { endpoint: `${endpoint}/hang`, connectTimeout: 0.3 })),
    );
    expect(Date.now() - began).to.be.lessThan(3000);
    expect(message).to.include(`cannot reach ${endpoint} (no answer within 0.3 s)`);
  });

  it('builds Hub URLs and refuses model ids that are not ids', () => {
    expect(fileUrl('https://huggingface.co', 'google/bert_uncased_L-2_H-128_A-2', 'main', 'config.json')).to.equal(
      'https://huggingface.co/google/bert_uncased_L-2_H-128_A-2/resolve/main/config.json',
    );
    expect(fileUrl('https://hf.example', 'bert-base-uncased', 'refs/pr/1', 'vocab.txt')).to.equal(
      'https://hf.example/bert-base-uncased/resolve/refs%2Fpr%2F1/vocab.txt',
    );
    expect(() => fileUrl('https://huggingface.co', '../etc', 'main', 'x')).to.throw(
      '--model "../etc" is not a Hub model id',
    );
    expect(() => fileUrl('https://huggingface.co', 'a/b/c', 'main', 'x')).to.throw('is not a Hub model id');
  });

  it('formats progress with bytes, rate and ETA', () => {
    expect(
      progressLine({
        file: 'model.safetensors',
        received: 100 * 2 ** 20,
        total: 400 * 2 ** 20,
        bytesPerSecond: 2 ** 20,
      }),
    ).to.equal('model.safetensors: 100.0 MiB / 400.0 MiB (25%)  1.0 MiB/s  ETA 5:00');
    expect(progressLine({ file: 'f', received: 512, total: null, bytesPerSecond: 0 })).to.equal('f: 512 B  0 B/s');
    expect(progressLine({ file: 'f', received: 0, total: 2 ** 31, bytesPerSecond: 2 ** 18 })).to.equal(
      'f: 0 B / 2.0 GiB (0%)  256.0 KiB/s  ETA 2:16:32',
    );
  });

  it('runs as the `download` subcommand', async () => {
    const program = new Command('fisherlab').exitOverride();
    register(program);
    const to = dest();
    const logged: string[] = [];
    const log = console.log;
    const write = process.stderr.write;
    console.log = (line: string) => logged.push(line);
    process.stderr.write = () => true;
    try {
      await program.parseAsync(
        ['download', '--model', 'org/tiny', '--to', to, '--endpoint', endpoint, '--timeout', '5'],
        { from: 'user' },
      );
    } finally {
      console.log = log;
      process.stderr.write = write;
    }
    sameBytes(to, 'model.safetensors');
    const values = parameterSpecs(CONFIG, MASKED_LM).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(logged).to.deep.equal([
      `${to}: ${parameterSpecs(CONFIG, MASKED_LM).length} tensors, ${values} parameters (mlm), verified`,
    ]);
    const help = program.commands.find((c) => c.name() === 'download')!.helpInformation();
    for (const flag of ['--model <id>', '--to <dir>', '--endpoint <url>', '--revision <rev>', '--timeout <seconds>'])
      expect(help).to.include(flag);
  });
});
