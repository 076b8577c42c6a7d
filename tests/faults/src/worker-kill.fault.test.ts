import { between, sleep } from './support/processes';
import { QueueProbe } from './support/queues';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, MiB, TestFile } from './support/test-file';

// FAULTS_LONG=1 is the long mode: many more kills, same checks.
const LONG = process.env.FAULTS_LONG === '1';
const KILLS = LONG ? 200 : 25;
const UPLOADS = 20;

jest.setTimeout(LONG ? 40 * 60_000 : 240_000);

describe('chunk-worker killed with SIGKILL at random moments while 20 uploads are in flight', () => {
  let s: Scenario;
  let queues: QueueProbe;

  beforeAll(async () => {
    // Quick retries, so a job that failed because its process died is tried again soon.
    s = await openScenario('worker-kill', { CHUNK_RETRY_BACKOFF_MS: '50' });
    queues = new QueueProbe(s.stack);
  });
  afterAll(async () => {
    queues?.close();
    await s?.close();
  });

  it(`completes every upload exactly once, with exact counters, through ${KILLS} kills`, async () => {
    // 64 KiB chunks, and more bytes for more kills: a backlog of jobs that lasts through
    // every kill, so that each one strikes jobs in the middle of their work.
    const scale = KILLS / 25;
    const files = Array.from({ length: UPLOADS }, (_, i) => TestFile.random(`killed-${i}.bin`, between(2 * MiB, 4 * MiB) * scale, 64 * KiB));
    const sent = await Promise.all(files.map((file) => s.create(file)));

    let kills = 0;
    const killer = async () => {
      while (kills < KILLS) {
        // Mostly while jobs run; now and then while the process is still starting up.
        const duringStartUp = Math.random() < 0.2;
        await s.stack.start('chunk-worker', { waitReady: !duringStartUp });
        await sleep(duringStartUp ? between(50, 800) : between(150, 600));
        const exit = await s.stack.kill('chunk-worker', 'SIGKILL');
        expect(exit.signal).toBe('SIGKILL');
        kills++;
      }
      await s.stack.start('chunk-worker');
    };
    await s.stack.kill('chunk-worker', 'SIGKILL');
    await Promise.all([killer(), ...sent.map((upload) => s.sendAll(upload, { parallel: 2 }))]);
    const started = Date.now();
    await s.settle(sent, { timeoutMs: 180_000 });

    const stalls = await queues.stalls('chunks');
    console.log(`worker-kill: ${kills} kills; ${stalls.jobs} chunk jobs were running when their process died; settled ${Date.now() - started} ms after the last kill`);
    // The fault is only worth something if it hit running jobs.
    expect(stalls.jobs).toBeGreaterThanOrEqual(Math.ceil(KILLS / 2));
    expect(await queues.failedReasons('chunks')).toEqual([]);
    expect(await queues.failedReasons('finalize')).toEqual([]);
    expect(await s.verdict(sent)).toEqual(CLEAN);
  });
});
