import { MAX_CHUNK_SIZE, MAX_CHUNK_COUNT } from '../upload/upload.schemas';
import { PayloadTooLargeError, ValidationError } from '../shared/errors';
import { EMPTY_SHA256 } from '../shared/ids';
import { isVisibleTo, newUpload } from '../upload/upload.entity';
import type { UploadProps } from '../upload/upload.types';
import type { Clock, IdGenerator, TusRepository, UploadRepository } from '../ports';
import { insertUpload } from '../use-cases/insert-upload';
import type { ConcatenateFinals } from './concatenate-finals.use-case';
import { parseTusMetadata } from './tus-metadata';
import type { TusSettings } from './tus-settings';

export type TusConcatRequest = { kind: 'none' } | { kind: 'partial' } | { kind: 'final'; parts: string[] };

export interface CreateTusUploadInput {
  ownerId: string;
  /** `Upload-Length`, or null for `Upload-Defer-Length: 1` (and for a final upload). */
  length: number | null;
  metadataHeader?: string;
  concat: TusConcatRequest;
}

const KiB = 1024;

/** `POST /files/`: a new upload in the ordinary pipeline, with its tus record. */
export class CreateTusUpload {
  constructor(
    private readonly repo: UploadRepository,
    private readonly tus: TusRepository,
    private readonly concatenate: ConcatenateFinals,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly settings: TusSettings,
  ) {}

  async execute(input: CreateTusUploadInput): Promise<UploadProps> {
    const { length } = input;
    if (length !== null && length > this.settings.maxUploadBytes) throw new PayloadTooLargeError(length, this.settings.maxUploadBytes);
    if (length !== null && length > MAX_CHUNK_COUNT * MAX_CHUNK_SIZE) throw new PayloadTooLargeError(length, MAX_CHUNK_COUNT * MAX_CHUNK_SIZE);
    if (input.concat.kind === 'final') await this.checkParts(input.ownerId, input.concat.parts);
    const meta = parseTusMetadata(input.metadataHeader);
    const now = this.clock.now();
    const upload = newUpload({
      id: this.ids.uploadId(),
      ownerId: input.ownerId,
      filename: meta.filename ?? 'untitled',
      contentType: meta.contentType ?? 'application/octet-stream',
      size: length,
      chunkSize: this.chunkSizeFor(length),
      declaredSha256: null,
      metadata: meta.metadata,
      protocol: 'tus',
      now,
      ttlMs: this.settings.uploadTtlMs,
    });
    if (length === 0) Object.assign(upload, { state: 'completed', sha256: EMPTY_SHA256, completedAt: now });
    await insertUpload(this.repo, upload, this.settings);
    await this.tus.create({
      uploadId: upload.id,
      concat: input.concat.kind,
      parts: input.concat.kind === 'final' ? input.concat.parts : [],
      metadataHeader: input.metadataHeader?.trim() ? input.metadataHeader.trim() : null,
    });
    if (input.concat.kind === 'final') await this.concatenate.tryAssemble(upload.id);
    return (await this.repo.findById(upload.id)) ?? upload;
  }

  /**
   * Takes back an upload whose creation-with-upload bytes were refused: deleted outright
   * when nothing of it was kept; false when it holds chunks (then it must be aborted).
   */
  withdraw(uploadId: string): Promise<boolean> {
    return this.repo.discard(uploadId);
  }

  /** The default chunk size, grown (in whole KiB) when the file would otherwise need too many chunks. */
  private chunkSizeFor(length: number | null): number {
    const base = this.settings.defaultChunkSize;
    if (length === null) return base;
    const needed = Math.ceil(Math.ceil(length / MAX_CHUNK_COUNT) / KiB) * KiB;
    return Math.min(MAX_CHUNK_SIZE, Math.max(base, needed));
  }

  private async checkParts(ownerId: string, parts: string[]): Promise<void> {
    let total = 0;
    const refuse = (message: string): never => {
      throw new ValidationError(`Upload-Concat: ${message}`, [{ path: 'Upload-Concat', message }]);
    };
    if (parts.length === 0) refuse('a final upload lists at least one partial upload.');
    if (new Set(parts).size !== parts.length) refuse('a partial upload is listed twice.');
    for (const id of parts) {
      const [upload, record] = await Promise.all([this.repo.findById(id), this.tus.find(id)]);
      if (!upload || !isVisibleTo(upload, ownerId) || record?.concat !== 'partial') refuse(`${id} is not a partial upload of yours.`);
      if (upload && ['failed', 'expired'].includes(upload.state)) refuse(`partial upload ${id} is ${upload.state}.`);
      total += upload?.size ?? 0;
    }
    // Parts of deferred length count as empty here: a final is checked against the limit only for the lengths known when it is created.
    if (total > this.settings.maxUploadBytes) throw new PayloadTooLargeError(total, this.settings.maxUploadBytes);
  }
}
