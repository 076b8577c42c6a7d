import type { Stack } from '../../../e2e/src/support/stack';
import { SERVICE_NAMES, type ServiceName } from '../../../e2e/src/support/stack';
import { Api, type Exchange } from './api';
import { eventually, sleep } from './processes';
import { CLEAN, type Scenario } from './scenario';
import { KiB, MiB, TestFile } from './test-file';

/** Readiness of the services with an HTTP port. */
export async function readiness(stack: Stack): Promise<{ gateway: number; notifier: number }> {
  const probe = async (url: string) => {
    try {
      return (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) })).status;
    } catch {
      return 0;
    }
  };
  const [gateway, notifier] = await Promise.all([probe(stack.gatewayUrl), probe(stack.notifierUrl)]);
  return { gateway, notifier };
}

/** Waits until both /readyz answer `status`; resolves with how long that took, ms. */
export async function readyzBecomes(stack: Stack, status: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  await eventually(
    `/readyz of gateway and notifier answering ${status}`,
    async () => {
      const r = await readiness(stack);
      return r.gateway === status && r.notifier === status ? true : undefined;
    },
    timeoutMs,
    100,
  );
  return Date.now() - started;
}

/** The process ids of every service, to prove none was restarted. */
export const pids = (stack: Stack): Record<ServiceName, number | null> =>
  Object.fromEntries(SERVICE_NAMES.map((name) => [name, stack.pid(name)])) as Record<ServiceName, number | null>;

/**
 * Requests made while a dependency is down, as a user would make them: a chunk PUT, a
 * status GET and a new upload. Each must answer (no hang) with a 2xx, or with 503 and
 * Retry-After; never a 500.
 */
export async function probeDuringOutage(client: Api, uploadId: string, index: number, bytes: Buffer): Promise<Exchange[]> {
  // A client of its own, so that its exchanges are not mixed with other clients' running ones.
  const api = new Api(client.baseUrl, client.token);
  const calls = [
    api.putChunk(uploadId, index, bytes, 15_000),
    api.request('GET', `/v1/uploads/${uploadId}`, { timeoutMs: 15_000 }),
    api.request('POST', '/v1/uploads', {
      body: JSON.stringify({ filename: 'during-outage.bin', size: 1 }),
      headers: { 'content-type': 'application/json' },
      timeoutMs: 15_000,
    }),
  ];
  await Promise.allSettled(calls);
  return api.exchanges;
}

/** What is wrong with the answers given during an outage (empty when every one is acceptable). */
export function outageAnswerProblems(exchanges: Exchange[]): string[] {
  return exchanges.flatMap((e) => {
    const what = `${e.method} ${e.path.replace(/[0-9a-f-]{36}/, ':id')}`;
    if (e.status === 0) return [`${what}: no answer (${e.error}) after ${e.ms} ms`];
    if (e.status === 503 && !e.retryAfter) return [`${what}: 503 without Retry-After`];
    if (e.status >= 500 && e.status !== 503) return [`${what}: ${e.status}`];
    return [];
  });
}


/**
 * The shared outage scenario: uploads in flight (paced, so the outage falls mid-way) and a
 * burst of small chunks (some requests mid-transaction when it begins), then `stop` the
 * dependency for `outageMs`. Checks that /readyz goes 503, that requests meanwhile answer
 * 503 + Retry-After promptly, that /readyz comes back by itself after `start`, and that
 * every upload then completes cleanly with no service restarted.
 */
export async function uploadsSurviveOutage(
  s: Scenario,
  dependency: { name: string; label: string; stop: () => Promise<void>; start: () => Promise<void>; outageMs: number },
): Promise<void> {
  const sent = await Promise.all(Array.from({ length: 4 }, (_, i) => s.create(TestFile.random(`${dependency.label}-${i}.bin`, 4 * MiB, 256 * KiB))));
  const probe = await s.create(TestFile.random('probe.bin', 64 * KiB, 64 * KiB));
  const burstUpload = await s.create(TestFile.random('burst.bin', 16 * MiB, 64 * KiB));
  const before = pids(s.stack);

  const sending = Promise.all(sent.map((upload) => s.sendAll(upload, { parallel: 1, paceMs: 250 })));
  await sleep(1000);
  const burst = s.sendAll(burstUpload, { parallel: 8 });
  await dependency.stop();
  const down = Date.now();

  const unreadyAfterMs = await readyzBecomes(s.stack, 503, 10_000);
  const answers = await probeDuringOutage(s.api, probe.id, 0, probe.file.chunk(0));
  expect(outageAnswerProblems(answers)).toEqual([]);
  expect(answers.find((e) => e.method === 'PUT')).toMatchObject({ status: 503, type: 'service-unavailable' });
  // Answered promptly: a client is told to come back, not left waiting.
  expect(Math.max(...answers.map((e) => e.ms))).toBeLessThan(10_000);

  await sleep(Math.max(0, dependency.outageMs - (Date.now() - down)));
  await dependency.start();
  const readyAfterMs = await readyzBecomes(s.stack, 200, 30_000);
  console.log(`${dependency.label}-restart: /readyz 503 after ${unreadyAfterMs} ms, 200 again ${readyAfterMs} ms after ${dependency.name} came back`);

  await Promise.all([sending, burst]);
  await s.sendAll(probe);
  await s.settle([...sent, probe, burstUpload]);

  // Nothing was restarted to get here.
  expect(pids(s.stack)).toEqual(before);
  expect(await s.verdict([...sent, probe, burstUpload])).toEqual(CLEAN);
}
