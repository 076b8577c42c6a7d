import { DelayedError, type Job } from 'bullmq';
import { StagingLostError, storeChunkJobSchema, type StoreChunk, type StoreChunkResult } from '@tessera/domain';
import type { Logger } from '../logger';
import { attemptInfo, retryNote, type AttemptInfo } from './attempts';
import { parseJobData } from './job-data';
import { OUTAGE_RETRY_MS, postponedDuringOutages } from './postpone';

/** The `chunks` queue's processor: one staged chunk → `StoreChunk`. */
export function storeChunkProcessor(storeChunk: StoreChunk, logger: Logger): (job: Job, token?: string) => Promise<StoreChunkResult> {
  return async (job, token) => {
    const data = parseJobData(storeChunkJobSchema, job, logger);
    const attempt = attemptInfo(job);
    const log = logger.child({ jobId: job.id, uploadId: data.uploadId, index: data.index });
    let result: StoreChunkResult;
    try {
      result = await postponedDuringOutages(job, token, () => storeChunk.execute(data, { finalAttempt: attempt.final }), (error) =>
        log.warn({ err: error, retryInMs: OUTAGE_RETRY_MS }, 'PostgreSQL or Redis is unreachable; the chunk job waits and tries again without using up an attempt'),
      );
    } catch (error) {
      if (error instanceof DelayedError) throw error;
      logFailure(log, error, attempt);
      throw error;
    }
    if (result === 'rejected') {
      log.warn(
        { result, attempt: attempt.attempt },
        'chunk rejected (digest-mismatch or staging-lost, see the chunk.rejected event): its index is missing again and the client must send it again',
      );
    } else {
      log.debug({ result, size: data.size }, `chunk job done: ${result}`);
    }
    return result;
  };
}

function logFailure(log: Logger, error: unknown, attempt: AttemptInfo): void {
  const context = { err: error, attempt: attempt.attempt, attempts: attempt.attempts, retryInMs: attempt.retryInMs };
  if (attempt.final) {
    log.error(
      context,
      'storing the chunk failed on its last attempt; the job stays in the failed set and the chunk stays "received". ' +
        'Fix the cause (see err) and retry the job from /admin/queues, or the upload expires unfinished',
    );
  } else if (error instanceof StagingLostError) {
    log.warn(
      context,
      `the chunk's staged bytes are missing or short; ${retryNote(attempt)}. If they stay unusable the last attempt ` +
        'rejects the chunk (staging-lost) and the client sends it again; check that gateway and worker share BLOB_DIR',
    );
  } else {
    log.warn(context, `storing the chunk failed; ${retryNote(attempt)}`);
  }
}
