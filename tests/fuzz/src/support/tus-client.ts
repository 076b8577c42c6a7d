import { createHash } from 'node:crypto';
import type { Answer, HttpClient } from './http-client';
import { checkAnswer, expectRefusal, PUBLISHED_PROBLEMS, type ProblemType } from './problems';
import type { Owner, UploadView } from './uploads';

export const TUS_VERSION = '1.0.0';
export const OCTETS = 'application/offset+octet-stream';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const digest64 = (algorithm: 'sha1' | 'sha256', data: Buffer): string => createHash(algorithm).update(data).digest('base64');
export const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
export const b64 = (data: string | Buffer): string => Buffer.from(data).toString('base64');

/** An answer with the request that got it, for failure messages. */
export interface TusAnswer extends Answer {
  request: string;
  method: string;
}

export interface TusSendOptions {
  /** Tus-Resumable: the default 1.0.0, false for none, or these exact values (several: the header repeated). */
  tus?: string | string[] | false;
  /** Authorization: the owner's token by default; null for none; a string sent as the whole header. */
  authorization?: string | null;
  /** Body with chunked transfer encoding, that is without a Content-Length. */
  chunked?: boolean;
}

const shown = (value: string | string[]) => {
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 120)}…(${text.length} chars)` : text;
};

/** What a failure message shows of a request: method, path, every header but the token, body size. */
export function describeRequest(method: string, path: string, headers: Record<string, string | string[]>, body?: Buffer | string, chunked = false): string {
  const lines = Object.entries(headers)
    .filter(([name]) => name.toLowerCase() !== 'authorization')
    .map(([name, value]) => `${name}: ${shown(value)}`);
  const size = body === undefined ? '' : ` +${Buffer.byteLength(body)} bytes${chunked ? ' (chunked)' : ''}`;
  return `${method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path} {${lines.join('; ')}}${size}`;
}

export const summary = (a: TusAnswer): string => {
  const headers = ['tus-resumable', 'upload-offset', 'upload-length', 'upload-defer-length', 'upload-concat', 'location']
    .filter((h) => a.headers[h] !== undefined)
    .map((h) => `${h}: ${String(a.headers[h])}`);
  return `${a.request} → ${a.status} [${headers.join('; ')}] ${a.text.slice(0, 300)}`;
};

export function header(a: Answer, name: string): string | undefined {
  const value = a.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A tus client of one owner over the suite's HTTP client (counted into its requests). */
export class TusClient {
  constructor(
    private readonly http: HttpClient,
    readonly owner: Owner,
    readonly gatewayUrl: string,
  ) {}

  send(method: string, path: string, headers: Record<string, string | string[]> = {}, body?: Buffer | string, options: TusSendOptions = {}): Promise<TusAnswer> {
    const all: Record<string, string | string[]> = {};
    const tus = options.tus === undefined ? TUS_VERSION : options.tus;
    if (tus !== false) all['Tus-Resumable'] = tus;
    const authorization = options.authorization === undefined ? `Bearer ${this.owner.token}` : options.authorization;
    if (authorization !== null) all.Authorization = authorization;
    Object.assign(all, headers);
    const request = describeRequest(method, path, all, body, options.chunked);
    return this.http
      .send({ method, path, headers: all, ...(body !== undefined ? { body } : {}), ...(options.chunked ? { chunked: true } : {}) })
      .then((answer) => ({ ...answer, request, method }));
  }

  /** POST /files/ that must answer 201; the new upload's id. */
  async create(headers: Record<string, string>, body?: Buffer): Promise<string> {
    const answer = await this.send('POST', '/files/', headers, body);
    expectTus(answer, 201);
    const id = (header(answer, 'location') ?? '').split('/').pop() ?? '';
    if (!UUID.test(id)) throw new Error(`no upload URL in the answer: ${summary(answer)}`);
    return id;
  }

  patch(id: string, offset: number | string, body: Buffer, headers: Record<string, string> = {}): Promise<TusAnswer> {
    return this.send('PATCH', `/files/${id}`, { 'Content-Type': OCTETS, 'Upload-Offset': String(offset), ...headers }, body);
  }

  /** PATCH that must succeed: 204 with the new offset. */
  async patchOk(id: string, offset: number, body: Buffer, headers: Record<string, string> = {}): Promise<number> {
    const answer = await this.patch(id, offset, body, headers);
    expectTus(answer, 204);
    if (header(answer, 'upload-offset') !== String(offset + body.length)) throw new Error(`PATCH answered the wrong offset (expected ${offset + body.length}): ${summary(answer)}`);
    return offset + body.length;
  }

  head(id: string): Promise<TusAnswer> {
    return this.send('HEAD', `/files/${id}`);
  }

  /** What HEAD says of the upload: everything a refused request must leave alone. */
  async state(id: string): Promise<TusState> {
    const a = await this.head(id);
    checkTus(a);
    return {
      status: a.status,
      offset: header(a, 'upload-offset'),
      length: header(a, 'upload-length'),
      defer: header(a, 'upload-defer-length'),
      metadata: header(a, 'upload-metadata'),
      concat: header(a, 'upload-concat'),
    };
  }

  /**
   * The upload's offset once no PATCH is in flight: HEAD's offset, confirmed by an empty PATCH
   * at it (which takes the upload's lock, so no cut request is still writing). A cut request
   * holds the lock until the server notices it is gone: 423 (or 409 once it recorded its bytes) means "ask again".
   */
  async settledOffset(id: string, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    const seen: string[] = [];
    for (;;) {
      const headed = await this.head(id);
      checkTus(headed);
      const offset = header(headed, 'upload-offset');
      seen.push(`HEAD ${headed.status}:${offset}`);
      if (headed.status === 200 && offset !== undefined) {
        const empty = await this.patch(id, offset, Buffer.alloc(0));
        checkTus(empty);
        seen.push(`PATCH ${empty.status}:${header(empty, 'upload-offset')}`);
        if (empty.status === 204 && header(empty, 'upload-offset') === offset) return Number(offset);
        if (empty.status !== 423 && empty.status !== 409) throw new Error(`an empty PATCH at HEAD's offset: ${summary(empty)}; seen ${seen.join(', ')}`);
      } else if (headed.status !== 423) {
        throw new Error(`HEAD while settling: ${summary(headed)}; seen ${seen.join(', ')}`);
      }
      if (Date.now() > deadline) throw new Error(`/files/${id} did not settle within ${timeoutMs} ms: ${seen.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async view(id: string): Promise<UploadView & { protocol?: string; contentType?: string; metadata?: Record<string, string> }> {
    return this.owner.view(id);
  }

  /** The id of the owner's newest upload, or null: a refused creation must leave it as it was. */
  async newest(): Promise<string | null> {
    const answer = await this.owner.request('GET', '/v1/uploads?limit=1');
    if (answer.status !== 200) throw new Error(`GET /v1/uploads?limit=1: ${answer.status} ${answer.text}`);
    const page = JSON.parse(answer.text) as { items: { id: string }[] };
    return page.items[0]?.id ?? null;
  }

  /** Every upload id the owner can see, through the API's own pages. */
  async listAll(): Promise<string[]> {
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await this.owner.request('GET', `/v1/uploads?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      if (answer.status !== 200) throw new Error(`GET /v1/uploads: ${answer.status} ${answer.text}`);
      const page = JSON.parse(answer.text) as { items: { id: string }[]; nextCursor: string | null };
      all.push(...page.items.map((u) => u.id));
      cursor = page.nextCursor;
    } while (cursor);
    return all;
  }

  /** Polls GET /v1/uploads/<id> until the upload completed (or ended otherwise). */
  async settled(id: string, timeoutMs = 20_000): Promise<UploadView & { protocol?: string }> {
    return this.owner.waitFor(id, (v) => ['completed', 'failed', 'aborted', 'expired'].includes(v.state), timeoutMs);
  }
}

export interface TusState {
  status: number;
  offset: string | undefined;
  length: string | undefined;
  defer: string | undefined;
  metadata: string | undefined;
  concat: string | undefined;
}

/**
 * What every tus answer owes a client: `Tus-Resumable: 1.0.0` unless it answers OPTIONS, no
 * 5xx, and a refusal that is a problem document of a published type matching its status
 * (HEAD: no body at all). Returns the problem type, or null for a success.
 */
export function checkTus(a: TusAnswer): ProblemType | null {
  const head = a.method === 'HEAD';
  if (a.status >= 500) throw new Error(`server error: ${summary(a)}`);
  if (a.method !== 'OPTIONS' && header(a, 'tus-resumable') !== TUS_VERSION) throw new Error(`answer without Tus-Resumable: ${TUS_VERSION}: ${summary(a)}`);
  if (head && a.body.length > 0) throw new Error(`HEAD answered with a body: ${summary(a)}`);
  const problem = checkAnswer(a, summary(a), { head });
  return problem?.type ?? null;
}

/** `checkTus`, and the answer has exactly this status. */
export function expectTus(a: TusAnswer, status: number): void {
  checkTus(a);
  if (a.status !== status) throw new Error(`expected ${status}: ${summary(a)}`);
}

/** A refusal of one of `types` (for HEAD, which has no body: a status of one of them). */
export function expectTusRefusal(a: TusAnswer, types: readonly ProblemType[]): void {
  checkTus(a);
  if (a.method === 'HEAD') {
    const statuses = types.map((t) => PUBLISHED_PROBLEMS[t]);
    if (!statuses.includes(a.status as never)) throw new Error(`expected a refusal (${types.join(' | ')}): ${summary(a)}`);
    return;
  }
  expectRefusal(a, summary(a), types);
}
