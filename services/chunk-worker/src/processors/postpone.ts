import { DelayedError, type Job } from 'bullmq';
import { isDependencyUnavailable } from '@tessera/adapters';

/** How long a job waits before trying again while PostgreSQL or Redis is away, ms. */
export const OUTAGE_RETRY_MS = 2_000;

/**
 * Runs `work`; if it fails because a dependency is unreachable, puts the job back for a
 * later try without spending one of its attempts. Attempts are for failures of the job
 * itself: an outage longer than all its retries must not leave an acknowledged chunk with
 * no job behind it (nor an upload stuck finalizing). Other failures are rethrown as they are.
 */
export async function postponedDuringOutages<T>(job: Job, token: string | undefined, work: () => Promise<T>, onPostpone: (error: unknown) => void): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!isDependencyUnavailable(error) || token === undefined) throw error;
    onPostpone(error);
    // If Redis itself is the one away, this throws, the job's lock lapses and the job
    // runs again once the worker reconnects, as a stalled job.
    await job.moveToDelayed(Date.now() + OUTAGE_RETRY_MS, token);
    throw new DelayedError();
  }
}
