import type { Readable } from 'node:stream';
import { ChunkAlreadyReceivedError, UploadNotReceivingError } from '../shared/errors';
import type { BlobStore, ChunkQueue, Clock, IdGenerator, IntakeObserver, StageOptions, StagedBytes, StagingKey, UploadRepository } from '../ports';
import type { UploadSettings } from './upload-settings';

export interface IntakeRequest {
  uploadId: string;
  index: number;
  body: Readable;
  stage: StageOptions;
  expectedSha256?: string;
  /** Called once the index is ours, just before the body is read (HTTP answers `100 Continue` here). */
  onClaimed?: () => void;
}

/**
 * The gateway's half of the chunk pipeline, shared by every way bytes arrive: claim the
 * index, stage the bytes durably, queue the job, then mark the chunk received. A failure
 * at any step releases the claim and the staged bytes, so the client can simply retry.
 */
export class ChunkIntake {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly queue: ChunkQueue,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: Pick<UploadSettings, 'chunkClaimLeaseMs' | 'bodyIdleTimeoutMs'>,
    /** Told of each chunk once its bytes are staged and queued (metrics); none by default. */
    private readonly observer?: IntakeObserver,
  ) {}

  async receive(request: IntakeRequest): Promise<{ index: number; size: number }> {
    const idle = this.settings.bodyIdleTimeoutMs;
    const options = idle === undefined ? request.stage : { idleTimeoutMs: idle, ...request.stage };
    return this.receiveStaged(
      request.uploadId,
      request.index,
      (key) => {
        request.onClaimed?.();
        return this.blobs.stage(key, request.body, options);
      },
      request.expectedSha256 ? { expectedSha256: request.expectedSha256 } : {},
    );
  }

  /**
   * The pipeline around any way of staging: `stage` runs once the index is claimed and must
   * leave the bytes durably staged under the key it is given.
   */
  async receiveStaged(
    uploadId: string,
    index: number,
    stage: (key: StagingKey) => Promise<StagedBytes>,
    options: { expectedSha256?: string; takeOverClaims?: boolean } = {},
  ): Promise<{ index: number; size: number }> {
    const { expectedSha256 } = options;
    const token = this.ids.token();
    // A caller that alone may write this upload (tus, under its lock) knows any other claim is a crashed request's.
    const leaseMs = options.takeOverClaims ? 0 : this.settings.chunkClaimLeaseMs;
    const claim = await this.repo.claimChunk({ uploadId, index, token, now: this.clock.now(), leaseMs });
    if (claim === 'taken') throw new ChunkAlreadyReceivedError(index);
    if (claim === 'not-receiving') throw new UploadNotReceivingError();

    const key = { uploadId, index, token };
    let queued = false;
    try {
      const { bytes, sha256 } = await stage(key);
      await this.queue.enqueueStoreChunk({
        uploadId,
        index,
        size: bytes,
        stagingToken: token,
        sha256,
        ...(expectedSha256 ? { expectedSha256 } : {}),
      });
      queued = true;
      this.observer?.chunkReceived({ uploadId, index, bytes });
      // A false result means the worker got there first or the upload was closed
      // meanwhile; either way the bytes are safe or deliberately dropped.
      await this.repo.markChunkReceived({ uploadId, index, token, size: bytes, now: this.clock.now() });
      return { index, size: bytes };
    } catch (error) {
      // Once queued, the job owns the staged bytes and will store them; before that, drop them.
      if (!queued) await Promise.allSettled([this.repo.releaseChunkClaim({ uploadId, index, token }), this.blobs.deleteStaged(key)]);
      throw error;
    }
  }
}
