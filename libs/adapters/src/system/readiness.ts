/** Named checks of the dependencies a service's readiness depends on; each throws when its dependency is down. */
export type ReadinessChecks = Readonly<Record<string, () => Promise<void>>>;

/** A dependency slower than this counts as down (set a probe's timeoutSeconds above it). */
export const READINESS_TIMEOUT_MS = 2000;

/** `work`, or a rejection saying `what` did not answer within `ms`. */
export function withTimeout<T>(work: Promise<T>, ms: number, what = 'no answer'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check at once, each within READINESS_TIMEOUT_MS; answers each one's failure, or null. */
export async function runReadinessChecks(checks: ReadinessChecks): Promise<{ name: string; error: unknown }[]> {
  const names = Object.keys(checks);
  const results = await Promise.allSettled(names.map((name) => withTimeout(Promise.resolve().then(() => checks[name]!()), READINESS_TIMEOUT_MS)));
  return results.map((result, i) => ({ name: names[i]!, error: result.status === 'fulfilled' ? null : (result.reason ?? new Error('failed')) }));
}
