import { Migration } from '@mikro-orm/migrations';

/**
 * Counts an owner's unfinished uploads from an index that holds only those, so the
 * per-owner limit checked on every create costs the same for an owner with millions of
 * finished uploads as for a new one.
 */
export class Migration20261129000000OwnerUnfinishedIndex extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "uploads_owner_unfinished_idx" on "uploads" ("owner_id") where state in ('pending', 'receiving', 'finalizing');`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "uploads_owner_unfinished_idx";');
  }
}
