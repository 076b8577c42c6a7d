import { randomBytes, randomUUID } from 'node:crypto';
import type { UploadEvent } from '@tessera/domain';
import { redisConnection } from '../queue/redis-connection';
import { RedisEventSubscriber, eventChannel } from './redis-event-subscriber';
import { RedisProgressPublisher } from './redis-progress-publisher';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = eventChannel(`tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Resolves once `predicate` holds, polling briefly. */
async function eventually(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Redis upload events (real Redis)', () => {
  const redis = redisConnection(redisUrl);
  const publisher = new RedisProgressPublisher(redis, channel);
  afterAll(() => redis.quit());

  it('names the channel after the prefix', () => {
    expect(eventChannel('tessera')).toBe('tessera:events');
  });

  it('delivers published events in order, and nothing after stop', async () => {
    const received: UploadEvent[] = [];
    const stop = await new RedisEventSubscriber({ redisUrl, channel }).subscribe((e) => received.push(e));
    const uploadId = randomUUID();
    const events: UploadEvent[] = Array.from({ length: 50 }, (_, i) => ({
      type: 'chunk.stored',
      uploadId,
      seq: i + 1,
      index: i,
      size: 100,
      sha256: 'a'.repeat(64),
    }));
    await publisher.publish(events.slice(0, 25));
    await publisher.publish(events.slice(25));
    await publisher.publish([{ type: 'upload.completed', uploadId, seq: 51, sha256: 'b'.repeat(64), size: 5000 }]);
    await eventually(() => received.length === 51);
    expect(received.slice(0, 50)).toEqual(events);
    expect(received[50]).toEqual({ type: 'upload.completed', uploadId, seq: 51, sha256: 'b'.repeat(64), size: 5000 });

    await stop();
    await stop();
    await publisher.publish([{ type: 'upload.aborted', uploadId, seq: 52 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toHaveLength(51);
  });

  it('sends garbage to onInvalid, never to the handler', async () => {
    const received: UploadEvent[] = [];
    const invalid: string[] = [];
    const stop = await new RedisEventSubscriber({ redisUrl, channel, onInvalid: (raw) => invalid.push(raw) }).subscribe((e) => received.push(e));
    try {
      await redis.publish(channel, 'not json');
      await redis.publish(channel, JSON.stringify({ type: 'chunk.stored', uploadId: 'x', seq: 0 }));
      await redis.publish(channel, JSON.stringify({ type: 'upload.exploded', uploadId: 'x', seq: 1 }));
      await publisher.publish([{ type: 'upload.expired', uploadId: 'x', seq: 2 }]);
      await eventually(() => received.length === 1);
      expect(invalid).toEqual(['not json', expect.stringContaining('"seq":0'), expect.stringContaining('upload.exploded')]);
      expect(received).toEqual([{ type: 'upload.expired', uploadId: 'x', seq: 2 }]);
    } finally {
      await stop();
    }
  });

  it('answers ping, and close stops every subscription', async () => {
    const received: UploadEvent[] = [];
    const subscriber = new RedisEventSubscriber({ redisUrl, channel });
    await subscriber.subscribe((e) => received.push(e));
    const stopSecond = await subscriber.subscribe((e) => received.push(e));
    await expect(subscriber.ping()).resolves.toBeUndefined();
    await subscriber.close();
    await stopSecond();
    await publisher.publish([{ type: 'upload.expired', uploadId: 'y', seq: 1 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(received).toEqual([]);
  });

  it('tells the handler when each event was published, and still relays messages of older publishers without the time', async () => {
    const received: { event: UploadEvent; publishedAt: number | null }[] = [];
    const stop = await new RedisEventSubscriber({ redisUrl, channel }).subscribe((event, delivery) => received.push({ event, publishedAt: delivery.publishedAt }));
    try {
      const before = Date.now();
      await publisher.publish([{ type: 'upload.aborted', uploadId: 'z', seq: 1 }]);
      // A publisher of an earlier version: the event's JSON alone.
      await redis.publish(channel, JSON.stringify({ type: 'upload.expired', uploadId: 'z', seq: 2 }));
      await eventually(() => received.length === 2);
      // The event itself is unchanged: the publish time is the envelope's, not a field clients see.
      expect(received.map((r) => r.event)).toEqual([
        { type: 'upload.aborted', uploadId: 'z', seq: 1 },
        { type: 'upload.expired', uploadId: 'z', seq: 2 },
      ]);
      expect(received[0]!.publishedAt).toBeGreaterThanOrEqual(before);
      expect(received[0]!.publishedAt).toBeLessThanOrEqual(Date.now());
      expect(received[1]!.publishedAt).toBeNull();
    } finally {
      await stop();
    }
  });

  it('publishes nothing for an empty batch', async () => {
    await expect(publisher.publish([])).resolves.toBeUndefined();
  });
});
