import { between, eventually, sleep } from './support/processes';
import { QueueProbe } from './support/queues';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { MiB, TestFile } from './support/test-file';

jest.setTimeout(180_000);

describe('chunk-worker killed with SIGKILL while it finalizes an upload', () => {
  let s: Scenario;
  let queues: QueueProbe;

  beforeAll(async () => {
    s = await openScenario('finalize-kill');
    queues = new QueueProbe(s.stack);
  });
  afterAll(async () => {
    queues?.close();
    await s?.close();
  });

  it('still completes the upload exactly once, with one upload.completed', async () => {
    // Finalize reads the whole file back to hash it: 64 MiB keeps it busy long enough to be struck.
    const file = TestFile.random('finalized.bin', 64 * MiB, MiB);
    const upload = await s.create(file);
    await s.sendAll(upload, { parallel: 4 });

    await eventually('the finalize job running', async () => ((await queues.counts('finalize')).active > 0 ? true : undefined), 60_000, 5);
    await sleep(between(0, 20));
    await s.stack.kill('chunk-worker', 'SIGKILL');
    // Struck mid-way: the upload is still finalizing, so the restarted worker has to finish it.
    expect((await s.api.get(upload.id)).state).toBe('finalizing');
    await s.stack.start('chunk-worker');

    await s.settle([upload], { timeoutMs: 150_000 });
    // The job ran again after the kill at most once more (how BullMQ counts that recovery is
    // its business; that the upload was caught finalizing above shows the kill struck mid-way).
    expect((await queues.stalls('finalize')).most).toBeLessThanOrEqual(1);
    expect(await queues.failedReasons('finalize')).toEqual([]);
    // The verdict includes "exactly one upload.completed": a re-announcement repeating the
    // same seq is the same event to a client (README), anything more is a second completion.
    expect(await s.verdict([upload])).toEqual(CLEAN);
  });
});
