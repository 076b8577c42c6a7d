import { describeDatabaseUrl, explainDatabaseError } from './database-url';
import { migrateDatabase } from './migrate';

/**
 * `node libs/adapters/dist/postgres/migrate-cli.js`: creates the database named by
 * DATABASE_URL if needed and applies pending migrations. Exit code 0 on success, 1 with
 * one explanatory line on failure.
 */
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tessera';

async function main(): Promise<number> {
  const databaseUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const say = (line: string) => process.stdout.write(`[migrate] ${line}\n`);
  try {
    say(`Migrating ${describeDatabaseUrl(databaseUrl).redacted}${process.env.DATABASE_URL ? '' : ' (DATABASE_URL is not set: using the default)'}`);
    await migrateDatabase(databaseUrl, say);
    say('Done');
    return 0;
  } catch (error) {
    let message: string;
    try {
      message = explainDatabaseError(error, databaseUrl);
    } catch (badUrl) {
      message = (badUrl as Error).message;
    }
    process.stderr.write(`[migrate] Migration failed. ${message}\n`);
    return 1;
  }
}

void main().then((code) => {
  process.exitCode = code;
});
