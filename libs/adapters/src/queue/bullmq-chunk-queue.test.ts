import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { QUEUES, type StoreChunkJob } from '@tessera/domain';
import { BullmqChunkQueue, storeJobId } from './bullmq-chunk-queue';
import { redisConnection } from './redis-connection';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
const admin = redisConnection(redisUrl);

async function deleteKeysOf(keyPrefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
    if (keys.length > 0) await admin.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

describe('BullmqChunkQueue (real Redis)', () => {
  let queue: BullmqChunkQueue;
  let inspect: { chunks: Queue; finalize: Queue };

  beforeAll(() => {
    queue = new BullmqChunkQueue({ redisUrl, prefix, backoffMs: 250 });
    inspect = {
      chunks: new Queue(QUEUES.chunks, { connection: admin, prefix }),
      finalize: new Queue(QUEUES.finalize, { connection: admin, prefix }),
    };
  });

  afterAll(async () => {
    await queue.close();
    await Promise.all([inspect.chunks.close(), inspect.finalize.close()]);
    await deleteKeysOf(prefix);
    await admin.quit();
  });

  const storeJob = (): StoreChunkJob => ({
    uploadId: randomUUID(),
    index: 3,
    size: 1024,
    stagingToken: randomBytes(16).toString('base64url'),
    sha256: randomBytes(32).toString('hex'),
  });

  it('answers ping', async () => {
    await expect(queue.ping()).resolves.toBeUndefined();
  });

  it('adds a store job once per staged attempt, with the default job options', async () => {
    const job = storeJob();
    await queue.enqueueStoreChunk(job);
    await queue.enqueueStoreChunk(job);

    const stored = await inspect.chunks.getJob(storeJobId(job));
    expect(stored?.name).toBe('store');
    expect(stored?.data).toEqual(job);
    expect(stored?.opts).toMatchObject({
      attempts: 5,
      backoff: { type: 'exponential', delay: 250 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 86_400 },
    });
    expect(await inspect.chunks.getJobCountByTypes('waiting')).toBe(1);
  });

  it('keeps two attempts of the same index as two jobs', async () => {
    const first = storeJob();
    const second = { ...first, stagingToken: 'another_attempt-2' };
    const before = await inspect.chunks.getJobCountByTypes('waiting');
    await queue.enqueueStoreChunk(first);
    await queue.enqueueStoreChunk(second);
    expect(await inspect.chunks.getJobCountByTypes('waiting')).toBe(before + 2);
  });

  it('adds one finalize job per upload, however often it is asked', async () => {
    const uploadId = randomUUID();
    await Promise.all([queue.enqueueFinalize(uploadId), queue.enqueueFinalize(uploadId)]);
    await queue.enqueueFinalize(uploadId);
    const job = await inspect.finalize.getJob(uploadId);
    expect(job?.name).toBe('finalize');
    expect(job?.data).toEqual({ uploadId });
    expect(await inspect.finalize.getJobCountByTypes('waiting')).toBe(1);
  });

  it('reports the depth of both queues', async () => {
    const depths = await queue.queueDepths();
    expect(depths[QUEUES.chunks]).toBe(await inspect.chunks.count());
    expect(depths[QUEUES.finalize]).toBe(1);
  });

  it('refuses a job that does not match the job schema before it reaches Redis', async () => {
    await expect(queue.enqueueStoreChunk({ ...storeJob(), stagingToken: 'has:colon' })).rejects.toThrow();
    await expect(queue.enqueueFinalize('not-a-uuid')).rejects.toThrow();
  });
});
