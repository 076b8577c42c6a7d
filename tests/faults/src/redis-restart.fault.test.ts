import { outageAnswerProblems, pids, probeDuringOutage, readyzBecomes } from './support/outage';
import { PrivateRedis } from './support/private-redis';
import { sleep } from './support/processes';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, MiB, TestFile } from './support/test-file';

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
    const sent = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`redis-${i}.bin`, 4 * MiB, 256 * KiB))));
    const probe = await s.create(TestFile.random('probe.bin', 64 * KiB, 64 * KiB));
    const burstUpload = await s.create(TestFile.random('burst.bin', 16 * MiB, 64 * KiB));
    const before = pids(s.stack);

    // Paced, so that the outage falls in the middle of every upload.
    const sending = Promise.all(sent.map((upload) => s.sendAll(upload, { parallel: 1, paceMs: 250 })));
    await sleep(1000);
    // A burst of small chunks arrives meanwhile, so some requests are mid-transaction when the connection goes.
    const burst = s.sendAll(burstUpload, { parallel: 8 });
    await redis.stop();
    const down = Date.now();

    const unreadyAfterMs = await readyzBecomes(s.stack, 503, 10_000);
    const answers = await probeDuringOutage(s.api, probe.id, 0, probe.file.chunk(0));
    expect(outageAnswerProblems(answers)).toEqual([]);
    expect(answers.find((e) => e.method === 'PUT')).toMatchObject({ status: 503, type: 'service-unavailable' });
    // Answered promptly: a client is told to come back, not left waiting.
    expect(Math.max(...answers.map((e) => e.ms))).toBeLessThan(10_000);

    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    await redis.start();
    const readyAfterMs = await readyzBecomes(s.stack, 200, 30_000);
    console.log(`redis-restart: /readyz 503 after ${unreadyAfterMs} ms, 200 again ${readyAfterMs} ms after Redis came back`);

    await Promise.all([sending, burst]);
    await s.sendAll(probe);
    await s.settle([...sent, probe, burstUpload]);

    // Nothing was restarted to get here.
    expect(pids(s.stack)).toEqual(before);
    expect(await s.verdict([...sent, probe, burstUpload])).toEqual(CLEAN);
  });
});
