import { Readable } from 'node:stream';
import { assertCompleted } from '../upload/upload.entity';
import type { BlobStore, ByteRange, UploadRepository } from '../ports';
import type { StoredChunk, UploadProps } from '../upload/upload.types';
import { findVisibleUpload } from './visible-upload';

export interface Content {
  upload: UploadProps;
  /** The bytes asked for, streamed chunk by chunk. */
  body: Readable;
  /** The range served (inclusive), or null for the whole file. */
  range: ByteRange | null;
}

/** Streams a completed upload's bytes, or a range of them, from its blobs. */
export class ReadContent {
  constructor(
    private readonly repo: UploadRepository,
    private readonly blobs: BlobStore,
  ) {}

  /** The completed upload (for headers and range checks) before any byte is read. */
  async find(ownerId: string, uploadId: string): Promise<UploadProps> {
    const upload = await findVisibleUpload(this.repo, ownerId, uploadId);
    assertCompleted(upload);
    return upload;
  }

  /** @param range must lie within the upload; the caller checks satisfiability. */
  async open(upload: UploadProps, range: ByteRange | null): Promise<Content> {
    const chunks = await this.repo.listStoredChunks(upload.id);
    const whole = { start: 0, end: (upload.size ?? 0) - 1 };
    return { upload, range, body: Readable.from(this.slices(chunks, range ?? whole)) };
  }

  private async *slices(chunks: StoredChunk[], range: ByteRange): AsyncGenerator<Buffer> {
    let offset = 0;
    for (const chunk of chunks) {
      const first = offset;
      const last = offset + chunk.size - 1;
      offset += chunk.size;
      if (last < range.start || first > range.end || chunk.size === 0) continue;
      const start = Math.max(range.start, first) - first;
      const end = Math.min(range.end, last) - first;
      const whole = start === 0 && end === chunk.size - 1;
      for await (const piece of await this.blobs.readBlob(chunk.sha256, whole ? undefined : { start, end })) yield piece as Buffer;
      if (last >= range.end) return;
    }
  }
}
