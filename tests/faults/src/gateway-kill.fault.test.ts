import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listFiles, stagingDir } from './support/files';
import { between, eventually, sleep } from './support/processes';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { SlowPut } from './support/slow-put';
import { inParallel, KiB, MiB, TestFile } from './support/test-file';

jest.setTimeout(120_000);

describe('gateway killed with SIGKILL in the middle of chunk requests', () => {
  let s: Scenario;

  beforeAll(async () => {
    // A dead request's claim on its index lapses after a second, so the retry gets it soon.
    s = await openScenario('gateway-kill', {}, { services: { gateway: { CHUNK_CLAIM_LEASE_MS: '1000' } } });
  });
  afterAll(() => s?.close());

  it('does not acknowledge a chunk whose body was cut, takes its retry, and never commits half-staged bytes', async () => {
    const file = TestFile.random('cut.bin', 4 * MiB, MiB);
    const upload = await s.create(file);
    for (const index of [0, 1, 2]) await s.api.sendChunk(upload.id, index, file.chunk(index));

    const chunk = file.chunk(3);
    const slow = new SlowPut(s.stack.gatewayUrl, s.api.token, upload.id, 3, chunk);
    slow.write(chunk.subarray(0, chunk.length / 2));
    // Strike once part of the body is on disk: the gateway is mid-way through staging it.
    const partial = await eventually(
      'half the body staged',
      async () => {
        for (const name of await listFiles(stagingDir(s.stack.blobDir, upload.id))) {
          if (name.startsWith('3-') && (await stat(join(stagingDir(s.stack.blobDir, upload.id), name))).size > 0) return name;
        }
        return undefined;
      },
      10_000,
      10,
    );
    expect(partial).toMatch(/\.part$/);
    await s.stack.kill('gateway', 'SIGKILL');
    slow.end(chunk.subarray(chunk.length / 2));
    const outcome = await slow.outcome;
    expect(outcome.answered).toBe(false);

    await s.stack.start('gateway');
    // The chunk was never acknowledged, so it is still missing, and a retry succeeds.
    expect((await s.api.get(upload.id)).missing).toEqual([3]);
    expect(await s.api.sendChunk(upload.id, 3, chunk)).toBe('accepted');
    await s.settle([upload]);

    expect(await s.verdict([upload])).toEqual(CLEAN);
  });

  it('completes uploads sent by retrying clients while the gateway is killed three times at random moments', async () => {
    const files = Array.from({ length: 4 }, (_, i) => TestFile.random(`load-${i}.bin`, 4 * MiB, 256 * KiB));
    const sent = await Promise.all(files.map((file) => s.create(file)));
    const killer = async () => {
      for (let kill = 0; kill < 3; kill++) {
        await sleep(between(100, 400));
        await s.stack.kill('gateway', 'SIGKILL');
        await s.stack.start('gateway');
      }
    };
    await Promise.all([killer(), inParallel(sent, sent.length, (upload) => s.sendAll(upload, { parallel: 3 }))]);
    await s.settle(sent);

    // Some requests must have been cut, or the kills struck nothing.
    expect(s.api.exchanges.filter((e) => e.method === 'PUT' && e.status === 0 && !/ECONNREFUSED/.test(e.error ?? '')).length).toBeGreaterThan(0);
    expect(await s.verdict(sent)).toEqual(CLEAN);
  });
});
