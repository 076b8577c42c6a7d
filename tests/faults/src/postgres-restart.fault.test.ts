import { outageAnswerProblems, pids, probeDuringOutage, readyzBecomes } from './support/outage';
import { PrivatePostgres } from './support/private-postgres';
import { sleep } from './support/processes';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, MiB, TestFile } from './support/test-file';

jest.setTimeout(150_000);

const OUTAGE_MS = 4000;

describe('PostgreSQL stopped and started again', () => {
  let pg: PrivatePostgres;

  beforeAll(async () => {
    pg = await PrivatePostgres.create();
  });
  afterAll(() => pg?.destroy());

  describe('while uploads are in flight', () => {
    let s: Scenario;

    beforeAll(async () => {
      s = await openScenario('postgres-restart', {}, { databaseUrl: pg.url });
    });
    afterAll(async () => {
      // The stack drops its database on the way out: PostgreSQL must be up for that.
      await pg.start().catch(() => undefined);
      await s?.close();
    });

    it('answers 503 + Retry-After during the outage, becomes ready again by itself, and completes every upload', async () => {
      const sent = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`pg-${i}.bin`, 4 * MiB, 256 * KiB))));
      const probe = await s.create(TestFile.random('probe.bin', 64 * KiB, 64 * KiB));
      const burstUpload = await s.create(TestFile.random('burst.bin', 16 * MiB, 64 * KiB));
      const before = pids(s.stack);

      // Paced, so that the outage falls in the middle of every upload.
      const sending = Promise.all(sent.map((upload) => s.sendAll(upload, { parallel: 1, paceMs: 250 })));
      await sleep(1000);
      // `fast`: every open session is terminated, new ones are refused, as in a restart.
      // A burst of small chunks arrives meanwhile, so some requests are mid-transaction when the connection goes.
      const burst = s.sendAll(burstUpload, { parallel: 8 });
      await pg.stop('fast');
      const down = Date.now();

      const unreadyAfterMs = await readyzBecomes(s.stack, 503, 10_000);
      const answers = await probeDuringOutage(s.api, probe.id, 0, probe.file.chunk(0));
      expect(outageAnswerProblems(answers)).toEqual([]);
      expect(answers.find((e) => e.method === 'PUT')).toMatchObject({ status: 503, type: 'service-unavailable' });
      // Answered promptly: a client is told to come back, not left waiting.
      expect(Math.max(...answers.map((e) => e.ms))).toBeLessThan(10_000);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
      await pg.start();
      const readyAfterMs = await readyzBecomes(s.stack, 200, 30_000);
      console.log(`postgres-restart: /readyz 503 after ${unreadyAfterMs} ms, 200 again ${readyAfterMs} ms after PostgreSQL came back`);

      await Promise.all([sending, burst]);
      await s.sendAll(probe);
      await s.settle([...sent, probe, burstUpload]);

      // Nothing was restarted to get here.
      expect(pids(s.stack)).toEqual(before);
      expect(await s.verdict([...sent, probe, burstUpload])).toEqual(CLEAN);
    });
  });

  describe('for longer than a chunk job retries', () => {
    let s: Scenario;

    beforeAll(async () => {
      // 50 ms backoff, five attempts: a job has used up its retries within a second of the outage.
      s = await openScenario('postgres-long-outage', { CHUNK_RETRY_BACKOFF_MS: '50' }, { databaseUrl: pg.url });
    });
    afterAll(async () => {
      await pg.start().catch(() => undefined);
      await s?.close();
    });

    it('still stores the chunks that were queued (acknowledged with 202) before the outage, and completes the uploads', async () => {
      const sent = await Promise.all(Array.from({ length: 2 }, (_, i) => s.create(TestFile.random(`queued-${i}.bin`, MiB, 256 * KiB))));
      // Frozen, the worker leaves the acknowledged chunks' jobs waiting; thawed during the outage, it runs them against no database.
      s.stack.signal('chunk-worker', 'SIGSTOP');
      await Promise.all(sent.map((upload) => s.sendAll(upload)));
      await pg.stop('fast');
      s.stack.signal('chunk-worker', 'SIGCONT');
      await sleep(OUTAGE_MS);
      await pg.start();
      await readyzBecomes(s.stack, 200, 30_000);

      // A client resumes from `missing`: a chunk rejected meanwhile is sent again.
      await s.settle(sent, { resume: true, timeoutMs: 20_000 });
      expect(await s.verdict(sent)).toEqual(CLEAN);
    });
  });
});
