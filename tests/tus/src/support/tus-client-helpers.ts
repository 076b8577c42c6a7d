import { createHash } from 'node:crypto';
import * as tus from 'tus-js-client';
import type { UploadView } from '@tessera/domain';
import type { EventRecorder } from '../../../e2e/src/support/events';

export const MiB = 1024 * 1024;
export const sha256Hex = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

export type UploadOptions = ConstructorParameters<typeof tus.Upload>[1];
type UrlStorage = NonNullable<UploadOptions['urlStorage']>;
type PreviousUpload = Awaited<ReturnType<UrlStorage['findAllUploads']>>[number];
type AfterResponse = (req: tus.HttpRequest, res: tus.HttpResponse) => void | Promise<void>;
type Subscription = Awaited<ReturnType<EventRecorder['subscribe']>>;

/**
 * A UrlStorage the test owns (tus-js-client's default in Node stores nothing): keys are
 * `tus::<fingerprint>::<n>` like the library's own storages, so `findUploadsByFingerprint`
 * finds exactly what `addUpload` stored for the same file.
 */
export class MemoryUrlStorage implements UrlStorage {
  readonly entries = new Map<string, PreviousUpload>();
  private next = 0;

  async findAllUploads(): Promise<PreviousUpload[]> {
    return [...this.entries.values()].map((u) => ({ ...u }));
  }

  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return [...this.entries].filter(([key]) => key.startsWith(`tus::${fingerprint}::`)).map(([, u]) => ({ ...u }));
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    this.entries.delete(urlStorageKey);
  }

  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `tus::${fingerprint}::${++this.next}`;
    this.entries.set(key, { ...upload, urlStorageKey: key });
    return key;
  }
}

const REQUEST_HEADERS = ['Upload-Offset', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Concat', 'Upload-Metadata', 'Content-Type', 'X-HTTP-Method-Override'];
const RESPONSE_HEADERS = ['Location', 'Upload-Offset', 'Upload-Length', 'Upload-Concat', 'Upload-Expires', 'Tus-Resumable', 'Content-Type'];

/** One HTTP exchange as tus-js-client made it. */
export interface Exchange {
  /** ms since the trace was created */
  at: number;
  method: string;
  url: string;
  req: Record<string, string>;
  /** Bytes of body handed to the HTTP stack (a Buffer slice of the file), 0 for none. */
  bodyBytes: number;
  status?: number;
  res?: Record<string, string>;
  /** Response body, for answers other than 2xx (problem documents). */
  body?: string;
  /** The transport error, for requests that got no response (connection refused, reset, aborted). */
  error?: string;
}

/**
 * Records every request tus-js-client sends and what came back, through its public hooks
 * (onBeforeRequest / onAfterResponse / onShouldRetry) and its own DefaultHttpStack, whose
 * `send` is wrapped only to count body bytes and note transport errors. The dump is what a
 * server bug report quotes.
 */
export class TusTrace {
  readonly exchanges: Exchange[] = [];
  readonly retries: { attempt: number; error: string }[] = [];
  readonly notes: string[] = [];
  /** Body bytes handed to the HTTP stack over all requests. */
  bytesSent = 0;
  private readonly byRequest = new WeakMap<tus.HttpRequest, Exchange>();
  private readonly started = Date.now();

  constructor(readonly label: string) {}

  note(text: string): void {
    this.notes.push(`${Date.now() - this.started}ms ${text}`);
  }

  requests(method: string): Exchange[] {
    return this.exchanges.filter((e) => e.method === method);
  }

  private exchangeOf(req: tus.HttpRequest): Exchange {
    let e = this.byRequest.get(req);
    if (!e) {
      const headers: Record<string, string> = {};
      for (const h of REQUEST_HEADERS) {
        const v = req.getHeader(h);
        if (v !== undefined) headers[h] = String(v);
      }
      e = { at: Date.now() - this.started, method: req.getMethod(), url: req.getURL(), req: headers, bodyBytes: 0 };
      this.byRequest.set(req, e);
      this.exchanges.push(e);
    }
    return e;
  }

  /**
   * Options to spread into a tus.Upload's options. `afterResponse` runs (awaited) after the
   * trace has recorded each response; tus-js-client waits for it before going on.
   */
  hooks(afterResponse?: AfterResponse): Pick<UploadOptions, 'httpStack' | 'onBeforeRequest' | 'onAfterResponse' | 'onShouldRetry'> {
    const inner = new tus.DefaultHttpStack({});
    const httpStack: tus.HttpStack = {
      getName: () => inner.getName(),
      createRequest: (method, url) => {
        const req = inner.createRequest(method, url);
        const send = req.send.bind(req);
        req.send = async (body: unknown) => {
          const e = this.exchangeOf(req);
          const n = body instanceof Uint8Array ? body.length : 0;
          e.bodyBytes = n;
          this.bytesSent += n;
          try {
            return await send(body);
          } catch (error) {
            e.error = String((error as Error)?.message ?? error);
            throw error;
          }
        };
        return req;
      },
    };
    return {
      httpStack,
      onBeforeRequest: (req) => {
        this.exchangeOf(req);
      },
      onAfterResponse: async (req, res) => {
        const e = this.exchangeOf(req);
        e.status = res.getStatus();
        e.res = {};
        for (const h of RESPONSE_HEADERS) {
          const v = res.getHeader(h);
          if (v !== undefined) e.res[h] = String(v);
        }
        if (e.status < 200 || e.status > 299) e.body = res.getBody().slice(0, 500);
        await afterResponse?.(req, res);
      },
      onShouldRetry: (err, attempt, options) => {
        this.retries.push({ attempt, error: err.message.slice(0, 300) });
        this.note(`retry attempt ${attempt}: ${err.message.slice(0, 200)}`);
        return tus.defaultOptions.onShouldRetry!(err, attempt, options);
      },
    };
  }

  dump(): string {
    const lines = this.exchanges.map((e) => {
      const req = Object.entries(e.req).map(([k, v]) => `${k}: ${v}`).join('; ');
      const res = e.res ? Object.entries(e.res).map(([k, v]) => `${k}: ${v}`).join('; ') : '';
      const outcome = e.status !== undefined ? `→ ${e.status} [${res}]${e.body ? ` body=${e.body}` : ''}` : `→ no response${e.error ? ` (${e.error})` : ''}`;
      return `  +${e.at}ms ${e.method} ${e.url} [${req}] body=${e.bodyBytes}B ${outcome}`;
    });
    return [`tus-js-client trace "${this.label}":`, ...lines, ...this.notes.map((n) => `  note ${n}`)].join('\n');
  }
}

/** `<origin>/files/<id>` → `<id>`. */
export function uploadIdOf(url: string): string {
  const match = /^\/files\/([^/?#]+)$/.exec(new URL(url).pathname);
  if (!match) throw new Error(`not a /files/<id> URL: ${url}`);
  return match[1]!;
}

/**
 * An onAfterResponse hook that subscribes `events` to the upload a creating POST made, before
 * tus-js-client sends anything else (it awaits the hook). `which` picks the POST: a plain
 * creation, or the final of a concatenation. Errors are kept, not thrown: a throwing hook
 * would make tus-js-client treat the POST as failed and create another upload.
 */
export function subscribeOnCreation(events: EventRecorder, which: 'single' | 'final') {
  const created: { id: string; ack?: Subscription; error?: unknown }[] = [];
  const hook: AfterResponse = async (req, res) => {
    if (req.getMethod() !== 'POST' || res.getStatus() !== 201) return;
    const concat = req.getHeader('Upload-Concat');
    if (which === 'single' ? concat !== undefined : !String(concat ?? '').startsWith('final;')) return;
    const location = res.getHeader('Location');
    if (!location) return;
    const entry: (typeof created)[number] = { id: uploadIdOf(new URL(location, req.getURL()).toString()) };
    created.push(entry);
    try {
      entry.ack = await events.subscribe(entry.id);
    } catch (error) {
      entry.error = error;
    }
  };
  return { hook, created };
}

/**
 * Asserts that completion of `uploadId` with `sha256` was seen on the socket: the
 * `upload.completed` event, or, when `allowSnapshot` and the subscribe ack's snapshot already
 * says `completed` (the upload finished before the subscription existed, so the event was
 * published to nobody), that snapshot. Returns which one it was.
 */
export async function expectCompletionSeen(
  events: EventRecorder,
  uploadId: string,
  ack: Subscription | undefined,
  expected: { sha256: string; size: number },
  options: { allowSnapshot: boolean; timeoutMs: number },
): Promise<'event' | 'snapshot'> {
  expect(ack).toMatchObject({ ok: true, upload: { id: uploadId } });
  if (options.allowSnapshot && ack?.upload?.state === 'completed') {
    expect(ack.upload).toMatchObject({ state: 'completed', sha256: expected.sha256, size: expected.size });
    return 'snapshot';
  }
  const completed = await events.waitFor((e) => e.type === 'upload.completed' && e.uploadId === uploadId, options.timeoutMs);
  expect(completed).toMatchObject({ type: 'upload.completed', uploadId, sha256: expected.sha256, size: expected.size });
  return 'event';
}

/** Polls `GET /v1/uploads/<id>` until the upload is completed (or ends otherwise). */
export async function waitUntilCompleted(gatewayUrl: string, token: string, uploadId: string, timeoutMs: number): Promise<UploadView> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    let view: UploadView | null = null;
    try {
      const res = await fetch(`${gatewayUrl}/v1/uploads/${uploadId}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5000) });
      const body = await res.text();
      last = `${res.status} ${body.slice(0, 500)}`;
      if (res.status === 200) view = JSON.parse(body) as UploadView;
    } catch (error) {
      // the gateway may be restarting: keep polling
      last = String(error);
    }
    if (view?.state === 'completed') return view;
    if (view && ['failed', 'aborted', 'expired'].includes(view.state)) throw new Error(`upload ${uploadId} ended ${view.state}: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`upload ${uploadId} not completed within ${timeoutMs} ms; last GET: ${last}`);
}

/** Downloads `GET /v1/uploads/<id>/content` and returns its status, length and SHA-256. */
export async function downloadDigest(gatewayUrl: string, token: string, uploadId: string): Promise<{ status: number; bytes: number; sha256: string }> {
  const res = await fetch(`${gatewayUrl}/v1/uploads/${uploadId}/content`, { headers: { authorization: `Bearer ${token}` } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, bytes: body.length, sha256: sha256Hex(body) };
}

/** A promise and the onSuccess / onError callbacks that settle it, to hand to a tus.Upload. */
export function settle(): { promise: Promise<void>; onSuccess: () => void; onError: (error: Error) => void } {
  let onSuccess!: () => void;
  let onError!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    onSuccess = resolve;
    onError = reject;
  });
  return { promise, onSuccess, onError };
}

/**
 * Runs `body`; if it throws, rethrows with the traces and the tail of the gateway's log
 * appended, so a failure reads as a bug report (what the client sent, what came back).
 * With TUS_TRACE set, passing tests print their traces too.
 */
export async function reportingTraces(traces: TusTrace[], gatewayLog: () => string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
    if (process.env.TUS_TRACE) console.log(traces.map((t) => t.dump()).join('\n\n'));
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const tail = gatewayLog()
      .split('\n')
      .filter(Boolean)
      .slice(-30)
      .map((line) => (line.length > 700 ? `${line.slice(0, 700)} …` : line))
      .join('\n');
    err.message = `${err.message}\n\n${traces.map((t) => t.dump()).join('\n\n')}\n\n--- gateway log (tail)\n${tail}`;
    throw err;
  }
}
