import { Redis, type RedisOptions } from 'ioredis';

/**
 * An ioredis connection to `url`. `maxRetriesPerRequest` defaults to null (commands wait
 * through reconnects), which BullMQ Workers and blocking commands require; producers that
 * must fail fast pass a number in `extra`.
 */
export function redisConnection(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, ...extra });
}
