import { MikroORM, type Options } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { ENTITIES } from './entities';
import { MIGRATIONS } from './migrations';

/** The ORM of the Tessera schema on PostgreSQL. */
export type TesseraOrm = MikroORM<PostgreSqlDriver>;

export interface OrmOptions {
  /** `postgres://user:password@host:port/database` */
  databaseUrl: string;
  /** Logs every query through MikroORM's logger. */
  debug?: boolean;
  /** Most connections this process opens (default 10). */
  poolMax?: number;
}

/** The configuration `initOrm` and `migrateDatabase` share. */
export function ormOptions(options: OrmOptions): Options<PostgreSqlDriver> {
  return {
    driver: PostgreSqlDriver,
    clientUrl: options.databaseUrl,
    entities: ENTITIES,
    // Every unit of work is a fork: a request never shares an identity map with another.
    allowGlobalContext: false,
    debug: options.debug ?? false,
    pool: { min: 0, max: options.poolMax ?? 10 },
    // While PostgreSQL is down or unreachable, a request must fail in seconds (and answer
    // 503), not wait the drivers' default minute for a connection; a statement stuck on a
    // lock for half a minute is a fault to report, not to wait out.
    driverOptions: {
      acquireConnectionTimeout: 5_000,
      connection: { connectionTimeoutMillis: 5_000, statement_timeout: 30_000 },
    },
    // Services never create databases behind an operator's back; migrateDatabase does.
    ensureDatabase: false,
    forceUtcTimezone: true,
    extensions: [Migrator],
    migrations: {
      migrationsList: MIGRATIONS,
      tableName: 'mikro_orm_migrations',
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
    },
    schemaGenerator: { managementDbName: 'postgres' },
  };
}

/**
 * Connects to PostgreSQL with the Tessera entities. The database must exist and be
 * migrated (`migrateDatabase`). Close it with `orm.close()` on shutdown.
 */
export async function initOrm(options: OrmOptions): Promise<TesseraOrm> {
  return MikroORM.init<PostgreSqlDriver>(ormOptions(options));
}
