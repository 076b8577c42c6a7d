import type { EntityManager } from '@mikro-orm/postgresql';
import {
  canTransition,
  chunkCountFor,
  isUuid,
  NotFoundError,
  UPLOAD_STATES,
  ValidationError,
  type ChunkClaim,
  type ChunkRejectedInput,
  type ChunkState,
  type ChunkStoredInput,
  type ChunkStoredOutcome,
  type ClaimOutcome,
  type FinishInput,
  type ListPage,
  type ListQuery,
  type StoredChunk,
  type UploadProps,
  type UploadRepository,
  type UploadSnapshot,
} from '@tessera/domain';
import { decodeListCursor, encodeListCursor } from './list-cursor';
import type { TesseraOrm } from './orm';
import { MISSING_SQL, RETURNING_UPLOAD, toNumber, toUploadProps, UPLOAD_COLUMNS, type UploadRow } from './upload-rows';
import { affected, oneUpload, rows } from './sql';

type SnapshotRow = UploadRow & { missing: number[] };
/**
 * `UploadRepository` on PostgreSQL through MikroORM. Each call runs on its own fork of the
 * entity manager; mutations that touch several rows run in one transaction. Row locks are
 * always taken in the same order (the upload, then its chunk rows, then blobs by sha256),
 * so concurrent gateways, workers and sweeps cannot deadlock one another.
 */
export class MikroOrmUploadRepository implements UploadRepository {
  constructor(private readonly orm: TesseraOrm) {}

  /**
   * Inserts a new upload; rejects if its id exists. The owner's limit is checked in the same
   * statement, from the index of unfinished uploads (no extra round trip).
   */
  async create(upload: UploadProps, limits: { maxUnfinishedPerOwner?: number } = {}): Promise<'created' | 'owner-limit'> {
    const inserted = await affected(
      this.em(),
      `insert into uploads (id, owner_id, filename, content_type, size, chunk_size, chunk_count, state, bytes_received, bytes_stored,
         chunks_stored, declared_sha256, sha256, metadata, protocol, seq, created_at, updated_at, expires_at, completed_at)
       select ?, ?, ?, ?, ?::bigint, ?::int, ?::int, ?, ?::bigint, ?::bigint, ?::int, ?, ?, ?::jsonb, ?, ?::bigint, ?::timestamptz, ?::timestamptz, ?::timestamptz, ?::timestamptz
       where ?::int is null
          or (select count(*) from uploads where owner_id = ? and state in ('pending', 'receiving', 'finalizing')) < ?::int`,
      [
        upload.id,
        upload.ownerId,
        upload.filename,
        upload.contentType,
        upload.size,
        upload.chunkSize,
        upload.chunkCount,
        upload.state,
        upload.bytesReceived,
        upload.bytesStored,
        upload.chunksStored,
        upload.declaredSha256,
        upload.sha256,
        JSON.stringify(upload.metadata),
        upload.protocol,
        upload.seq,
        upload.createdAt,
        upload.updatedAt,
        upload.expiresAt,
        upload.completedAt,
        limits.maxUnfinishedPerOwner ?? null,
        upload.ownerId,
        limits.maxUnfinishedPerOwner ?? null,
      ],
    );
    return inserted === 1 ? 'created' : 'owner-limit';
  }

  /** The upload, or null (also for an id that is not a UUID). */
  async findById(id: string): Promise<UploadProps | null> {
    if (!isUuid(id)) return null;
    return oneUpload(this.em(), `select ${UPLOAD_COLUMNS} from uploads u where u.id = ?`, [id]);
  }

  /** One chunk's state and current token, or null. */
  async findChunk(uploadId: string, index: number): Promise<{ state: ChunkState; token: string | null } | null> {
    if (!isUuid(uploadId)) return null;
    const [row] = await rows<{ state: ChunkState; token: string | null }>(this.em(), 'select state, token from chunks where upload_id = ? and "index" = ?', [uploadId, index]);
    return row ? { state: row.state, token: row.token } : null;
  }

  /** The upload and its missing indices (computed in SQL), or null. */
  async findSnapshot(id: string): Promise<UploadSnapshot | null> {
    if (!isUuid(id)) return null;
    const [row] = await rows<SnapshotRow>(this.em(), `select ${UPLOAD_COLUMNS}, ${MISSING_SQL} as missing from uploads u where u.id = ?`, [id]);
    return row ? { upload: toUploadProps(row), missing: row.missing } : null;
  }

  /**
   * One page of the owner's uploads, newest first, aborted ones left out. Keyset paging on
   * (created_at, id) keeps pages stable while uploads are added. A cursor this server did
   * not issue is a ValidationError.
   */
  async list(query: ListQuery): Promise<ListPage> {
    const after = query.cursor === undefined ? null : decodeListCursor(query.cursor);
    const conditions = ['u.owner_id = ?', "u.state <> 'aborted'"];
    const params: unknown[] = [query.ownerId];
    if (query.state !== undefined) {
      conditions.push('u.state = ?');
      params.push(query.state);
    }
    if (after) {
      conditions.push('(u.created_at, u.id) < (?::timestamptz, ?::uuid)');
      params.push(after.createdAt, after.id);
    }
    params.push(query.limit + 1);
    const found = await rows<SnapshotRow>(
      this.em(),
      `select ${UPLOAD_COLUMNS}, ${MISSING_SQL} as missing from uploads u
       where ${conditions.join(' and ')}
       order by u.created_at desc, u.id desc
       limit ?`,
      params,
    );
    const items = found.slice(0, query.limit).map((row) => ({ upload: toUploadProps(row), missing: row.missing }));
    const last = items[items.length - 1];
    return { items, nextCursor: found.length > query.limit && last ? encodeListCursor(last.upload) : null };
  }

  /**
   * Claims an index with one upsert: of simultaneous claims exactly one inserts or takes
   * over the row; the others find the conflict's WHERE false and get `taken`. The upload
   * row is only share-locked, never written: a refused request leaves it as it was.
   */
  async claimChunk(claim: ChunkClaim): Promise<ClaimOutcome> {
    if (!isUuid(claim.uploadId)) return 'not-receiving';
    // KEY SHARE waits for a concurrent close (FOR UPDATE) and then re-reads its state,
    // but does not wait for workers recording other chunks (FOR NO KEY UPDATE).
    const [outcome] = await rows<{ open: number; claimed: number }>(
      this.em(),
      `with target as (
         select id from uploads where id = ? and state in ('pending', 'receiving') for key share
       ), claimed as (
         insert into chunks (upload_id, "index", size, sha256, state, token, claimed_at, stored_at)
         select id, ?::int, null, null, 'receiving', ?::text, ?::timestamptz, null from target
         on conflict (upload_id, "index") do update
           set state = 'receiving', token = excluded.token, claimed_at = excluded.claimed_at, size = null, sha256 = null, stored_at = null
           where chunks.state = 'rejected' or (chunks.state = 'receiving' and chunks.claimed_at < ?::timestamptz)
         returning 1
       )
       select (select count(*) from target)::int as open, (select count(*) from claimed)::int as claimed`,
      [claim.uploadId, claim.index, claim.token, claim.now, new Date(claim.now.getTime() - claim.leaseMs)],
    );
    if (!outcome || outcome.open === 0) return 'not-receiving';
    return outcome.claimed === 1 ? 'claimed' : 'taken';
  }

  /** `receiving` → `received` for the holder of the claim, counting its bytes; false if the claim is gone. */
  async markChunkReceived(input: { uploadId: string; index: number; token: string; size: number; now: Date }): Promise<boolean> {
    if (!isUuid(input.uploadId)) return false;
    return this.em().transactional(async (tx) => {
      // The upload row is locked in a statement of its own, before the chunk row: folding
      // this lock into the update below lets concurrent workers and gateways deadlock.
      const locked = await rows(tx, 'select 1 from uploads where id = ? for no key update', [input.uploadId]);
      if (locked.length === 0) return false;
      const counted = await affected(
        tx,
        `with marked as (
           update chunks set state = 'received', size = ?
           where upload_id = ? and "index" = ? and state = 'receiving' and token = ?
           returning size
         )
         update uploads set bytes_received = bytes_received + (select size from marked), updated_at = ?,
           state = case when state = 'pending' then 'receiving' else state end
         where id = ? and exists (select 1 from marked)`,
        [input.size, input.uploadId, input.index, input.token, input.now, input.uploadId],
      );
      return counted === 1;
    });
  }

  /** Deletes the claim's row if this token still holds it. */
  async releaseChunkClaim(input: { uploadId: string; index: number; token: string }): Promise<void> {
    if (!isUuid(input.uploadId)) return;
    await affected(this.em(), `delete from chunks where upload_id = ? and "index" = ? and state = 'receiving' and token = ?`, [
      input.uploadId,
      input.index,
      input.token,
    ]);
  }

  /**
   * Stores a chunk in one transaction: the upload row is locked, the blob's reference is
   * counted (which locks the blob row), `ensureBlob` runs while that lock keeps a
   * concurrent `close` from deleting the blob, then the chunk and the counters are written.
   * If `ensureBlob` throws, nothing is written and the error propagates.
   */
  async recordChunkStored(input: ChunkStoredInput, ensureBlob: () => Promise<void>): Promise<ChunkStoredOutcome> {
    return this.em().transactional(async (tx) => {
      // NO KEY UPDATE serializes this upload's counter updates without blocking claims of other indices.
      const upload = await oneUpload(tx, `select ${UPLOAD_COLUMNS} from uploads u where u.id = ? for no key update`, [input.uploadId]);
      if (!upload) return { status: 'upload-closed', upload: null };
      if (upload.state !== 'pending' && upload.state !== 'receiving') return { status: 'upload-closed', upload };
      const [chunk] = await rows<{ state: ChunkState }>(tx, 'select state from chunks where upload_id = ? and "index" = ? for update', [input.uploadId, input.index]);
      if (chunk?.state === 'stored') return { status: 'duplicate', upload };

      await affected(
        tx,
        `insert into blobs (sha256, size, ref_count, created_at) values (?, ?, 1, ?)
         on conflict (sha256) do update set ref_count = blobs.ref_count + 1`,
        [input.sha256, input.size, input.now],
      );
      await ensureBlob();
      // A received chunk's bytes were counted by markChunkReceived; any other was not.
      const newlyReceived = chunk?.state === 'received' ? 0 : input.size;
      const after = await oneUpload(
        tx,
        `with stored as (
           insert into chunks (upload_id, "index", size, sha256, state, token, claimed_at, stored_at)
           values (?, ?, ?, ?, 'stored', null, null, ?)
           on conflict (upload_id, "index") do update
             set size = excluded.size, sha256 = excluded.sha256, state = 'stored', stored_at = excluded.stored_at
         )
         update uploads set
           bytes_stored = bytes_stored + ?,
           chunks_stored = chunks_stored + 1,
           bytes_received = bytes_received + ?,
           state = case when chunk_count is not null and chunks_stored + 1 = chunk_count then 'finalizing' else 'receiving' end,
           seq = seq + 2,
           updated_at = ?
         where id = ? ${RETURNING_UPLOAD}`,
        [input.uploadId, input.index, input.size, input.sha256, input.now, input.size, newlyReceived, input.now, input.uploadId],
      );
      return { status: 'stored', upload: after };
    });
  }

  /** Rejects the attempt holding `token` if it is still receiving or received; `seq` += 1 then. */
  async recordChunkRejected(input: ChunkRejectedInput): Promise<{ rejected: boolean; upload: UploadProps | null }> {
    if (!isUuid(input.uploadId)) return { rejected: false, upload: null };
    return this.em().transactional(async (tx) => {
      const upload = await oneUpload(tx, `select ${UPLOAD_COLUMNS} from uploads u where u.id = ? for no key update`, [input.uploadId]);
      if (!upload) return { rejected: false, upload: null };
      const [chunk] = await rows<{ state: ChunkState; size: string | number | null }>(
        tx,
        `select state, size from chunks
         where upload_id = ? and "index" = ? and token = ? and state in ('receiving', 'received') for update`,
        [input.uploadId, input.index, input.token],
      );
      if (!chunk) return { rejected: false, upload };
      await affected(tx, `update chunks set state = 'rejected' where upload_id = ? and "index" = ?`, [input.uploadId, input.index]);
      const counted = chunk.state === 'received' && chunk.size !== null ? toNumber(chunk.size) : 0;
      const after = await oneUpload(
        tx,
        `update uploads set bytes_received = bytes_received - ?, seq = seq + 1, updated_at = ? where id = ? ${RETURNING_UPLOAD}`,
        [counted, input.now, input.uploadId],
      );
      return { rejected: true, upload: after };
    });
  }

  /**
   * Fixes the length of a deferred upload, finalizing it when every chunk is stored.
   * The same length again changes nothing; another length is a ValidationError.
   */
  async setLength(input: { uploadId: string; size: number; now: Date }): Promise<UploadProps> {
    if (!isUuid(input.uploadId)) throw new NotFoundError();
    return this.em().transactional(async (tx) => {
      const upload = await oneUpload(tx, `select ${UPLOAD_COLUMNS} from uploads u where u.id = ? for no key update`, [input.uploadId]);
      if (!upload) throw new NotFoundError();
      if (upload.size !== null) {
        if (upload.size === input.size) return upload;
        throw new ValidationError(`The upload's length is already ${upload.size} bytes; it cannot become ${input.size}.`, [
          { path: 'size', message: `already ${upload.size}` },
        ]);
      }
      const chunkCount = chunkCountFor(input.size, upload.chunkSize);
      const [stored] = await rows<{ n: number }>(tx, `select count(*)::int as n from chunks where upload_id = ? and state = 'stored' and "index" < ?`, [
        input.uploadId,
        chunkCount,
      ]);
      const complete = (stored?.n ?? 0) === chunkCount;
      const after = await oneUpload(
        tx,
        `update uploads set size = ?, chunk_count = ?, updated_at = ?,
           state = case when ? and state in ('pending', 'receiving') then 'finalizing' else state end
         where id = ? ${RETURNING_UPLOAD}`,
        [input.size, chunkCount, input.now, complete, input.uploadId],
      );
      return after!;
    });
  }

  /** Stored chunks in index order. */
  async listStoredChunks(uploadId: string): Promise<StoredChunk[]> {
    if (!isUuid(uploadId)) return [];
    const found = await rows<{ index: number; size: string | number; sha256: string }>(
      this.em(),
      `select "index", size, sha256 from chunks where upload_id = ? and state = 'stored' order by "index"`,
      [uploadId],
    );
    return found.map((row) => ({ index: row.index, size: toNumber(row.size), sha256: row.sha256 }));
  }

  /** `finalizing` → `completed` with the computed digest; `changed` false otherwise. */
  async complete(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }> {
    return this.finish(input, 'completed');
  }

  /** `finalizing` → `failed` with the computed digest; `changed` false otherwise. */
  async fail(input: FinishInput): Promise<{ changed: boolean; upload: UploadProps | null }> {
    return this.finish(input, 'failed');
  }

  /**
   * Aborts or expires an upload in one transaction: its blob references are dropped (blob
   * rows locked in sha256 order), `deleteBlob` runs for each blob left unreferenced while
   * its row is still locked, then those rows, the chunk rows and the state are written.
   * Null if the upload is unknown or may not move to that state.
   */
  async close(input: { uploadId: string; state: 'aborted' | 'expired'; now: Date }, deleteBlob: (sha256: string) => Promise<void>): Promise<UploadProps | null> {
    if (!isUuid(input.uploadId)) return null;
    const from = UPLOAD_STATES.filter((state) => canTransition(state, input.state));
    return this.em().transactional(async (tx) => {
      // FOR UPDATE (not NO KEY UPDATE) also holds off claims, whose KEY SHARE lock waits for it.
      const upload = await oneUpload(tx, `select ${UPLOAD_COLUMNS} from uploads u where u.id = ? for update`, [input.uploadId]);
      if (!upload || !from.includes(upload.state)) return null;

      const references = `select sha256, count(*) as n from chunks where upload_id = ? and state = 'stored' group by sha256`;
      await rows(tx, `select b.sha256 from blobs b where b.sha256 in (select sha256 from (${references}) r) order by b.sha256 for update`, [input.uploadId]);
      const released = await rows<{ sha256: string; ref_count: number }>(
        tx,
        `update blobs b set ref_count = b.ref_count - r.n from (${references}) r where b.sha256 = r.sha256 returning b.sha256, b.ref_count`,
        [input.uploadId],
      );
      const unreferenced = released.filter((blob) => blob.ref_count === 0).map((blob) => blob.sha256).sort();
      if (unreferenced.length > 0) {
        await affected(tx, `delete from blobs where ref_count = 0 and sha256 in (select sha256 from (${references}) r)`, [input.uploadId]);
      }
      await affected(tx, 'delete from chunks where upload_id = ?', [input.uploadId]);
      const closed = await oneUpload(tx, `update uploads set state = ?, seq = seq + 1, updated_at = ? where id = ? ${RETURNING_UPLOAD}`, [input.state, input.now, input.uploadId]);
      // Files go last, after every statement that could fail, while the deleted rows stay
      // locked until commit: a store of the same bytes waits, then re-creates row and file.
      for (const sha256 of unreferenced) await deleteBlob(sha256);
      return closed;
    });
  }

  /** Unfinished uploads past their `expiresAt`, oldest first (served by the (state, expires_at) index). */
  async listExpired(input: { now: Date; limit: number }): Promise<string[]> {
    const found = await rows<{ id: string }>(
      this.em(),
      `select id from uploads where state in ('pending', 'receiving') and expires_at <= ? order by expires_at, id limit ?`,
      [input.now, input.limit],
    );
    return found.map((row) => row.id);
  }

  /**
   * Takes the blob's key with a placeholder row (ref_count 0): the insert succeeds only if no
   * row exists, committed or not, and a store of the same content that comes meanwhile waits
   * on it. The file is deleted while the key is held, then the placeholder goes too.
   */
  async deleteUnrecordedBlob(sha256: string, deleteFile: () => Promise<void>): Promise<boolean> {
    return this.em().transactional(async (tx) => {
      const taken = await affected(tx, `insert into blobs (sha256, size, ref_count, created_at) values (?, 0, 0, now()) on conflict (sha256) do nothing`, [sha256]);
      if (taken === 0) return false;
      await deleteFile();
      await affected(tx, 'delete from blobs where sha256 = ? and ref_count = 0', [sha256]);
      return true;
    });
  }

  /** Deletes a pending upload without chunk rows; its tus record goes with it (cascade). */
  async discard(uploadId: string): Promise<boolean> {
    if (!isUuid(uploadId)) return false;
    const deleted = await affected(
      this.em(),
      `delete from uploads u where u.id = ? and u.state = 'pending' and not exists (select 1 from chunks c where c.upload_id = u.id)`,
      [uploadId],
    );
    return deleted === 1;
  }

  /** Throws when PostgreSQL cannot be reached. */
  async ping(): Promise<void> {
    await this.em().execute('select 1');
  }

  private async finish(input: FinishInput, state: 'completed' | 'failed'): Promise<{ changed: boolean; upload: UploadProps | null }> {
    if (!isUuid(input.uploadId)) return { changed: false, upload: null };
    const em = this.em();
    const changed = await oneUpload(
      em,
      `update uploads set state = ?, sha256 = ?, completed_at = ?, seq = seq + 1, updated_at = ?
       where id = ? and state = 'finalizing' ${RETURNING_UPLOAD}`,
      [state, input.sha256, state === 'completed' ? input.now : null, input.now, input.uploadId],
    );
    if (changed) return { changed: true, upload: changed };
    return { changed: false, upload: await oneUpload(em, `select ${UPLOAD_COLUMNS} from uploads u where u.id = ?`, [input.uploadId]) };
  }

  private em(): EntityManager {
    return this.orm.em.fork();
  }
}
