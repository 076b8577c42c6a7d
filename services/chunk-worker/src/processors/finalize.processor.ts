import type { Job } from 'bullmq';
import { finalizeJobSchema, type FinalizeResult, type FinalizeUpload } from '@tessera/domain';
import type { Logger } from '../logger';
import { attemptInfo, retryNote } from './attempts';
import { parseJobData } from './job-data';

/** The `finalize` queue's processor: a fully stored upload → `FinalizeUpload`. */
export function finalizeProcessor(finalizeUpload: FinalizeUpload, logger: Logger): (job: Job) => Promise<FinalizeResult> {
  return async (job) => {
    const { uploadId } = parseJobData(finalizeJobSchema, job, logger);
    const log = logger.child({ jobId: job.id, uploadId });
    let result: FinalizeResult;
    try {
      result = await finalizeUpload.execute(uploadId);
    } catch (error) {
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
