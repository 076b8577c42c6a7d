import { DelayedError, type Job } from 'bullmq';
import { finalizeJobSchema, type FinalizeResult, type FinalizeUpload } from '@tessera/domain';
import type { Logger } from '../logger';
import { attemptInfo, retryNote } from './attempts';
import { parseJobData } from './job-data';
import { OUTAGE_RETRY_MS, postponedDuringOutages } from './postpone';

/** The `finalize` queue's processor: a fully stored upload → `FinalizeUpload`. */
export function finalizeProcessor(finalizeUpload: FinalizeUpload, logger: Logger): (job: Job, token?: string) => Promise<FinalizeResult> {
  return async (job, token) => {
    const { uploadId } = parseJobData(finalizeJobSchema, job, logger);
    const log = logger.child({ jobId: job.id, uploadId });
    let result: FinalizeResult;
    try {
      result = await postponedDuringOutages(job, token, () => finalizeUpload.execute(uploadId), (error) =>
        log.warn({ err: error, retryInMs: OUTAGE_RETRY_MS }, 'PostgreSQL or Redis is unreachable; finalize waits and tries again without using up an attempt'),
      );
    } catch (error) {
      if (error instanceof DelayedError) throw error;
      const attempt = attemptInfo(job);
      const context = { err: error, attempt: attempt.attempt, attempts: attempt.attempts, retryInMs: attempt.retryInMs };
      if (attempt.final) {
        log.error(
          context,
          'finalizing the upload failed on its last attempt; it stays "finalizing". Fix the cause (see err) and retry the job from /admin/queues',
        );
      } else {
        log.warn(context, `finalizing the upload failed; ${retryNote(attempt)}`);
      }
      throw error;
    }
    if (result === 'failed') {
      // The client's declared digest did not match its bytes: its problem, told by upload.failed.
      log.info({ result }, 'upload failed: the SHA-256 of its bytes differs from the one the client declared');
    } else {
      log.debug({ result }, `finalize job done: ${result}`);
    }
    return result;
  };
}
