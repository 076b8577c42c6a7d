import type { Job } from 'bullmq';

export interface AttemptInfo {
  /** This attempt, counting from 1. */
  attempt: number;
  attempts: number;
  /** No retry follows if this attempt fails. */
  final: boolean;
  /** When BullMQ will run the job again if this attempt fails, ms; null when unknown. */
  retryInMs: number | null;
}

/**
 * Where a job stands in its retries, from the options it was enqueued with. Mirrors
 * BullMQ's built-in backoffs so a log line can say when the next try comes.
 */
export function attemptInfo(job: Job): AttemptInfo {
  const attempts = job.opts.attempts ?? 1;
  // attemptsMade counts the failed tries before this one.
  const final = job.attemptsMade + 1 >= attempts;
  return { attempt: job.attemptsMade + 1, attempts, final, retryInMs: final ? null : retryDelay(job) };
}

function retryDelay(job: Job): number | null {
  const backoff = job.opts.backoff;
  if (backoff === undefined) return 0;
  if (typeof backoff === 'number') return backoff;
  const delay = backoff.delay ?? 0;
  if (backoff.type === 'fixed') return delay;
  if (backoff.type === 'exponential') return Math.round(2 ** job.attemptsMade * delay);
  return null;
}

/** "retrying in 2000 ms (attempt 2 of 5 failed)", for the log line of a failed attempt. */
export function retryNote({ attempt, attempts, retryInMs }: AttemptInfo): string {
  const when = retryInMs === null ? 'per its backoff' : `in ${retryInMs} ms`;
  return `retrying ${when} (attempt ${attempt} of ${attempts} failed)`;
}
