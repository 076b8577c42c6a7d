import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TesseraClient, UploadView } from '../../index';
import { fileSource } from '../../node';
import { parseCommandArgs, parseInteger, parseSize, UsageError } from '../args';
import { stateFile } from '../config';
import { connect, EXIT, printJson, type Command, type Io } from '../context';
import { explain, isTesseraError } from '../explain';
import { formatBytes, renderTable, shellQuote } from '../format';
import { createRenderer, FileProgress, silentRenderer, type Renderer } from '../progress';
import { ResumeStore, type Fingerprint } from '../state-store';

const OPTIONS = {
  parallel: { type: 'string', short: 'p' },
  'chunk-size': { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Files sent at the same time; each has `--parallel` chunk requests in flight. */
const FILES_AT_ONCE = 3;
const RESUMABLE_STATES = new Set(['pending', 'receiving', 'finalizing']);

/** How one file's upload ended in this run. */
export interface UploadOutcome {
  /** As given on the command line. */
  file: string;
  path: string;
  filename: string;
  size: number;
  state: 'completed' | 'paused' | 'not-started' | 'failed';
  id: string | null;
  sha256: string | null;
  /** An earlier, interrupted upload was continued (or found already complete). */
  resumed: boolean;
  /** Bytes this run sent (chunks acknowledged by the gateway). */
  bytesSent: number;
  /** Why it failed; `resumable`: the upload exists and running the same command again continues it. */
  error?: { type: string; status: number; detail: string; message: string; resumable: boolean };
}

interface FileJob {
  file: string;
  fingerprint: Fingerprint;
  progress: FileProgress;
}

interface UploadRun {
  io: Io;
  client: TesseraClient;
  baseUrl: string;
  store: ResumeStore;
  renderer: Renderer;
  signal: AbortSignal;
  parallel: number | undefined;
  chunkSize: number | undefined;
}

function retryable(error: unknown): boolean {
  return isTesseraError(error) && error.retryable;
}

/** The SHA-256 of a file, read as a stream while the upload runs. */
function hashFile(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => done(hash.digest('hex')));
  });
}

function chunkLength(size: number, chunkSize: number, index: number): number {
  return Math.max(0, Math.min(chunkSize, size - index * chunkSize));
}

/** The earlier upload of this file to continue, if there is one the server still accepts. */
async function findResumable(run: UploadRun, job: FileJob): Promise<UploadView | null> {
  const { store, client, renderer } = run;
  for (const stale of store.findStale(job.fingerprint)) {
    store.remove(stale);
    renderer.message(`${job.file}: changed since its interrupted upload ${stale.uploadId}; starting a new upload.`);
  }
  const entry = store.find(job.fingerprint);
  if (!entry) return null;
  let upload: UploadView;
  try {
    upload = await client.get(entry.uploadId);
  } catch (error) {
    if (!isTesseraError(error) || error.status !== 404) throw error;
    store.remove(job.fingerprint);
    renderer.message(`${job.file}: its interrupted upload ${entry.uploadId} is gone from the server; starting a new upload.`);
    return null;
  }
  if (upload.state === 'completed' || RESUMABLE_STATES.has(upload.state)) return upload;
  store.remove(job.fingerprint);
  renderer.message(`${job.file}: its interrupted upload ${entry.uploadId} is ${upload.state}; starting a new upload.`);
  return null;
}

async function uploadFile(run: UploadRun, job: FileJob): Promise<UploadOutcome> {
  const { client, store, renderer, signal } = run;
  const { progress, fingerprint } = job;
  const outcome: UploadOutcome = {
    file: job.file,
    path: fingerprint.path,
    filename: job.progress.label,
    size: fingerprint.size,
    state: 'not-started',
    id: null,
    sha256: null,
    resumed: false,
    bytesSent: 0,
  };
  const failed = (error: unknown, resumable = false): UploadOutcome => {
    const message = explain(error, { baseUrl: run.baseUrl, ...(outcome.id ? { uploadId: outcome.id } : {}) });
    outcome.state = 'failed';
    outcome.error = isTesseraError(error)
      ? { type: error.type, status: error.status, detail: error.detail, message, resumable }
      : { type: 'client-error', status: 0, detail: (error as Error)?.message ?? String(error), message, resumable };
    progress.note = message.split('\n')[0]!;
    progress.end('failed');
    renderer.changed();
    return outcome;
  };
  if (signal.aborted) return outcome;
  progress.phase = 'starting';
  renderer.changed();

  let previous: UploadView | null;
  try {
    previous = await findResumable(run, job);
  } catch (error) {
    return failed(error);
  }
  if (signal.aborted) return outcome;
  if (previous?.state === 'completed') {
    // Completed after the last run stopped looking (or the entry outlived a crash).
    store.remove(fingerprint);
    Object.assign(outcome, { state: 'completed', id: previous.id, sha256: previous.sha256 ?? null, resumed: true, filename: previous.filename });
    progress.sent = progress.stored = fingerprint.size;
    progress.end('completed');
    renderer.message(`${job.file}: its upload ${previous.id} had already completed.`);
    return outcome;
  }
  if (previous) {
    outcome.resumed = true;
    const note = run.chunkSize && run.chunkSize !== previous.chunkSize ? ` (it keeps its chunk size, ${formatBytes(previous.chunkSize)})` : '';
    renderer.message(`${job.file}: resuming upload ${previous.id}: ${formatBytes(previous.bytesReceived)} of ${formatBytes(fingerprint.size)} already received${note}.`);
  }

  let source: Awaited<ReturnType<typeof fileSource>>;
  try {
    source = await fileSource(fingerprint.path);
  } catch (error) {
    return failed(error);
  }
  if (source.size !== fingerprint.size) return failed(new Error(`${job.file} changed size since the command started; run it again`));
  const localSha256 = hashFile(fingerprint.path);
  localSha256.catch(() => undefined);
  let paused!: () => void;
  const pausedNow = new Promise<'paused'>((resolvePaused) => (paused = () => resolvePaused('paused')));
  const task = client.upload(source, {
    signal,
    ...(run.parallel ? { parallel: run.parallel } : {}),
    ...(previous ? { uploadId: previous.id } : run.chunkSize ? { chunkSize: run.chunkSize } : {}),
  });
  let chunkSize = previous?.chunkSize ?? run.chunkSize ?? 0;
  task.on('created', (upload) => {
    outcome.id = progress.uploadId = upload.id;
    outcome.filename = upload.filename;
    chunkSize = upload.chunkSize;
    const size = upload.size ?? fingerprint.size;
    progress.sent = size - upload.missing.reduce((sum, index) => sum + chunkLength(size, chunkSize, index), 0);
    progress.stored = upload.bytesStored;
    progress.phase = progress.sent >= size && size > 0 ? 'verifying' : 'uploading';
    progress.start();
    if (!previous) renderer.message(`${job.file}: upload ${upload.id}, ${upload.chunkCount ?? '?'} chunk${upload.chunkCount === 1 ? '' : 's'} of ${formatBytes(upload.chunkSize)}`);
    renderer.changed();
    // Remembered at once, so that even a crash or a kill -9 can be resumed.
    try {
      store.save({ ...fingerprint, uploadId: upload.id, filename: upload.filename, chunkSize: upload.chunkSize, createdAt: upload.createdAt });
    } catch (error) {
      renderer.message(`${job.file}: could not record the upload in ${store.file} (${(error as Error).message}); it cannot be resumed automatically.`);
    }
  });
  task.on('sent', ({ bytesSent, size, index }) => {
    progress.addSent(chunkLength(size, chunkSize, index), bytesSent);
    outcome.bytesSent = progress.sentThisRun;
    progress.note = '';
    if (bytesSent >= size) progress.phase = 'verifying';
    renderer.changed();
  });
  task.on('stored', ({ bytesStored }) => {
    progress.stored = Math.max(progress.stored, bytesStored);
    // Stored bytes were received, even those whose acknowledgement has not arrived yet.
    progress.sent = Math.max(progress.sent, progress.stored);
    renderer.changed();
  });
  task.on('retry', ({ index, attempt, delayMs, error }) => {
    progress.note = `chunk ${index}: ${error.status || error.type}, retry ${attempt} in ${(delayMs / 1000).toFixed(1)}s`;
    renderer.changed();
  });
  task.on('paused', () => paused());

  let result: UploadView | 'paused';
  try {
    result = await Promise.race([task.done, pausedNow]);
  } catch (error) {
    // A failure worth another try (network, busy service) leaves the upload resumable; anything else is final.
    const resumable = outcome.id !== null && retryable(error);
    if (!resumable && outcome.id) store.remove(fingerprint);
    return failed(error, resumable);
  }
  if (result === 'paused') {
    outcome.state = outcome.id ? 'paused' : 'not-started';
    progress.end(outcome.id ? 'paused' : 'queued');
    renderer.changed();
    return outcome;
  }
  store.remove(fingerprint);
  outcome.id = result.id;
  outcome.sha256 = result.sha256 ?? null;
  let local: string;
  try {
    local = await localSha256;
  } catch (error) {
    return failed(error);
  }
  if (result.sha256 !== local) {
    return failed(
      Object.assign(new Error('digest mismatch'), {
        name: 'TesseraError',
        type: 'sha256-mismatch',
        status: 0,
        detail: `the server stored SHA-256 ${result.sha256} but the file now hashes to ${local}: was it modified during the upload? Upload it again`,
      }),
    );
  }
  progress.sent = progress.stored = fingerprint.size;
  outcome.state = 'completed';
  progress.end('completed');
  renderer.changed();
  return outcome;
}

/** Runs `work` on every item with at most `limit` at once, keeping the order of results. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) results[i] = await work(items[i]!);
    }),
  );
  return results;
}

/** Checks every file before anything is sent: a typo must not leave half a batch uploaded. */
function preflight(io: Io, files: string[], server: string): { jobs: FileJob[]; problems: string[] } {
  const jobs: FileJob[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const path = resolve(io.cwd, file);
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      const stat = statSync(path);
      if (stat.isDirectory()) {
        problems.push(`${file} is a directory: pass the files in it instead (for example, tessera upload ${shellQuote(file)}/*).`);
        continue;
      }
      if (!stat.isFile()) {
        problems.push(`${file} is not a regular file: tessera needs to know its size and read it again to resume.`);
        continue;
      }
      const label = path.split('/').pop() || file;
      jobs.push({ file, fingerprint: { server, path, size: stat.size, mtimeMs: stat.mtimeMs }, progress: new FileProgress(label, stat.size) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      problems.push(code === 'ENOENT' ? `${file}: no such file.` : code === 'EACCES' ? `${file}: permission denied.` : `${file}: ${(error as Error).message}`);
    }
  }
  return { jobs, problems };
}

function resumeCommand(files: string[], values: Record<string, unknown>): string {
  const parts = ['tessera', 'upload', ...files];
  if (values.parallel !== undefined) parts.push('--parallel', String(values.parallel));
  if (values['chunk-size'] !== undefined) parts.push('--chunk-size', String(values['chunk-size']));
  if (values.json) parts.push('--json');
  if (values.quiet) parts.push('--quiet');
  return parts.map((p, i) => (i < 2 ? p : shellQuote(p))).join(' ');
}

export const uploadCommand: Command = {
  name: 'upload',
  synopsis: 'upload <files…> [-p N] [-c SIZE]',
  summary: 'upload files in chunks with live progress; resumes interrupted uploads',
  help: `Usage: tessera upload <files…> [--parallel N] [--chunk-size S] [--json] [--quiet]

Uploads files in chunks, each chunk with its SHA-256 (Content-Digest), retrying network
errors and busy answers. Shows a progress bar per file: █ stored and verified by the
server, ▒ sent, speed and time left. At the end, a table of each file's upload id, size
and SHA-256 (checked against the file's own).

Ctrl-C pauses: the chunks the server acknowledged are kept, and running the same command
again resumes, sending only the missing chunks (a file is the same if its path, size and
modification time are). A second Ctrl-C quits at once.

Options:
  -p, --parallel N     chunk requests in flight per file (default 4); up to ${FILES_AT_ONCE} files
                       are sent at the same time
  -c, --chunk-size S   chunk size for new uploads: 8MiB, 512KiB, or bytes (default: the
                       server's, 8 MiB; the server accepts 64KiB to 64MiB). A resumed
                       upload keeps its own.
  --json               print a JSON report on stdout (progress goes to stderr)
  -q, --quiet          no progress, only the result
  -h, --help           show this help

Environment:
  TESSERA_STATE_DIR            where interrupted uploads are remembered
                               (default \${XDG_STATE_HOME:-~/.local/state}/tessera)
  TESSERA_PROGRESS_INTERVAL_MS how often progress lines are printed when the output is
                               not a terminal (default 1000)

Exit codes: 0 all uploaded, 1 a file failed, 2 usage error, 130 interrupted (resumable).
`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('upload', args, OPTIONS);
    if (values.help) {
      io.stdout.write(uploadCommand.help);
      return EXIT.ok;
    }
    if (positionals.length === 0) throw new UsageError('Name at least one file to upload.', 'upload');
    const parallel = values.parallel === undefined ? undefined : parseInteger(values.parallel, '--parallel', 'upload', 1, 64);
    const chunkSize = values['chunk-size'] === undefined ? undefined : parseSize(values['chunk-size'], '--chunk-size', 'upload');
    const { config, client } = connect(io);
    const human = values.json ? io.stderr : io.stdout;

    const { jobs, problems } = preflight(io, positionals, config.baseUrl);
    if (problems.length > 0) {
      io.stderr.write(`${problems.map((p) => `tessera: ${p}`).join('\n')}\nNothing was uploaded.\n`);
      client.close();
      return EXIT.failure;
    }

    const progressStream = values.json ? io.stderr : io.stdout;
    const intervalMs = Number(io.env.TESSERA_PROGRESS_INTERVAL_MS ?? 1000);
    const renderer = values.quiet
      ? silentRenderer
      : createRenderer(
          progressStream,
          jobs.map((j) => j.progress),
          { tty: progressStream.isTTY === true && io.env.TERM !== 'dumb', intervalMs: Number.isFinite(intervalMs) && intervalMs >= 0 ? intervalMs : 1000 },
        );
    const controller = new AbortController();
    io.onInterrupt(() => {
      controller.abort();
      renderer.message('Pausing: the chunks the server acknowledged are kept (press Ctrl-C again to quit at once)…');
    });
    const store = new ResumeStore(stateFile(io.env));
    const run: UploadRun = { io, client, baseUrl: config.baseUrl, store, renderer, signal: controller.signal, parallel, chunkSize };

    let outcomes: UploadOutcome[];
    try {
      outcomes = await pool(jobs, FILES_AT_ONCE, (job) => uploadFile(run, job));
    } finally {
      renderer.stop();
      client.close();
    }
    const interrupted = controller.signal.aborted;
    const unfinished = outcomes.filter((o) => o.state === 'paused' || o.state === 'not-started');
    const failures = outcomes.filter((o) => o.state === 'failed');

    if (values.json) {
      printJson(io, { interrupted, stateFile: store.file, uploads: outcomes });
    } else {
      if (!values.quiet) human.write('\n');
      human.write(
        renderTable(outcomes, [
          { header: 'FILE', value: (o) => o.file },
          { header: 'ID', value: (o) => o.id ?? '-' },
          { header: 'SIZE', value: (o) => formatBytes(o.size), align: 'right' },
          { header: 'SHA-256', value: (o) => (o.state === 'completed' ? (o.sha256 ?? '?') : `(${o.state.replace('-', ' ')})`) },
        ]),
      );
    }
    for (const failure of failures) io.stderr.write(`tessera: ${failure.file}: ${failure.error?.message ?? 'failed'}\n`);

    if (interrupted && unfinished.length > 0) {
      const again = resumeCommand(
        unfinished.map((o) => o.file),
        values,
      );
      const done = outcomes.filter((o) => o.state === 'completed');
      human.write(
        `\nPaused. What the server acknowledged is kept; the uploads are remembered in ${store.file}.\n` +
          (done.length === 0
            ? `To resume, run the same command again:\n  ${again}\n`
            : `${done.map((o) => o.file).join(', ')} ${done.length === 1 ? 'is' : 'are'} complete. To resume the rest, run:\n  ${again}\n`),
      );
      return EXIT.interrupted;
    }
    const resumable = failures.filter((f) => f.error?.resumable);
    if (resumable.length > 0) {
      human.write(`\n${resumable.map((f) => f.file).join(', ')} can be resumed: run the same command again once the service answers.\n`);
    }
    return failures.length > 0 ? EXIT.failure : interrupted ? EXIT.interrupted : EXIT.ok;
  },
};
