import type { Readable } from 'node:stream';
import { ChunkIndexOutOfRangeError, ChunkLengthMismatchError, UploadNotReceivingError } from '../shared/errors';
import { expectedChunkLength } from '../upload/chunk-math';
import { assertReceiving } from '../upload/upload.entity';
import type { Clock, UploadRepository } from '../ports';
import type { ChunkIntake } from './chunk-intake';
import { findVisibleUpload } from './visible-upload';

export interface AcceptChunkInput {
  ownerId: string;
  uploadId: string;
  index: number;
  /** Declared length of the chunk's bytes; unknown for a multipart body, whose part is measured instead. */
  contentLength?: number;
  /** Hex SHA-256 from `Content-Digest`, if the client sent one. */
  expectedSha256?: string;
  body: Readable;
  signal?: AbortSignal;
  /** See IntakeRequest.onClaimed. */
  onClaimed?: () => void;
}

/** One chunk of a native upload (`PUT`/`POST /v1/uploads/:id/chunks/:index`). */
export class AcceptChunk {
  constructor(
    private readonly repo: UploadRepository,
    private readonly intake: ChunkIntake,
    private readonly clock: Clock,
  ) {}

  /** Checks everything that can be checked before reading a byte of the body. */
  async check(input: Pick<AcceptChunkInput, 'ownerId' | 'uploadId' | 'index' | 'contentLength'>): Promise<number> {
    const upload = await findVisibleUpload(this.repo, input.ownerId, input.uploadId);
    // A tus upload has one writer at a time, under its lock; chunks sent beside it would break its offsets.
    if (upload.protocol === 'tus') throw new UploadNotReceivingError(undefined, `This upload was created over tus; send its bytes with PATCH /files/${upload.id}.`);
    assertReceiving(upload, this.clock.now());
    const count = upload.chunkCount ?? 0;
    if (input.index >= count) throw new ChunkIndexOutOfRangeError(input.index, count);
    const expected = expectedChunkLength(upload.size ?? 0, upload.chunkSize, input.index);
    if (input.contentLength !== undefined && input.contentLength !== expected) throw new ChunkLengthMismatchError(input.index, expected, input.contentLength);
    return expected;
  }

  async execute(input: AcceptChunkInput): Promise<{ index: number; size: number; state: 'received' }> {
    const expectedBytes = await this.check(input);
    const { index, size } = await this.intake.receive({
      uploadId: input.uploadId,
      index: input.index,
      body: input.body,
      stage: { expectedBytes, ...(input.signal ? { signal: input.signal } : {}) },
      ...(input.expectedSha256 ? { expectedSha256: input.expectedSha256 } : {}),
      ...(input.onClaimed ? { onClaimed: input.onClaimed } : {}),
    });
    return { index, size, state: 'received' };
  }
}
