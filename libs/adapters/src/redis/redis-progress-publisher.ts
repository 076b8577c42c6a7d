import type { Redis } from 'ioredis';
import type { ProgressPublisher, UploadEvent } from '@tessera/domain';

/**
 * Publishes upload events on a Redis pub/sub channel, one message per event, all of a
 * call's events in one pipelined round trip (and in order). Each message is the event's
 * JSON plus `publishedAt` (epoch ms), from which notifiers measure their relay lag;
 * subscribers that do not know the field drop it with the other unknown keys.
 */
export class RedisProgressPublisher implements ProgressPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly channel: string,
  ) {}

  async publish(events: UploadEvent[]): Promise<void> {
    if (events.length === 0) return;
    const pipeline = this.redis.pipeline();
    const publishedAt = Date.now();
    for (const event of events) pipeline.publish(this.channel, JSON.stringify({ ...event, publishedAt }));
    const results = (await pipeline.exec()) ?? [];
    const failure = results.find(([error]) => error)?.[0];
    if (failure) throw failure;
  }
}
