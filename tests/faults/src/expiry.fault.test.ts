import { existsSync } from 'node:fs';
import { blobPath, listFiles, stagingDir } from './support/files';
import { eventually, sleep } from './support/processes';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, sha256Hex, TestFile } from './support/test-file';

jest.setTimeout(90_000);

const TTL_SECONDS = 3;

describe('an upload left unfinished past its time to live', () => {
  let s: Scenario;

  beforeAll(async () => {
    s = await openScenario('expiry', {}, {
      services: { gateway: { UPLOAD_TTL_SECONDS: String(TTL_SECONDS) }, 'chunk-worker': { SWEEP_INTERVAL_MS: '1000' } },
    });
  });
  afterAll(() => s?.close());

  it('is expired by the sweep: upload.expired, its staging bytes and unshared blobs deleted, a later chunk gets 410', async () => {
    const chunk = 64 * KiB;
    const abandoned = new TestFile('abandoned.bin', Buffer.concat([0, 1, 2, 3].map(() => TestFile.random('-', chunk, chunk).data)), chunk);
    // Another upload holds the same bytes as the abandoned one's chunk 0: that blob must survive.
    const sharing = await s.create(new TestFile('sharing.bin', Buffer.from(abandoned.chunk(0)), chunk));
    await s.sendAll(sharing);
    await s.settle([sharing]);

    const upload = await s.create(abandoned);
    for (const index of [0, 1]) await s.api.sendChunk(upload.id, index, abandoned.chunk(index));
    await eventually('chunks 0 and 1 stored', async () => ((await s.api.get(upload.id)).chunksStored === 2 ? true : undefined), 10_000);
    // Chunk 2 is staged and queued while no worker runs, so staging bytes exist when time runs out.
    await s.stack.kill('chunk-worker', 'SIGTERM');
    expect(await s.api.sendChunk(upload.id, 2, abandoned.chunk(2))).toBe('accepted');
    expect(await listFiles(stagingDir(s.stack.blobDir, upload.id))).toHaveLength(1);

    const { expiresAt } = await s.api.get(upload.id);
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 200);
    const late = await s.api.putChunk(upload.id, 3, abandoned.chunk(3));
    expect({ status: late.status, type: late.json?.type }).toEqual({ status: 410, type: 'upload-expired' });

    await s.stack.start('chunk-worker');
    await s.watcher.waitFor((e) => e.type === 'upload.expired' && e.uploadId === upload.id, 15_000, 'upload.expired');
    expect(await s.api.get(upload.id)).toMatchObject({ state: 'expired' });
    const after = await s.api.putChunk(upload.id, 3, abandoned.chunk(3));
    expect({ status: after.status, type: after.json?.type }).toEqual({ status: 410, type: 'upload-expired' });

    // Its own bytes are gone; the bytes it shared with a completed upload are not.
    await eventually('staging of the expired upload removed', async () => ((await listFiles(stagingDir(s.stack.blobDir, upload.id))).length === 0 ? true : undefined), 5000);
    const blobs = [0, 1, 2].map((index) => existsSync(blobPath(s.stack.blobDir, sha256Hex(abandoned.chunk(index)))));
    expect(blobs).toEqual([true, false, false]);
    expect(s.watcher.of(upload.id).filter((e) => e.type === 'upload.expired')).toHaveLength(1);
    expect(await s.verdict([sharing])).toEqual(CLEAN);
  });
});
