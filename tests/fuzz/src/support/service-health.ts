import { createHash } from 'node:crypto';
import type { ServiceName } from '../../../e2e/src/support/stack';
import type { FuzzStack } from './fuzz-stack';
import type { Owner } from './uploads';

/**
 * Lines the services logged at error level or above. Every unexpected failure (a 500, a
 * socket handler that threw, a crash) is logged there even when no client saw it.
 */
export function loggedErrors(stack: FuzzStack, services: ServiceName[] = ['gateway', 'notifier']): string[] {
  return services.flatMap((name) =>
    stack
      .logs(name)
      .split('\n')
      .filter((line) => /"level":(50|60)\b/.test(line) || /^\s*(Error|TypeError|RangeError|node:internal)|Unhandled|uncaught/i.test(line))
      .map((line) => `${name}: ${line.slice(0, 1000)}`),
  );
}

/** A whole ordinary upload, from creation to a verified download: the service still works. */
export async function expectServesNormally(stack: FuzzStack, owner: Owner): Promise<void> {
  for (const url of [stack.gatewayUrl, stack.notifierUrl]) {
    const health = await fetch(`${url}/healthz`);
    expect({ url, status: health.status }).toEqual({ url, status: 200 });
  }
  const upload = await owner.create(100 * 1024 + 7);
  for (let index = 0; index < upload.chunkCount; index++) await owner.sendChunk(upload, index);
  const done = await owner.waitFor(upload.id, (v) => v.state === 'completed' || v.state === 'failed');
  expect(done).toMatchObject({ state: 'completed', sha256: createHash('sha256').update(upload.data).digest('hex') });
  const download = await owner.request('GET', `/v1/uploads/${upload.id}/content`);
  expect(download.status).toBe(200);
  expect(download.body.equals(upload.data)).toBe(true);
}
