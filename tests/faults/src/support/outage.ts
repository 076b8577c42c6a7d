import type { Stack } from '../../../e2e/src/support/stack';
import { SERVICE_NAMES, type ServiceName } from '../../../e2e/src/support/stack';
import { Api, type Exchange } from './api';
import { eventually } from './processes';

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

