import { MikroORM } from '@mikro-orm/core';
import type { Migrator } from '@mikro-orm/migrations';
import type { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { describeDatabaseUrl, managementUrl } from './database-url';
import { ormOptions } from './orm';

/** Any constant: the advisory lock that keeps two migrating processes from racing. */
const MIGRATION_LOCK = 727_001;

/**
 * Creates the database of `databaseUrl` if it does not exist, then applies every pending
 * migration in one transaction. Safe to run from several processes at once (each
 * replica's start-up, say): they take turns, and the later ones find nothing to do.
 * `log` receives one line per step.
 */
export async function migrateDatabase(databaseUrl: string, log: (msg: string) => void = () => {}): Promise<void> {
  const target = describeDatabaseUrl(databaseUrl);
  const orm = await MikroORM.init<PostgreSqlDriver>({ ...ormOptions({ databaseUrl, poolMax: 2 }), connect: false });
  try {
    log(`Checking database "${target.database}" on ${target.host}:${target.port}`);
    const created = await orm.schema.ensureDatabase();
    log(created ? `Created database "${target.database}"` : `Database "${target.database}" exists`);

    const migrator = orm.getMigrator<Migrator>();
    migrator.on('migrating', ({ name }) => log(`Applying ${name}`));
    migrator.on('migrated', ({ name }) => log(`Applied ${name}`));
    const applied = await orm.em.getConnection().transactional(async (trx) => {
      await orm.em.getConnection().execute('select pg_advisory_xact_lock(?)', [MIGRATION_LOCK], 'all', trx);
      return migrator.up({ transaction: trx });
    });
    log(applied.length === 0 ? 'Schema is up to date: no pending migrations' : `Schema is up to date: ${applied.length} migration(s) applied`);
  } finally {
    await orm.close(true);
  }
}

/**
 * Drops the database of `databaseUrl`, closing its other sessions first. For tests and
 * throw-away environments; nothing in the services calls it.
 */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const { database } = describeDatabaseUrl(databaseUrl);
  const orm = await MikroORM.init<PostgreSqlDriver>({ ...ormOptions({ databaseUrl: managementUrl(databaseUrl), poolMax: 1 }), connect: false });
  try {
    await orm.em.getConnection().execute(`drop database if exists "${database.replaceAll('"', '""')}" with (force)`);
  } finally {
    await orm.close(true);
  }
}
