import {
  BullmqChunkQueue,
  eventChannel,
  explainDatabaseError,
  FsBlobStore,
  initOrm,
  MikroOrmTusRepository,
  MikroOrmUploadRepository,
  redisConnection,
  RedisProgressPublisher,
  SystemClock,
} from '@tessera/adapters';
import { ConcatenateFinals, FinalizeUpload, StoreChunk, SweepUploads } from '@tessera/domain';
import type { WorkerConfig } from './config';
import type { Logger } from './logger';

export interface WorkerContainer {
  storeChunk: StoreChunk;
  finalizeUpload: FinalizeUpload;
  sweepUploads: SweepUploads;
  /** Releases the queue producer, the Redis publisher and the PostgreSQL pool; call once no job runs. */
  close(): Promise<void>;
}

/** The chunk-worker's composition root: adapters from configuration, injected into the use cases. */
export async function buildContainer(config: WorkerConfig, logger: Logger): Promise<WorkerContainer> {
  // The blob store first: it holds nothing to release if the database then fails to open.
  const blobs = new FsBlobStore(config.blobDir);
  await blobs.init();
  const orm = await initOrm({ databaseUrl: config.databaseUrl });
  const repo = new MikroOrmUploadRepository(orm);
  // The pool connects lazily: without this, a wrong DATABASE_URL would surface only as
  // failing jobs after the worker announced it was consuming.
  try {
    await repo.ping();
  } catch (error) {
    await orm.close(true);
    throw new Error(explainDatabaseError(error, config.databaseUrl), { cause: error });
  }
  const queue = new BullmqChunkQueue({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    attempts: config.chunkJobAttempts,
    backoffMs: config.chunkRetryBackoffMs,
    onError: (error) => logger.warn({ err: error }, 'Redis connection of the finalize producer failed; reconnecting (a chunk job that cannot enqueue finalize is retried)'),
  });
  // Bounded retries: a publish must fail (and its job retry), not hang, while Redis is down.
  const redis = redisConnection(config.redisUrl, { maxRetriesPerRequest: 3, connectionName: `${config.redisPrefix}:publisher` });
  redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection of the event publisher failed; reconnecting (events meanwhile are lost, snapshots heal clients)'));
  const publisher = new RedisProgressPublisher(redis, eventChannel(config.redisPrefix));
  const clock = new SystemClock();
  const concatenate = new ConcatenateFinals(new MikroOrmTusRepository(orm), queue, clock);
  const finalizeUpload = new FinalizeUpload(repo, blobs, publisher, clock, (upload) => concatenate.partCompleted(upload));

  return {
    storeChunk: new StoreChunk(repo, blobs, queue, publisher, clock, finalizeUpload),
    finalizeUpload,
    sweepUploads: new SweepUploads(repo, blobs, publisher, clock, { batchSize: 100, unrecordedBlobGraceMs: config.sweepBlobGraceMs }),
    async close() {
      // Everything is released even when one part fails; the first failure is reported.
      const results = await Promise.allSettled([queue.close(), redis.quit(), orm.close()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
