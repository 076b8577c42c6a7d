import type { Exchange } from './support/api';
import { between, eventually, sleep } from './support/processes';
import { QueueProbe } from './support/queues';
import { CLEAN, openScenario, type Scenario } from './support/scenario';
import { KiB, MiB, TestFile } from './support/test-file';

jest.setTimeout(120_000);

const SHUTDOWN_TIMEOUT_MS = 5000;

/** Whether a new connection to `url` is refused (the server no longer accepts). */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return false;
  } catch (error) {
    return /ECONNREFUSED/.test(String((error as Error & { cause?: Error }).cause?.message ?? error));
  }
}

describe('SIGTERM to each service while uploads are in flight', () => {
  let s: Scenario;
  let queues: QueueProbe;

  beforeAll(async () => {
    s = await openScenario('sigterm', { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });
    queues = new QueueProbe(s.stack);
  });
  afterEach(() => s.ensureRunning());
  afterAll(async () => {
    queues?.close();
    await s?.close();
  });

  it('gateway: stops accepting, finishes the chunk requests in flight, exits 0 in time; clients retry after the restart', async () => {
    const sent = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`gw-${i}.bin`, 4 * MiB, 256 * KiB))));
    const sending = Promise.all(sent.map((upload) => s.sendAll(upload, { parallel: 2 })));
    await sleep(between(200, 400));

    const signalledAt = Date.now();
    const exiting = s.stack.kill('gateway', 'SIGTERM', 3 * SHUTDOWN_TIMEOUT_MS);
    const stoppedAccepting = await eventually('new connections refused', async () => ((await refused(s.stack.gatewayUrl)) ? true : undefined), 2000, 20);
    const exit = await exiting;
    expect(stoppedAccepting).toBe(true);
    expect(exit).toMatchObject({ code: 0, signal: null, forced: false });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);

    // Requests that were being served when the signal came: answered, or cut cleanly (retried), never a 5xx.
    const inFlight = s.api.exchanges.filter((e: Exchange) => e.method === 'PUT' && e.at < signalledAt && e.at + e.ms >= signalledAt);
    console.log(`sigterm gateway: exit ${exit.ms} ms; in flight at SIGTERM: ${inFlight.map((e) => e.status || e.error).join(', ')}`);
    expect(inFlight.filter((e) => e.status >= 500)).toEqual([]);

    await s.stack.start('gateway');
    await sending;
    await s.settle(sent);
    expect(await s.verdict(sent)).toEqual(CLEAN);
  });

  it('chunk-worker: finishes or hands back its running jobs and exits 0 in time; the restarted worker completes the uploads', async () => {
    // Finalize of 32 MiB reads it all back: a job long enough to be running when the signal comes.
    const big = await s.create(TestFile.random('worker-big.bin', 32 * MiB, MiB));
    const small = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`worker-${i}.bin`, 2 * MiB, 64 * KiB))));
    const sending = Promise.all([s.sendAll(big, { parallel: 4 }), ...small.map((upload) => s.sendAll(upload, { parallel: 2 }))]);
    await eventually('the finalize job of the big upload running', async () => ((await queues.counts('finalize')).active > 0 ? true : undefined), 60_000, 5);

    const exit = await s.stack.kill('chunk-worker', 'SIGTERM', 3 * SHUTDOWN_TIMEOUT_MS);
    expect(exit).toMatchObject({ code: 0, signal: null, forced: false });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    // Nothing is left locked to the stopped process (that would wait 30 s or more to be found stalled).
    expect({ chunks: (await queues.counts('chunks')).active, finalize: (await queues.counts('finalize')).active }).toEqual({ chunks: 0, finalize: 0 });

    await s.stack.start('chunk-worker');
    await sending;
    await s.settle([big, ...small]);
    expect((await queues.stalls('chunks')).jobs + (await queues.stalls('finalize')).jobs).toBe(0);
    expect(await s.verdict([big, ...small])).toEqual(CLEAN);
  });

  it('notifier: closes its sockets and exits 0 in time; clients reconnect to the restarted notifier and see every upload complete', async () => {
    const sent = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`nt-${i}.bin`, 2 * MiB, 256 * KiB))));
    // Each upload's last chunk waits until the notifier is back, so its completion is announced to a connected client.
    const orders = sent.map((upload) => upload.file.shuffledIndices());
    const sending = Promise.all(sent.map((upload, i) => s.sendAll(upload, { parallel: 1, paceMs: 100, indices: orders[i]!.slice(0, -1) })));
    await sleep(between(200, 400));

    const disconnectsBefore = s.watcher.disconnects.length;
    const exit = await s.stack.kill('notifier', 'SIGTERM', 3 * SHUTDOWN_TIMEOUT_MS);
    expect(exit).toMatchObject({ code: 0, signal: null, forced: false });
    expect(exit.ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(s.watcher.disconnects.length).toBeGreaterThan(disconnectsBefore);

    const reconnectsBefore = s.watcher.reconnects;
    await s.stack.start('notifier');
    await eventually('the client connected again', () => (s.watcher.connected && s.watcher.reconnects > reconnectsBefore ? true : undefined), 10_000);
    await sending;
    await Promise.all(sent.map((upload, i) => s.sendAll(upload, { indices: orders[i]!.slice(-1) })));
    await s.settle(sent);
    expect(await s.verdict(sent)).toEqual(CLEAN);
  });
});
