// The chunk-worker's health and metrics server, on the real container (PostgreSQL, Redis, a
// blob folder), with chunks sent by the gateway's use cases on the real adapters.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
//     npx jest -c services/chunk-worker/jest.config.js ops-server
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BullmqChunkQueue, createMetricsRegistry, dropDatabase, FsBlobStore, initOrm, migrateDatabase, MikroOrmUploadRepository, openQueueHandles, SystemClock, UuidV7Ids, type TesseraOrm } from '@tessera/adapters';
import { AcceptChunk, ChunkIntake, CreateUpload, KiB } from '@tessera/domain';
import { loadConfig } from '../config';
import { buildContainer, type WorkerContainer } from '../container';
import { createLogger } from '../logger';
import { startWorker, type RunningWorker } from '../worker';
import { startOpsServer, type OpsServer } from './ops-server';

jest.setTimeout(30_000);

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
const serverUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
serverUrl.pathname = `/tessera_worker_ops_test_${run}`;
const databaseUrl = serverUrl.href;
const prefix = `tessera-worker-ops-test-${run}`;
const CHUNK = 64 * KiB;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const silent = createLogger('silent');

/** `name{labels}` → value of every tessera_ sample, without the service label. */
function parse(text: string): Record<string, number> {
  const result: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(tessera_\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (match) result[`${match[1]}{${match[2]!.split(',').filter((l) => l !== 'service="chunk-worker"').join(',')}}`] = Number(match[3]);
  }
  return result;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('chunk-worker HTTP server (real PostgreSQL, Redis and blob folder)', () => {
  let blobDir: string;
  let container: WorkerContainer;
  let worker: RunningWorker;
  let ops: OpsServer;
  let base: string;
  let producer: { orm: TesseraOrm; queue: BullmqChunkQueue; repo: MikroOrmUploadRepository; create: CreateUpload; accept: AcceptChunk };

  beforeAll(async () => {
    await migrateDatabase(databaseUrl);
    blobDir = await mkdtemp(join(tmpdir(), 'tessera-worker-ops-'));
    const config = loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, BLOB_DIR: blobDir, LOG_LEVEL: 'silent', HOST: '127.0.0.1', HTTP_PORT: '0' });
    container = await buildContainer(config, silent);
    ops = await startOpsServer({ ...config.http, readiness: container.readiness, registry: container.metrics.registry, logger: silent });
    base = `http://127.0.0.1:${ops.port}`;
    worker = await startWorker(config, container, silent);

    const orm = await initOrm({ databaseUrl });
    const repo = new MikroOrmUploadRepository(orm);
    const blobs = new FsBlobStore(blobDir);
    await blobs.init();
    const queue = new BullmqChunkQueue({ redisUrl, prefix, attempts: 1 });
    const ids = new UuidV7Ids();
    const clock = new SystemClock();
    const settings = { maxUploadBytes: 1024 * 1024 * 1024, defaultChunkSize: CHUNK, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000 };
    producer = { orm, queue, repo, create: new CreateUpload(repo, ids, clock, settings), accept: new AcceptChunk(repo, new ChunkIntake(repo, blobs, queue, ids, clock, settings), clock) };
  });

  afterAll(async () => {
    await worker?.stop();
    await ops?.close();
    const handles = openQueueHandles({ redisUrl, prefix });
    await Promise.all(handles.queues.map((q) => q.obliterate({ force: true })));
    await handles.close();
    await Promise.allSettled([producer?.queue.close(), producer?.orm.close()]);
    await dropDatabase(databaseUrl);
    if (blobDir) await rm(blobDir, { recursive: true, force: true });
  });

  it('answers liveness, and readiness naming PostgreSQL, Redis and the blob store', async () => {
    const live = await fetch(`${base}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', blobStore: 'ok' } });
    const missing = await fetch(`${base}/v1/uploads`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
  });

  it('serves metrics whose counters follow the uploads it settles', async () => {
    const first = await fetch(`${base}/metrics`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await first.text();
    expect(text).toMatch(/^process_cpu_user_seconds_total\{service="chunk-worker"\} /m);
    expect(parse(text)).toMatchObject({
      'tessera_uploads_finished_total{outcome="completed"}': 0,
      'tessera_uploads_finished_total{outcome="failed"}': 0,
      'tessera_uploads_finished_total{outcome="expired"}': 0,
      'tessera_chunk_processing_seconds_count{outcome="stored"}': 0,
      'tessera_queue_jobs{queue="chunks",state="waiting"}': 0,
      'tessera_queue_oldest_waiting_age_seconds{queue="finalize"}': 0,
    });

    // A three-chunk upload (completed by a finalize job), a one-chunk one whose declared
    // digest is wrong (failed), and a chunk whose Content-Digest is wrong (rejected).
    const good = randomBytes(2 * CHUNK + 100);
    const bad = randomBytes(1000);
    const goodId = (await producer.create.execute('alice', { filename: 'g', size: good.length, chunkSize: CHUNK, sha256: sha256(good) })).id;
    const badId = (await producer.create.execute('alice', { filename: 'b', size: bad.length, chunkSize: CHUNK, sha256: 'f'.repeat(64) })).id;
    const rejectedId = (await producer.create.execute('alice', { filename: 'r', size: 10, chunkSize: CHUNK })).id;
    const send = (uploadId: string, bytes: Buffer, index: number, expectedSha256?: string) =>
      producer.accept.execute({ ownerId: 'alice', uploadId, index, contentLength: bytes.length, body: Readable.from([bytes]), ...(expectedSha256 ? { expectedSha256 } : {}) });
    for (let i = 0; i < 3; i++) await send(goodId, good.subarray(i * CHUNK, (i + 1) * CHUNK), i);
    await send(badId, bad, 0);
    await send(rejectedId, Buffer.alloc(10), 0, 'e'.repeat(64));
    await waitFor('both uploads settled', async () => {
      const [g, b] = await Promise.all([producer.repo.findById(goodId), producer.repo.findById(badId)]);
      return g?.state === 'completed' && b?.state === 'failed' ? true : undefined;
    });

    // Queue gauges are read through a 2 s cache: the first scrapes may still show the old depths.
    const after = await waitFor('the rejection counted and the queues read again', async () => {
      const sample = parse(await (await fetch(`${base}/metrics`)).text());
      const settled = sample['tessera_chunk_processing_seconds_count{outcome="rejected"}'] === 1 && sample['tessera_queue_jobs{queue="finalize",state="completed"}'] === 1;
      return settled ? sample : undefined;
    });
    expect(after).toMatchObject({
      'tessera_uploads_finished_total{outcome="completed"}': 1,
      'tessera_uploads_finished_total{outcome="failed"}': 1,
      'tessera_chunk_processing_seconds_count{outcome="stored"}': 4,
      'tessera_chunk_processing_seconds_count{outcome="rejected"}': 1,
      'tessera_queue_jobs{queue="chunks",state="waiting"}': 0,
    });
    expect(after['tessera_chunk_processing_seconds_sum{outcome="stored"}']).toBeGreaterThan(0);
    // Five chunk jobs and one finalize job done (finished jobs are kept for an hour).
    expect(after['tessera_queue_jobs{queue="chunks",state="completed"}']).toBe(5);
    expect(after['tessera_queue_jobs{queue="finalize",state="completed"}']).toBe(1);
  });
});

describe('startOpsServer', () => {
  const registry = createMetricsRegistry('chunk-worker', { defaultMetrics: false });

  it('is not ready while a dependency is down or slow, nor once draining', async () => {
    const ops = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      logger: silent,
      readiness: { postgres: async () => undefined, redis: () => Promise.reject(new Error('Connection is closed.')), blobStore: () => new Promise(() => undefined) },
    });
    try {
      const base = `http://127.0.0.1:${ops.port}`;
      const down = await fetch(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(await down.json()).toEqual({ status: 'not-ready', checks: { postgres: 'ok', redis: 'down: Connection is closed.', blobStore: 'down: no answer within 2000 ms' } });
      ops.draining();
      const stopping = await fetch(`${base}/readyz`);
      expect(stopping.status).toBe(503);
      expect(await stopping.json()).toMatchObject({ status: 'stopping' });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await ops.close();
    }
  });

  it('refuses to start on a port that is taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => taken.once('listening', resolve));
    try {
      const { port } = taken.address() as { port: number };
      await expect(startOpsServer({ host: '127.0.0.1', port, registry, logger: silent, readiness: {} })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      taken.close();
    }
  });
});
