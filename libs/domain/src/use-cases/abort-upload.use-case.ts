import { terminalEvent } from '../events/event-factory';
import type { BlobStore, Clock, ProgressPublisher, UploadRepository } from '../ports';
import { findVisibleUpload } from './visible-upload';

/**
 * `DELETE /v1/uploads/:id`: the upload becomes `aborted` and disappears for its owner;
 * its staged bytes and the blobs no other upload references are deleted.
 */
export class AbortUpload {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly publisher: ProgressPublisher,
    private readonly clock: Clock,
  ) {}

  async execute(ownerId: string, uploadId: string): Promise<void> {
    await findVisibleUpload(this.repo, ownerId, uploadId);
    const closed = await this.repo.close({ uploadId, state: 'aborted', now: this.clock.now() }, (sha256) => this.blobs.deleteBlob(sha256));
    // Announced before the cleanup, so a cleanup failure cannot hide that the upload is gone.
    const event = closed ? terminalEvent(closed) : null;
    if (event) await this.publisher.publish([event]);
    // Cleared even if a concurrent request closed it first: cleanup is idempotent.
    await this.blobs.deleteStagingOf(uploadId);
  }
}
