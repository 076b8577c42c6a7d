import { TesseraError } from './errors';
import { ProgressSocket } from './events';
import { call, callJson, DEFAULT_RETRY, DEFAULT_TIMEOUT_MS, type HttpOptions, type RetryPolicy } from './http';
import { sha256, toHex } from './digest';
import type { UploadSource } from './sources';
import type { CreateUploadInput, ListPage, ListQuery, UploadView } from './types';
import { UploadTask, type UploadOptions } from './upload-task';

export interface TesseraClientOptions {
  /** The gateway, e.g. `http://localhost:3000`. */
  baseUrl: string;
  /** The notifier's Socket.IO endpoint; by default the gateway's origin (an Ingress routes /socket.io there). */
  notifierUrl?: string;
  /** A bearer token, or a function that returns a current one (called before each request). */
  token: string | (() => string | Promise<string>);
  retry?: Partial<RetryPolicy>;
  /** A request that gets no answer for this long is given up (and retried), ms; default 120 000. */
  timeoutMs?: number;
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: typeof fetch;
}

/** Tessera's native API and progress socket, typed; the same code runs in Node and in browsers. */
export class TesseraClient {
  private readonly http: HttpOptions;
  private readonly notifierUrl: string;
  private socket: ProgressSocket | null = null;

  constructor(options: TesseraClientOptions) {
    const token = options.token;
    this.http = {
      baseUrl: options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`,
      token: async () => (typeof token === 'function' ? token() : token),
      retry: { ...DEFAULT_RETRY, ...(options.retry ?? {}) },
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
    this.notifierUrl = options.notifierUrl ?? new URL(this.http.baseUrl).origin;
  }

  create(input: CreateUploadInput): Promise<UploadView> {
    return callJson(this.http, { method: 'POST', path: 'v1/uploads', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
  }

  get(id: string): Promise<UploadView> {
    return callJson(this.http, { method: 'GET', path: `v1/uploads/${encodeURIComponent(id)}` });
  }

  list(query: ListQuery = {}): Promise<ListPage> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.toString() ? `?${params}` : '';
    return callJson(this.http, { method: 'GET', path: `v1/uploads${search}` });
  }

  async delete(id: string): Promise<void> {
    await call(this.http, { method: 'DELETE', path: `v1/uploads/${encodeURIComponent(id)}` });
  }

  /** Starts uploading `source` (or resumes `options.uploadId`); see UploadTask for its events. */
  upload(source: UploadSource, options: UploadOptions = {}): UploadTask {
    return new UploadTask(this.http, options.watch === false ? null : this.progressSocket(), source, options);
  }

  /** The content of a completed upload (or a byte range of it), streamed. */
  async download(id: string, options: { range?: { start: number; end: number }; signal?: AbortSignal } = {}): Promise<{ body: ReadableStream<Uint8Array>; upload: UploadView }> {
    const upload = await this.get(id);
    const response = await call(this.http, {
      method: 'GET',
      path: `v1/uploads/${encodeURIComponent(id)}/content`,
      ...(options.range ? { headers: { range: `bytes=${options.range.start}-${options.range.end}` } } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!response.body) throw new TesseraError('network', response.status, 'the download answered without a body');
    return { body: response.body, upload };
  }

  /** The whole content in memory, checked against the upload's SHA-256. */
  async downloadVerified(id: string): Promise<Uint8Array> {
    const { body, upload } = await this.download(id);
    const bytes = new Uint8Array(await new Response(body).arrayBuffer());
    const actual = toHex(await sha256(bytes));
    if (actual !== upload.sha256) throw new TesseraError('sha256-mismatch', 0, `downloaded bytes hash to ${actual}, the upload's SHA-256 is ${upload.sha256}`);
    return bytes;
  }

  /** Closes the progress socket, if one was opened. */
  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private progressSocket(): ProgressSocket {
    this.socket ??= new ProgressSocket(this.notifierUrl, this.http.token);
    return this.socket;
  }
}
