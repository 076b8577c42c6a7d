import { readyzBecomes, uploadsSurviveOutage } from './support/outage';
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
      // `fast`: every open session is terminated, new ones are refused, as in a restart.
      await uploadsSurviveOutage(s, { name: 'PostgreSQL', label: 'pg', stop: () => pg.stop('fast'), start: () => pg.start(), outageMs: OUTAGE_MS });
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
