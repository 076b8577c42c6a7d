import type { MigrationObject } from '@mikro-orm/core';
import { Migration20260301000000InitialSchema } from './Migration20260301000000InitialSchema';
import { Migration20261129000000OwnerUnfinishedIndex } from './Migration20261129000000OwnerUnfinishedIndex';
import { Migration20261129100000TusUploads } from './Migration20261129100000TusUploads';

/**
 * Every migration, oldest first. Listed by hand (not found by a glob) so the same code
 * migrates from `src` under jest or tsx and from `dist` under node. Names are written out
 * because they are stored in the migrations table and must never change.
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20260301000000InitialSchema', class: Migration20260301000000InitialSchema },
  { name: 'Migration20261129000000OwnerUnfinishedIndex', class: Migration20261129000000OwnerUnfinishedIndex },
  { name: 'Migration20261129100000TusUploads', class: Migration20261129100000TusUploads },
];
