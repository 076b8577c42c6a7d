import type { UploadProps, UploadProtocol, UploadState } from '@tessera/domain';

/** An `uploads` row as pg returns it: bigint as text, timestamps as text (MikroORM's parsers). */
export interface UploadRow {
  id: string;
  owner_id: string;
  filename: string;
  content_type: string;
  size: string | number | null;
  chunk_size: number;
  chunk_count: number | null;
  state: string;
  bytes_received: string | number;
  bytes_stored: string | number;
  chunks_stored: number;
  declared_sha256: string | null;
  sha256: string | null;
  metadata: Record<string, string>;
  protocol: string;
  seq: string | number;
  created_at: string | Date;
  updated_at: string | Date;
  expires_at: string | Date;
  completed_at: string | Date | null;
}

/** Every column of `uploads`, in the order of `UploadRow`. */
const UPLOAD_COLUMN_NAMES = [
  'id',
  'owner_id',
  'filename',
  'content_type',
  'size',
  'chunk_size',
  'chunk_count',
  'state',
  'bytes_received',
  'bytes_stored',
  'chunks_stored',
  'declared_sha256',
  'sha256',
  'metadata',
  'protocol',
  'seq',
  'created_at',
  'updated_at',
  'expires_at',
  'completed_at',
];

/** The select list of an upload under the alias `u`. */
export const UPLOAD_COLUMNS = UPLOAD_COLUMN_NAMES.map((column) => `u.${column}`).join(', ');

/** The RETURNING clause of a statement that changes one upload. */
export const RETURNING_UPLOAD = `returning ${UPLOAD_COLUMN_NAMES.join(', ')}`;

/**
 * The missing indices of the upload aliased `u`, ascending, computed in the database so an
 * upload of 10,000+ chunks never travels to the application row by row. With a known
 * count: every index without a row or whose row is receiving or rejected; with a deferred
 * length: the receiving or rejected rows.
 */
export const MISSING_SQL = `case when u.chunk_count is null then
    array(select c."index" from chunks c
          where c.upload_id = u.id and c.state in ('receiving', 'rejected') order by c."index")
  else
    array(select g.i from generate_series(0, u.chunk_count - 1) as g(i)
          left join chunks c on c.upload_id = u.id and c."index" = g.i
          where c."index" is null or c.state in ('receiving', 'rejected') order by g.i)
  end`;

/** A bigint column as a number: byte counts stay far below 2^53. */
export function toNumber(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

const PG_TIMESTAMP = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}(?::?\d{2}){0,2})?$/;

/**
 * A timestamptz as pg's text output (`2026-03-01 12:00:00.123+00`, MikroORM keeps dates as
 * text) or as a Date. Fractions beyond milliseconds are dropped: the domain writes ms.
 */
export function toDate(value: string | Date): Date {
  if (value instanceof Date) return value;
  const match = PG_TIMESTAMP.exec(value);
  if (!match) throw new Error(`unexpected timestamp from PostgreSQL: ${value}`);
  const [, day, time, fraction = '0', zone = 'Z'] = match;
  const ms = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone === 'Z' ? 'Z' : normalizeOffset(zone);
  const date = new Date(`${day}T${time}.${ms}${offset}`);
  if (Number.isNaN(date.getTime())) throw new Error(`unexpected timestamp from PostgreSQL: ${value}`);
  return date;
}

function normalizeOffset(zone: string): string {
  const digits = zone.slice(1).replaceAll(':', '');
  // Seconds in an offset only occur for historic local mean times; JS cannot express them.
  return `${zone[0]}${digits.slice(0, 2)}:${(digits.slice(2, 4) || '00')}`;
}

export function toUploadProps(row: UploadRow): UploadProps {
  return {
    id: row.id,
    ownerId: row.owner_id,
    filename: row.filename,
    contentType: row.content_type,
    size: row.size === null ? null : toNumber(row.size),
    chunkSize: row.chunk_size,
    chunkCount: row.chunk_count,
    state: row.state as UploadState,
    bytesReceived: toNumber(row.bytes_received),
    bytesStored: toNumber(row.bytes_stored),
    chunksStored: row.chunks_stored,
    declaredSha256: row.declared_sha256,
    sha256: row.sha256,
    metadata: row.metadata,
    protocol: row.protocol as UploadProtocol,
    seq: toNumber(row.seq),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    expiresAt: toDate(row.expires_at),
    completedAt: row.completed_at === null ? null : toDate(row.completed_at),
  };
}
