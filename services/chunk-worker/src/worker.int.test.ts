// The worker against real PostgreSQL, Redis and a blob folder: chunks staged and queued by
// the gateway's use cases on the real adapters, consumed by the worker started in-process.
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379 \
//     npx jest -c services/chunk-worker/jest.config.js worker.int
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Queue, type Job } from 'bullmq';
import {
  BullmqChunkQueue,
  dropDatabase,
  eventChannel,
  FsBlobStore,
  initOrm,
  migrateDatabase,
  MikroOrmUploadRepository,
  redisConnection,
  RedisEventSubscriber,
  storeJobId,
  SystemClock,
  UuidV7Ids,
  type TesseraOrm,
} from '@tessera/adapters';
import {
  AcceptChunk,
  ChunkIntake,
  CreateUpload,
  KiB,
  QUEUES,
  type ChunkQueue,
  type StoreChunkJob,
  type UploadEvent,
} from '@tessera/domain';
import { loadConfig, type WorkerConfig } from './config';
import { buildContainer, type WorkerContainer } from './container';
import { createLogger } from './logger';
import { storeChunkProcessor } from './processors/store-chunk.processor';
import { startWorker, type RunningWorker } from './worker';

jest.setTimeout(30_000);

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
// A database of this file's own (migrateDatabase creates it), dropped afterwards.
const serverUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
serverUrl.pathname = `/tessera_worker_test_${run}`;
const databaseUrl = serverUrl.href;
const prefix = `tessera-worker-test-${run}`;
const OWNER = 'owner-1';
const CHUNK = 64 * KiB;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Takes store jobs without queueing them, so a test can run one by hand. */
class CapturingQueue implements ChunkQueue {
  readonly storeJobs: StoreChunkJob[] = [];
  constructor(private readonly real: ChunkQueue) {}
  async enqueueStoreChunk(job: StoreChunkJob): Promise<void> {
    this.storeJobs.push(job);
  }
  enqueueFinalize(uploadId: string): Promise<void> {
    return this.real.enqueueFinalize(uploadId);
  }
}

describe('chunk-worker (real PostgreSQL, Redis and blob folder)', () => {
  let config: WorkerConfig;
  let blobDir: string;
  let container: WorkerContainer;
  let worker: RunningWorker;
  let producer: { orm: TesseraOrm; queue: BullmqChunkQueue; repo: MikroOrmUploadRepository };
  let createUpload: CreateUpload;
  let acceptChunk: AcceptChunk;
  let intakeOnHold: { intake: ChunkIntake; queue: CapturingQueue };
  let stopEvents: () => Promise<void>;
  let inspect: Queue;
  const inspectConnection = redisConnection(redisUrl);
  const events: UploadEvent[] = [];
  const eventsOf = (uploadId: string): UploadEvent[] => events.filter((e) => e.uploadId === uploadId);

  beforeAll(async () => {
    await migrateDatabase(databaseUrl);
    blobDir = await mkdtemp(join(tmpdir(), 'tessera-worker-'));
    config = loadConfig({
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      BLOB_DIR: blobDir,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      CHUNK_RETRY_BACKOFF_MS: '50',
      SWEEP_INTERVAL_MS: '1000',
    });

    const subscriber = new RedisEventSubscriber({ redisUrl, channel: eventChannel(prefix) });
    stopEvents = await subscriber.subscribe((event) => events.push(event));

    // The gateway's side, on its own connections, as in production.
    const orm = await initOrm({ databaseUrl });
    const repo = new MikroOrmUploadRepository(orm);
    const blobs = new FsBlobStore(blobDir);
    await blobs.init();
    const queue = new BullmqChunkQueue({ redisUrl, prefix, backoffMs: 50 });
    producer = { orm, queue, repo };
    const ids = new UuidV7Ids();
    const clock = new SystemClock();
    const settings = { maxUploadBytes: 1024 * 1024 * 1024, defaultChunkSize: CHUNK, uploadTtlMs: 3_600_000, chunkClaimLeaseMs: 60_000 };
    createUpload = new CreateUpload(repo, ids, clock, settings);
    acceptChunk = new AcceptChunk(repo, new ChunkIntake(repo, blobs, queue, ids, clock, settings), clock);
    const held = new CapturingQueue(queue);
    intakeOnHold = { intake: new ChunkIntake(repo, blobs, held, ids, clock, settings), queue: held };
    inspect = new Queue(QUEUES.chunks, { connection: inspectConnection, prefix });

    const logger = createLogger(config.logLevel);
    container = await buildContainer(config, logger);
    worker = await startWorker(config, container, logger);
  });

  afterAll(async () => {
    await worker?.stop();
    await Promise.allSettled([producer?.queue.close(), producer?.orm.close(), stopEvents?.(), inspect?.close()]);
    // The inspecting queue borrows this connection, so closing the queue leaves it open.
    let cursor = '0';
    do {
      const [next, keys] = await inspectConnection.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await inspectConnection.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await inspectConnection.quit();
    await dropDatabase(databaseUrl);
    if (blobDir) await rm(blobDir, { recursive: true, force: true });
  });

  async function newUpload(content: Buffer, declared = sha256(content)): Promise<string> {
    const view = await createUpload.execute(OWNER, { filename: 'file.bin', size: content.length, chunkSize: CHUNK, sha256: declared });
    return view.id;
  }

  const chunkOf = (content: Buffer, index: number): Buffer => content.subarray(index * CHUNK, (index + 1) * CHUNK);

  function send(uploadId: string, content: Buffer, index: number, expectedSha256?: string): Promise<unknown> {
    const bytes = chunkOf(content, index);
    return acceptChunk.execute({
      ownerId: OWNER,
      uploadId,
      index,
      contentLength: bytes.length,
      body: Readable.from([bytes]),
      ...(expectedSha256 ? { expectedSha256 } : {}),
    });
  }

  const blobPath = (hash: string): string => join(blobDir, 'blobs', 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash);

  it('stores every chunk, completes the upload with its SHA-256 and announces each step', async () => {
    const content = randomBytes(3 * CHUNK + 1000);
    const uploadId = await newUpload(content);

    await Promise.all([0, 1, 2, 3].map((index) => send(uploadId, content, index, sha256(chunkOf(content, index)))));
    await waitFor('upload.completed', () => eventsOf(uploadId).find((e) => e.type === 'upload.completed'));

    const snapshot = await producer.repo.findSnapshot(uploadId);
    expect(snapshot?.missing).toEqual([]);
    expect(snapshot?.upload).toMatchObject({
      state: 'completed',
      sha256: sha256(content),
      chunksStored: 4,
      bytesStored: content.length,
      bytesReceived: content.length,
    });
    const stored = await producer.repo.listStoredChunks(uploadId);
    expect(stored).toEqual([0, 1, 2, 3].map((index) => ({ index, size: chunkOf(content, index).length, sha256: sha256(chunkOf(content, index)) })));
    for (const chunk of stored) await expect(access(blobPath(chunk.sha256))).resolves.toBeUndefined();

    // Jobs run in parallel, so arrival order may differ from seq order; seq order is the truth.
    const announced = [...eventsOf(uploadId)].sort((a, b) => a.seq - b.seq);
    const seqs = announced.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(announced.filter((e) => e.type === 'chunk.stored').map((e) => (e.type === 'chunk.stored' ? e.index : -1)).sort()).toEqual([0, 1, 2, 3]);
    const percents = announced.flatMap((e) => (e.type === 'upload.progress' ? [e.percent] : []));
    expect(percents).toHaveLength(4);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.slice(0, 3).every((p) => p < 100)).toBe(true);
    expect(percents[3]).toBe(100);
    expect(announced.at(-1)).toEqual({ type: 'upload.completed', uploadId, seq: Math.max(...seqs), sha256: sha256(content), size: content.length });
  });

  it('rejects a chunk whose bytes do not match the client digest, and takes it again when resent', async () => {
    const content = randomBytes(2 * CHUNK);
    const uploadId = await newUpload(content);

    await send(uploadId, content, 0, sha256(Buffer.from('something else')));
    const rejected = await waitFor('chunk.rejected', () => eventsOf(uploadId).find((e) => e.type === 'chunk.rejected'));
    expect(rejected).toMatchObject({ index: 0, reason: 'digest-mismatch' });
    const afterRejection = await producer.repo.findSnapshot(uploadId);
    expect(afterRejection?.missing).toEqual([0, 1]);
    expect(afterRejection?.upload).toMatchObject({ chunksStored: 0, bytesStored: 0 });

    await Promise.all([send(uploadId, content, 0, sha256(chunkOf(content, 0))), send(uploadId, content, 1)]);
    await waitFor('upload.completed', () => eventsOf(uploadId).find((e) => e.type === 'upload.completed'));
    expect((await producer.repo.findSnapshot(uploadId))?.upload).toMatchObject({ state: 'completed', chunksStored: 2, bytesStored: content.length });
  });

  it('leaves exact counters and one row when the same store job runs twice', async () => {
    const content = randomBytes(CHUNK + 10);
    const uploadId = await newUpload(content);
    const bytes = chunkOf(content, 0);
    await intakeOnHold.intake.receive({ uploadId, index: 0, body: Readable.from([bytes]), stage: { expectedBytes: bytes.length } });
    const job = intakeOnHold.queue.storeJobs.find((j) => j.uploadId === uploadId);
    if (!job) throw new Error('the intake queued no store job');

    // First delivery, run by hand as a worker would.
    const runByHand = storeChunkProcessor(container.storeChunk, createLogger('silent'));
    const delivery = { id: 'by-hand', queueName: QUEUES.chunks, data: job, attemptsMade: 0, opts: { attempts: 5 } } as unknown as Job;
    await expect(runByHand(delivery)).resolves.toBe('stored');

    // Redelivery of the same payload through the real queue and worker.
    await producer.queue.enqueueStoreChunk(job);
    const redelivered = await waitFor('the redelivered job to finish', async () => {
      const found = await inspect.getJob(storeJobId(job));
      return found && (await found.isCompleted()) ? found : undefined;
    });
    expect(redelivered.returnvalue).toBe('duplicate');

    const snapshot = await producer.repo.findSnapshot(uploadId);
    expect(snapshot?.missing).toEqual([1]);
    expect(snapshot?.upload).toMatchObject({ state: 'receiving', chunksStored: 1, bytesStored: bytes.length, bytesReceived: bytes.length });
    expect(await producer.repo.listStoredChunks(uploadId)).toEqual([{ index: 0, size: bytes.length, sha256: sha256(bytes) }]);
    expect(eventsOf(uploadId).filter((e) => e.type === 'chunk.stored')).toHaveLength(1);
  });

  it('runs the sweep on its schedule: an upload left unfinished past its time to live is expired and its staging removed', async () => {
    const shortLived = new CreateUpload(producer.repo, new UuidV7Ids(), new SystemClock(), {
      maxUploadBytes: 1024 * 1024,
      defaultChunkSize: CHUNK,
      uploadTtlMs: 1500,
      chunkClaimLeaseMs: 60_000,
    });
    const upload = await shortLived.execute(OWNER, { filename: 'abandoned.bin', size: 2 * CHUNK, chunkSize: CHUNK });
    const first = randomBytes(CHUNK);
    await intakeOnHold.intake.receive({ uploadId: upload.id, index: 0, body: Readable.from([first]), stage: { expectedBytes: CHUNK } });

    await waitFor('upload.expired', () => eventsOf(upload.id).find((e) => e.type === 'upload.expired'), 10_000);
    expect(await producer.repo.findById(upload.id)).toMatchObject({ state: 'expired' });
    await expect(access(join(blobDir, 'staging', upload.id))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
