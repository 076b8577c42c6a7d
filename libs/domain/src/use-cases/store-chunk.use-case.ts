import { progressEvent } from '../events/event-factory';
import type { RejectionReason, UploadEvent } from '../events/upload-event';
import type { StoreChunkJob } from '../jobs/jobs';
import { RECEIVING_STATES } from '../upload/upload.entity';
import type { BlobStore, ChunkQueue, Clock, ProgressPublisher, UploadRepository } from '../ports';
import type { FinalizeUpload } from './finalize-upload.use-case';

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
 * The worker's half of the chunk pipeline: check the staged bytes are whole and match the
 * client's digest, commit the blob and record the chunk, then announce it. Safe to run again for
 * the same job at any point: a redelivered job finds the chunk stored and changes nothing.
 */
export class StoreChunk {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly queue: ChunkQueue,
    private readonly publisher: ProgressPublisher,
    private readonly clock: Clock,
    private readonly finalize: FinalizeUpload,
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
    // The gateway hashed the bytes as it staged them; what is left to check is that they are all still there.
    const stagedBytes = await this.blobs.stagedSize(key);
    if (stagedBytes !== job.size) {
      const settled = await this.settledEarlier(job);
      if (settled) return settled;
      const detail = stagedBytes === null ? 'the staging file is missing' : `${stagedBytes} bytes staged, ${job.size} received`;
      if (!finalAttempt) throw new StagingLostError(job, detail);
      return this.reject(job, 'staging-lost');
    }
    if (job.expectedSha256 && job.expectedSha256 !== job.sha256) return this.reject(job, 'digest-mismatch');

    const outcome = await this.repo.recordChunkStored(
      { uploadId: job.uploadId, index: job.index, size: job.size, sha256: job.sha256, now: this.clock.now() },
      () => this.blobs.commitStaged(key, job.sha256),
    );
    await this.blobs.deleteStaged(key);
    if (outcome.status === 'duplicate') return 'duplicate';
    if (outcome.status === 'upload-closed' || !outcome.upload) {
      // A job redelivered after the last chunk was recorded must still see finalize queued.
      if (outcome.upload?.state === 'finalizing') await this.queue.enqueueFinalize(outcome.upload.id);
      return 'skipped';
    }

    const stored = outcome.upload;
    const events: UploadEvent[] = [
      { type: 'chunk.stored', uploadId: job.uploadId, seq: stored.seq - 1, index: job.index, size: job.size, sha256: job.sha256 },
      progressEvent(stored),
    ];
    await this.publisher.publish(events);
    if (stored.state !== 'finalizing') return 'stored';
    // A one-chunk upload's digest is this chunk's, known now: it is settled here with one
    // statement instead of a trip through the finalize queue. If this job dies first, its
    // redelivery finds the upload finalizing and queues finalize instead.
    if (stored.chunkCount === 1) await this.finalize.settle(stored, { sha256: job.sha256, size: job.size });
    else await this.queue.enqueueFinalize(stored.id);
    return 'stored';
  }

  /**
   * Explains a staged file that is gone by an earlier delivery of the same job having
   * stored the chunk (or the upload having been closed), or returns null if nothing does.
   */
  private async settledEarlier(job: StoreChunkJob): Promise<StoreChunkResult | null> {
    const upload = await this.repo.findById(job.uploadId);
    if (!upload || !RECEIVING_STATES.includes(upload.state)) {
      await this.blobs.deleteStaged({ uploadId: job.uploadId, index: job.index, token: job.stagingToken });
      if (upload?.state === 'finalizing') await this.queue.enqueueFinalize(upload.id);
      return 'skipped';
    }
    const chunk = await this.repo.findChunk(job.uploadId, job.index);
    return chunk?.state === 'stored' ? 'duplicate' : null;
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
    if (!rejected) {
      // Nothing to reject: the chunk was stored after all, by this attempt before it failed
      // or by an earlier one. Its upload must not be left finalizing with no job to finish it.
      if (upload?.state === 'finalizing') await this.queue.enqueueFinalize(upload.id);
      return 'skipped';
    }
    if (upload) await this.publisher.publish([{ type: 'chunk.rejected', uploadId: job.uploadId, seq: upload.seq, index: job.index, reason }]);
    return 'rejected';
  }
}
