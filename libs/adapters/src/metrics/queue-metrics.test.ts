// The queue collector against a real Redis: BullMQ queues of a private prefix, removed afterwards.
import { randomBytes } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { redisConnection } from '../queue/redis-connection';
import { registerQueueMetrics, type InspectedQueue } from './queue-metrics';
import { createMetricsRegistry, type Registry } from './registry';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `tessera-metrics-test-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Every sample of `name` in the registry's text, as `labels → value`. */
async function samples(registry: Registry, name: string): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const line of (await registry.metrics()).split('\n')) {
    const match = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (match) result.set(match[1]!.replace(/,?service="test"/, ''), Number(match[2]));
  }
  return result;
}

describe('registerQueueMetrics (real Redis)', () => {
  const connection = redisConnection(redisUrl);
  const chunks = new Queue('chunks', { connection, prefix });
  const finalize = new Queue('finalize', { connection, prefix });

  afterAll(async () => {
    await Promise.all([chunks.obliterate({ force: true }), finalize.obliterate({ force: true })]);
    await Promise.all([chunks.close(), finalize.close()]);
    await connection.quit();
  });

  it('reports every state of every queue and the age of the oldest waiting job, through a short cache', async () => {
    let now = Date.now();
    const registry = createMetricsRegistry('test', { defaultMetrics: false });
    registerQueueMetrics(registry, [chunks, finalize], { cacheMs: 1000, now: () => now });

    // Empty queues still have every series, at 0.
    const empty = await samples(registry, 'tessera_queue_jobs');
    expect(empty.size).toBe(10);
    expect([...empty.values()].every((v) => v === 0)).toBe(true);
    expect(await samples(registry, 'tessera_queue_oldest_waiting_age_seconds')).toEqual(
      new Map([
        ['queue="chunks"', 0],
        ['queue="finalize"', 0],
      ]),
    );

    await chunks.add('store', { n: 1 }, { timestamp: now - 90_000 });
    await chunks.add('store', { n: 2 }, { timestamp: now - 30_000 });
    await chunks.add('store', { n: 3 });
    await chunks.add('store', { n: 4 }, { delay: 60_000 });
    // Within the cache: the previous answer, without asking Redis.
    expect((await samples(registry, 'tessera_queue_jobs')).get('queue="chunks",state="waiting"')).toBe(0);

    now += 1000;
    const jobs = await samples(registry, 'tessera_queue_jobs');
    expect(jobs.get('queue="chunks",state="waiting"')).toBe(3);
    expect(jobs.get('queue="chunks",state="delayed"')).toBe(1);
    expect(jobs.get('queue="chunks",state="active"')).toBe(0);
    expect(jobs.get('queue="finalize",state="waiting"')).toBe(0);
    expect((await samples(registry, 'tessera_queue_oldest_waiting_age_seconds')).get('queue="chunks"')).toBeCloseTo(91, 3);
  });

  it('counts failed and completed jobs', async () => {
    const registry = createMetricsRegistry('test', { defaultMetrics: false });
    registerQueueMetrics(registry, [finalize], { cacheMs: 0 });
    const workerConnection = redisConnection(redisUrl);
    const worker = new Worker(
      'finalize',
      async (job: Job) => {
        if (job.data.fail) throw new Error('boom');
      },
      { connection: workerConnection, prefix },
    );
    try {
      const settled = new Promise<void>((resolve) => {
        let n = 0;
        const done = () => ++n === 3 && resolve();
        worker.on('completed', done);
        worker.on('failed', done);
      });
      await finalize.addBulk([
        { name: 'f', data: { fail: false } },
        { name: 'f', data: { fail: false } },
        { name: 'f', data: { fail: true } },
      ]);
      await settled;
    } finally {
      await worker.close();
      await workerConnection.quit();
    }
    const jobs = await samples(registry, 'tessera_queue_jobs');
    expect(jobs.get('queue="finalize",state="completed"')).toBe(2);
    expect(jobs.get('queue="finalize",state="failed"')).toBe(1);
    expect(jobs.get('queue="finalize",state="waiting"')).toBe(0);
  });

  it('leaves the queue gauges out of a scrape when Redis fails, and says why', async () => {
    const registry = createMetricsRegistry('test', { defaultMetrics: false });
    const errors: unknown[] = [];
    const broken: InspectedQueue = {
      name: 'chunks',
      getJobCounts: () => Promise.reject(new Error('Connection is closed.')),
      getWaiting: () => Promise.resolve([]),
    };
    const hung: InspectedQueue = { name: 'finalize', getJobCounts: () => new Promise(() => undefined), getWaiting: () => new Promise(() => undefined) };
    registerQueueMetrics(registry, [broken], { cacheMs: 0, onError: (e) => errors.push(e) });
    const text = await registry.metrics();
    expect(text).toContain('# TYPE tessera_queue_jobs gauge');
    expect(text).not.toMatch(/^tessera_queue_jobs\{/m);
    expect(errors).toEqual([expect.objectContaining({ message: 'Connection is closed.' })]);

    const slow = createMetricsRegistry('test', { defaultMetrics: false });
    registerQueueMetrics(slow, [hung], { cacheMs: 0, timeoutMs: 50, onError: (e) => errors.push(e) });
    expect(await slow.metrics()).not.toMatch(/^tessera_queue_oldest_waiting_age_seconds\{/m);
    expect(errors[1]).toEqual(expect.objectContaining({ message: 'the queues did not answer within 50 ms' }));
  });
});
