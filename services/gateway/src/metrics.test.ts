// /metrics of the gateway app: the use cases on in-memory adapters, chunk jobs queued to a
// real Redis (private prefix, removed afterwards) so the queue gauges have something to show.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { BullmqChunkQueue, openQueueHandles } from '@tessera/adapters';
import { UnauthorizedError, type TokenVerifier } from '@tessera/domain';
import { FixedClock, InMemoryBlobStore, InMemoryTusRepository, InMemoryUploadRepository, RecordingPublisher, SequentialIds } from '@tessera/domain/testing';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from './app';
import { gatewayMetrics } from './metrics';
import { gatewayUseCases } from './use-cases';

const KiB = 1024;
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tessera-gateway-metrics-${process.pid}-${randomBytes(3).toString('hex')}`;

const verifier: TokenVerifier = {
  async verify(token) {
    if (!token.startsWith('token-')) throw new UnauthorizedError('The token is not valid.');
    return { ownerId: token.slice('token-'.length), roles: [] };
  },
};
const alice = { authorization: 'Bearer token-alice' };

/** `name{labels}` → value of every tessera_ sample in a /metrics answer, without the service label. */
function parse(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(tessera_\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) result[`${match[1]}{${match[2]!.split(',').filter((l) => l !== 'service="gateway"').join(',')}}`] = Number(match[3]);
  }
  return result;
}

describe('gateway /metrics and request logs', () => {
  const queue = new BullmqChunkQueue({ redisUrl, prefix });
  const handles = openQueueHandles({ redisUrl, prefix });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const metrics = gatewayMetrics({ queues: handles.queues, queueCacheMs: 0 });
  const repo = new InMemoryUploadRepository();
  const blobs = new InMemoryBlobStore();
  const settings = { maxUploadBytes: 100 * 1024 ** 3, defaultChunkSize: 64 * KiB, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000, lockLeaseMs: 10_000 };
  const ports = { repo: metrics.meter(repo), tus: new InMemoryTusRepository(repo), blobs, queue, publisher: new RecordingPublisher(), ids: new SequentialIds(), clock: new FixedClock() };
  const app = createApp({
    logger: pino({ level: 'debug', base: { service: 'gateway' } }, sink),
    verifier,
    limits: { maxUploadBytes: settings.maxUploadBytes, maxChunkBytes: 64 * 1024 * KiB },
    readiness: {},
    useCases: gatewayUseCases({ ...ports, intakeObserver: metrics.received }, settings),
    metrics: metrics.registry,
  });

  afterAll(async () => {
    await Promise.all(handles.queues.map((q) => q.obliterate({ force: true })));
    await handles.close();
    await queue.close();
  });

  it('answers Prometheus text without a token, with every series at 0 before any upload', async () => {
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8/);
    const before = parse(res.text);
    expect(before).toMatchObject({
      'tessera_uploads_created_total{protocol="native"}': 0,
      'tessera_received_bytes_total{protocol="native"}': 0,
      'tessera_uploads_finished_total{outcome="aborted"}': 0,
      'tessera_queue_jobs{queue="chunks",state="waiting"}': 0,
      'tessera_queue_oldest_waiting_age_seconds{queue="chunks"}': 0,
    });
    expect(res.text).toMatch(/^process_resident_memory_bytes\{service="gateway"\} \d+/m);
    expect(res.text).toContain('# TYPE tessera_http_request_duration_seconds histogram');
  });

  it('moves after a create, a chunk, a form upload, a tus creation and an abort', async () => {
    const data = randomBytes(100 * KiB);
    const created = await request(app).post('/v1/uploads').set(alice).send({ filename: 'a.bin', size: data.length, chunkSize: 64 * KiB }).expect(201);
    const id = created.body.id as string;
    await request(app).put(`/v1/uploads/${id}/chunks/1`).set(alice).set('content-type', 'application/octet-stream').send(data.subarray(64 * KiB)).expect(202);
    await request(app).post('/upload').set(alice).attach('file', randomBytes(10 * KiB), 'b.bin').expect(201);
    await request(app)
      .post('/files/')
      .set({ ...alice, 'tus-resumable': '1.0.0', 'upload-length': '5', 'content-type': 'application/offset+octet-stream' })
      .send(Buffer.from('hello'))
      .expect(201);
    const doomed = await request(app).post('/v1/uploads').set(alice).send({ filename: 'c.bin', size: 10 }).expect(201);
    await request(app).delete(`/v1/uploads/${doomed.body.id}`).set(alice).expect(204);
    await request(app).get(`/v1/uploads/${id}`).expect(401);

    const after = parse((await request(app).get('/metrics').expect(200)).text);
    expect(after).toMatchObject({
      'tessera_uploads_created_total{protocol="native"}': 2,
      'tessera_uploads_created_total{protocol="form"}': 1,
      'tessera_uploads_created_total{protocol="tus"}': 1,
      'tessera_received_bytes_total{protocol="native"}': 36 * KiB,
      'tessera_received_bytes_total{protocol="form"}': 10 * KiB,
      'tessera_received_bytes_total{protocol="tus"}': 5,
      'tessera_uploads_finished_total{outcome="aborted"}': 1,
      'tessera_http_requests_total{method="POST",route="/v1/uploads",status="201"}': 2,
      'tessera_http_requests_total{method="PUT",route="/v1/uploads/:id/chunks/:index",status="202"}': 1,
      'tessera_http_requests_total{method="POST",route="/upload",status="201"}': 1,
      'tessera_http_requests_total{method="POST",route="/files",status="201"}': 1,
      'tessera_http_requests_total{method="DELETE",route="/v1/uploads/:id",status="204"}': 1,
      'tessera_http_requests_total{method="GET",route="/v1/uploads/*",status="401"}': 1,
      'tessera_http_request_duration_seconds_count{method="PUT",route="/v1/uploads/:id/chunks/:index",status="202"}': 1,
      // Three chunk jobs in Redis: the native chunk, the form file's and the tus upload's.
      'tessera_queue_jobs{queue="chunks",state="waiting"}': 3,
    });
    expect(after['tessera_queue_oldest_waiting_age_seconds{queue="chunks"}']).toBeGreaterThanOrEqual(0);
    expect(after['tessera_queue_oldest_waiting_age_seconds{queue="chunks"}']).toBeLessThan(60);
  });

  it('logs every request with its id, and the owner and upload it concerns', async () => {
    lines.length = 0;
    const created = await request(app).post('/v1/uploads').set(alice).set('x-request-id', 'req-create-1').send({ filename: 'd.bin', size: 10 }).expect(201);
    const id = created.body.id as string;
    await request(app).put(`/v1/uploads/${id}/chunks/0`).set(alice).set('x-request-id', 'req-chunk-1').send(Buffer.alloc(3)).expect(400);
    await request(app).get('/healthz').set('x-request-id', 'req-health-1').expect(200);

    const about = (requestId: string) => lines.filter((l) => l.requestId === requestId);
    expect(about('req-create-1')).toEqual([expect.objectContaining({ msg: 'request', ownerId: 'alice', uploadId: id, status: 201, path: '/v1/uploads' })]);
    // The refusal and the request line both say whose upload it was.
    expect(about('req-chunk-1')).toEqual([
      expect.objectContaining({ msg: 'request refused', ownerId: 'alice', uploadId: id, status: 400 }),
      expect.objectContaining({ msg: 'request', ownerId: 'alice', uploadId: id, status: 400, path: `/v1/uploads/${id}/chunks/0` }),
    ]);
    expect(about('req-health-1')).toEqual([expect.objectContaining({ msg: 'request', status: 200 })]);
    expect(about('req-health-1')[0]).not.toHaveProperty('uploadId');
    expect(lines.every((l) => typeof l.requestId === 'string')).toBe(true);
  });
});
