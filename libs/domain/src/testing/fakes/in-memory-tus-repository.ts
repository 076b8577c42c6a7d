import type { TusProgress, TusRecord, TusRepository } from '../../ports';
import type { UploadProps } from '../../upload/upload.types';
import type { InMemoryUploadRepository } from './in-memory-upload-repository';

interface Row extends TusRecord {
  partialIndex: number;
  partialBytes: number;
  lock: { token: string; at: number } | null;
}

/** A `TusRepository` in a Map, beside the InMemoryUploadRepository whose chunk rows it reads. */
export class InMemoryTusRepository implements TusRepository {
  private readonly rows = new Map<string, Row>();

  constructor(private readonly uploads: InMemoryUploadRepository) {}

  async create(record: TusRecord): Promise<void> {
    this.rows.set(record.uploadId, { ...record, parts: [...record.parts], partialIndex: 0, partialBytes: 0, lock: null });
  }

  async find(uploadId: string): Promise<TusRecord | null> {
    const row = this.rows.get(uploadId);
    return row ? { uploadId, concat: row.concat, parts: [...row.parts], metadataHeader: row.metadataHeader } : null;
  }

  async progress(uploadId: string): Promise<TusProgress> {
    let nextIndex = 0;
    for (;;) {
      const chunk = await this.uploads.findChunk(uploadId, nextIndex);
      if (chunk?.state !== 'received' && chunk?.state !== 'stored') break;
      nextIndex += 1;
    }
    const row = this.rows.get(uploadId);
    return { nextIndex, partialBytes: row?.partialIndex === nextIndex ? row.partialBytes : 0 };
  }

  async lock(input: { uploadId: string; token: string; now: Date; leaseMs: number }): Promise<boolean> {
    const row = this.rows.get(input.uploadId);
    if (!row || (row.lock && row.lock.at >= input.now.getTime() - input.leaseMs)) return false;
    row.lock = { token: input.token, at: input.now.getTime() };
    return true;
  }

  async renew(input: { uploadId: string; token: string; now: Date }): Promise<boolean> {
    const row = this.rows.get(input.uploadId);
    if (row?.lock?.token !== input.token) return false;
    row.lock.at = input.now.getTime();
    return true;
  }

  async recordPartial(input: { uploadId: string; token: string; index: number; bytes: number }): Promise<boolean> {
    const row = this.rows.get(input.uploadId);
    if (row?.lock?.token !== input.token) return false;
    row.partialIndex = input.index;
    row.partialBytes = input.bytes;
    return true;
  }

  async unlock(input: { uploadId: string; token: string }): Promise<void> {
    const row = this.rows.get(input.uploadId);
    if (row?.lock?.token === input.token) row.lock = null;
  }

  async finalsAwaiting(partId: string): Promise<string[]> {
    const waiting: string[] = [];
    for (const row of this.rows.values()) {
      if (row.concat !== 'final' || !row.parts.includes(partId)) continue;
      if ((await this.uploads.findById(row.uploadId))?.state === 'pending') waiting.push(row.uploadId);
    }
    return waiting.sort();
  }

  async assembleFinal(input: { uploadId: string; now: Date }): Promise<UploadProps | null> {
    const row = this.rows.get(input.uploadId);
    if (row?.concat !== 'final') return null;
    return this.uploads.assembleFrom(input.uploadId, row.parts, input.now);
  }
}
