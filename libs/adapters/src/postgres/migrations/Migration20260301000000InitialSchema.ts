import { Migration } from '@mikro-orm/migrations';

/**
 * The first schema: uploads, their chunks, and the content-addressed blobs they reference.
 * States are text with CHECK constraints, not native enums, so adding a state is one
 * constraint swap and `dropSchema` in tests never drops shared types.
 */
export class Migration20260301000000InitialSchema extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "uploads" (
        "id" uuid not null,
        "owner_id" text not null,
        "filename" text not null,
        "content_type" text not null,
        "size" bigint null,
        "chunk_size" int not null,
        "chunk_count" int null,
        "state" text not null,
        "bytes_received" bigint not null,
        "bytes_stored" bigint not null,
        "chunks_stored" int not null,
        "declared_sha256" char(64) null,
        "sha256" char(64) null,
        "metadata" jsonb not null,
        "protocol" text not null,
        "seq" bigint not null,
        "created_at" timestamptz not null,
        "updated_at" timestamptz not null,
        "expires_at" timestamptz not null,
        "completed_at" timestamptz null,
        constraint "uploads_pkey" primary key ("id"),
        constraint uploads_state_check check (state in ('pending', 'receiving', 'finalizing', 'completed', 'failed', 'aborted', 'expired')),
        constraint uploads_protocol_check check (protocol in ('native', 'form', 'tus')),
        constraint uploads_counters_check check (chunk_size > 0 and (size is null or size >= 0) and bytes_received >= 0 and bytes_stored >= 0 and chunks_stored >= 0 and seq >= 0)
      );`);
    // The owner's listing pages newest first by (created_at, id); the sweep scans by state and expiry.
    this.addSql('create index "uploads_owner_listing_idx" on "uploads" ("owner_id", "created_at" desc, "id" desc);');
    this.addSql('create index "uploads_state_expires_idx" on "uploads" ("state", "expires_at");');

    this.addSql(`
      create table "chunks" (
        "upload_id" uuid not null,
        "index" int not null,
        "size" bigint null,
        "sha256" char(64) null,
        "state" text not null,
        "token" text null,
        "claimed_at" timestamptz null,
        "stored_at" timestamptz null,
        constraint "chunks_pkey" primary key ("upload_id", "index"),
        constraint chunks_state_check check (state in ('receiving', 'received', 'stored', 'rejected')),
        constraint chunks_index_check check ("index" >= 0)
      );`);
    this.addSql(
      'alter table "chunks" add constraint "chunks_upload_id_foreign" foreign key ("upload_id") references "uploads" ("id") on update cascade on delete cascade;',
    );

    this.addSql(`
      create table "blobs" (
        "sha256" char(64) not null,
        "size" bigint not null,
        "ref_count" int not null,
        "created_at" timestamptz not null,
        constraint "blobs_pkey" primary key ("sha256"),
        constraint blobs_ref_count_check check (ref_count >= 0)
      );`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "chunks" cascade;');
    this.addSql('drop table if exists "blobs" cascade;');
    this.addSql('drop table if exists "uploads" cascade;');
  }
}
