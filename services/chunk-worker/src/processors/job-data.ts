import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';
import type { Logger } from '../logger';

/**
 * The job's payload, checked against its schema. A payload that does not match will never
 * match, so the job fails at once instead of using up its retries.
 */
export function parseJobData<S extends z.ZodType>(schema: S, job: Job, logger: Logger): z.infer<S> {
  const parsed = schema.safeParse(job.data);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`).join('; ');
  logger.error(
    { queue: job.queueName, jobId: job.id, problems },
    `dropped a ${job.queueName} job with a malformed payload, without retry; is a producer running another version of Tessera?`,
  );
  throw new UnrecoverableError(`malformed ${job.queueName} job payload: ${problems}`);
}
