import {
  BullmqChunkQueue,
  eventChannel,
  explainDatabaseError,
  createBlobStore,
  initOrm,
  MikroOrmTusRepository,
  MikroOrmUploadRepository,
  openQueueHandles,
  redisConnection,
  RedisProgressPublisher,
  SystemClock,
} from '@tessera/adapters';
import { ConcatenateFinals, FinalizeUpload, StoreChunk, SweepUploads } from '@tessera/domain';
import type { WorkerConfig } from './config';
import type { ReadinessChecks } from './http/ops-server';
import type { Logger } from './logger';
import { workerMetrics, type WorkerMetrics } from './metrics';

export interface WorkerContainer {
  storeChunk: StoreChunk;
  finalizeUpload: FinalizeUpload;
  sweepUploads: SweepUploads;
  /** The process's metrics (served at /metrics by the ops server). */
  metrics: WorkerMetrics;
  /** PostgreSQL, Redis and the blob store, for /readyz. */
  readiness: ReadinessChecks;
  /** Releases the queue producer, the Redis publisher and the PostgreSQL pool; call once no job runs. */
  close(): Promise<void>;
}

/** The chunk-worker's composition root: adapters from configuration, injected into the use cases. */
export async function buildContainer(config: WorkerConfig, logger: Logger): Promise<WorkerContainer> {
  // The blob store first: it holds nothing to release if the database then fails to open.
  const blobs = await createBlobStore(config.blobStore);
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
  const metrics = workerMetrics();
  // Uploads settled and expired are counted from what the repository reports it changed.
  const uploads = metrics.meter(repo);
  // Queue depths for /metrics, read at scrape time on a connection of their own that fails fast.
  // Its connection errors are the other connections' too, logged there; a failed read is logged below.
  const queueHandles = openQueueHandles({ redisUrl: config.redisUrl, prefix: config.redisPrefix, onError: () => undefined });
  metrics.watchQueues(queueHandles.queues, { onError: (error) => logger.warn({ err: error }, 'reading the queues for /metrics failed; this scrape has no queue gauges') });
  const clock = new SystemClock();
  const concatenate = new ConcatenateFinals(new MikroOrmTusRepository(orm), queue, clock);
  const finalizeUpload = new FinalizeUpload(uploads, blobs, publisher, clock, (upload) => concatenate.partCompleted(upload));

  return {
    storeChunk: new StoreChunk(uploads, blobs, queue, publisher, clock, finalizeUpload),
    finalizeUpload,
    sweepUploads: new SweepUploads(uploads, blobs, publisher, clock, { batchSize: 100, unrecordedBlobGraceMs: config.sweepBlobGraceMs }),
    metrics,
    readiness: {
      postgres: () => repo.ping(),
      redis: async () => {
        await redis.ping();
      },
      blobStore: () => blobs.ping(),
    },
    async close() {
      // Everything is released even when one part fails; the first failure is reported.
      const results = await Promise.allSettled([queue.close(), redis.quit(), orm.close(), queueHandles.close()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
