import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import * as tus from 'tus-js-client';
import { startStack, type Stack } from '../../e2e/src/support/stack';
import { startNode, type ClusterNode } from '../../e2e/src/support/cluster';
import { send } from './http';
import { childPid } from './rss';

export type TargetName = 'tessera' | 'tus' | 'ceiling';

/** What one upload of a batch reports: its latency and, for Tessera, chunk 202 → chunk.stored. */
export interface SmallResult {
  ok: boolean;
  latencyMs: number;
  progressMs?: number;
  error?: string;
}

export interface BigFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Target {
  readonly name: TargetName;
  /** Every OS process of the target, by role. */
  pids(): Record<string, number>;
  /**
   * Sends a file from disk; resolves once the target says it is complete. `variant` picks tus's
   * one-PATCH mode, or Tessera's tus endpoint. Tessera also tells how long completion took
   * after the last chunk's 202 (or the last PATCH's 204).
   */
  uploadBig(file: BigFile, variant?: 'single' | 'tus'): Promise<{ tailMs?: number } | void>;
  /** Runs a batch of uploads, all started at once. */
  uploadMany(buffers: Buffer[]): Promise<SmallResult[]>;
  /** Removes what the target stored, between runs (not timed). */
  cleanup(): Promise<void>;
  stop(): Promise<void>;
}

const PEERS = join(__dirname, 'peers');
const MiB = 1024 * 1024;
const now = () => performance.now();

/** Spawns one of the peer scripts and waits for its "ready <port>" line. */
async function spawnPeer(script: string, dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(PEERS, script), '0', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (d: Buffer) => (errors += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${errors}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${errors}`)));
  });
  return { child, port };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function emptyDir(dir: string): void {
  for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
}

// ---------------------------------------------------------------- ceiling

export async function startCeiling(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ceiling-'));
  const { child, port } = await spawnPeer('ceiling.mjs', dir);
  const url = `http://127.0.0.1:${port}/`;
  const put = async (body: Buffer | NodeJS.ReadableStream, size: number) => {
    const reply = await send('PUT', url, { 'content-length': String(size), 'content-type': 'application/octet-stream' }, body as Buffer);
    if (reply.status !== 201) throw new Error(`ceiling answered ${reply.status}`);
  };
  return {
    name: 'ceiling',
    pids: () => ({ server: child.pid! }),
    async uploadBig(file) {
      await put(createReadStream(file.path, { highWaterMark: MiB }), file.size);
    },
    uploadMany: (buffers) => timeEach(buffers, (buf) => put(buf, buf.length)),
    cleanup: async () => emptyDir(dir),
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs every upload at once, timing each and recording its failure instead of throwing. */
function timeEach(buffers: Buffer[], send: (buf: Buffer) => Promise<unknown>) {
  return Promise.all(
    buffers.map(async (buf) => {
      const t0 = now();
      try {
        await send(buf);
        return { ok: true, latencyMs: now() - t0 };
      } catch (e) {
        return { ok: false, latencyMs: now() - t0, error: String(e) };
      }
    }),
  );
}

// ---------------------------------------------------------------- @tus/server

export async function startTus(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tus-'));
  const { child, port } = await spawnPeer('tus-peer.mjs', dir);
  const endpoint = `http://127.0.0.1:${port}/files`;
  const upload = (input: Buffer | NodeJS.ReadableStream, size: number, chunkSize?: number) =>
    new Promise<void>((resolve, reject) => {
      const u = new tus.Upload(input as Buffer, {
        endpoint,
        uploadSize: size,
        ...(chunkSize ? { chunkSize } : {}),
        retryDelays: [],
        storeFingerprintForResuming: false,
        metadata: { filename: 'bench.bin' },
        onError: reject,
        onSuccess: () => resolve(),
      });
      u.start();
    });
  return {
    name: 'tus',
    pids: () => ({ server: child.pid! }),
    async uploadBig(file, variant) {
      await upload(createReadStream(file.path), file.size, variant === 'single' ? undefined : 8 * MiB);
    },
    uploadMany: (buffers) => timeEach(buffers, (buf) => upload(buf, buf.length)),
    cleanup: async () => emptyDir(dir),
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- Tessera

type Listener = (type: string, event: { index?: number; reason?: string }) => void;

/** One socket.io connection that dispatches upload events to per-upload listeners. */
class Events {
  private readonly listeners = new Map<string, Listener>();

  private constructor(private readonly socket: Socket) {
    for (const type of ['chunk.stored', 'chunk.rejected', 'upload.completed', 'upload.failed', 'upload.aborted', 'upload.expired']) {
      socket.on(type, (event: { uploadId: string; index?: number; reason?: string }) => this.listeners.get(event.uploadId)?.(type, event));
    }
  }

  static async connect(url: string, token: string): Promise<Events> {
    const socket = io(url, { auth: { token }, transports: ['websocket'], reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return new Events(socket);
  }

  async subscribe(uploadId: string, listener: Listener): Promise<void> {
    this.listeners.set(uploadId, listener);
    const ack = (await this.socket.timeout(60_000).emitWithAck('subscribe', { uploadId })) as { ok: boolean; upload?: { state: string } };
    if (!ack.ok) throw new Error(`subscribe refused: ${JSON.stringify(ack)}`);
    if (ack.upload?.state === 'completed') listener('upload.completed', {});
  }

  unsubscribe(uploadId: string): void {
    this.listeners.delete(uploadId);
  }

  close(): void {
    this.socket.close();
  }
}

export interface TesseraTarget extends Target {
  stack: Stack;
}

const QUIETER_THAN_INFO = new Set(['warn', 'error', 'fatal', 'silent']);

export interface TesseraOptions {
  /** chunk-worker processes sharing the stack's database, Redis prefix and blob folder (default BENCH_WORKERS, else 1). */
  workers?: number;
}

export async function startTessera(options: TesseraOptions = {}): Promise<TesseraTarget> {
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'warn';
  const stack = await startStack({ LOG_LEVEL: logLevel });
  const pids: Record<string, number> = {};
  for (const name of ['gateway', 'chunk-worker', 'notifier']) {
    const pid = childPid(`services/${name}/dist/main.js`);
    if (pid) pids[name] = pid;
  }
  // Further workers, each with its own HTTP_PORT; at info level only for their start-up lines,
  // which say when they consume (a worker logs nothing per job below debug).
  const extraWorkers: ClusterNode[] = [];
  try {
    const shared = { databaseUrl: stack.databaseUrl, redisUrl: stack.redisUrl, redisPrefix: stack.redisPrefix, blobDir: stack.blobDir };
    for (let n = 2; n <= (options.workers ?? Number(process.env.BENCH_WORKERS || 1)); n++) {
      const node = await startNode('chunk-worker', `chunk-worker-${n}`, { ...shared, env: { LOG_LEVEL: QUIETER_THAN_INFO.has(logLevel) ? 'info' : logLevel } });
      extraWorkers.push(node);
      pids[node.name] = node.pid;
    }
  } catch (error) {
    await Promise.all(extraWorkers.map((w) => w.kill('SIGTERM')));
    await stack.stop();
    throw error;
  }
  const token = await stack.token('bench');
  const auth = { authorization: `Bearer ${token}` };
  const created: string[] = [];

  const create = async (size: number, chunkSize: number, sha256?: string): Promise<{ id: string; chunkCount: number }> => {
    const body = Buffer.from(JSON.stringify({ filename: 'bench.bin', size, chunkSize, ...(sha256 ? { sha256 } : {}) }));
    const reply = await send('POST', `${stack.gatewayUrl}/v1/uploads`, { ...auth, 'content-type': 'application/json', 'content-length': String(body.length) }, body);
    if (reply.status !== 201) throw new Error(`create answered ${reply.status}: ${reply.body}`);
    const upload = JSON.parse(reply.body) as { id: string; chunkCount: number };
    created.push(upload.id);
    return upload;
  };
  const putChunk = async (id: string, index: number, body: Buffer | NodeJS.ReadableStream, size: number) => {
    const reply = await send('PUT', `${stack.gatewayUrl}/v1/uploads/${id}/chunks/${index}`, { ...auth, 'content-type': 'application/octet-stream', 'content-length': String(size) }, body as Buffer);
    if (reply.status !== 202) throw new Error(`chunk ${index} answered ${reply.status}: ${reply.body}`);
  };
  const state = async (id: string) => {
    const reply = await send('GET', `${stack.gatewayUrl}/v1/uploads/${id}`, auth);
    return reply.status === 200 ? (JSON.parse(reply.body) as { state: string }).state : `http ${reply.status}`;
  };

  /**
   * Subscribes to an upload and returns a promise of its end: resolves on upload.completed
   * (or, if no event comes within `timeoutMs`, on state `completed` found by polling), rejects on failure.
   */
  const watch = async (events: Events, id: string, onStored: (index: number) => void, timeoutMs: number) => {
    let settle!: (error?: Error) => void;
    const done = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
    await events.subscribe(id, (type, event) => {
      if (type === 'chunk.stored') onStored(event.index ?? -1);
      else if (type === 'upload.completed') settle();
      else settle(new Error(`${type} ${event.reason ?? ''}`));
    });
    const timer = setTimeout(async () => {
      const s = await state(id).catch(() => 'unreachable');
      settle(s === 'completed' ? undefined : new Error(`no upload.completed within ${timeoutMs} ms; state ${s}`));
    }, timeoutMs);
    // wrapped, so that awaiting the subscription does not await the end
    return {
      done: done.finally(() => {
        clearTimeout(timer);
        events.unsubscribe(id);
      }),
    };
  };

  /** The same file through Tessera's tus endpoint, 8 MiB PATCHes as the @tus/server column sends. */
  const uploadOverTus = async (file: BigFile, events: Events): Promise<{ tailMs: number }> => {
    let finished: Promise<void> | null = null;
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(createReadStream(file.path), {
        endpoint: `${stack.gatewayUrl}/files/`,
        uploadSize: file.size,
        chunkSize: 8 * MiB,
        headers: auth,
        retryDelays: [],
        storeFingerprintForResuming: false,
        metadata: { filename: 'bench.bin' },
        // Subscribed before the first PATCH: the creating POST's answer names the upload.
        onAfterResponse: async (req, res) => {
          if (req.getMethod() !== 'POST' || finished) return;
          const id = (res.getHeader('Location') ?? '').split('/').pop()!;
          created.push(id);
          finished = (await watch(events, id, () => {}, 600_000)).done;
          finished.catch(() => {}); // awaited below
        },
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    });
    const lastAck = now();
    await finished;
    return { tailMs: now() - lastAck };
  };

  return {
    name: 'tessera',
    stack,
    pids: () => ({ ...pids }),
    async uploadBig(file, variant) {
      const chunkSize = 8 * MiB;
      const events = await Events.connect(stack.notifierUrl, token);
      if (variant === 'tus') {
        try {
          return await uploadOverTus(file, events);
        } finally {
          events.close();
        }
      }
      try {
        const upload = await create(file.size, chunkSize, file.sha256);
        const { done: finished } = await watch(events, upload.id, () => {}, 600_000);
        finished.catch(() => {}); // awaited below
        const indices = [...Array(upload.chunkCount).keys()];
        await Promise.all(
          Array.from({ length: 4 }, async () => {
            for (let index = indices.shift(); index !== undefined; index = indices.shift()) {
              const start = index * chunkSize;
              const end = Math.min(file.size, start + chunkSize);
              await putChunk(upload.id, index, createReadStream(file.path, { start, end: end - 1, highWaterMark: MiB }), end - start);
            }
          }),
        );
        const lastAck = now();
        await finished;
        return { tailMs: now() - lastAck };
      } finally {
        events.close();
      }
    },
    async uploadMany(buffers) {
      const events = await Events.connect(stack.notifierUrl, token);
      try {
        return await Promise.all(
          buffers.map(async (buf): Promise<SmallResult> => {
            const t0 = now();
            let acked = Number.NaN;
            let storedAt = Number.NaN;
            try {
              const upload = await create(buf.length, Math.max(64 * 1024, Math.min(buf.length, 8 * MiB)));
              const { done: finished } = await watch(events, upload.id, () => (storedAt = now()), 120_000);
              finished.catch(() => {}); // awaited below
              await putChunk(upload.id, 0, buf, buf.length);
              acked = now();
              await finished;
              // an event may overtake the 202; that is a latency of zero, not a negative one
              return { ok: true, latencyMs: now() - t0, progressMs: Number.isNaN(storedAt) ? undefined : Math.max(0, storedAt - acked) };
            } catch (e) {
              return { ok: false, latencyMs: now() - t0, error: String(e) };
            }
          }),
        );
      } finally {
        events.close();
      }
    },
    async cleanup() {
      // release what the run stored, so later runs start from similar disks (not timed)
      const ids = created.splice(0);
      while (ids.length) {
        await Promise.all(ids.splice(0, 50).map((id) => send('DELETE', `${stack.gatewayUrl}/v1/uploads/${id}`, auth).catch(() => undefined)));
      }
    },
    async stop() {
      await Promise.all(extraWorkers.map((w) => w.kill('SIGTERM')));
      await stack.stop();
    },
  };
}
