import { Readable } from 'node:stream';
import { digestStream } from '../shared/hashing';
import { terminalEvent } from '../events/event-factory';
import type { BlobStore, Clock, ProgressPublisher, UploadRepository } from '../ports';
import type { StoredChunk, UploadProps } from '../upload/upload.types';

export type FinalizeResult = 'completed' | 'failed' | 'skipped';

/**
 * Computes the whole file's SHA-256 from its chunks in order, compares it with the
 * declared digest, and settles the upload as `completed` or `failed`, exactly once.
 */
export class FinalizeUpload {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
    private readonly publisher: ProgressPublisher,
    private readonly clock: Clock,
    /** Runs after an upload completes (tus finals waiting for it); again if the job is redelivered. */
    private readonly afterCompleted: (upload: UploadProps) => Promise<void> = async () => undefined,
  ) {}

  async execute(uploadId: string): Promise<FinalizeResult> {
    const upload = await this.repo.findById(uploadId);
    if (!upload) return 'skipped';
    if (upload.state === 'completed' || upload.state === 'failed') {
      // A redelivered job: the previous run may have died between settling and announcing.
      // Announcing again with the same seq is harmless; clients keep the highest seq seen.
      const event = terminalEvent(upload);
      if (event) await this.publisher.publish([event]);
      await this.afterCompleted(upload);
      return 'skipped';
    }
    if (upload.state !== 'finalizing') return 'skipped';
    const chunks = await this.repo.listStoredChunks(uploadId);
    if (chunks.length !== upload.chunkCount) {
      throw new Error(`upload ${uploadId} is finalizing with ${chunks.length} of ${upload.chunkCount} chunks recorded`);
    }
    // A one-chunk file's digest is its chunk's, taken when the bytes were staged: no need to read them again.
    const [only] = chunks;
    const digest = chunks.length === 1 && only ? only : await digestStream(Readable.from(this.concatenate(chunks)));
    return this.settle(upload, digest);
  }

  /** Settles a `finalizing` upload whose whole-file digest the caller already knows. */
  async settle(upload: UploadProps, { sha256, size }: { sha256: string; size: number }): Promise<FinalizeResult> {
    const uploadId = upload.id;
    if (size !== upload.size) throw new Error(`upload ${uploadId}: chunks hold ${size} bytes, expected ${upload.size}`);

    const matches = upload.declaredSha256 === null || upload.declaredSha256 === sha256;
    const input = { uploadId, sha256, now: this.clock.now() };
    const { changed, upload: settled } = matches ? await this.repo.complete(input) : await this.repo.fail(input);
    const event = changed && settled ? terminalEvent(settled) : null;
    if (event) await this.publisher.publish([event]);
    if (settled) await this.afterCompleted(settled);
    return changed ? (matches ? 'completed' : 'failed') : 'skipped';
  }

  private async *concatenate(chunks: StoredChunk[]): AsyncGenerator<Buffer> {
    for (const chunk of chunks) {
      for await (const piece of await this.blobs.readBlob(chunk.sha256)) yield piece as Buffer;
    }
  }
}
