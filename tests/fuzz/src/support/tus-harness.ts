import { randomUUID } from 'node:crypto';
import { startFuzzStack } from './fuzz-stack';
import type { Harness } from './harness';
import { HttpClient, requestsSent } from './http-client';
import { loggedErrors } from './service-health';
import { Owner } from './uploads';

const KNOWN = /\bKNOWN\b/;
const LOG_DELAY_MS = 200;

/**
 * `useHarness` (harness.ts) for a stack started with `overrides`: the tus suite wants small
 * chunks, so that uploads of a few hundred KiB cross chunk boundaries. Same checks: after
 * every test, no service logged an unexpected error meanwhile.
 */
export function useTusHarness(overrides: Record<string, string>): Harness {
  const harness = {} as Harness;
  let accounted = 0;
  const unaccounted = () => {
    const all = loggedErrors(harness.stack);
    const fresh = all.slice(accounted);
    accounted = all.length;
    return fresh;
  };

  beforeAll(async () => {
    harness.stack = await startFuzzStack(overrides);
    harness.http = new HttpClient(harness.stack.gatewayUrl);
    harness.owner = async (name = `owner-${randomUUID()}`) => new Owner(name, await harness.stack.tokenFor(name), harness.http);
  }, 60_000);

  afterEach(async () => {
    if (KNOWN.test(expect.getState().currentTestName ?? '')) {
      await new Promise((resolve) => setTimeout(resolve, LOG_DELAY_MS));
      unaccounted();
      return;
    }
    expect(unaccounted()).toEqual([]);
  });

  afterAll(async () => {
    console.log(`${expect.getState().testPath?.split('/').pop()}: ${requestsSent()} requests`);
    try {
      await new Promise((resolve) => setTimeout(resolve, LOG_DELAY_MS));
      expect(unaccounted()).toEqual([]);
    } finally {
      harness.http?.close();
      await harness.stack?.stop();
    }
  }, 60_000);

  return harness;
}
