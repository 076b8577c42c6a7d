import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PayloadTooLargeError } from '../shared/errors';
import { newUpload } from '../upload/upload.entity';
import { toUploadView } from '../upload/upload.view';
import { MAX_CHUNK_COUNT, type UploadView } from '../upload/upload.schemas';
import type { UploadProtocol } from '../upload/upload.types';
import type { ChunkQueue, Clock, IdGenerator, UploadRepository } from '../ports';
import type { ChunkIntake } from './chunk-intake';
import { ChunkSplitter } from './chunk-splitter';
import { insertUpload } from './insert-upload';
import type { UploadSettings } from './upload-settings';
import type { AbortUpload } from './abort-upload.use-case';

export interface ReceiveFileStreamInput {
  ownerId: string;
  filename: string;
  contentType: string;
  source: Readable;
  protocol?: UploadProtocol;
  signal?: AbortSignal;
}

/**
 * A whole file in one stream whose length is learnt at its end (the one-shot form upload):
 * the upload is created with a deferred length, the stream is cut into chunks that go
 * through the ordinary pipeline, and the length is fixed once the stream ends. A stream
 * that fails half-way leaves nothing behind: the upload is aborted.
 */
export class ReceiveFileStream {
  constructor(
    private readonly repo: UploadRepository,
    private readonly intake: ChunkIntake,
    private readonly queue: ChunkQueue,
    private readonly abort: AbortUpload,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: UploadSettings,
  ) {}

  async execute(input: ReceiveFileStreamInput): Promise<UploadView> {
    const upload = newUpload({
      id: this.ids.uploadId(),
      ownerId: input.ownerId,
      filename: input.filename,
      contentType: input.contentType,
      size: null,
      chunkSize: this.settings.defaultChunkSize,
      declaredSha256: null,
      metadata: {},
      protocol: input.protocol ?? 'form',
      now: this.clock.now(),
      ttlMs: this.settings.uploadTtlMs,
    });
    await insertUpload(this.repo, upload, this.settings);

    const limit = this.settings.maxUploadBytes;
    const splitter = new ChunkSplitter(upload.chunkSize, async (index, piece) => {
      // Refuse as soon as a piece starts past a limit, not after staging the whole excess.
      const start = index * upload.chunkSize;
      if ((start >= limit && index > 0) || index >= MAX_CHUNK_COUNT) {
        throw new PayloadTooLargeError(start + 1, Math.min(limit, MAX_CHUNK_COUNT * upload.chunkSize));
      }
      await this.intake.receive({
        uploadId: upload.id,
        index,
        body: piece,
        stage: { maxBytes: upload.chunkSize, ...(input.signal ? { signal: input.signal } : {}) },
      });
    });
    try {
      await pipeline(input.source, splitter, ...(input.signal ? [{ signal: input.signal }] : []));
      if (splitter.bytes > limit) throw new PayloadTooLargeError(splitter.bytes, limit);
    } catch (error) {
      await this.abort.execute(input.ownerId, upload.id).catch(() => undefined);
      throw error;
    }
    const sized = await this.repo.setLength({ uploadId: upload.id, size: splitter.bytes, now: this.clock.now() });
    if (sized.state === 'finalizing') await this.queue.enqueueFinalize(upload.id);
    const snapshot = await this.repo.findSnapshot(upload.id);
    return toUploadView(snapshot?.upload ?? sized, snapshot?.missing ?? []);
  }
}
