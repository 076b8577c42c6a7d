import { randomUUID } from 'node:crypto';
import { startFuzzStack, type FuzzStack } from './fuzz-stack';
import { HttpClient, requestsSent } from './http-client';
import { loggedErrors } from './service-health';
import { Owner } from './uploads';

export interface Harness {
  stack: FuzzStack;
  http: HttpClient;
  /** A client with a valid token of its own (a fresh owner unless `name` is given). */
  owner(name?: string): Promise<Owner>;
}

/** Tests whose name says KNOWN reproduce a reported defect, so the error it logs is expected. */
const KNOWN = /\bKNOWN\b/;
const LOG_DELAY_MS = 200;

/**
 * One stack for the test file (started with `overrides`), plus a check after every test
 * that no service logged an unexpected error meanwhile: a 500 or a crashed handler is a
 * failure even when the client never saw it.
 */
export function useHarness(overrides?: Record<string, string>): Harness {
  const harness = {} as Harness;
  // Logged errors before this index are accounted for (seen by a check, or a KNOWN test's).
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
      // Its log lines come through a pipe a moment after the answer: let them arrive first.
      await new Promise((resolve) => setTimeout(resolve, LOG_DELAY_MS));
      unaccounted();
      return;
    }
    // A line still in the pipe is caught by the next check, at worst one test late.
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
