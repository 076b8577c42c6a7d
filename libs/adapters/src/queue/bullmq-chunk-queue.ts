import { Queue, type DefaultJobOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUES, finalizeJobSchema, storeChunkJobSchema, type ChunkQueue, type FinalizeJob, type StoreChunkJob } from '@tessera/domain';
import { redisConnection } from './redis-connection';

export interface BullmqChunkQueueOptions {
  redisUrl: string;
  /** BullMQ key prefix, so several deployments can share one Redis. */
  prefix: string;
  /** Tries per job before it fails for good (default 5). */
  attempts?: number;
  /** First retry delay of the exponential backoff, ms (default 1000). */
  backoffMs?: number;
  /** Told about Redis connection errors (enqueue calls also reject on their own). */
  onError?: (error: Error) => void;
}

/** The job id of a store job: one per staged attempt. BullMQ refuses ':' in custom ids. */
export const storeJobId = (job: Pick<StoreChunkJob, 'uploadId' | 'index' | 'stagingToken'>): string =>
  `${job.uploadId}_${job.index}_${job.stagingToken}`;

/**
 * The producer side of the `chunks` and `finalize` BullMQ queues. Job ids make both
 * enqueues idempotent: re-adding a job that is still kept is a no-op.
 */
export class BullmqChunkQueue implements ChunkQueue {
  private readonly redis: Redis;
  private readonly chunks: Queue<StoreChunkJob>;
  private readonly finalize: Queue<FinalizeJob>;
  private closing: Promise<void> | null = null;

  constructor(options: BullmqChunkQueueOptions) {
    // A request waiting on enqueue must fail within a few reconnect attempts, not hang
    // while Redis is down: the gateway then releases the chunk and the client retries.
    this.redis = redisConnection(options.redisUrl, { maxRetriesPerRequest: 3, connectionName: `${options.prefix}:producer` });
    if (options.onError) this.redis.on('error', options.onError);
    const defaultJobOptions: DefaultJobOptions = {
      attempts: options.attempts ?? 5,
      backoff: { type: 'exponential', delay: options.backoffMs ?? 1000 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 86_400 },
    };
    const queueOptions = { connection: this.redis, prefix: options.prefix, defaultJobOptions };
    this.chunks = new Queue<StoreChunkJob>(QUEUES.chunks, queueOptions);
    this.finalize = new Queue<FinalizeJob>(QUEUES.finalize, queueOptions);
    // The shared connection's errors are reported once, above; BullMQ re-emits them per queue.
    for (const queue of [this.chunks, this.finalize]) queue.on('error', () => undefined);
  }

  async enqueueStoreChunk(job: StoreChunkJob): Promise<void> {
    const data = storeChunkJobSchema.parse(job);
    await this.chunks.add('store', data, { jobId: storeJobId(data) });
  }

  async enqueueFinalize(uploadId: string): Promise<void> {
    const data = finalizeJobSchema.parse({ uploadId });
    await this.finalize.add('finalize', data, { jobId: data.uploadId });
  }

  /** Jobs waiting to run (waiting, delayed, prioritized) per queue name. */
  async queueDepths(): Promise<Record<string, number>> {
    const [chunks, finalize] = await Promise.all([this.chunks.count(), this.finalize.count()]);
    return { [QUEUES.chunks]: chunks, [QUEUES.finalize]: finalize };
  }

  /** Throws when Redis does not answer. */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /** Closes both queues and the connection; safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([this.chunks.close(), this.finalize.close()]);
      await this.redis.quit();
    })();
    return this.closing;
  }
}
