import { terminalEvent } from '../events/event-factory';
import type { BlobStore, Clock, ProgressPublisher, UploadRepository } from '../ports';
import type { UploadState } from '../upload/upload.types';

export interface SweepSettings {
  /** Expired uploads closed per database round trip. */
  batchSize: number;
  /**
   * How old a blob without a row must be before it counts as left behind by a crash: a
   * store that has linked the bytes but not committed its row yet must never lose them.
   */
  unrecordedBlobGraceMs: number;
}

export interface SweepReport {
  expired: number;
  stagingFoldersRemoved: number;
  unrecordedBlobsRemoved: number;
}

/** States whose staging folder may still be written to or read from. */
const STAGING_IN_USE: readonly UploadState[] = ['pending', 'receiving', 'finalizing'];

/**
 * The periodic clean-up: expires unfinished uploads past their `expiresAt` (announcing
 * `upload.expired`), removes staging folders that no unfinished upload needs any more (an
 * attempt abandoned by a crashed gateway, a folder emptied by finished chunk jobs), and
 * deletes blob bytes that no row records. Safe to run on several workers at once.
 */
export class SweepUploads {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly publisher: ProgressPublisher,
    private readonly clock: Clock,
    private readonly settings: SweepSettings,
  ) {}

  async execute(): Promise<SweepReport> {
    const expired = await this.expireUploads();
    const stagingFoldersRemoved = await this.removeUnusedStaging();
    const unrecordedBlobsRemoved = await this.removeUnrecordedBlobs();
    return { expired, stagingFoldersRemoved, unrecordedBlobsRemoved };
  }

  private async expireUploads(): Promise<number> {
    const now = this.clock.now();
    let expired = 0;
    for (;;) {
      const ids = await this.repo.listExpired({ now, limit: this.settings.batchSize });
      for (const uploadId of ids) {
        const closed = await this.repo.close({ uploadId, state: 'expired', now: this.clock.now() }, (sha256) => this.blobs.deleteBlob(sha256));
        // Null: a chunk or a DELETE settled it meanwhile; nothing to announce.
        const event = closed ? terminalEvent(closed) : null;
        if (event) await this.publisher.publish([event]);
        await this.blobs.deleteStagingOf(uploadId);
        if (closed) expired += 1;
      }
      if (ids.length < this.settings.batchSize) return expired;
    }
  }

  private async removeUnusedStaging(): Promise<number> {
    let removed = 0;
    for (const uploadId of await this.blobs.stagingUploadIds()) {
      const upload = await this.repo.findById(uploadId);
      if (upload && STAGING_IN_USE.includes(upload.state)) continue;
      await this.blobs.deleteStagingOf(uploadId);
      removed += 1;
    }
    return removed;
  }

  private async removeUnrecordedBlobs(): Promise<number> {
    const cutoff = new Date(this.clock.now().getTime() - this.settings.unrecordedBlobGraceMs);
    let removed = 0;
    for await (const sha256 of this.blobs.blobsChangedBefore(cutoff)) {
      if (await this.repo.deleteUnrecordedBlob(sha256, () => this.blobs.deleteBlob(sha256))) removed += 1;
    }
    return removed;
  }
}
