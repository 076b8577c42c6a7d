import { NotFoundError, ValidationError } from '../../shared/errors';
import { isUuid } from '../../shared/ids';
import { chunkCountFor } from '../../upload/chunk-math';
import { canTransition, RECEIVING_STATES } from '../../upload/upload.entity';
import type { ChunkState, StoredChunk, UploadProps, UploadState } from '../../upload/upload.types';
import type {
  ChunkClaim,
  ChunkRejectedInput,
  ChunkStoredInput,
  ChunkStoredOutcome,
  ClaimOutcome,
  FinishInput,
  ListPage,
  ListQuery,
  UploadRepository,
  UploadSnapshot,
} from '../../ports';

interface ChunkRow {
  state: ChunkState;
  token: string | null;
  size: number | null;
  sha256: string | null;
  claimedAt: Date | null;
  storedAt: Date | null;
}

interface BlobRow {
  size: number;
  refCount: number;
}

const MISSING_STATES: readonly ChunkState[] = ['receiving', 'rejected'];

const copy = (upload: UploadProps): UploadProps => structuredClone(upload);

function encodeCursor(upload: UploadProps): string {
  return Buffer.from(JSON.stringify([upload.createdAt.toISOString(), upload.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && isUuid(parsed[1])) {
      const createdAt = Date.parse(parsed[0]);
      if (!Number.isNaN(createdAt)) return { createdAt, id: parsed[1] };
    }
  } catch {
    // Falls through to the one error every malformed cursor gets.
  }
  throw new ValidationError('cursor is not one this server issued', [{ path: 'cursor', message: 'pass back the nextCursor of a previous page' }]);
}

/** Newest first; ties on the creation time are broken by the id, descending. */
function newestFirst(a: UploadProps, b: UploadProps): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const UNFINISHED: readonly UploadState[] = ['pending', 'receiving', 'finalizing'];

/**
 * An `UploadRepository` held in Maps, with the same semantics as the PostgreSQL one
 * (the shared contract suite holds both to it). Mutations run one at a time, so a
 * mutation that awaits a callback (`ensureBlob`, `deleteBlob`) stays atomic, as a
 * transaction would; a callback that throws leaves every row as it was.
 */
export class InMemoryUploadRepository implements UploadRepository {
  private readonly uploads = new Map<string, UploadProps>();
  private readonly chunks = new Map<string, Map<number, ChunkRow>>();
  private readonly blobs = new Map<string, BlobRow>();
  private tail: Promise<unknown> = Promise.resolve();

  /** Reference count of a blob (0 when it has no row): lets use-case tests check garbage collection. */
  blobRefCount(sha256: string): number {
    return this.blobs.get(sha256)?.refCount ?? 0;
  }

  async create(upload: UploadProps, limits: { maxUnfinishedPerOwner?: number } = {}): Promise<'created' | 'owner-limit'> {
    return this.exclusive(() => {
      if (this.uploads.has(upload.id)) throw new Error(`upload ${upload.id} already exists`);
      const unfinished = [...this.uploads.values()].filter((u) => u.ownerId === upload.ownerId && UNFINISHED.includes(u.state)).length;
      if (limits.maxUnfinishedPerOwner !== undefined && unfinished >= limits.maxUnfinishedPerOwner) return 'owner-limit';
      this.uploads.set(upload.id, copy(upload));
      this.chunks.set(upload.id, new Map());
      return 'created';
    });
  }

  async findById(id: string): Promise<UploadProps | null> {
    const upload = this.uploads.get(id);
    return upload ? copy(upload) : null;
  }

  async findChunk(uploadId: string, index: number): Promise<{ state: ChunkState; token: string | null } | null> {
    const row = this.chunkRows(uploadId).get(index);
    return row ? { state: row.state, token: row.token } : null;
  }

  async findSnapshot(id: string): Promise<UploadSnapshot | null> {
    const upload = this.uploads.get(id);
    return upload ? { upload: copy(upload), missing: this.missingOf(upload) } : null;
  }

  async list(query: ListQuery): Promise<ListPage> {
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const matching = [...this.uploads.values()]
      .filter((u) => u.ownerId === query.ownerId && u.state !== 'aborted' && (query.state === undefined || u.state === query.state))
      .filter((u) => after === null || u.createdAt.getTime() < after.createdAt || (u.createdAt.getTime() === after.createdAt && u.id < after.id))
      .sort(newestFirst);
    const page = matching.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((u) => ({ upload: copy(u), missing: this.missingOf(u) })),
      nextCursor: matching.length > query.limit && last ? encodeCursor(last) : null,
    };
  }

  async claimChunk(claim: ChunkClaim): Promise<ClaimOutcome> {
    return this.exclusive(() => {
      const upload = this.uploads.get(claim.uploadId);
      if (!upload || !RECEIVING_STATES.includes(upload.state)) return 'not-receiving';
      const rows = this.chunkRows(claim.uploadId);
      const row = rows.get(claim.index);
      const leaseExpired = row?.state === 'receiving' && row.claimedAt !== null && row.claimedAt.getTime() < claim.now.getTime() - claim.leaseMs;
      if (row && row.state !== 'rejected' && !leaseExpired) return 'taken';
      rows.set(claim.index, { state: 'receiving', token: claim.token, size: null, sha256: null, claimedAt: claim.now, storedAt: null });
      return 'claimed';
    });
  }

  async markChunkReceived(input: { uploadId: string; index: number; token: string; size: number; now: Date }): Promise<boolean> {
    return this.exclusive(() => {
      const upload = this.uploads.get(input.uploadId);
      const row = this.chunkRows(input.uploadId).get(input.index);
      if (!upload || row?.state !== 'receiving' || row.token !== input.token) return false;
      Object.assign(row, { state: 'received', size: input.size });
      Object.assign(upload, { bytesReceived: upload.bytesReceived + input.size, updatedAt: input.now, state: upload.state === 'pending' ? 'receiving' : upload.state });
      return true;
    });
  }

  async releaseChunkClaim(input: { uploadId: string; index: number; token: string }): Promise<void> {
    return this.exclusive(() => {
      const rows = this.chunkRows(input.uploadId);
      const row = rows.get(input.index);
      if (row?.state === 'receiving' && row.token === input.token) rows.delete(input.index);
    });
  }

  async recordChunkStored(input: ChunkStoredInput, ensureBlob: () => Promise<void>): Promise<ChunkStoredOutcome> {
    return this.exclusive(async () => {
      const upload = this.uploads.get(input.uploadId);
      if (!upload) return { status: 'upload-closed', upload: null };
      if (!RECEIVING_STATES.includes(upload.state)) return { status: 'upload-closed', upload: copy(upload) };
      const rows = this.chunkRows(input.uploadId);
      const before = rows.get(input.index);
      if (before?.state === 'stored') return { status: 'duplicate', upload: copy(upload) };

      // Nothing is written before the callback, so a throw leaves every row untouched.
      await ensureBlob();

      const blob = this.blobs.get(input.sha256);
      if (blob) blob.refCount += 1;
      else this.blobs.set(input.sha256, { size: input.size, refCount: 1 });
      rows.set(input.index, {
        state: 'stored',
        token: before?.token ?? null,
        size: input.size,
        sha256: input.sha256,
        claimedAt: before?.claimedAt ?? null,
        storedAt: input.now,
      });
      const chunksStored = upload.chunksStored + 1;
      const complete = upload.chunkCount !== null && chunksStored === upload.chunkCount;
      Object.assign(upload, {
        bytesStored: upload.bytesStored + input.size,
        chunksStored,
        bytesReceived: upload.bytesReceived + (before?.state === 'received' ? 0 : input.size),
        state: complete ? 'finalizing' : 'receiving',
        seq: upload.seq + 2,
        updatedAt: input.now,
      });
      return { status: 'stored', upload: copy(upload) };
    });
  }

  async recordChunkRejected(input: ChunkRejectedInput): Promise<{ rejected: boolean; upload: UploadProps | null }> {
    return this.exclusive(() => {
      const upload = this.uploads.get(input.uploadId);
      if (!upload) return { rejected: false, upload: null };
      const row = this.chunkRows(input.uploadId).get(input.index);
      if (!row || row.token !== input.token || (row.state !== 'receiving' && row.state !== 'received')) {
        return { rejected: false, upload: copy(upload) };
      }
      const counted = row.state === 'received' ? (row.size ?? 0) : 0;
      row.state = 'rejected';
      Object.assign(upload, { bytesReceived: upload.bytesReceived - counted, seq: upload.seq + 1, updatedAt: input.now });
      return { rejected: true, upload: copy(upload) };
    });
  }

  async setLength(input: { uploadId: string; size: number; now: Date }): Promise<UploadProps> {
    return this.exclusive(() => {
      const upload = this.uploads.get(input.uploadId);
      if (!upload) throw new NotFoundError();
      if (upload.size !== null) {
        if (upload.size === input.size) return copy(upload);
        throw new ValidationError(`The upload's length is already ${upload.size} bytes; it cannot become ${input.size}.`, [
          { path: 'size', message: `already ${upload.size}` },
        ]);
      }
      const chunkCount = chunkCountFor(input.size, upload.chunkSize);
      const rows = this.chunkRows(input.uploadId);
      let storedInRange = 0;
      for (const [index, row] of rows) if (row.state === 'stored' && index < chunkCount) storedInRange += 1;
      const complete = storedInRange === chunkCount && RECEIVING_STATES.includes(upload.state);
      Object.assign(upload, { size: input.size, chunkCount, updatedAt: input.now, ...(complete ? { state: 'finalizing' } : {}) });
      return copy(upload);
    });
  }

  async listStoredChunks(uploadId: string): Promise<StoredChunk[]> {
    return [...this.chunkRows(uploadId)]
      .filter(([, row]) => row.state === 'stored')
      .sort(([a], [b]) => a - b)
      .map(([index, row]) => ({ index, size: row.size ?? 0, sha256: row.sha256 ?? '' }));
  }

  async complete(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }> {
    return this.finish(input, 'completed');
  }

  async fail(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }> {
    return this.finish(input, 'failed');
  }

  async close(input: { uploadId: string; state: 'aborted' | 'expired'; now: Date }, deleteBlob: (sha256: string) => Promise<void>): Promise<UploadProps | null> {
    return this.exclusive(async () => {
      const upload = this.uploads.get(input.uploadId);
      if (!upload || !canTransition(upload.state, input.state)) return null;
      const rows = this.chunkRows(input.uploadId);
      const drops = new Map<string, number>();
      for (const row of rows.values()) {
        if (row.state === 'stored' && row.sha256 !== null) drops.set(row.sha256, (drops.get(row.sha256) ?? 0) + 1);
      }
      const unreferenced = [...drops]
        .filter(([sha256, count]) => (this.blobs.get(sha256)?.refCount ?? 0) - count <= 0)
        .map(([sha256]) => sha256)
        .sort();
      // Deleting first and committing after mirrors the transaction: a throw changes no row.
      for (const sha256 of unreferenced) await deleteBlob(sha256);

      for (const [sha256, count] of drops) {
        const blob = this.blobs.get(sha256);
        if (blob) blob.refCount -= count;
      }
      for (const sha256 of unreferenced) this.blobs.delete(sha256);
      rows.clear();
      Object.assign(upload, { state: input.state, seq: upload.seq + 1, updatedAt: input.now });
      return copy(upload);
    });
  }

  async discard(uploadId: string): Promise<boolean> {
    return this.exclusive(() => {
      const upload = this.uploads.get(uploadId);
      if (upload?.state !== 'pending' || this.chunkRows(uploadId).size > 0) return false;
      this.uploads.delete(uploadId);
      this.chunks.delete(uploadId);
      return true;
    });
  }

  async listExpired(input: { now: Date; limit: number }): Promise<string[]> {
    return [...this.uploads.values()]
      .filter((u) => (u.state === 'pending' || u.state === 'receiving') && u.expiresAt.getTime() <= input.now.getTime())
      .sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || (a.id < b.id ? -1 : 1))
      .slice(0, input.limit)
      .map((u) => u.id);
  }

  async deleteUnrecordedBlob(sha256: string, deleteFile: () => Promise<void>): Promise<boolean> {
    return this.exclusive(async () => {
      if (this.blobs.has(sha256)) return false;
      await deleteFile();
      return true;
    });
  }

  async ping(): Promise<void> {}

  /**
   * For InMemoryTusRepository: makes a pending upload the concatenation of completed ones
   * (their stored chunks in order, the same blobs referenced again) and moves it to
   * `finalizing`; null if it is not pending or a part is not completed.
   */
  assembleFrom(uploadId: string, partIds: string[], now: Date): Promise<UploadProps | null> {
    return this.exclusive(() => {
      const upload = this.uploads.get(uploadId);
      const parts = partIds.map((id) => this.uploads.get(id));
      if (upload?.state !== 'pending' || parts.some((part) => part?.state !== 'completed')) return null;
      const rows = new Map<number, ChunkRow>();
      let bytes = 0;
      for (const id of partIds) {
        for (const [, row] of [...this.chunkRows(id)].filter(([, r]) => r.state === 'stored').sort(([a], [b]) => a - b)) {
          rows.set(rows.size, { ...row });
          bytes += row.size ?? 0;
          const blob = this.blobs.get(row.sha256 ?? '');
          if (blob) blob.refCount += 1;
        }
      }
      this.chunks.set(uploadId, rows);
      Object.assign(upload, {
        size: bytes,
        chunkCount: rows.size,
        chunksStored: rows.size,
        bytesStored: bytes,
        bytesReceived: bytes,
        state: 'finalizing',
        seq: upload.seq + 1,
        updatedAt: now,
      });
      return copy(upload);
    });
  }

  private finish(input: FinishInput, state: 'completed' | 'failed'): Promise<{ changed: boolean; upload: UploadProps | null }> {
    return this.exclusive(() => {
      const upload = this.uploads.get(input.uploadId);
      if (!upload) return { changed: false, upload: null };
      if (upload.state !== 'finalizing') return { changed: false, upload: copy(upload) };
      Object.assign(upload, {
        state,
        sha256: input.sha256,
        seq: upload.seq + 1,
        updatedAt: input.now,
        ...(state === 'completed' ? { completedAt: input.now } : {}),
      });
      return { changed: true, upload: copy(upload) };
    });
  }

  private missingOf(upload: UploadProps): number[] {
    const rows = this.chunkRows(upload.id);
    if (upload.chunkCount === null) {
      return [...rows].filter(([, row]) => MISSING_STATES.includes(row.state)).map(([index]) => index).sort((a, b) => a - b);
    }
    const missing: number[] = [];
    for (let index = 0; index < upload.chunkCount; index += 1) {
      const row = rows.get(index);
      if (!row || MISSING_STATES.includes(row.state)) missing.push(index);
    }
    return missing;
  }

  /** The chunk rows of an upload; `create` makes the map, so an unknown id reads as empty. */
  private chunkRows(uploadId: string): Map<number, ChunkRow> {
    return this.chunks.get(uploadId) ?? new Map();
  }

  /** Runs mutations one after another, like row locks held for a whole transaction. */
  private exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.tail.then(work);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
