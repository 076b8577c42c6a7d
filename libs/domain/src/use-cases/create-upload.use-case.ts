import { EMPTY_SHA256 } from '../shared/ids';
import { PayloadTooLargeError, ValidationError } from '../shared/errors';
import { chunkCountFor } from '../upload/chunk-math';
import { MAX_CHUNK_COUNT } from '../upload/upload.schemas';
import { newUpload } from '../upload/upload.entity';
import { toUploadView } from '../upload/upload.view';
import type { CreateUploadBody, UploadView } from '../upload/upload.schemas';
import type { UploadProtocol } from '../upload/upload.types';
import type { Clock, IdGenerator, UploadRepository } from '../ports';
import { insertUpload } from './insert-upload';
import type { UploadSettings } from './upload-settings';

export class CreateUpload {
  constructor(
    private readonly repo: UploadRepository,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: UploadSettings,
  ) {}

  async execute(ownerId: string, body: CreateUploadBody, protocol: UploadProtocol = 'native'): Promise<UploadView> {
    if (body.size > this.settings.maxUploadBytes) throw new PayloadTooLargeError(body.size, this.settings.maxUploadBytes);
    const chunkSize = body.chunkSize ?? this.settings.defaultChunkSize;
    if (chunkCountFor(body.size, chunkSize) > MAX_CHUNK_COUNT) {
      const smallest = Math.ceil(body.size / MAX_CHUNK_COUNT);
      throw new ValidationError(`An upload has at most ${MAX_CHUNK_COUNT} chunks; for ${body.size} bytes use a chunkSize of at least ${smallest}.`, [
        { path: 'chunkSize', message: `at least ${smallest} for this size` },
      ]);
    }
    const now = this.clock.now();
    const upload = newUpload({
      id: this.ids.uploadId(),
      ownerId,
      filename: body.filename,
      contentType: body.contentType ?? 'application/octet-stream',
      size: body.size,
      chunkSize,
      declaredSha256: body.sha256 ?? null,
      metadata: body.metadata ?? {},
      protocol,
      now,
      ttlMs: this.settings.uploadTtlMs,
    });
    if (body.size === 0) {
      // Nothing to receive: an empty upload is verified and finished on the spot.
      const matches = upload.declaredSha256 === null || upload.declaredSha256 === EMPTY_SHA256;
      Object.assign(upload, { state: matches ? 'completed' : 'failed', sha256: EMPTY_SHA256, completedAt: matches ? now : null });
    }
    await insertUpload(this.repo, upload, this.settings);
    return toUploadView(upload, Array.from({ length: upload.chunkCount ?? 0 }, (_, i) => i));
  }
}
