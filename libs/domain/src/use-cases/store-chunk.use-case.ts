import { digestStream } from '../shared/hashing';
import { progressEvent } from '../events/event-factory';
import type { RejectionReason, UploadEvent } from '../events/upload-event';
import type { StoreChunkJob } from '../jobs/jobs';
import { RECEIVING_STATES } from '../upload/upload.entity';
import type { BlobStore, ChunkQueue, Clock, ProgressPublisher, UploadRepository } from '../ports';

/** The staged bytes of a chunk are gone or shorter than received. Retryable: storage may recover. */
export class StagingLostError extends Error {
  readonly code = 'staging-lost';
  constructor(job: StoreChunkJob, detail: string) {
    super(`Staged bytes of chunk ${job.index} of upload ${job.uploadId} are unusable: ${detail}.`);
    this.name = 'StagingLostError';
  }
}

export type StoreChunkResult = 'stored' | 'duplicate' | 'rejected' | 'skipped';

/**
 * The worker's half of the chunk pipeline: hash the staged bytes, check the client's
 * digest, commit the blob and record the chunk, then announce it. Safe to run again for
 * the same job at any point: a redelivered job finds the chunk stored and changes nothing.
 */
export class StoreChunk {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly queue: ChunkQueue,
    private readonly publisher: ProgressPublisher,
    private readonly clock: Clock,
  ) {}

  /**
   * @param finalAttempt when true, a chunk that cannot be stored is rejected (its index is
   * missing again, so the client resends it) instead of throwing for a retry; a chunk left
   * `received` with no job behind it could never be completed.
   */
  async execute(job: StoreChunkJob, { finalAttempt }: { finalAttempt: boolean }): Promise<StoreChunkResult> {
    try {
      return await this.attempt(job, finalAttempt);
    } catch (error) {
      if (!finalAttempt) throw error;
      // If even the rejection cannot be recorded, the original failure is what to report.
      return this.reject(job, 'staging-lost').catch(() => Promise.reject(error));
    }
  }

  private async attempt(job: StoreChunkJob, finalAttempt: boolean): Promise<StoreChunkResult> {
    const key = { uploadId: job.uploadId, index: job.index, token: job.stagingToken };
    const upload = await this.repo.findById(job.uploadId);
    if (!upload || !RECEIVING_STATES.includes(upload.state)) {
      await this.blobs.deleteStaged(key);
      // A job redelivered after the last chunk was recorded must still see finalize queued.
      if (upload?.state === 'finalizing') await this.queue.enqueueFinalize(upload.id);
      return 'skipped';
    }
    const chunk = await this.repo.findChunk(job.uploadId, job.index);
    if (chunk?.state === 'stored') {
      await this.blobs.deleteStaged(key);
      return 'duplicate';
    }

    const staged = await this.blobs.readStaged(key);
    const digest = staged ? await digestStream(staged) : null;
    if (!digest || digest.size !== job.size) {
      const detail = digest ? `${digest.size} bytes staged, ${job.size} received` : 'the staging file is missing';
      if (!finalAttempt) throw new StagingLostError(job, detail);
      return this.reject(job, 'staging-lost');
    }
    if (job.expectedSha256 && job.expectedSha256 !== digest.sha256) return this.reject(job, 'digest-mismatch');

    const outcome = await this.repo.recordChunkStored(
      { uploadId: job.uploadId, index: job.index, size: digest.size, sha256: digest.sha256, now: this.clock.now() },
      () => this.blobs.commitStaged(key, digest.sha256),
    );
    await this.blobs.deleteStaged(key);
    if (outcome.status !== 'stored' || !outcome.upload) return outcome.status === 'duplicate' ? 'duplicate' : 'skipped';

    const stored = outcome.upload;
    const events: UploadEvent[] = [
      { type: 'chunk.stored', uploadId: job.uploadId, seq: stored.seq - 1, index: job.index, size: digest.size, sha256: digest.sha256 },
      progressEvent(stored),
    ];
    await this.publisher.publish(events);
    if (stored.state === 'finalizing') await this.queue.enqueueFinalize(stored.id);
    return 'stored';
  }

  private async reject(job: StoreChunkJob, reason: RejectionReason): Promise<StoreChunkResult> {
    const key = { uploadId: job.uploadId, index: job.index, token: job.stagingToken };
    const { rejected, upload } = await this.repo.recordChunkRejected({
      uploadId: job.uploadId,
      index: job.index,
      token: job.stagingToken,
      reason,
      now: this.clock.now(),
    });
    await this.blobs.deleteStaged(key);
    if (rejected && upload) {
      await this.publisher.publish([{ type: 'chunk.rejected', uploadId: job.uploadId, seq: upload.seq, index: job.index, reason }]);
    }
    return 'rejected';
  }
}
