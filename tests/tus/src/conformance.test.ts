import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { startStack, type Stack } from '../../e2e/src/support/stack';
import { EventRecorder } from '../../e2e/src/support/events';
import { header, open, send, type HttpAnswer } from './support/tus-http';

/**
 * tus 1.0.0 conformance of the gateway's `/files/` endpoint, over raw HTTP, against the real
 * stack (gateway, chunk-worker, notifier). One test per rule of /work/tus-contract.md; each
 * test makes its own uploads. Every refusal is checked to be a problem document with the
 * slug the contract lists, and every answer (except to OPTIONS) to carry Tus-Resumable.
 */

jest.setTimeout(60_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const MAX_UPLOAD_BYTES = 64 * MiB;
const ORIGIN = 'http://example.test';
/** The main stack's tus lock lease: how long a crashed gateway's PATCH keeps the upload locked. */
const LOCK_LEASE_MS = 2000;
const EXTENSIONS = ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'checksum', 'expiration', 'concatenation', 'concatenation-unfinished'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** RFC 9110 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const OCTETS = 'application/offset+octet-stream';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const digest64 = (algorithm: 'sha1' | 'sha256', data: Buffer) => createHash(algorithm).update(data).digest('base64');
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Comma-separated header values as a sorted list of lower-case names. */
const listOf = (value: string | undefined) => (value ?? '').split(',').map((v) => v.trim().toLowerCase()).filter(Boolean).sort();

/** An answer with the request that got it, so failures say what was asked. */
type Answer = HttpAnswer & { request: string };

interface UploadJson {
  id: string;
  filename: string;
  size: number | null;
  contentType: string;
  chunkSize: number;
  chunkCount: number | null;
  state: string;
  protocol: string;
  bytesStored: number;
  chunksStored: number;
  sha256?: string;
}

interface CallOptions {
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Bearer token; null sends no Authorization. Default: alice's token on the main stack. */
  token?: string | null;
  /** false: send no Tus-Resumable; a string: send that version. */
  tus?: string | false;
  stack?: Stack;
}

describe('tus 1.0.0 on the gateway (/files/), raw HTTP', () => {
  let stack: Stack;
  let ttlStack: Stack;
  let token: string;
  let malloryToken: string;
  /** Every non-OPTIONS answer of the suite that lacked `Tus-Resumable: 1.0.0`. */
  const withoutTusResumable: string[] = [];

  beforeAll(async () => {
    // Both started at once; if one fails, the other is stopped too (its processes would keep jest alive).
    const started = await Promise.allSettled([
      startStack({ DEFAULT_CHUNK_SIZE: String(MiB) }, { services: { gateway: { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES), CORS_ORIGIN: ORIGIN, TUS_LOCK_LEASE_MS: String(LOCK_LEASE_MS) } } }),
      startStack({ DEFAULT_CHUNK_SIZE: String(MiB) }, { services: { gateway: { UPLOAD_TTL_SECONDS: '1' } } }),
    ]);
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)));
      throw failed.reason;
    }
    [stack, ttlStack] = started.map((result) => (result as PromiseFulfilledResult<Stack>).value) as [Stack, Stack];
    token = await stack.token('alice');
    malloryToken = await stack.token('mallory');
  }, 90_000);

  afterAll(async () => {
    await Promise.all([stack?.stop(), ttlStack?.stop()]);
  });

  // ---- helpers ---------------------------------------------------------------------------

  /** A tus request: Tus-Resumable and alice's Bearer token unless told otherwise. */
  async function call(method: string, target: string, options: CallOptions = {}): Promise<Answer> {
    const base = (options.stack ?? stack).gatewayUrl;
    const url = /^https?:/.test(target) ? target : `${base}${target}`;
    const headers: Record<string, string> = {};
    if (options.tus !== false) headers['Tus-Resumable'] = options.tus ?? '1.0.0';
    const bearer = options.token === undefined ? token : options.token;
    if (bearer !== null) headers.Authorization = `Bearer ${bearer}`;
    Object.assign(headers, options.headers ?? {});
    const answer = await send(url, { method, headers, body: options.body });
    const shown = Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}…` : v}`);
    const request = `${method} ${url.replace(base, '')}${shown.length ? ` {${shown.join('; ')}}` : ''}${options.body !== undefined ? ` +${Buffer.byteLength(options.body)} bytes` : ''}`;
    if (method !== 'OPTIONS' && header(answer, 'tus-resumable') !== '1.0.0') withoutTusResumable.push(`${request} → ${answer.status}`);
    return { ...answer, request };
  }

  const summary = (a: Answer) => `${a.request} → ${a.status} ${a.body.slice(0, 300)}`;

  function expectStatus(a: Answer, status: number): void {
    expect({ answer: summary(a), status: a.status }).toEqual({ answer: summary(a), status });
  }

  /** A refusal: the status, Tus-Resumable, and an application/problem+json body of type `slug`. */
  function expectProblem(a: Answer, status: number, slug: string): void {
    let problem: Record<string, unknown> = {};
    try {
      problem = JSON.parse(a.body) as Record<string, unknown>;
    } catch {
      // shown as undefined fields below
    }
    const seen = {
      answer: summary(a),
      status: a.status,
      tusResumable: header(a, 'tus-resumable'),
      contentType: header(a, 'content-type'),
      type: problem.type,
      problemStatus: problem.status,
      title: typeof problem.title,
      detail: typeof problem.detail,
    };
    expect(seen).toEqual({
      answer: summary(a),
      status,
      tusResumable: '1.0.0',
      contentType: expect.stringMatching(/^application\/problem\+json\b/),
      // The contract: "a URL ending in the slug"; the service's other problems use the bare slug.
      type: expect.stringMatching(new RegExp(`(^|[/#])${slug}$`)),
      problemStatus: status,
      title: 'string',
      detail: 'string',
    });
  }

  /** HEAD answers have no body: only the status and Tus-Resumable can be checked. */
  function expectHeadRefusal(a: Answer, status: number): void {
    expect({ answer: summary(a), status: a.status, tusResumable: header(a, 'tus-resumable'), body: a.body }).toEqual({ answer: summary(a), status, tusResumable: '1.0.0', body: '' });
  }

  interface Created {
    id: string;
    url: string;
    path: string;
    answer: Answer;
  }

  /** POST /files/ that must answer 201; returns the new upload's id and URL. */
  async function create(headers: Record<string, string>, options: CallOptions = {}): Promise<Created> {
    const answer = await call('POST', '/files/', { ...options, headers });
    expectStatus(answer, 201);
    const location = header(answer, 'location') ?? '';
    const id = location.split('/').pop() ?? '';
    expect({ location, id }).toEqual({ location: `${(options.stack ?? stack).gatewayUrl}/files/${id}`, id: expect.stringMatching(UUID) });
    return { id, url: location, path: `/files/${id}`, answer };
  }

  const patch = (id: string, offset: number | string, body: Buffer, headers: Record<string, string> = {}, options: CallOptions = {}) =>
    call('PATCH', `/files/${id}`, { ...options, headers: { 'Content-Type': OCTETS, 'Upload-Offset': String(offset), ...headers }, body });

  /** PATCH that must succeed: 204 with the new offset. */
  async function patchOk(id: string, offset: number, body: Buffer, headers: Record<string, string> = {}, options: CallOptions = {}): Promise<Answer> {
    const answer = await patch(id, offset, body, headers, options);
    expect({ answer: summary(answer), status: answer.status, offset: header(answer, 'upload-offset') }).toEqual({
      answer: summary(answer),
      status: 204,
      offset: String(offset + body.length),
    });
    return answer;
  }

  const head = (id: string, options: CallOptions = {}) => call('HEAD', `/files/${id}`, options);

  /** PATCH whose body goes out with chunked transfer encoding (no Content-Length), in `pieces`. */
  async function patchChunked(id: string, offset: number, pieces: Buffer[]): Promise<Answer> {
    const req = open(`${stack.gatewayUrl}/files/${id}`, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}`, 'Content-Type': OCTETS, 'Upload-Offset': String(offset) },
    });
    for (const piece of pieces) {
      if (req.answered) break;
      await req.write(piece).catch(() => undefined);
    }
    const answer = await req.end();
    const request = `PATCH /files/${id} {Upload-Offset: ${offset}; chunked} +${pieces.reduce((n, p) => n + p.length, 0)} bytes`;
    if (header(answer, 'tus-resumable') !== '1.0.0') withoutTusResumable.push(`${request} → ${answer.status}`);
    return { ...answer, request };
  }

  async function offsetOf(id: string, options: CallOptions = {}): Promise<number> {
    const answer = await head(id, options);
    expectStatus(answer, 200);
    return Number(header(answer, 'upload-offset'));
  }

  /** The native view of an upload. */
  async function view(id: string, bearer = token, on = stack): Promise<UploadJson> {
    const res = await fetch(`${on.gatewayUrl}/v1/uploads/${id}`, { headers: { authorization: `Bearer ${bearer}` } });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /v1/uploads/${id} → ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text) as UploadJson;
  }

  /** Polls GET /v1/uploads/<id> until the worker has finalized the upload. */
  async function completed(id: string, timeoutMs = 20_000): Promise<UploadJson> {
    const deadline = Date.now() + timeoutMs;
    let last: UploadJson | undefined;
    while (Date.now() < deadline) {
      last = await view(id);
      if (last.state === 'completed') return last;
      if (['failed', 'aborted', 'expired'].includes(last.state)) throw new Error(`upload ${id} ended ${last.state}: ${JSON.stringify(last)}`);
      await sleep(100);
    }
    throw new Error(`upload ${id} not completed within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  async function download(id: string): Promise<Buffer> {
    const res = await fetch(`${stack.gatewayUrl}/v1/uploads/${id}/content`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  /** The upload completes with `data`'s SHA-256, and downloads as `data`. */
  async function expectStored(id: string, data: Buffer): Promise<UploadJson> {
    const done = await completed(id);
    expect({ sha256: done.sha256, size: done.size, protocol: done.protocol }).toEqual({ sha256: sha256(data), size: data.length, protocol: 'tus' });
    const bytes = await download(id);
    expect({ length: bytes.length, sha256: sha256(bytes) }).toEqual({ length: data.length, sha256: sha256(data) });
    return done;
  }

  function expectFutureDate(value: string | undefined, what: string, within?: { minMs: number; maxMs: number }): void {
    expect({ what, value }).toEqual({ what, value: expect.stringMatching(HTTP_DATE) });
    const at = Date.parse(value!);
    const fromNow = at - Date.now();
    if (within) {
      expect({ what, value, fromNowInRange: fromNow >= within.minMs && fromNow <= within.maxMs }).toEqual({ what, value, fromNowInRange: true });
    } else {
      expect({ what, value, inTheFuture: fromNow > 0 }).toEqual({ what, value, inTheFuture: true });
    }
  }

  // ---- core ------------------------------------------------------------------------------

  describe('core', () => {
    it('OPTIONS /files/ and /files/<id> answer 204 without a token, with Tus-Version, Tus-Resumable, Tus-Extension, Tus-Max-Size and Tus-Checksum-Algorithm', async () => {
      const upload = await create({ 'Upload-Length': '10' });
      for (const path of ['/files/', upload.path]) {
        const a = await call('OPTIONS', path, { token: null, tus: false });
        expect({
          request: a.request,
          status: a.status,
          tusVersion: header(a, 'tus-version'),
          tusResumable: header(a, 'tus-resumable'),
          extensions: listOf(header(a, 'tus-extension')),
          maxSize: header(a, 'tus-max-size'),
          checksums: listOf(header(a, 'tus-checksum-algorithm')),
        }).toEqual({
          request: a.request,
          status: 204,
          tusVersion: '1.0.0',
          tusResumable: '1.0.0',
          extensions: [...EXTENSIONS].sort(),
          maxSize: String(MAX_UPLOAD_BYTES),
          checksums: ['sha1', 'sha256'],
        });
      }
    });

    it('every answer except to OPTIONS carries Tus-Resumable: 1.0.0 (201, 204, 200, 4xx alike)', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const answers = [
        upload.answer,
        await patch(upload.id, 0, data.subarray(0, 100)),
        await head(upload.id),
        await patch(upload.id, 0, data.subarray(0, 100)), // 409
        await patch(upload.id, 100, data.subarray(100, 200), { 'Content-Type': 'application/octet-stream' }), // 415
        await head(randomUUID()), // 404
        await call('HEAD', upload.path, { token: null }), // 401
        await call('POST', '/files/', { headers: { 'Upload-Length': 'x' } }), // 400
        await call('DELETE', upload.path),
      ];
      expect(answers.map((a) => `${a.request} → ${a.status}: ${header(a, 'tus-resumable') ?? '(none)'}`)).toEqual(
        answers.map((a) => `${a.request} → ${a.status}: 1.0.0`),
      );
    });

    it('a request without Tus-Resumable, or with another version, answers 412 with Tus-Version: 1.0.0 and changes nothing', async () => {
      // A fresh owner: whether a refused POST created anything shows in their upload list.
      const carolToken = await stack.token('carol-412');
      const refusedPost = await call('POST', '/files/', { token: carolToken, tus: false, headers: { 'Upload-Length': '100' } });
      expectProblem(refusedPost, 412, 'tus-version-unsupported');
      expect(header(refusedPost, 'tus-version')).toBe('1.0.0');
      const otherVersion = await call('POST', '/files/', { token: carolToken, tus: '0.2.2', headers: { 'Upload-Length': '100' } });
      expectProblem(otherVersion, 412, 'tus-version-unsupported');
      expect(header(otherVersion, 'tus-version')).toBe('1.0.0');
      const list = (await (await fetch(`${stack.gatewayUrl}/v1/uploads?limit=100`, { headers: { authorization: `Bearer ${carolToken}` } })).json()) as { items: unknown[] };
      expect(list.items).toEqual([]);

      const data = randomBytes(300);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 100));
      for (const version of [false, '0.2.2', '2.0.0'] as const) {
        const refusedPatch = await patch(upload.id, 100, data.subarray(100), {}, { tus: version });
        expectProblem(refusedPatch, 412, 'tus-version-unsupported');
        expect(header(refusedPatch, 'tus-version')).toBe('1.0.0');
      }
      const refusedHead = await head(upload.id, { tus: false });
      expectHeadRefusal(refusedHead, 412);
      expect(header(refusedHead, 'tus-version')).toBe('1.0.0');
      const refusedDelete = await call('DELETE', upload.path, { tus: '0.2.2' });
      expectProblem(refusedDelete, 412, 'tus-version-unsupported');
      expect(header(refusedDelete, 'tus-version')).toBe('1.0.0');
      expect(await offsetOf(upload.id)).toBe(100);
    });

    it('HEAD answers 200 with an empty body, Upload-Offset, Upload-Length, Upload-Metadata exactly as sent, Cache-Control: no-store and Upload-Expires', async () => {
      const metadata = `filename ${b64('holiday photo.jpg')},filetype ${b64('image/jpeg')},flag`;
      const data = randomBytes(5000);
      const upload = await create({ 'Upload-Length': String(data.length), 'Upload-Metadata': metadata });
      await patchOk(upload.id, 0, data.subarray(0, 1234));
      const a = await head(upload.id);
      expect({
        status: a.status,
        body: a.body,
        offset: header(a, 'upload-offset'),
        length: header(a, 'upload-length'),
        deferLength: header(a, 'upload-defer-length'),
        metadata: header(a, 'upload-metadata'),
        cacheControl: header(a, 'cache-control'),
        tusResumable: header(a, 'tus-resumable'),
      }).toEqual({ status: 200, body: '', offset: '1234', length: '5000', deferLength: undefined, metadata, cacheControl: 'no-store', tusResumable: '1.0.0' });
      expectFutureDate(header(a, 'upload-expires'), 'HEAD Upload-Expires');
      const plain = await create({ 'Upload-Length': '10' });
      expect(header(await head(plain.id), 'upload-metadata')).toBeUndefined();
    });

    it('PATCH without Content-Type: application/offset+octet-stream answers 415 and changes nothing', async () => {
      const data = randomBytes(2000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 500));
      for (const contentType of ['application/octet-stream', 'text/plain', undefined]) {
        const headers: Record<string, string> = { 'Upload-Offset': '500' };
        if (contentType) headers['Content-Type'] = contentType;
        const a = await call('PATCH', upload.path, { headers, body: data.subarray(500, 1000) });
        expectProblem(a, 415, 'unsupported-media-type');
      }
      expect(await offsetOf(upload.id)).toBe(500);
      await patchOk(upload.id, 500, data.subarray(500));
      await expectStored(upload.id, data);
    });

    it('PATCH with a missing, negative or non-numeric Upload-Offset answers 400', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const missing = await call('PATCH', upload.path, { headers: { 'Content-Type': OCTETS }, body: data.subarray(0, 10) });
      expectProblem(missing, 400, 'validation-failed');
      for (const offset of ['-1', 'abc', '1.5', '']) {
        expectProblem(await patch(upload.id, offset, data.subarray(0, 10)), 400, 'validation-failed');
      }
      expect(await offsetOf(upload.id)).toBe(0);
    });

    it('PATCH with a stale Upload-Offset answers 409 and changes nothing', async () => {
      const data = randomBytes(2000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 500));
      expectProblem(await patch(upload.id, 0, data.subarray(0, 500)), 409, 'offset-mismatch');
      expectProblem(await patch(upload.id, 1000, data.subarray(1000, 1500)), 409, 'offset-mismatch');
      expectProblem(await patch(upload.id, 499, data.subarray(499, 600)), 409, 'offset-mismatch');
      expect(await offsetOf(upload.id)).toBe(500);
      await patchOk(upload.id, 500, data.subarray(500));
      await expectStored(upload.id, data);
    });

    it('PATCH appends its bytes and answers 204 with the new Upload-Offset and an empty body', async () => {
      const data = randomBytes(3000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      let offset = 0;
      for (const size of [1000, 1, 1999]) {
        const a = await patchOk(upload.id, offset, data.subarray(offset, offset + size));
        expect(a.body).toBe('');
        offset += size;
        expect(await offsetOf(upload.id)).toBe(offset);
      }
      await expectStored(upload.id, data);
    });

    it('PATCH carrying bytes beyond Upload-Length answers 413 (declared or chunked body); the upload resumes from HEAD\'s offset', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 400));
      const tooMuch = await patch(upload.id, 400, Buffer.concat([data.subarray(400), randomBytes(10)]));
      expectProblem(tooMuch, 413, 'payload-too-large');
      expect(await offsetOf(upload.id)).toBe(400);
      const tooMuchChunked = await patchChunked(upload.id, 400, [data.subarray(400, 700), Buffer.concat([data.subarray(700), randomBytes(10)])]);
      expectProblem(tooMuchChunked, 413, 'payload-too-large');
      const offset = await offsetOf(upload.id);
      expect(offset).toBeGreaterThanOrEqual(400);
      if (offset < data.length) await patchOk(upload.id, offset, data.subarray(offset));
      await expectStored(upload.id, data);
    });

    it('PATCH with bytes at the end of a completed upload answers 413', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data);
      await expectStored(upload.id, data);
      expectProblem(await patch(upload.id, data.length, randomBytes(10)), 413, 'payload-too-large');
      await expectStored(upload.id, data);
    });

    it('a PATCH body sent with chunked transfer encoding (no Content-Length) is appended like any other', async () => {
      const data = randomBytes(2 * MiB + 333);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const pieces = [data.subarray(0, 1000), data.subarray(1000, MiB + 7), data.subarray(MiB + 7, 2 * MiB), data.subarray(2 * MiB)];
      const a = await patchChunked(upload.id, 0, pieces.slice(0, 2));
      expect({ answer: summary(a), status: a.status, offset: header(a, 'upload-offset') }).toEqual({ answer: summary(a), status: 204, offset: String(MiB + 7) });
      const b = await patchChunked(upload.id, MiB + 7, pieces.slice(2));
      expect({ answer: summary(b), status: b.status, offset: header(b, 'upload-offset') }).toEqual({ answer: summary(b), status: 204, offset: String(data.length) });
      await expectStored(upload.id, data);
    });

    it('X-HTTP-Method-Override: PATCH, HEAD and DELETE on a POST are honoured', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const patched = await call('POST', upload.path, {
        headers: { 'X-HTTP-Method-Override': 'PATCH', 'Content-Type': OCTETS, 'Upload-Offset': '0' },
        body: data.subarray(0, 600),
      });
      expect({ answer: summary(patched), status: patched.status, offset: header(patched, 'upload-offset') }).toEqual({ answer: summary(patched), status: 204, offset: '600' });
      const headed = await call('POST', upload.path, { headers: { 'X-HTTP-Method-Override': 'HEAD' } });
      expect({ answer: summary(headed), status: headed.status, offset: header(headed, 'upload-offset'), length: header(headed, 'upload-length') }).toEqual({
        answer: summary(headed),
        status: 200,
        offset: '600',
        length: '1000',
      });
      const deleted = await call('POST', upload.path, { headers: { 'X-HTTP-Method-Override': 'DELETE' } });
      expectStatus(deleted, 204);
      expectHeadRefusal(await head(upload.id), 404);
    });

    it('path ids that are not UUIDs answer 400; unknown UUIDs answer 404', async () => {
      expectHeadRefusal(await call('HEAD', '/files/not-a-uuid'), 400);
      expectProblem(await call('PATCH', '/files/not-a-uuid', { headers: { 'Content-Type': OCTETS, 'Upload-Offset': '0' }, body: 'abc' }), 400, 'validation-failed');
      expectProblem(await call('DELETE', '/files/not-a-uuid'), 400, 'validation-failed');
      const unknown = randomUUID();
      const a = await head(unknown);
      expectHeadRefusal(a, 404);
      expect(header(a, 'upload-offset')).toBeUndefined();
      expectProblem(await patch(unknown, 0, Buffer.from('abc')), 404, 'not-found');
      expectProblem(await call('DELETE', `/files/${unknown}`), 404, 'not-found');
    });
  });

  // ---- creation --------------------------------------------------------------------------

  describe('creation', () => {
    it('POST answers 201 with an absolute Location <origin>/files/<uuid> and Upload-Expires; the upload is a tus upload of the native API', async () => {
      const upload = await create({ 'Upload-Length': '4321' });
      expectFutureDate(header(upload.answer, 'upload-expires'), 'POST Upload-Expires');
      expect(await view(upload.id)).toMatchObject({ id: upload.id, protocol: 'tus', size: 4321, state: expect.not.stringMatching(/completed|failed|aborted|expired/) });
    });

    it('Upload-Metadata filename/filetype (or name/type) become the upload filename and content type', async () => {
      const a = await create({ 'Upload-Length': '10', 'Upload-Metadata': `filename ${b64('holiday photo.jpg')},filetype ${b64('image/jpeg')},note ${b64('x')}` });
      expect(await view(a.id)).toMatchObject({ filename: 'holiday photo.jpg', contentType: 'image/jpeg', protocol: 'tus' });
      const b = await create({ 'Upload-Length': '10', 'Upload-Metadata': `name ${b64('notes.txt')},type ${b64('text/plain')}` });
      expect(await view(b.id)).toMatchObject({ filename: 'notes.txt', contentType: 'text/plain', protocol: 'tus' });
    });

    it('POST with Upload-Length above Tus-Max-Size answers 413', async () => {
      const a = await call('POST', '/files/', { headers: { 'Upload-Length': String(MAX_UPLOAD_BYTES + 1) } });
      expectProblem(a, 413, 'payload-too-large');
      await create({ 'Upload-Length': String(MAX_UPLOAD_BYTES) });
    });

    it('POST with both or neither of Upload-Length and Upload-Defer-Length answers 400', async () => {
      expectProblem(await call('POST', '/files/', { headers: { 'Upload-Length': '100', 'Upload-Defer-Length': '1' } }), 400, 'validation-failed');
      expectProblem(await call('POST', '/files/', {}), 400, 'validation-failed');
      expectProblem(await call('POST', '/files/', { headers: { 'Upload-Metadata': `filename ${b64('a.txt')}` } }), 400, 'validation-failed');
    });

    it('POST with an Upload-Length that is not a non-negative integer, or an Upload-Defer-Length other than 1, answers 400', async () => {
      for (const length of ['-1', 'abc', '1.5', '1e3']) {
        expectProblem(await call('POST', '/files/', { headers: { 'Upload-Length': length } }), 400, 'validation-failed');
      }
      for (const defer of ['0', '2', 'true']) {
        expectProblem(await call('POST', '/files/', { headers: { 'Upload-Defer-Length': defer } }), 400, 'validation-failed');
      }
    });

    it('POST with malformed Upload-Metadata answers 400', async () => {
      for (const metadata of ['filename ***not-base64***', `filename ${b64('a.txt')} ${b64('b.txt')}`]) {
        expectProblem(await call('POST', '/files/', { headers: { 'Upload-Length': '10', 'Upload-Metadata': metadata } }), 400, 'validation-failed');
      }
    });

    it('POST with Upload-Length: 0 completes the upload at once', async () => {
      const upload = await create({ 'Upload-Length': '0' });
      await expectStored(upload.id, Buffer.alloc(0));
      const a = await head(upload.id);
      expect({ status: a.status, offset: header(a, 'upload-offset'), length: header(a, 'upload-length') }).toEqual({ status: 200, offset: '0', length: '0' });
    });
  });

  // ---- creation-with-upload --------------------------------------------------------------

  describe('creation-with-upload', () => {
    it('a POST body with Content-Type: application/offset+octet-stream is stored at offset 0 and the 201 carries Upload-Offset', async () => {
      const data = randomBytes(MiB + 777);
      const first = data.subarray(0, 700 * KiB);
      const upload = await create({ 'Upload-Length': String(data.length), 'Content-Type': OCTETS }, { body: first });
      expect(header(upload.answer, 'upload-offset')).toBe(String(first.length));
      expect(await offsetOf(upload.id)).toBe(first.length);
      await patchOk(upload.id, first.length, data.subarray(first.length));
      await expectStored(upload.id, data);

      const whole = randomBytes(2 * MiB + 5);
      const inOne = await create({ 'Upload-Length': String(whole.length), 'Content-Type': OCTETS }, { body: whole });
      expect(header(inOne.answer, 'upload-offset')).toBe(String(whole.length));
      await expectStored(inOne.id, whole);
    });
  });

  // ---- creation-defer-length -------------------------------------------------------------

  describe('creation-defer-length', () => {
    it('HEAD reports Upload-Defer-Length: 1 until a PATCH sets Upload-Length, and the upload then completes', async () => {
      const data = randomBytes(2 * MiB + 4321);
      const upload = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(upload.id, 0, data.subarray(0, MiB + 10));
      const deferred = await head(upload.id);
      expect({ status: deferred.status, offset: header(deferred, 'upload-offset'), length: header(deferred, 'upload-length'), defer: header(deferred, 'upload-defer-length') }).toEqual({
        status: 200,
        offset: String(MiB + 10),
        length: undefined,
        defer: '1',
      });
      await patchOk(upload.id, MiB + 10, data.subarray(MiB + 10, 2 * MiB), { 'Upload-Length': String(data.length) });
      const known = await head(upload.id);
      expect({ length: header(known, 'upload-length'), defer: header(known, 'upload-defer-length') }).toEqual({ length: String(data.length), defer: undefined });
      await patchOk(upload.id, 2 * MiB, data.subarray(2 * MiB));
      await expectStored(upload.id, data);
    });

    it('Upload-Length on a later PATCH is refused with 400 when smaller than the offset or once the length is set', async () => {
      const data = randomBytes(3000);
      const upload = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(upload.id, 0, data.subarray(0, 1000));
      expectProblem(await patch(upload.id, 1000, Buffer.alloc(0), { 'Upload-Length': '500' }), 400, 'validation-failed');
      expect(await offsetOf(upload.id)).toBe(1000);
      await patchOk(upload.id, 1000, data.subarray(1000, 2000), { 'Upload-Length': String(data.length) });
      expectProblem(await patch(upload.id, 2000, data.subarray(2000, 2500), { 'Upload-Length': '4000' }), 400, 'validation-failed');
      expect(await offsetOf(upload.id)).toBe(2000);
      await patchOk(upload.id, 2000, data.subarray(2000));
      await expectStored(upload.id, data);
    });

    it('the deferred length may be declared on an empty PATCH after the last byte, on a chunk boundary or inside a chunk', async () => {
      for (const size of [2 * MiB, MiB + 1500]) {
        const data = randomBytes(size);
        const upload = await create({ 'Upload-Defer-Length': '1' });
        await patchOk(upload.id, 0, data.subarray(0, MiB));
        await patchOk(upload.id, MiB, data.subarray(MiB));
        await patchOk(upload.id, size, Buffer.alloc(0), { 'Upload-Length': String(size) });
        await expectStored(upload.id, data);
      }
    });

    it('a deferred length above Tus-Max-Size declared on a PATCH answers 413', async () => {
      const upload = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(upload.id, 0, randomBytes(100));
      expectProblem(await patch(upload.id, 100, Buffer.alloc(0), { 'Upload-Length': String(MAX_UPLOAD_BYTES + 1) }), 413, 'payload-too-large');
      const a = await head(upload.id);
      expect({ offset: header(a, 'upload-offset'), defer: header(a, 'upload-defer-length') }).toEqual({ offset: '100', defer: '1' });
    });

    it('a refused PATCH does not apply the Upload-Length it carries: after 460 or 413 the length is still deferred and nothing completes', async () => {
      const data = randomBytes(2000);
      const upload = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(upload.id, 0, data.subarray(0, 1000));
      const wrongSum = await patch(upload.id, 1000, data.subarray(1000), { 'Upload-Length': '2000', 'Upload-Checksum': `sha1 ${digest64('sha1', randomBytes(5))}` });
      expectProblem(wrongSum, 460, 'checksum-mismatch');
      const tooMuch = await patch(upload.id, 1000, data.subarray(1000, 1600), { 'Upload-Length': '1500' });
      expectProblem(tooMuch, 413, 'payload-too-large');
      const still = await head(upload.id);
      expect({ offset: header(still, 'upload-offset'), length: header(still, 'upload-length'), defer: header(still, 'upload-defer-length') }).toEqual({ offset: '1000', length: undefined, defer: '1' });
      await patchOk(upload.id, 1000, data.subarray(1000), { 'Upload-Length': '2000' });
      await expectStored(upload.id, data);

      // At a chunk boundary with every chunk stored, the refused length must not complete the upload.
      const whole = randomBytes(MiB + 500);
      const atBoundary = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(atBoundary.id, 0, whole.subarray(0, MiB));
      const deadline = Date.now() + 10_000;
      while ((await view(atBoundary.id)).chunksStored < 1 && Date.now() < deadline) await sleep(100);
      expectProblem(await patch(atBoundary.id, MiB, randomBytes(10), { 'Upload-Length': String(MiB) }), 413, 'payload-too-large');
      await sleep(1000);
      expect(await view(atBoundary.id)).toMatchObject({ state: expect.not.stringMatching(/completed|finalizing/), size: null });
      await patchOk(atBoundary.id, MiB, whole.subarray(MiB), { 'Upload-Length': String(whole.length) });
      await expectStored(atBoundary.id, whole);
    });

    it('a deferred-length upload whose length turns out to be 0 completes', async () => {
      const upload = await create({ 'Upload-Defer-Length': '1' });
      await patchOk(upload.id, 0, Buffer.alloc(0), { 'Upload-Length': '0' });
      await expectStored(upload.id, Buffer.alloc(0));
    });
  });

  // ---- termination -----------------------------------------------------------------------

  describe('termination', () => {
    it('DELETE answers 204; afterwards HEAD and PATCH answer 404', async () => {
      const data = randomBytes(MiB + 100);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, MiB + 1));
      const deleted = await call('DELETE', upload.path);
      expect({ answer: summary(deleted), status: deleted.status, body: deleted.body }).toEqual({ answer: summary(deleted), status: 204, body: '' });
      const headed = await head(upload.id);
      expectHeadRefusal(headed, 404);
      expect(header(headed, 'upload-offset')).toBeUndefined();
      expectProblem(await patch(upload.id, MiB + 1, data.subarray(MiB + 1)), 404, 'not-found');
      expectProblem(await call('DELETE', upload.path), 404, 'not-found');
    });
  });

  // ---- checksum --------------------------------------------------------------------------

  describe('checksum', () => {
    it('PATCH with a matching sha1 or sha256 Upload-Checksum answers 204', async () => {
      const data = randomBytes(MiB + 999);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const first = data.subarray(0, 600 * KiB);
      const second = data.subarray(600 * KiB);
      await patchOk(upload.id, 0, first, { 'Upload-Checksum': `sha1 ${digest64('sha1', first)}` });
      await patchOk(upload.id, first.length, second, { 'Upload-Checksum': `sha256 ${digest64('sha256', second)}` });
      await expectStored(upload.id, data);
    });

    it('PATCH whose bytes do not match Upload-Checksum answers 460, discards them and leaves the offset', async () => {
      const data = randomBytes(2 * MiB + 500);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const start = MiB - 1000; // the refused PATCH spans a chunk boundary
      await patchOk(upload.id, 0, data.subarray(0, start));
      const right = data.subarray(start, start + MiB);
      const garbage = randomBytes(right.length);
      for (const algorithm of ['sha1', 'sha256'] as const) {
        const refused = await patch(upload.id, start, garbage, { 'Upload-Checksum': `${algorithm} ${digest64(algorithm, right)}` });
        expectProblem(refused, 460, 'checksum-mismatch');
        expect(await offsetOf(upload.id)).toBe(start);
      }
      await patchOk(upload.id, start, data.subarray(start));
      await expectStored(upload.id, data);
    });

    it('PATCH with an unsupported checksum algorithm answers 400 and leaves the offset', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 100));
      const body = data.subarray(100, 600);
      const md5 = createHash('md5').update(body).digest('base64');
      expectProblem(await patch(upload.id, 100, body, { 'Upload-Checksum': `md5 ${md5}` }), 400, 'checksum-algorithm-unsupported');
      expect(await offsetOf(upload.id)).toBe(100);
      await patchOk(upload.id, 100, data.subarray(100));
      await expectStored(upload.id, data);
    });
  });

  // ---- expiration ------------------------------------------------------------------------

  describe('expiration', () => {
    it('POST, PATCH and HEAD of an unfinished upload carry Upload-Expires, an RFC 9110 date in the future', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      // The main stack keeps the default TTL of 24 h.
      const day = { minMs: 23 * 3600_000, maxMs: 25 * 3600_000 };
      expectFutureDate(header(upload.answer, 'upload-expires'), 'POST Upload-Expires', day);
      const patched = await patchOk(upload.id, 0, data.subarray(0, 10));
      expectFutureDate(header(patched, 'upload-expires'), 'PATCH Upload-Expires', day);
      expectFutureDate(header(await head(upload.id), 'upload-expires'), 'HEAD Upload-Expires', day);
    });

    it('an expired upload answers 410 to HEAD and PATCH; a finished one does not expire (stack with UPLOAD_TTL_SECONDS=1)', async () => {
      const ttlToken = await ttlStack.token('erin');
      const on = { stack: ttlStack, token: ttlToken };
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) }, on);
      const finished = await create({ 'Upload-Length': '0' }, on);
      expectFutureDate(header(upload.answer, 'upload-expires'), 'POST Upload-Expires (TTL 1 s)', { minMs: -1500, maxMs: 3000 });
      const patched = await patchOk(upload.id, 0, data.subarray(0, 100), {}, on);
      const expires = header(patched, 'upload-expires');
      expectFutureDate(expires, 'PATCH Upload-Expires (TTL 1 s)', { minMs: -1500, maxMs: 3000 });
      // The date has whole seconds: the upload is expired a second after it at the latest.
      await sleep(Math.max(1500, Date.parse(expires!) + 1100 - Date.now()));
      expectHeadRefusal(await head(upload.id, on), 410);
      expectProblem(await patch(upload.id, 100, data.subarray(100), {}, on), 410, 'upload-expired');
      // A finished upload does not expire.
      const done = await head(finished.id, on);
      expect({ status: done.status, offset: header(done, 'upload-offset'), length: header(done, 'upload-length') }).toEqual({ status: 200, offset: '0', length: '0' });
    });
  });

  // ---- concatenation ---------------------------------------------------------------------

  describe('concatenation', () => {
    /** A partial upload holding `data` (all of it unless `sent` says less). */
    async function partial(data: Buffer, sent = data.length, options: CallOptions = {}): Promise<Created> {
      const upload = await create({ 'Upload-Concat': 'partial', 'Upload-Length': String(data.length) }, options);
      if (sent > 0) await patchOk(upload.id, 0, data.subarray(0, sent), {}, options);
      return upload;
    }

    it('a final upload of finished partials completes with the SHA-256 of their bytes in order, and downloads them', async () => {
      const a = randomBytes(MiB + 12345);
      const b = randomBytes(700 * KiB + 1);
      const c = randomBytes(3);
      const [pa, pb, pc] = [await partial(a), await partial(b), await partial(c)];
      // Absolute URLs and /files/ paths may be mixed.
      const final = await create({ 'Upload-Concat': `final;${pa.url} ${pb.path} ${pc.url}` });
      const all = Buffer.concat([a, b, c]);
      await expectStored(final.id, all);
      // The final's chunks are the parts' (of unequal sizes): a range across a part boundary.
      const start = a.length - 10;
      const ranged = await fetch(`${stack.gatewayUrl}/v1/uploads/${final.id}/content`, { headers: { authorization: `Bearer ${token}`, range: `bytes=${start}-${start + 19}` } });
      expect(ranged.status).toBe(206);
      expect(Buffer.from(await ranged.arrayBuffer()).equals(all.subarray(start, start + 20))).toBe(true);
    });

    it('a final with an empty (0-byte) partial among its parts completes with the parts\' bytes', async () => {
      const a = randomBytes(MiB + 1);
      const b = randomBytes(5000);
      const [pa, pEmpty, pb] = [await partial(a), await partial(Buffer.alloc(0)), await partial(b)];
      const final = await create({ 'Upload-Concat': `final;${pa.path} ${pEmpty.path} ${pb.path}` });
      await expectStored(final.id, Buffer.concat([a, b]));
    });

    it('a final whose partial has a deferred length reports no Upload-Length until it is known, then completes', async () => {
      const a = randomBytes(3000);
      const b = randomBytes(MiB + 77);
      const pa = await partial(a);
      const pb = await create({ 'Upload-Concat': 'partial', 'Upload-Defer-Length': '1' });
      const final = await create({ 'Upload-Concat': `final;${pa.path} ${pb.path}` });
      const early = await head(final.id);
      expect({ status: early.status, length: header(early, 'upload-length'), concat: header(early, 'upload-concat') }).toEqual({
        status: 200,
        length: undefined,
        concat: `final;/files/${pa.id} /files/${pb.id}`,
      });
      await patchOk(pb.id, 0, b.subarray(0, 1000));
      await patchOk(pb.id, 1000, b.subarray(1000), { 'Upload-Length': String(b.length) });
      await expectStored(final.id, Buffer.concat([a, b]));
    });

    it('terminating a partial after its final completed leaves the final intact', async () => {
      const a = randomBytes(MiB + 10);
      const b = randomBytes(10_000);
      const [pa, pb] = [await partial(a), await partial(b)];
      const final = await create({ 'Upload-Concat': `final;${pa.path} ${pb.path}` });
      await completed(final.id);
      expectStatus(await call('DELETE', pa.path), 204);
      expectStatus(await call('DELETE', pb.path), 204);
      await sleep(500); // room for any clean-up the deletions start
      await expectStored(final.id, Buffer.concat([a, b]));
    });

    it('HEAD on a partial carries Upload-Concat: partial; on a final the list of its parts as /files/ paths, and Upload-Length the sum (equal to Upload-Offset once done)', async () => {
      const a = randomBytes(2000);
      const b = randomBytes(3000);
      const [pa, pb] = [await partial(a), await partial(b)];
      const partialHead = await head(pa.id);
      expect({ status: partialHead.status, concat: header(partialHead, 'upload-concat'), length: header(partialHead, 'upload-length') }).toEqual({ status: 200, concat: 'partial', length: '2000' });
      const final = await create({ 'Upload-Concat': `final;${pa.url} ${pb.url}` });
      await completed(final.id);
      const finalHead = await head(final.id);
      expect({
        status: finalHead.status,
        concat: header(finalHead, 'upload-concat'),
        length: header(finalHead, 'upload-length'),
        offset: header(finalHead, 'upload-offset'),
      }).toEqual({ status: 200, concat: `final;/files/${pa.id} /files/${pb.id}`, length: '5000', offset: '5000' });
    });

    it('PATCH on a final upload answers 403', async () => {
      const a = randomBytes(100);
      const pa = await partial(a, 50);
      const final = await create({ 'Upload-Concat': `final;${pa.path}` });
      expectProblem(await patch(final.id, 0, randomBytes(10)), 403, 'final-upload-not-writable');
      expectProblem(await patch(final.id, 50, randomBytes(10)), 403, 'final-upload-not-writable');
    });

    it('a final naming an upload that is not a partial upload of the caller (a plain upload, an unknown id, another owner’s partial, a terminated partial, not a URL) answers 400', async () => {
      const good = await partial(randomBytes(100));
      const plain = await create({ 'Upload-Length': '100' });
      await patchOk(plain.id, 0, randomBytes(100));
      const foreign = await partial(randomBytes(100), 100, { token: malloryToken });
      const terminated = await partial(randomBytes(100));
      expectStatus(await call('DELETE', terminated.path), 204);
      const terminatedUnfinished = await partial(randomBytes(100), 10);
      expectStatus(await call('DELETE', terminatedUnfinished.path), 204);
      const parts = [
        plain.path,
        `/files/${randomUUID()}`,
        foreign.path,
        foreign.url,
        terminated.path,
        terminatedUnfinished.path,
        'not-a-url',
        '/files/not-a-uuid',
        `${stack.gatewayUrl}/v1/uploads/${good.id}`,
      ];
      for (const bad of parts) {
        expectProblem(await call('POST', '/files/', { headers: { 'Upload-Concat': `final;${good.path} ${bad}` } }), 400, 'validation-failed');
      }
      expectProblem(await call('POST', '/files/', { headers: { 'Upload-Concat': 'final;' } }), 400, 'validation-failed');
    });

    it('a final whose parts add up to more than Tus-Max-Size answers 413', async () => {
      const half = MAX_UPLOAD_BYTES / 2 + 1;
      const pa = await create({ 'Upload-Concat': 'partial', 'Upload-Length': String(half) });
      const pb = await create({ 'Upload-Concat': 'partial', 'Upload-Length': String(half) });
      expectProblem(await call('POST', '/files/', { headers: { 'Upload-Concat': `final;${pa.path} ${pb.path}` } }), 413, 'payload-too-large');
    });

    it('concatenation-unfinished: a final created before its partials are finished completes once they all are', async () => {
      const a = randomBytes(MiB + 3);
      const b = randomBytes(2 * MiB - 5);
      const pa = await partial(a, 1000);
      const pb = await partial(b, 0);
      const final = await create({ 'Upload-Concat': `final;${pa.url} ${pb.url}` });
      const early = await head(final.id);
      expect({ status: early.status, concat: header(early, 'upload-concat'), length: header(early, 'upload-length') }).toEqual({
        status: 200,
        concat: `final;/files/${pa.id} /files/${pb.id}`,
        length: String(a.length + b.length),
      });
      expect((await view(final.id)).state).not.toBe('completed');
      await patchOk(pa.id, 1000, a.subarray(1000));
      await patchOk(pb.id, 0, b.subarray(0, MiB));
      await sleep(300);
      expect((await view(final.id)).state).not.toBe('completed');
      await patchOk(pb.id, MiB, b.subarray(MiB));
      await expectStored(final.id, Buffer.concat([a, b]));
    });

    it('HEAD on a final upload whose concatenation is unfinished carries no Upload-Offset (tus 1.0.0 SHOULD NOT; not in the contract)', async () => {
      const pa = await partial(randomBytes(1000), 10);
      const final = await create({ 'Upload-Concat': `final;${pa.url}` });
      const early = await head(final.id);
      expect({ status: early.status, offset: header(early, 'upload-offset') }).toEqual({ status: 200, offset: undefined });
    });
  });

  // ---- offsets, chunking and locking -----------------------------------------------------

  describe('offsets and chunking', () => {
    /** Sends a PATCH of `data` from `from`, cuts the connection once bytes up to `sentUpTo` are out, and returns HEAD's settled offset. */
    async function interruptedPatch(id: string, data: Buffer, from: number, sentUpTo: number): Promise<number> {
      const req = open(`${stack.gatewayUrl}/files/${id}`, {
        method: 'PATCH',
        headers: {
          'Tus-Resumable': '1.0.0',
          Authorization: `Bearer ${token}`,
          'Content-Type': OCTETS,
          'Upload-Offset': String(from),
          'Content-Length': String(data.length - from),
        },
      });
      for (let at = from; at < sentUpTo; at += 64 * KiB) await req.write(data.subarray(at, Math.min(at + 64 * KiB, sentUpTo)));
      await sleep(500); // let the server take in what was sent
      expect({ answeredBeforeAbort: req.answered }).toEqual({ answeredBeforeAbort: false });
      req.abort();
      await expect(req.answer).rejects.toThrow();

      // The server holds the upload's lock until it notices the abort: wait for HEAD to settle.
      const deadline = Date.now() + 10_000;
      const seen: string[] = [];
      let offset = -1;
      let stableReads = 0;
      while (stableReads < 3) {
        if (Date.now() > deadline) throw new Error(`HEAD did not settle within 10 s: ${seen.join(', ')}`);
        const a = await head(id);
        seen.push(`${a.status}:${header(a, 'upload-offset')}`);
        if (a.status === 200 && Number(header(a, 'upload-offset')) === offset) stableReads++;
        else stableReads = a.status === 200 ? 1 : 0;
        if (a.status === 200) offset = Number(header(a, 'upload-offset'));
        else if (a.status !== 423) throw new Error(`HEAD while settling answered ${summary(a)}; seen so far: ${seen.join(', ')}`);
        await sleep(200);
      }
      return offset;
    }

    /** PATCHes the rest of `data` from `offset` (waiting out a 423 while the last request's lock lingers); must complete it. */
    async function resume(id: string, data: Buffer, offset: number): Promise<void> {
      const deadline = Date.now() + 10_000;
      let resumed = await patch(id, offset, data.subarray(offset));
      while (resumed.status === 423 && Date.now() < deadline) {
        await sleep(200);
        resumed = await patch(id, offset, data.subarray(offset));
      }
      expect({ answer: summary(resumed), status: resumed.status, offset: header(resumed, 'upload-offset') }).toEqual({ answer: summary(resumed), status: 204, offset: String(data.length) });
    }

    it('an interrupted PATCH keeps its durably staged bytes: HEAD settles on an offset in (0, bytes sent], and a PATCH from there completes the upload', async () => {
      const data = randomBytes(5 * MiB);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const sent = 3 * MiB;
      const offset = await interruptedPatch(upload.id, data, 0, sent);
      expect({ offset, positive: offset > 0, atMostSent: offset <= sent }).toEqual({ offset, positive: true, atMostSent: true });
      await resume(upload.id, data, offset);
      await expectStored(upload.id, data);
    });

    it('interrupted PATCHes that start and stop inside partly staged chunks keep an offset between where they started and what they sent; the upload then completes', async () => {
      const data = randomBytes(3 * MiB + 100);
      const upload = await create({ 'Upload-Length': String(data.length) });
      let offset = 500 * KiB + 7;
      await patchOk(upload.id, 0, data.subarray(0, offset));
      for (const more of [300 * KiB, MiB + 1234]) {
        const sent = offset + more;
        const settled = await interruptedPatch(upload.id, data, offset, sent);
        expect({ from: offset, sent, settled, inRange: settled >= offset && settled <= sent }).toEqual({ from: offset, sent, settled, inRange: true });
        offset = settled;
      }
      await resume(upload.id, data, offset);
      await expectStored(upload.id, data);
    });

    it('PATCHes of arbitrary sizes across chunk boundaries store the bytes identically, in ceil(size / chunk size) chunks', async () => {
      const sizes = [100 * KiB + 3, MiB - 7, MiB + 13, 333_333, 2 * MiB + 1, 5, 77_777];
      const total = sizes.reduce((s, n) => s + n, 0);
      const data = randomBytes(total);
      const upload = await create({ 'Upload-Length': String(total) });
      let offset = 0;
      for (const size of sizes) {
        await patchOk(upload.id, offset, data.subarray(offset, offset + size));
        offset += size;
      }
      const done = await expectStored(upload.id, data);
      const chunks = Math.ceil(total / MiB);
      expect({ chunkSize: done.chunkSize, chunkCount: done.chunkCount, chunksStored: done.chunksStored, bytesStored: done.bytesStored }).toEqual({
        chunkSize: MiB,
        chunkCount: chunks,
        chunksStored: chunks,
        bytesStored: total,
      });
    });

    it('a tus upload’s chunks raise chunk.stored, upload.progress and upload.completed socket events like a native upload', async () => {
      const data = randomBytes(2 * MiB + 100);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const events = await EventRecorder.connect(stack.notifierUrl, token);
      try {
        expect(await events.subscribe(upload.id)).toMatchObject({ ok: true });
        await patchOk(upload.id, 0, data.subarray(0, 1500 * KiB));
        await patchOk(upload.id, 1500 * KiB, data.subarray(1500 * KiB));
        const done = await events.waitFor((e) => e.type === 'upload.completed' && e.uploadId === upload.id, 20_000);
        expect(done).toMatchObject({ uploadId: upload.id, sha256: sha256(data), size: data.length });
        const stored = events.events.filter((e) => e.type === 'chunk.stored' && e.uploadId === upload.id).map((e) => (e as { index: number }).index);
        expect([...new Set(stored)].sort()).toEqual([0, 1, 2]);
        const progress = events.events.filter((e) => e.type === 'upload.progress' && e.uploadId === upload.id);
        expect(progress.at(-1)).toMatchObject({ percent: 100 });
      } finally {
        events.close();
      }
    });

    it('a PATCH while another PATCH of the same upload is in flight answers 423', async () => {
      const data = randomBytes(200_000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      const slow = open(`${stack.gatewayUrl}${upload.path}`, {
        method: 'PATCH',
        headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}`, 'Content-Type': OCTETS, 'Upload-Offset': '0', 'Content-Length': String(data.length) },
      });
      await slow.write(data.subarray(0, 1000));
      await sleep(300);
      const concurrent = await patch(upload.id, 0, data.subarray(0, 1000));
      expectProblem(concurrent, 423, 'upload-locked');
      await slow.write(data.subarray(1000, 50_000));
      await sleep(100);
      expectProblem(await patch(upload.id, 0, data.subarray(0, 1000)), 423, 'upload-locked');
      const first = await slow.end(data.subarray(50_000));
      expect({ status: first.status, offset: header(first, 'upload-offset') }).toEqual({ status: 204, offset: String(data.length) });
      await expectStored(upload.id, data);
    });

    it('a gateway killed (SIGKILL) mid-PATCH loses no acknowledged byte: after a restart HEAD reports an offset within what was sent, and a PATCH from there completes the upload', async () => {
      const data = randomBytes(5 * MiB);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 100_000));
      const req = open(`${stack.gatewayUrl}${upload.path}`, {
        method: 'PATCH',
        headers: { 'Tus-Resumable': '1.0.0', Authorization: `Bearer ${token}`, 'Content-Type': OCTETS, 'Upload-Offset': '100000', 'Content-Length': String(data.length - 100_000) },
      });
      const sentUpTo = 100_000 + 3 * MiB;
      for (let at = 100_000; at < sentUpTo; at += 64 * KiB) await req.write(data.subarray(at, Math.min(at + 64 * KiB, sentUpTo)));
      await sleep(300);
      await stack.kill('gateway', 'SIGKILL');
      await expect(req.answer).rejects.toThrow();
      await stack.start('gateway');

      // The dead request's lock lapses after the lease; until then PATCH may answer 423.
      const deadline = Date.now() + LOCK_LEASE_MS + 10_000;
      const offset = await offsetOf(upload.id);
      expect({ offset, atLeastAcknowledged: offset >= 100_000, atMostSent: offset <= sentUpTo }).toEqual({ offset, atLeastAcknowledged: true, atMostSent: true });
      let resumed = await patch(upload.id, offset, data.subarray(offset));
      while (resumed.status === 423 && Date.now() < deadline) {
        await sleep(250);
        resumed = await patch(upload.id, offset, data.subarray(offset));
      }
      expect({ answer: summary(resumed), status: resumed.status, offset: header(resumed, 'upload-offset') }).toEqual({ answer: summary(resumed), status: 204, offset: String(data.length) });
      await expectStored(upload.id, data);
    });
  });

  // ---- auth ------------------------------------------------------------------------------

  describe('auth', () => {
    it('requests without a token answer 401', async () => {
      const upload = await create({ 'Upload-Length': '100' });
      expectProblem(await call('POST', '/files/', { token: null, headers: { 'Upload-Length': '100' } }), 401, 'unauthorized');
      expectHeadRefusal(await head(upload.id, { token: null }), 401);
      expectProblem(await patch(upload.id, 0, randomBytes(100), {}, { token: null }), 401, 'unauthorized');
      expectProblem(await call('DELETE', upload.path, { token: null }), 401, 'unauthorized');
      expectProblem(await call('POST', '/files/', { token: 'not.a.jwt', headers: { 'Upload-Length': '100' } }), 401, 'unauthorized');
      expect(await offsetOf(upload.id)).toBe(0);
    });

    it('another owner’s upload answers 404 to HEAD, PATCH and DELETE, and is left unchanged', async () => {
      const data = randomBytes(1000);
      const upload = await create({ 'Upload-Length': String(data.length) });
      await patchOk(upload.id, 0, data.subarray(0, 100));
      const asMallory = { token: malloryToken };
      expectHeadRefusal(await head(upload.id, asMallory), 404);
      expectProblem(await patch(upload.id, 100, data.subarray(100), {}, asMallory), 404, 'not-found');
      expectProblem(await call('DELETE', upload.path, asMallory), 404, 'not-found');
      expect(await offsetOf(upload.id)).toBe(100);
      await patchOk(upload.id, 100, data.subarray(100));
      await expectStored(upload.id, data);
    });
  });

  // ---- CORS ------------------------------------------------------------------------------

  describe('CORS (gateway CORS_ORIGIN=http://example.test)', () => {
    const EXPOSED = ['Location', 'Upload-Offset', 'Upload-Length', 'Upload-Metadata', 'Upload-Defer-Length', 'Upload-Expires', 'Upload-Concat', 'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm'];
    const REQUEST_HEADERS = ['Tus-Resumable', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Concat', 'Upload-Checksum', 'X-HTTP-Method-Override', 'Content-Type', 'Authorization'];

    it('POST and HEAD answers to the allowed origin carry Access-Control-Allow-Origin and expose the tus headers', async () => {
      const posted = await call('POST', '/files/', { headers: { Origin: ORIGIN, 'Upload-Length': '10' } });
      expectStatus(posted, 201);
      const id = (header(posted, 'location') ?? '').split('/').pop()!;
      const headed = await head(id, { headers: { Origin: ORIGIN } });
      expectStatus(headed, 200);
      for (const a of [posted, headed]) {
        const exposed = listOf(header(a, 'access-control-expose-headers'));
        expect({ request: a.request, allowOrigin: header(a, 'access-control-allow-origin'), missing: EXPOSED.filter((h) => !exposed.includes(h.toLowerCase())) }).toEqual({
          request: a.request,
          allowOrigin: ORIGIN,
          missing: [],
        });
      }
    });

    it('a preflight for PATCH allows POST, GET, HEAD, PATCH, DELETE, OPTIONS and the tus request headers plus Authorization', async () => {
      for (const path of ['/files/', `/files/${randomUUID()}`]) {
        const a = await call('OPTIONS', path, {
          token: null,
          tus: false,
          headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': REQUEST_HEADERS.map((h) => h.toLowerCase()).join(',') },
        });
        const methods = listOf(header(a, 'access-control-allow-methods'));
        const allowed = listOf(header(a, 'access-control-allow-headers'));
        expect({
          request: a.request,
          ok: a.status >= 200 && a.status < 300,
          allowOrigin: header(a, 'access-control-allow-origin'),
          missingMethods: ['POST', 'GET', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'].filter((m) => !methods.includes(m.toLowerCase())),
          missingHeaders: REQUEST_HEADERS.filter((h) => !allowed.includes(h.toLowerCase())),
        }).toEqual({ request: a.request, ok: true, allowOrigin: ORIGIN, missingMethods: [], missingHeaders: [] });
      }
    });
  });

  // ---- across the suite ------------------------------------------------------------------

  describe('across the suite (runs last)', () => {
    it('every answer of this suite except to OPTIONS carried Tus-Resumable: 1.0.0', () => {
      expect(withoutTusResumable).toEqual([]);
    });
  });
});
