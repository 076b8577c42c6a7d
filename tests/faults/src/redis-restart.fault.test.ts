import { uploadsSurviveOutage } from './support/outage';
import { PrivateRedis } from './support/private-redis';
import { openScenario, type Scenario } from './support/scenario';

jest.setTimeout(150_000);

const OUTAGE_MS = 4000;

describe('Redis stopped and started again while uploads are in flight', () => {
  let redis: PrivateRedis;
  let s: Scenario;

  beforeAll(async () => {
    redis = await PrivateRedis.create();
    s = await openScenario('redis-restart', {}, { redisUrl: redis.url });
  });
  afterAll(async () => {
    // The stack removes its keys on the way out: Redis must be up for that.
    if (redis && !redis.running) await redis.start();
    await s?.close();
    await redis?.destroy();
  });

  it('answers 503 + Retry-After during the outage, becomes ready again by itself, and completes every upload', async () => {
    await uploadsSurviveOutage(s, { name: 'Redis', label: 'redis', stop: () => redis.stop(), start: () => redis.start(), outageMs: OUTAGE_MS });
  });
});
