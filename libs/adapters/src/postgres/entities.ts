import { BigIntType, EntitySchema, type PrimaryKeyProp } from '@mikro-orm/core';
import { UPLOAD_PROTOCOLS, UPLOAD_STATES } from '@tessera/domain';

/**
 * Table shapes as MikroORM metadata. They are declared with `EntitySchema` rather than
 * decorators so that tsx (esbuild, no decorator metadata) loads them like tsc and jest do.
 * The repository reads and writes these tables with SQL of its own, because its atomic
 * upserts and row locks do not fit the unit of work; these schemas keep MikroORM's view
 * of the tables (schema diffing, `em.find` in tooling) equal to what the migration creates.
 * States are non-native enums: text columns with a CHECK constraint, never PostgreSQL enum
 * types (which `dropSchema` drops database-wide).
 */

export const UPLOAD_COUNTERS_CHECK =
  'chunk_size > 0 and (size is null or size >= 0) and bytes_received >= 0 and bytes_stored >= 0 and chunks_stored >= 0 and seq >= 0';
export const CHUNK_STATES = ['receiving', 'received', 'stored', 'rejected'] as const;
export const CHUNK_INDEX_CHECK = '"index" >= 0';

export interface UploadRecord {
  id: string;
  ownerId: string;
  filename: string;
  contentType: string;
  size: number | null;
  chunkSize: number;
  chunkCount: number | null;
  state: string;
  bytesReceived: number;
  bytesStored: number;
  chunksStored: number;
  declaredSha256: string | null;
  sha256: string | null;
  metadata: Record<string, string>;
  protocol: string;
  seq: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
}

export interface ChunkRecord {
  [PrimaryKeyProp]?: ['upload', 'index'];
  upload: UploadRecord;
  index: number;
  size: number | null;
  sha256: string | null;
  state: string;
  token: string | null;
  claimedAt: Date | null;
  storedAt: Date | null;
}

export interface BlobRecord {
  sha256: string;
  size: number;
  refCount: number;
  createdAt: Date;
}

const bigint = () => new BigIntType('number');

export const UploadSchema = new EntitySchema<UploadRecord>({
  name: 'Upload',
  tableName: 'uploads',
  properties: {
    id: { type: 'uuid', primary: true },
    ownerId: { type: 'text' },
    filename: { type: 'text' },
    contentType: { type: 'text' },
    size: { type: bigint(), nullable: true },
    chunkSize: { type: 'integer' },
    chunkCount: { type: 'integer', nullable: true },
    state: { enum: true, items: () => [...UPLOAD_STATES] },
    bytesReceived: { type: bigint() },
    bytesStored: { type: bigint() },
    chunksStored: { type: 'integer' },
    declaredSha256: { type: 'character', length: 64, nullable: true },
    sha256: { type: 'character', length: 64, nullable: true },
    metadata: { type: 'json' },
    protocol: { enum: true, items: () => [...UPLOAD_PROTOCOLS] },
    seq: { type: bigint() },
    createdAt: { type: 'datetime', columnType: 'timestamptz' },
    updatedAt: { type: 'datetime', columnType: 'timestamptz' },
    expiresAt: { type: 'datetime', columnType: 'timestamptz' },
    completedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
  },
  indexes: [
    { name: 'uploads_owner_listing_idx', expression: 'create index "uploads_owner_listing_idx" on "uploads" ("owner_id", "created_at" desc, "id" desc)' },
    { name: 'uploads_state_expires_idx', properties: ['state', 'expiresAt'] },
    {
      name: 'uploads_owner_unfinished_idx',
      expression: `create index "uploads_owner_unfinished_idx" on "uploads" ("owner_id") where state in ('pending', 'receiving', 'finalizing')`,
    },
  ],
  checks: [
    { name: 'uploads_counters_check', expression: UPLOAD_COUNTERS_CHECK },
  ],
});

export const ChunkSchema = new EntitySchema<ChunkRecord>({
  name: 'Chunk',
  tableName: 'chunks',
  properties: {
    upload: { kind: 'm:1', entity: () => UploadSchema, primary: true, fieldName: 'upload_id', deleteRule: 'cascade', updateRule: 'cascade' },
    index: { type: 'integer', primary: true },
    size: { type: bigint(), nullable: true },
    sha256: { type: 'character', length: 64, nullable: true },
    state: { enum: true, items: () => [...CHUNK_STATES] },
    token: { type: 'text', nullable: true },
    claimedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
    storedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
  },
  checks: [
    { name: 'chunks_index_check', expression: CHUNK_INDEX_CHECK },
  ],
});

export const BlobSchema = new EntitySchema<BlobRecord>({
  name: 'Blob',
  tableName: 'blobs',
  properties: {
    sha256: { type: 'character', length: 64, primary: true },
    size: { type: bigint() },
    refCount: { type: 'integer' },
    createdAt: { type: 'datetime', columnType: 'timestamptz' },
  },
  checks: [{ name: 'blobs_ref_count_check', expression: 'ref_count >= 0' }],
});

export interface TusUploadRecord {
  upload: UploadRecord;
  concat: string;
  parts: string[];
  metadataHeader: string | null;
  partialIndex: number;
  partialBytes: number;
  lockToken: string | null;
  lockedAt: Date | null;
}

export const TusUploadSchema = new EntitySchema<TusUploadRecord>({
  name: 'TusUpload',
  tableName: 'tus_uploads',
  properties: {
    upload: { kind: '1:1', entity: () => UploadSchema, primary: true, owner: true, fieldName: 'upload_id', deleteRule: 'cascade', updateRule: 'cascade' },
    concat: { enum: true, items: () => ['none', 'partial', 'final'] },
    parts: { type: 'json' },
    metadataHeader: { type: 'text', nullable: true },
    partialIndex: { type: 'integer' },
    partialBytes: { type: bigint() },
    lockToken: { type: 'text', nullable: true },
    lockedAt: { type: 'datetime', columnType: 'timestamptz', nullable: true },
  },
  indexes: [
    { name: 'tus_uploads_parts_idx', expression: `create index "tus_uploads_parts_idx" on "tus_uploads" using gin ("parts") where concat = 'final'` },
  ],
  checks: [{ name: 'tus_uploads_partial_check', expression: 'partial_index >= 0 and partial_bytes >= 0' }],
});

/** Every entity of the Tessera schema, for `MikroORM.init({ entities })`. */
export const ENTITIES = [UploadSchema, ChunkSchema, BlobSchema, TusUploadSchema];
