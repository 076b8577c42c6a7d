import { NotFoundError, UploadExpiredError } from '../shared/errors';
import type { Clock, TusProgress, TusRecord, TusRepository, UploadRepository } from '../ports';
import { RECEIVING_STATES } from '../upload/upload.entity';
import type { UploadProps } from '../upload/upload.types';
import { findVisibleUpload } from '../use-cases/visible-upload';

export interface TusStatusView {
  upload: UploadProps;
  record: TusRecord;
  /** Bytes durably received, or null for a final upload whose parts are unfinished. */
  offset: number | null;
  /** A final upload's length while its parts are unassembled: their sum when every one is known. */
  length: number | null;
}

/** What `HEAD /files/:id` reports, read from the upload, its chunk rows and its tus record. */
export class TusStatus {
  constructor(
    private readonly repo: UploadRepository,
    private readonly tus: TusRepository,
    private readonly clock: Clock,
  ) {}

  async execute(ownerId: string, uploadId: string): Promise<TusStatusView> {
    const upload = await findVisibleUpload(this.repo, ownerId, uploadId);
    const record = await this.tus.find(uploadId);
    if (!record) throw new NotFoundError('tus upload');
    const expired = upload.state === 'expired' || (RECEIVING_STATES.includes(upload.state) && upload.expiresAt.getTime() <= this.clock.now().getTime());
    if (expired) throw new UploadExpiredError(upload.expiresAt);
    if (record.concat === 'final' && upload.state === 'pending') {
      const parts = await Promise.all(record.parts.map((id) => this.repo.findById(id)));
      const sizes = parts.map((part) => part?.size ?? null);
      const length = sizes.every((size) => size !== null) ? sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0) : null;
      return { upload, record, offset: null, length };
    }
    if (!RECEIVING_STATES.includes(upload.state)) return { upload, record, offset: upload.size, length: upload.size };
    return { upload, record, offset: durableOffset(upload, await this.tus.progress(uploadId)), length: upload.size };
  }
}

/** Where the durable bytes end: chunks before `nextIndex` are whole (the last one may be short). */
export function durableOffset(upload: UploadProps, progress: TusProgress): number {
  const offset = progress.nextIndex * upload.chunkSize + progress.partialBytes;
  return upload.size === null ? offset : Math.min(offset, upload.size);
}
