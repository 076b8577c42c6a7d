import type { Readable } from 'node:stream';
import { ChunkAlreadyReceivedError, UploadNotReceivingError } from '../shared/errors';
import type { BlobStore, ChunkQueue, Clock, IdGenerator, StageOptions, UploadRepository } from '../ports';
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
  ) {}

  async receive(request: IntakeRequest): Promise<{ index: number; size: number }> {
    const { uploadId, index } = request;
    const token = this.ids.token();
    const claim = await this.repo.claimChunk({ uploadId, index, token, now: this.clock.now(), leaseMs: this.settings.chunkClaimLeaseMs });
    if (claim === 'taken') throw new ChunkAlreadyReceivedError(index);
    if (claim === 'not-receiving') throw new UploadNotReceivingError();

    const key = { uploadId, index, token };
    let queued = false;
    try {
      request.onClaimed?.();
      const idle = this.settings.bodyIdleTimeoutMs;
      const stage = idle === undefined ? request.stage : { idleTimeoutMs: idle, ...request.stage };
      const { bytes, sha256 } = await this.blobs.stage(key, request.body, stage);
      await this.queue.enqueueStoreChunk({
        uploadId,
        index,
        size: bytes,
        stagingToken: token,
        sha256,
        ...(request.expectedSha256 ? { expectedSha256: request.expectedSha256 } : {}),
      });
      queued = true;
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
