import { rm, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { listFiles, stagingDir } from './support/files';
import { QueueProbe } from './support/queues';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, MiB, TestFile } from './support/test-file';

jest.setTimeout(90_000);

const ATTEMPTS = 3;

describe('poison chunk jobs: the staged bytes vanished or were truncated before the worker got to them', () => {
  let s: Scenario;
  let queues: QueueProbe;

  beforeAll(async () => {
    // The gateway queues chunk jobs, so it is the one whose retry policy the jobs carry.
    s = await openScenario('poison-job', { CHUNK_JOB_ATTEMPTS: String(ATTEMPTS), CHUNK_RETRY_BACKOFF_MS: '50' });
    queues = new QueueProbe(s.stack);
  });
  afterAll(async () => {
    queues?.close();
    await s?.close();
  });

  it('retries a bounded number of times, rejects the chunk (staging-lost) so it can be sent again, and keeps the queue flowing', async () => {
    await s.stack.kill('chunk-worker', 'SIGTERM');
    const poisoned = await s.create(TestFile.random('poisoned.bin', 4 * 256 * KiB, 256 * KiB));
    for (const index of [0, 1]) expect(await s.api.sendChunk(poisoned.id, index, poisoned.file.chunk(index))).toBe('accepted');

    const dir = stagingDir(s.stack.blobDir, poisoned.id);
    const staged = await listFiles(dir);
    const named = (index: number) => staged.find((name) => name.startsWith(`${index}-`))!;
    expect(staged.sort()).toEqual([named(0), named(1)].sort());
    await rm(join(dir, named(0)));
    await truncate(join(dir, named(1)), 1000);

    // Another upload queued behind the poisoned jobs must still go through.
    const healthy = await s.create(TestFile.random('healthy.bin', 2 * MiB, 64 * KiB));
    await s.sendAll(healthy, { parallel: 4 });
    await s.stack.start('chunk-worker');

    const rejected = await Promise.all(
      [0, 1].map((index) =>
        s.watcher.waitFor((e) => e.type === 'chunk.rejected' && e.uploadId === poisoned.id && e.index === index, 30_000, `chunk.rejected of chunk ${index}`),
      ),
    );
    expect(rejected.map((e) => e.type === 'chunk.rejected' && e.reason)).toEqual(['staging-lost', 'staging-lost']);
    await s.settle([healthy], { timeoutMs: 60_000 });

    // Tried exactly ATTEMPTS times, then settled as rejected; nothing of them is left to run.
    for (const index of [0, 1]) {
      const jobId = `${poisoned.id}_${named(index).replace('-', '_')}`;
      expect(await queues.job('chunks', jobId)).toMatchObject({ attemptsMade: ATTEMPTS, state: 'completed', returnValue: 'rejected' });
    }
    expect(await queues.counts('chunks')).toMatchObject({ waiting: 0, active: 0, delayed: 0, failed: 0 });

    const view = await s.api.get(poisoned.id);
    expect(view).toMatchObject({ state: 'receiving', bytesReceived: 0, bytesStored: 0, missing: [0, 1, 2, 3] });
    // The client sends the rejected chunks again, with the rest, and the upload completes.
    await s.sendAll(poisoned);
    await s.settle([poisoned]);
    expect(s.watcher.of(poisoned.id).filter((e) => e.type === 'chunk.rejected')).toHaveLength(2);
    expect(await s.verdict([poisoned, healthy])).toEqual(CLEAN);
  });
});
