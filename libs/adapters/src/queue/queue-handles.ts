import { Queue } from 'bullmq';
import { QUEUES } from '@tessera/domain';
import { redisConnection } from './redis-connection';

export interface QueueHandlesOptions {
  redisUrl: string;
  /** BullMQ key prefix of the deployment (REDIS_PREFIX). */
  prefix: string;
  /** Told about Redis connection errors (calls on the queues also reject on their own). */
  onError?: (error: Error) => void;
}

/** BullMQ handles on every Tessera queue, for looking at them (the queue dashboard). */
export interface QueueHandles {
  /** One per name in QUEUES (chunks, finalize, sweep), in that order. */
  readonly queues: readonly Queue[];
  /** Closes the queues and their connection; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens a `Queue` on each of QUEUES under `prefix`, sharing one Redis connection of their
 * own. They run no jobs, add none by themselves and do not write the queues' meta keys
 * (the worker owns those); Redis commands fail after a few reconnect attempts instead of
 * waiting, so a page asking while Redis is down gets an error, not a hang.
 */
export function openQueueHandles(options: QueueHandlesOptions): QueueHandles {
  const redis = redisConnection(options.redisUrl, { maxRetriesPerRequest: 3, connectionName: `${options.prefix}:inspector` });
  if (options.onError) redis.on('error', options.onError);
  const queues = Object.values(QUEUES).map((name) => new Queue(name, { connection: redis, prefix: options.prefix, skipMetasUpdate: true }));
  // The shared connection's errors are reported once, above; BullMQ re-emits them per queue.
  for (const queue of queues) queue.on('error', () => undefined);
  let closing: Promise<void> | null = null;
  return {
    queues,
    close() {
      closing ??= (async () => {
        await Promise.all(queues.map((queue) => queue.close()));
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
