import { contentDigest } from './digest';
import { Emitter } from './emitter';
import { TesseraError } from './errors';
import type { ProgressSocket } from './events';
import { call, callJson, type HttpOptions } from './http';
import { toChunkSource, type ChunkSource, type UploadSource } from './sources';
import type { UploadEvent, UploadView } from './types';

export interface UploadOptions {
  filename?: string;
  contentType?: string;
  /** Bytes per chunk; the server's default (8 MiB) when absent. */
  chunkSize?: number;
  /** Chunks in flight at once (default 4): memory is at most this many chunks. */
  parallel?: number;
  /** The whole file's SHA-256 (hex), checked by the server when it finishes. */
  sha256?: string;
  metadata?: Record<string, string>;
  /** Continue this upload: only the chunks it still misses are sent. */
  uploadId?: string;
  /** Follow the upload's socket events for stored progress (default true). */
  watch?: boolean;
  /** Aborting it pauses the upload; `resume()` continues. */
  signal?: AbortSignal;
}

export type UploadTaskState = 'creating' | 'uploading' | 'paused' | 'finishing' | 'completed' | 'failed' | 'canceled';

export interface StoredProgress {
  bytesStored: number;
  chunksStored: number;
  chunkCount: number;
  size: number;
  percent: number;
}

export type UploadTaskEvents = {
  created: UploadView;
  sent: { bytesSent: number; size: number; index: number };
  stored: StoredProgress;
  /** `index` is the chunk's, or -1 for the requests that create or re-read the upload. */
  retry: { index: number; attempt: number; delayMs: number; error: TesseraError };
  paused: undefined;
  resumed: undefined;
  completed: UploadView;
  error: TesseraError;
};

/** While every chunk is sent and the server finishes, how often the upload is re-read, ms. */
const POLL_MS = 1000;

/**
 * One file on its way: chunks sent `parallel` at a time, each with its Content-Digest and
 * retried on failures worth retrying; stored progress from the socket; completion once the
 * server has verified the whole file. Pausing drops the chunks in flight; resuming asks the
 * server what is missing and sends only that.
 */
export class UploadTask extends Emitter<UploadTaskEvents> {
  readonly done: Promise<UploadView>;
  state: UploadTaskState = 'creating';
  uploadId: string | null = null;
  bytesSent = 0;
  bytesStored = 0;

  private readonly source: ChunkSource;
  private upload: UploadView | null = null;
  private controller = new AbortController();
  private settle!: { resolve: (upload: UploadView) => void; reject: (error: TesseraError) => void };
  private readonly sentIndices = new Set<number>();

  constructor(
    private readonly http: HttpOptions,
    private readonly socket: ProgressSocket | null,
    source: UploadSource,
    private readonly options: UploadOptions,
  ) {
    super();
    this.source = toChunkSource(source);
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Awaiting `done` is optional: an unobserved failure must not crash the process.
    this.done.catch(() => undefined);
    queueMicrotask(() => {
      this.start();
      // A signal aborted before the task began pauses it at once (its 'abort' event has passed).
      if (options.signal?.aborted) this.pause();
      else options.signal?.addEventListener('abort', () => this.pause(), { once: true });
    });
  }

  /** Stops sending; chunks in flight are dropped (the server keeps every chunk it acknowledged). */
  pause(): void {
    if (this.state !== 'uploading' && this.state !== 'creating') return;
    this.state = 'paused';
    this.controller.abort(new TesseraError('paused', 0, 'the upload was paused'));
    this.emit('paused', undefined);
  }

  /** Continues a paused upload from what the server says is missing. */
  resume(): void {
    if (this.state !== 'paused') return;
    this.controller = new AbortController();
    // Set now, so a second resume() does not start a second run and a pause() can stop this one.
    this.state = 'creating';
    this.emit('resumed', undefined);
    this.start();
  }

  /** Stops and deletes the upload on the server. */
  async cancel(): Promise<void> {
    if (this.state === 'completed' || this.state === 'canceled') return;
    const previous = this.state;
    this.state = 'canceled';
    this.controller.abort(new TesseraError('canceled', 0, 'the upload was canceled'));
    if (this.uploadId && previous !== 'failed') await call(this.http, { method: 'DELETE', path: `v1/uploads/${this.uploadId}` }).catch(() => undefined);
    this.stopWatching();
    this.settle.reject(new TesseraError('canceled', 0, 'the upload was canceled'));
  }

  /** Starts one run; a run ended by its own pause or cancel is not a failure, whenever it settles. */
  private start(): void {
    const signal = this.controller.signal;
    void this.drive(signal).catch((error: unknown) => {
      if (!signal.aborted) this.fail(error);
    });
  }

  private async drive(signal: AbortSignal): Promise<void> {
    const upload = await this.prepare(signal);
    if (this.isOver() || signal.aborted) return;
    this.state = 'uploading';
    const queue = [...upload.missing];
    for (const index of queue) this.sentIndices.delete(index);
    const chunkSize = upload.chunkSize;
    const size = upload.size ?? this.source.size;
    this.bytesSent = size - queue.reduce((sum, index) => sum + chunkLength(size, chunkSize, index), 0);
    const workers = Math.max(1, Math.min(this.options.parallel ?? 4, queue.length || 1));
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let index = queue.shift(); index !== undefined && !signal.aborted; index = queue.shift()) {
          await this.sendChunk(upload.id, index, chunkSize, size, signal);
        }
      }),
    );
    if (signal.aborted || this.isOver()) return;
    this.state = 'finishing';
    await this.awaitCompletion(signal);
  }

  /** Creates the upload, or reads the one being resumed; starts following its events. */
  private async prepare(signal: AbortSignal): Promise<UploadView> {
    if (this.upload === null && this.options.uploadId === undefined) {
      const created = await callJson<UploadView>(this.http, {
        method: 'POST',
        path: 'v1/uploads',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          filename: this.options.filename ?? this.source.name ?? 'untitled',
          size: this.source.size,
          ...(this.options.contentType ?? this.source.type ? { contentType: this.options.contentType ?? this.source.type } : {}),
          ...(this.options.chunkSize ? { chunkSize: this.options.chunkSize } : {}),
          ...(this.options.sha256 ? { sha256: this.options.sha256 } : {}),
          ...(this.options.metadata ? { metadata: this.options.metadata } : {}),
        }),
        signal,
        onRetry: (info) => this.emit('retry', { index: -1, ...info }),
      });
      this.adopt(created);
      this.emit('created', created);
      this.follow(created.id);
      this.observe(created);
      return created;
    }
    const id = this.upload?.id ?? this.options.uploadId!;
    const current = await callJson<UploadView>(this.http, { method: 'GET', path: `v1/uploads/${id}`, signal, onRetry: (info) => this.emit('retry', { index: -1, ...info }) });
    if (current.size !== null && current.size !== this.source.size) {
      throw new TesseraError('source-mismatch', 0, `upload ${id} is ${current.size} bytes but the file to resume is ${this.source.size}; it is not the same file`);
    }
    const first = this.upload === null;
    this.adopt(current);
    if (first) {
      this.emit('created', current);
      this.follow(id);
    }
    this.observe(current);
    return current;
  }

  private adopt(upload: UploadView): void {
    this.upload = upload;
    this.uploadId = upload.id;
  }

  private async sendChunk(id: string, index: number, chunkSize: number, size: number, signal: AbortSignal): Promise<void> {
    const start = index * chunkSize;
    const bytes = await this.source.read(start, Math.min(size, start + chunkSize));
    const digest = await contentDigest(bytes);
    try {
      await call(this.http, {
        method: 'PUT',
        path: `v1/uploads/${id}/chunks/${index}`,
        headers: { 'content-type': 'application/octet-stream', 'content-digest': digest },
        body: bytes,
        signal,
        onRetry: (info) => this.emit('retry', { index, ...info }),
      });
    } catch (error) {
      // Sent by an earlier try whose answer was lost, or by a previous run: it counts as sent.
      if (!(error instanceof TesseraError && error.type === 'chunk-already-received')) throw error;
    }
    if (this.sentIndices.has(index)) return;
    this.sentIndices.add(index);
    this.bytesSent += bytes.length;
    this.emit('sent', { bytesSent: this.bytesSent, size, index });
  }

  /**
   * Every chunk is sent: waits for the server to store and verify them. Chunks the worker
   * rejected (their bytes were lost or corrupted on the way) are missing again and are re-sent.
   */
  private async awaitCompletion(signal: AbortSignal): Promise<void> {
    while (!this.isOver() && !signal.aborted) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      if (this.isOver() || signal.aborted) return;
      const upload = await callJson<UploadView>(this.http, { method: 'GET', path: `v1/uploads/${this.uploadId}`, signal });
      this.observe(upload);
      if (upload.state === 'receiving' && upload.missing.length > 0 && !this.isOver()) {
        for (const index of upload.missing) this.sentIndices.delete(index);
        this.start();
        return;
      }
    }
  }

  /** Follows the upload's events; not awaited: chunks need not wait for the notifier's answer. */
  private follow(id: string): void {
    if (this.options.watch === false || !this.socket) return;
    void this.socket
      .watch(id, ({ event, snapshot }) => {
        if (snapshot) this.observe(snapshot);
        if (event) this.onEvent(event);
      })
      .catch(() => undefined);
  }

  private onEvent(event: UploadEvent): void {
    const upload = this.upload;
    if (!upload) return;
    if (event.type === 'upload.progress') {
      this.reportStored({
        bytesStored: event.bytesStored ?? 0,
        chunksStored: event.chunksStored ?? 0,
        chunkCount: event.chunkCount ?? upload.chunkCount ?? 0,
        size: upload.size ?? this.source.size,
        percent: event.percent ?? 0,
      });
    } else if (event.type === 'upload.completed') {
      this.complete({ ...upload, state: 'completed', sha256: event.sha256 ?? upload.sha256, bytesStored: upload.size ?? this.source.size, missing: [] } as UploadView);
    } else if (event.type === 'upload.failed' || event.type === 'upload.aborted' || event.type === 'upload.expired') {
      this.fail(new TesseraError('upload-failed', 0, `the server reports ${event.type}${event.reason ? ` (${event.reason})` : ''}`));
    }
  }

  /** Takes in a fresh view of the upload (snapshot or GET). */
  private observe(upload: UploadView): void {
    this.upload = upload;
    const size = upload.size ?? this.source.size;
    this.reportStored({
      bytesStored: upload.bytesStored,
      chunksStored: upload.chunksStored,
      chunkCount: upload.chunkCount ?? 0,
      size,
      percent: size === 0 ? 100 : Math.floor((upload.bytesStored / size) * 100),
    });
    if (upload.state === 'completed') this.complete(upload);
    else if (upload.state === 'failed' || upload.state === 'aborted' || upload.state === 'expired') {
      this.fail(new TesseraError('upload-failed', 0, `the upload is ${upload.state}`));
    }
  }

  private reportStored(progress: StoredProgress): void {
    if (progress.bytesStored < this.bytesStored) return;
    this.bytesStored = progress.bytesStored;
    this.emit('stored', progress);
  }

  private complete(upload: UploadView): void {
    if (this.isOver()) return;
    this.state = 'completed';
    this.upload = upload;
    this.stopWatching();
    this.emit('completed', upload);
    this.settle.resolve(upload);
  }

  private fail(error: unknown): void {
    if (this.isOver()) return;
    const failure = error instanceof TesseraError ? error : new TesseraError('client-error', 0, (error as Error)?.message ?? String(error), undefined, { cause: error });
    this.state = 'failed';
    this.controller.abort(failure);
    this.stopWatching();
    this.emit('error', failure);
    this.settle.reject(failure);
  }

  private isOver(): boolean {
    return this.state === 'completed' || this.state === 'failed' || this.state === 'canceled';
  }

  private stopWatching(): void {
    if (this.uploadId) this.socket?.unwatch(this.uploadId);
  }
}

function chunkLength(size: number, chunkSize: number, index: number): number {
  return Math.max(0, Math.min(chunkSize, size - index * chunkSize));
}
