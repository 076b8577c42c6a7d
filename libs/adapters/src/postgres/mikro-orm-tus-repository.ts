import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid, type TusConcat, type TusProgress, type TusRecord, type TusRepository, type UploadProps } from '@tessera/domain';
import type { TesseraOrm } from './orm';
import { affected, oneUpload, rows } from './sql';
import { RETURNING_UPLOAD, toNumber } from './upload-rows';

const DONE = `('received', 'stored')`;

/**
 * `TusRepository` on PostgreSQL: one `tus_uploads` row per tus upload. Locks are taken in
 * the order the upload repository uses (uploads, then chunks, then blobs by sha256).
 */
export class MikroOrmTusRepository implements TusRepository {
  constructor(private readonly orm: TesseraOrm) {}

  async create(record: TusRecord): Promise<void> {
    await affected(
      this.em(),
      `insert into tus_uploads (upload_id, concat, parts, metadata_header, partial_index, partial_bytes, lock_token, locked_at)
       values (?, ?, ?::jsonb, ?, 0, 0, null, null)`,
      [record.uploadId, record.concat, JSON.stringify(record.parts), record.metadataHeader],
    );
  }

  async find(uploadId: string): Promise<TusRecord | null> {
    if (!isUuid(uploadId)) return null;
    const [row] = await rows<{ concat: TusConcat; parts: string[]; metadata_header: string | null }>(
      this.em(),
      'select concat, parts, metadata_header from tus_uploads where upload_id = ?',
      [uploadId],
    );
    return row ? { uploadId, concat: row.concat, parts: row.parts, metadataHeader: row.metadata_header } : null;
  }

  async progress(uploadId: string): Promise<TusProgress> {
    const [row] = await rows<{ next_index: number; partial_index: number | null; partial_bytes: string | number | null }>(
      this.em(),
      `select
         case when not exists (select 1 from chunks where upload_id = ? and "index" = 0 and state in ${DONE}) then 0
         else (select min(c."index") + 1 from chunks c
               where c.upload_id = ? and c.state in ${DONE}
                 and not exists (select 1 from chunks d where d.upload_id = c.upload_id and d."index" = c."index" + 1 and d.state in ${DONE}))
         end as next_index,
         t.partial_index, t.partial_bytes
       from (select 1) one left join tus_uploads t on t.upload_id = ?`,
      [uploadId, uploadId, uploadId],
    );
    const nextIndex = Number(row?.next_index ?? 0);
    // A recorded partial of an earlier index was promoted since (or its chunk was received otherwise).
    const partialBytes = row?.partial_index === nextIndex ? toNumber(row.partial_bytes ?? 0) : 0;
    return { nextIndex, partialBytes };
  }

  async lock(input: { uploadId: string; token: string; now: Date; leaseMs: number }): Promise<boolean> {
    const taken = await affected(
      this.em(),
      'update tus_uploads set lock_token = ?, locked_at = ? where upload_id = ? and (lock_token is null or locked_at < ?)',
      [input.token, input.now, input.uploadId, new Date(input.now.getTime() - input.leaseMs)],
    );
    return taken === 1;
  }

  async renew(input: { uploadId: string; token: string; now: Date }): Promise<boolean> {
    const renewed = await affected(this.em(), 'update tus_uploads set locked_at = ? where upload_id = ? and lock_token = ?', [input.now, input.uploadId, input.token]);
    return renewed === 1;
  }

  async recordPartial(input: { uploadId: string; token: string; index: number; bytes: number }): Promise<boolean> {
    const recorded = await affected(
      this.em(),
      'update tus_uploads set partial_index = ?, partial_bytes = ? where upload_id = ? and lock_token = ?',
      [input.index, input.bytes, input.uploadId, input.token],
    );
    return recorded === 1;
  }

  async unlock(input: { uploadId: string; token: string }): Promise<void> {
    await affected(this.em(), 'update tus_uploads set lock_token = null, locked_at = null where upload_id = ? and lock_token = ?', [input.uploadId, input.token]);
  }

  async finalsAwaiting(partId: string): Promise<string[]> {
    if (!isUuid(partId)) return [];
    const found = await rows<{ upload_id: string }>(
      this.em(),
      `select t.upload_id from tus_uploads t join uploads u on u.id = t.upload_id
       where t.concat = 'final' and t.parts @> ?::jsonb and u.state = 'pending'
       order by t.upload_id`,
      [JSON.stringify([partId])],
    );
    return found.map((row) => row.upload_id);
  }

  async assembleFinal(input: { uploadId: string; now: Date }): Promise<UploadProps | null> {
    if (!isUuid(input.uploadId)) return null;
    return this.em().transactional(async (tx) => {
      const [final] = await rows<{ state: string; parts: string[] }>(
        tx,
        `select u.state, t.parts from uploads u join tus_uploads t on t.upload_id = u.id
         where u.id = ? and t.concat = 'final' for no key update of u`,
        [input.uploadId],
      );
      if (!final || final.state !== 'pending') return null;
      // Share locks keep a part from being deleted (and its blobs released) while its chunks are referenced here.
      const parts = await rows<{ id: string; state: string }>(
        tx,
        'select id, state from uploads where id in (select value::uuid from jsonb_array_elements_text(?::jsonb)) order by id for share',
        [JSON.stringify(final.parts)],
      );
      if (parts.length !== new Set(final.parts).size || parts.some((part) => part.state !== 'completed')) return null;

      await affected(
        tx,
        `insert into chunks (upload_id, "index", size, sha256, state, token, claimed_at, stored_at)
         select ?, (row_number() over (order by p.position, c."index") - 1)::int, c.size, c.sha256, 'stored', null, null, ?
         from jsonb_array_elements_text(?::jsonb) with ordinality as p(id, position)
         join chunks c on c.upload_id = p.id::uuid and c.state = 'stored'`,
        [input.uploadId, input.now, JSON.stringify(final.parts)],
      );
      const references = 'select sha256, count(*)::int as n from chunks where upload_id = ? group by sha256';
      await rows(tx, `select 1 from blobs where sha256 in (select sha256 from (${references}) r) order by sha256 for no key update`, [input.uploadId]);
      await affected(tx, `update blobs b set ref_count = b.ref_count + r.n from (${references}) r where b.sha256 = r.sha256`, [input.uploadId]);
      return oneUpload(
        tx,
        `with totals as (select count(*)::int as n, coalesce(sum(size), 0)::bigint as bytes from chunks where upload_id = ?)
         update uploads set size = totals.bytes, chunk_count = totals.n, chunks_stored = totals.n, bytes_stored = totals.bytes,
           bytes_received = totals.bytes, state = 'finalizing', seq = seq + 1, updated_at = ?
         from totals where id = ? ${RETURNING_UPLOAD}`,
        [input.uploadId, input.now, input.uploadId],
      );
    });
  }

  private em(): EntityManager {
    return this.orm.em.fork();
  }
}
