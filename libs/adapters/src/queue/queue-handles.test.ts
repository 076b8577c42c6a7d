import { randomBytes } from 'node:crypto';
import { QUEUES } from '@tessera/domain';
import { openQueueHandles } from './queue-handles';
import { redisConnection } from './redis-connection';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('openQueueHandles (real Redis)', () => {
  const prefix = `tessera-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const admin = redisConnection(redisUrl);

  afterAll(async () => {
    const keys = await admin.keys(`${prefix}:*`);
    if (keys.length > 0) await admin.unlink(...keys);
    await admin.quit();
  });

  it('opens every queue under the prefix, writes nothing by itself, and closes once however often asked', async () => {
    const handles = openQueueHandles({ redisUrl, prefix });
    expect(handles.queues.map((q) => q.name)).toEqual(Object.values(QUEUES));
    expect(handles.queues.every((q) => q.opts.prefix === prefix)).toBe(true);
    expect(await handles.queues[0]!.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(await admin.keys(`${prefix}:*`)).toEqual([]);

    await handles.queues[0]!.add('store', { n: 1 });
    const second = openQueueHandles({ redisUrl, prefix });
    expect(await second.queues[0]!.getJobCountByTypes('waiting')).toBe(1);

    await Promise.all([handles.close(), handles.close(), second.close()]);
    await expect(handles.close()).resolves.toBeUndefined();
  });
});
