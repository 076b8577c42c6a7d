import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FinalizeUpload, StoreChunk, UnauthorizedError, type TokenVerifier } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingChunkQueue, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from './app';
import { createHttpServer } from './http-server';
import { gatewayUseCases } from './use-cases';

const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Accepts "token-<owner>" as a bearer token for <owner>. */
const verifier: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-'.length), roles: [] };
  },
};

function setup(repo = new InMemoryUploadRepository()) {
  const blobs = new InMemoryBlobStore();
  const queue = new RecordingChunkQueue();
  const publisher = new RecordingPublisher();
  const clock = new FixedClock();
  const ids = new SequentialIds();
  const settings = { maxUploadBytes: 100 * 1024 ** 3, defaultChunkSize: 64 * KiB, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000, lockLeaseMs: 10_000 };
  const app = createApp({
    logger: pino({ level: 'silent' }),
    verifier,
    limits: { maxUploadBytes: settings.maxUploadBytes, maxChunkBytes: 64 * 1024 * KiB },
    readiness: { postgres: () => repo.ping(), blobStore: () => blobs.ping() },
    useCases: gatewayUseCases({ repo, tus: new InMemoryTusRepository(repo), blobs, queue, publisher, ids, clock }, settings),
  });
  const finalize = new FinalizeUpload(repo, blobs, publisher, clock);
  const store = new StoreChunk(repo, blobs, queue, publisher, clock, finalize);
  const work = async () => {
    for (const job of queue.storeJobs.splice(0)) await store.execute(job, { finalAttempt: true });
    for (const id of queue.finalizeJobs) await finalize.execute(id);
    queue.finalizeJobs.clear();
  };
  return { app, queue, blobs, work };
}

const alice = { authorization: 'Bearer token-alice' };

async function createUpload(app: ReturnType<typeof setup>['app'], body: object) {
  const res = await request(app).post('/v1/uploads').set(alice).send(body);
  expect(res.status).toBe(201);
  return res.body as { id: string; chunkCount: number };
}

function expectProblem(res: request.Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type, status });
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
}

describe('gateway HTTP API', () => {
  it('answers health without a token, everything else needs one', async () => {
    const { app } = setup();
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/readyz')).body).toMatchObject({ status: 'ready' });
    expectProblem(await request(app).get('/v1/uploads'), 401, 'unauthorized');
    expectProblem(await request(app).get('/v1/uploads').set({ authorization: 'Bearer nope' }), 401, 'unauthorized');
    expectProblem(await request(app).get('/v1/uploads').set({ authorization: 'Basic abc' }), 401, 'unauthorized');
  });

  it('creates an upload and answers 201 with Location and the upload', async () => {
    const { app } = setup();
    const res = await request(app).post('/v1/uploads').set(alice).send({ filename: 'dir/a.bin', size: 100 * KiB, chunkSize: 64 * KiB, metadata: { k: 'v' } });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/uploads/${res.body.id}`);
    expect(res.body).toMatchObject({ filename: 'a.bin', size: 100 * KiB, chunkCount: 2, state: 'pending', missing: [0, 1], metadata: { k: 'v' } });
  });

  it.each([
    ['malformed JSON', '{"filename":', 400, 'validation-failed'],
    ['a negative size', { filename: 'a', size: -1 }, 400, 'validation-failed'],
    ['a fractional size', { filename: 'a', size: 1.5 }, 400, 'validation-failed'],
    ['a filename that is only a path', { filename: '../', size: 1 }, 400, 'validation-failed'],
    ['a chunk size below 64 KiB', { filename: 'a', size: 1, chunkSize: 1000 }, 400, 'validation-failed'],
    ['an unknown field', { filename: 'a', size: 1, owner: 'bob' }, 400, 'validation-failed'],
    ['a size above the limit', { filename: 'a', size: 1e15 }, 413, 'payload-too-large'],
    ['more than 16,384 chunks', { filename: 'a', size: 16_385 * 64 * KiB, chunkSize: 64 * KiB }, 400, 'validation-failed'],
  ])('refuses %s', async (_name, body, status, type) => {
    const { app } = setup();
    const req = request(app).post('/v1/uploads').set(alice).set('content-type', 'application/json');
    expectProblem(await req.send(typeof body === 'string' ? body : JSON.stringify(body)), status, type);
  });

  it('takes chunks, refuses bad ones, and serves the finished file with ranges', async () => {
    const { app, work } = setup();
    const data = randomBytes(100 * KiB);
    const { id } = await createUpload(app, { filename: 'a.bin', size: data.length, chunkSize: 64 * KiB, sha256: sha256(data) });
    const put = (index: string | number, body: Buffer, headers: Record<string, string> = {}) =>
      request(app).put(`/v1/uploads/${id}/chunks/${index}`).set(alice).set(headers).set('content-type', 'application/octet-stream').send(body);

    expectProblem(await put(0, data.subarray(0, 10)), 400, 'chunk-length-mismatch');
    expectProblem(await put(2, data.subarray(0, 10)), 400, 'chunk-index-out-of-range');
    expectProblem(await put('-1', data.subarray(0, 10)), 400, 'validation-failed');
    expectProblem(await put(0, data.subarray(0, 64 * KiB), { 'content-digest': 'sha-256=:nope:' }), 400, 'validation-failed');
    expectProblem(await request(app).put(`/v1/uploads/not-a-uuid/chunks/0`).set(alice).send('x'), 400, 'validation-failed');
    expectProblem(await request(app).put(`/v1/uploads/${id}/chunks/0`).set({ authorization: 'Bearer token-bob' }).send(data.subarray(0, 64 * KiB)), 404, 'not-found');

    const first = data.subarray(0, 64 * KiB);
    const digest = `sha-256=:${createHash('sha256').update(first).digest('base64')}:`;
    const accepted = await put(0, first, { 'content-digest': digest });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ index: 0, size: 64 * KiB, state: 'received' });
    expectProblem(await put(0, first), 409, 'chunk-already-received');
    expect((await put(1, data.subarray(64 * KiB))).status).toBe(202);
    expectProblem(await request(app).get(`/v1/uploads/${id}/content`).set(alice), 409, 'upload-not-completed');

    await work();
    const status = await request(app).get(`/v1/uploads/${id}`).set(alice);
    expect(status.body).toMatchObject({ state: 'completed', sha256: sha256(data), missing: [] });
    expectProblem(await put(1, data.subarray(64 * KiB)), 409, 'upload-not-receiving');

    const whole = await request(app).get(`/v1/uploads/${id}/content`).set(alice).responseType('blob');
    expect(whole.status).toBe(200);
    expect(whole.headers.etag).toBe(`"${sha256(data)}"`);
    expect(whole.headers['content-disposition']).toBe(`attachment; filename="a.bin"; filename*=UTF-8''a.bin`);
    expect(whole.body).toEqual(data);

    const part = await request(app).get(`/v1/uploads/${id}/content`).set(alice).set('range', 'bytes=65530-65545').responseType('blob');
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 65530-65545/${data.length}`);
    expect(part.body).toEqual(data.subarray(65530, 65546));

    const suffix = await request(app).get(`/v1/uploads/${id}/content`).set(alice).set('range', 'bytes=-5').responseType('blob');
    expect(suffix.body).toEqual(data.subarray(data.length - 5));
    const malformed = await request(app).get(`/v1/uploads/${id}/content`).set(alice).set('range', 'lines=1-2');
    expect(malformed.status).toBe(200);
    const unsatisfiable = await request(app).get(`/v1/uploads/${id}/content`).set(alice).set('range', `bytes=${data.length}-`);
    expectProblem(unsatisfiable, 416, 'range-not-satisfiable');
    expect(unsatisfiable.headers['content-range']).toBe(`bytes */${data.length}`);
  });

  it('needs Content-Length on a chunk', async () => {
    const { app } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const server = createHttpServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      // A chunked body has no Content-Length; fetch sends a stream that way.
      const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('0123456789')), c.close()) });
      const res = await fetch(`http://127.0.0.1:${port}/v1/uploads/${id}/chunks/0`, { method: 'PUT', headers: alice, body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(411);
      expect(await res.json()).toMatchObject({ type: 'length-required' });
    } finally {
      server.close();
    }
  });

  it('takes a chunk as the first file part of a multipart POST', async () => {
    const { app, queue } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const res = await request(app).post(`/v1/uploads/${id}/chunks/0`).set(alice).attach('first', Buffer.from('0123456789'), 'c0').attach('second', Buffer.from('zz'), 'c1');
    expect(res.status).toBe(202);
    expect(queue.storeJobs).toHaveLength(1);
    const none = await request(app).post(`/v1/uploads/${id}/chunks/0`).set(alice).field('x', 'y');
    expectProblem(none, 400, 'validation-failed');
  });

  it('lists only the caller’s uploads, newest first, in pages', async () => {
    const { app } = setup();
    for (const n of [1, 2, 3]) await createUpload(app, { filename: `f${n}`, size: 5 });
    await request(app).post('/v1/uploads').set({ authorization: 'Bearer token-bob' }).send({ filename: 'b', size: 5 });
    const page1 = await request(app).get('/v1/uploads?limit=2').set(alice);
    expect(page1.body.items.map((u: { filename: string }) => u.filename)).toEqual(['f3', 'f2']);
    const page2 = await request(app).get(`/v1/uploads?limit=2&cursor=${encodeURIComponent(page1.body.nextCursor)}`).set(alice);
    expect(page2.body).toMatchObject({ items: [{ filename: 'f1' }], nextCursor: null });
    expectProblem(await request(app).get('/v1/uploads?limit=0').set(alice), 400, 'validation-failed');
    expectProblem(await request(app).get('/v1/uploads?state=bogus').set(alice), 400, 'validation-failed');
  });

  it('deletes an upload: 204, then 404', async () => {
    const { app } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    expectProblem(await request(app).delete(`/v1/uploads/${id}`).set({ authorization: 'Bearer token-bob' }), 404, 'not-found');
    expect((await request(app).delete(`/v1/uploads/${id}`).set(alice)).status).toBe(204);
    expectProblem(await request(app).get(`/v1/uploads/${id}`).set(alice), 404, 'not-found');
  });

  it('takes a one-shot form upload and answers 201 once every byte is staged', async () => {
    const { app, queue, work } = setup();
    const data = randomBytes(150 * KiB);
    const res = await request(app).post('/upload').set(alice).field('comment', 'x').attach('file', data, { filename: 'photo.jpg', contentType: 'image/jpeg' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ filename: 'photo.jpg', contentType: 'image/jpeg', size: data.length, chunkCount: 3, protocol: 'form' });
    expect(queue.storeJobs).toHaveLength(3);
    await work();
    expect((await request(app).get(`/v1/uploads/${res.body.id}`).set(alice)).body).toMatchObject({ state: 'completed', sha256: sha256(data) });
    expectProblem(await request(app).post('/upload').set(alice).attach('other', data, 'x.bin'), 400, 'validation-failed');
    expectProblem(await request(app).post('/upload').set(alice).set('content-type', 'application/json').send('{}'), 415, 'unsupported-media-type');
  });

  it('names a form upload by the same rule as a JSON-described one', async () => {
    const { app } = setup();
    const names: [sent: string, kept: string][] = [['..', '..'], ['a/..', '..'], ['dir\\.', '.'], ['../../etc/passwd', 'passwd']];
    for (const [sent, kept] of names) {
      const json = await request(app).post('/v1/uploads').set(alice).send({ filename: sent, size: 1 });
      const form = await request(app).post('/upload').set(alice).attach('file', Buffer.from('x'), { filename: sent });
      expect({ sent, json: json.body.filename, form: form.body.filename }).toEqual({ sent, json: kept, form: kept });
    }
  });

  it('answers a multipart body cut off before its closing boundary with 400, not 500', async () => {
    const { app, blobs } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const body = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n0123456789';
    for (const path of [`/v1/uploads/${id}/chunks/0`, '/upload']) {
      const res = await request(app).post(path).set(alice).set('content-type', 'multipart/form-data; boundary=XYZ').send(body);
      expectProblem(res, 400, 'validation-failed');
    }
    expect(blobs.stagedKeys()).toEqual([]);
  });

  it('answers a multipart body cut off while the database is still being asked with 400, and keeps running', async () => {
    // A real database answers after the cut-off body has already failed the file part;
    // the in-memory one answers within the same tick, which hid a crash of the whole gateway.
    class SlowRepository extends InMemoryUploadRepository {
      private readonly later = () => new Promise((resolve) => setTimeout(resolve, 20));
      override async create(...args: Parameters<InMemoryUploadRepository['create']>) {
        await this.later();
        return super.create(...args);
      }
      override async claimChunk(...args: Parameters<InMemoryUploadRepository['claimChunk']>) {
        await this.later();
        return super.claimChunk(...args);
      }
    }
    const { app, blobs } = setup(new SlowRepository());
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const body = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n0123456789';
    for (const path of [`/v1/uploads/${id}/chunks/0`, '/upload']) {
      const res = await request(app).post(path).set(alice).set('content-type', 'multipart/form-data; boundary=XYZ').send(body);
      expectProblem(res, 400, 'validation-failed');
    }
    expect(blobs.stagedKeys()).toEqual([]);
    const form = (data: string) => `--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n${data}\r\n--XYZ--\r\n`;
    const whole = await request(app).post(`/v1/uploads/${id}/chunks/0`).set(alice).set('content-type', 'multipart/form-data; boundary=XYZ').send(form('0123456789'));
    expect(whole.status).toBe(202);
  });

  it('answers a multipart body cut off inside a file part it skips with a problem, and keeps running', async () => {
    // A part with Content-Type application/octet-stream counts as a file even without a
    // filename; one skipped (not first, or not named "file") failed unheard and crashed the gateway.
    const { app } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const skipped = (name: string) => `--XYZ\r\nContent-Disposition: form-data; name="${name}"\r\nContent-Type: application/octet-stream\r\n\r\nbytes never closed`;
    const first = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n0\r\n';
    for (const [path, body] of [[`/v1/uploads/${id}/chunks/0`, first + skipped('second')], ['/upload', skipped('other')]] as const) {
      const res = await request(app).post(path).set(alice).set('content-type', 'multipart/form-data; boundary=XYZ').send(body);
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const whole = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n0123456789\r\n--XYZ--\r\n';
    expect((await request(app).post(`/v1/uploads/${id}/chunks/0`).set(alice).set('content-type', 'multipart/form-data; boundary=XYZ').send(whole)).status).toBe(202);
  });

  it('answers a malformed percent-encoding in the path with 400', async () => {
    expectProblem(await request(setup().app).get('/v1/uploads/%E0%A4%A').set(alice), 400, 'validation-failed');
  });

  it('answers Expect: 100-continue only when the chunk will be taken', async () => {
    const { app } = setup();
    const { id } = await createUpload(app, { filename: 'a', size: 10 });
    const server = createHttpServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const put = () =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = httpRequest({ port, host: '127.0.0.1', method: 'PUT', path: `/v1/uploads/${id}/chunks/0`, headers: { ...alice, expect: '100-continue', 'content-length': '10' } });
        req.on('continue', () => {
          continued = true;
          req.end('0123456789');
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, continued }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    try {
      expect(await put()).toEqual({ status: 202, continued: true });
      expect(await put()).toEqual({ status: 409, continued: false });
    } finally {
      server.close();
    }
  });

  it('answers unknown routes with a problem', async () => {
    expectProblem(await request(setup().app).get('/nope'), 404, 'not-found');
  });
});
