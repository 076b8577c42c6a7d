import { Migration } from '@mikro-orm/migrations';

/**
 * What tus adds to an upload: its concatenation role and parts, the metadata header as
 * sent, the durable length of the chunk being filled across PATCHes, and the one-writer
 * lock. Deleting the upload row deletes it.
 */
export class Migration20261129100000TusUploads extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table "tus_uploads" (
        "upload_id" uuid not null,
        "concat" text not null,
        "parts" jsonb not null,
        "metadata_header" text null,
        "partial_index" int not null,
        "partial_bytes" bigint not null,
        "lock_token" text null,
        "locked_at" timestamptz null,
        constraint "tus_uploads_pkey" primary key ("upload_id"),
        constraint tus_uploads_concat_check check (concat in ('none', 'partial', 'final')),
        constraint tus_uploads_partial_check check (partial_index >= 0 and partial_bytes >= 0)
      );`);
    this.addSql(`alter table "tus_uploads" add constraint "tus_uploads_upload_id_foreign" foreign key ("upload_id") references "uploads" ("id") on update cascade on delete cascade;`);
    // A completed part looks up the finals waiting for it.
    this.addSql(`create index "tus_uploads_parts_idx" on "tus_uploads" using gin ("parts") where concat = 'final';`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "tus_uploads";');
  }
}
