import type { UploadView } from '@tessera/domain';
import { between, sleep } from './processes';
import { contentDigest, type TestFile } from './test-file';

/** One request and how it ended, for assertions over everything a client saw. */
export interface Exchange {
  /** When the request started (epoch ms). */
  at: number;
  method: string;
  path: string;
  /** HTTP status, or 0 when the request failed without an answer (refused, reset, timed out). */
  status: number;
  type?: string;
  retryAfter?: string | null;
  error?: string;
  ms: number;
}

export interface Reply {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The body as JSON when it is JSON. */
  json?: { type?: string; [key: string]: unknown };
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
  ) {
    super(message);
  }
}

/**
 * Statuses a client retries after: no answer, a request that timed out on the way, or the
 * server or one of its dependencies (briefly) unavailable.
 */
const RETRYABLE = new Set([0, 408, 500, 502, 503, 504]);

/** A client of the gateway's native API that records every exchange. */
export class Api {
  readonly exchanges: Exchange[] = [];
  /** Set once the scenario is over: retry loops still running (after a failed step) give up. */
  private closed = false;

  constructor(
    readonly baseUrl: string,
    readonly token: string,
    /** A request without an answer after this long counts as a hang. */
    private readonly timeoutMs = 30_000,
  ) {}

  close(): void {
    this.closed = true;
  }

  async request(method: string, path: string, init: { body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Reply> {
    if (this.closed) throw new ApiError('the scenario is over');
    const started = Date.now();
    const exchange: Exchange = { at: started, method, path, status: 0, ms: 0 };
    this.exchanges.push(exchange);
    try {
      const res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(init.headers ?? {}) },
        ...(init.body !== undefined ? { body: init.body } : {}),
        signal: AbortSignal.timeout(init.timeoutMs ?? this.timeoutMs),
      });
      const body = Buffer.from(await res.arrayBuffer());
      const reply: Reply = { status: res.status, headers: res.headers, body };
      if (/json/.test(res.headers.get('content-type') ?? '')) reply.json = JSON.parse(body.toString()) as Reply['json'];
      Object.assign(exchange, { status: res.status, type: reply.json?.type, retryAfter: res.headers.get('retry-after') });
      return reply;
    } catch (error) {
      exchange.error = (error as Error).name === 'TimeoutError' ? 'timeout' : String((error as Error & { cause?: Error }).cause?.message ?? error);
      throw error;
    } finally {
      exchange.ms = Date.now() - started;
    }
  }

  async createUpload(file: TestFile): Promise<UploadView> {
    const body = JSON.stringify({ filename: file.name, size: file.data.length, chunkSize: file.chunkSize, sha256: file.sha256 });
    const reply = await this.retrying(() => this.request('POST', '/v1/uploads', { body, headers: { 'content-type': 'application/json' } }), 201);
    return reply.json as unknown as UploadView;
  }

  async get(id: string): Promise<UploadView> {
    return (await this.retrying(() => this.request('GET', `/v1/uploads/${id}`), 200)).json as unknown as UploadView;
  }

  async content(id: string): Promise<Buffer> {
    return (await this.retrying(() => this.request('GET', `/v1/uploads/${id}/content`, { timeoutMs: 120_000 }), 200)).body;
  }

  /** One PUT of a chunk, no retry. */
  putChunk(id: string, index: number, bytes: Buffer, timeoutMs?: number): Promise<Reply> {
    return this.request('PUT', `/v1/uploads/${id}/chunks/${index}`, {
      body: bytes,
      headers: { 'content-type': 'application/octet-stream', 'content-digest': contentDigest(bytes) },
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  }

  /**
   * Sends a chunk as a careful client does: retries after a network error or a 5xx with a
   * small backoff. After a failed try the chunk may have landed anyway (the answer was lost),
   * so `409 chunk-already-received` on a retry is checked against the upload's `missing`:
   * absent means it landed; present means a dead request still holds its claim, so wait.
   */
  async sendChunk(id: string, index: number, bytes: Buffer, { giveUpAfterMs = 90_000 } = {}): Promise<'accepted' | 'landed'> {
    const deadline = Date.now() + giveUpAfterMs;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        if (Date.now() > deadline) throw new ApiError(`chunk ${index} of ${id}: still not accepted after ${giveUpAfterMs} ms`);
        await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)) + between(0, 50));
      }
      let reply: Reply;
      try {
        reply = await this.putChunk(id, index, bytes);
      } catch (error) {
        if (error instanceof ApiError) throw error;
        continue;
      }
      if (reply.status === 202) return 'accepted';
      if (RETRYABLE.has(reply.status)) continue;
      if (reply.status === 409 && reply.json?.type === 'chunk-already-received') {
        if (!(await this.stillMissing(id, index))) return 'landed';
        continue;
      }
      if (reply.status === 409 && reply.json?.type === 'upload-not-receiving') {
        // Only an upload whose every chunk is stored stops receiving on its own.
        const { state } = await this.get(id);
        if (state === 'finalizing' || state === 'completed') return 'landed';
      }
      throw new ApiError(`chunk ${index} of ${id}: ${reply.status} ${reply.body.toString().slice(0, 300)}`, reply);
    }
  }

  private async stillMissing(id: string, index: number): Promise<boolean> {
    return (await this.get(id)).missing.includes(index);
  }

  /** Retries `send` through outages (no answer, 5xx) until it answers `expected`. */
  private async retrying(send: () => Promise<Reply>, expected: number, giveUpAfterMs = 60_000): Promise<Reply> {
    const deadline = Date.now() + giveUpAfterMs;
    for (let attempt = 0; ; attempt++) {
      let reply: Reply | undefined;
      try {
        reply = await send();
        if (reply.status === expected) return reply;
        if (!RETRYABLE.has(reply.status)) throw new ApiError(`expected ${expected}, got ${reply.status} ${reply.body.toString().slice(0, 300)}`, reply);
      } catch (error) {
        if (error instanceof ApiError) throw error;
      }
      if (Date.now() > deadline) throw new ApiError(`no ${expected} within ${giveUpAfterMs} ms (last: ${reply?.status ?? 'no answer'})`, reply);
      await sleep(Math.min(1000, 50 * 2 ** Math.min(attempt, 5)));
    }
  }

  /** Exchanges answered 500 or other unexpected 5xx (not 503): never acceptable, whatever the fault. */
  serverErrors(): Exchange[] {
    return this.exchanges.filter((e) => e.status >= 500 && e.status !== 503);
  }
}

