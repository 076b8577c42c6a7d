/** The parts of a PostgreSQL URL that operators need in messages, without the password. */
export interface DatabaseTarget {
  host: string;
  port: string;
  database: string;
  /** The URL with its password replaced by `***`, safe to print. */
  redacted: string;
}

export function describeDatabaseUrl(databaseUrl: string): DatabaseTarget {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new Error('DATABASE_URL is not a URL; expected postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must start with postgres:// or postgresql://, not ${url.protocol}//`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new Error('DATABASE_URL names no database; expected postgres://user:password@host:5432/database');
  }
  const redactedUrl = new URL(url.href);
  if (redactedUrl.password) redactedUrl.password = '***';
  return { host: url.hostname || 'localhost', port: url.port || '5432', database, redacted: redactedUrl.href };
}

/** The same server's maintenance database, from which other databases are created and dropped. */
export function managementUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  return url.href;
}

/**
 * One sentence on why PostgreSQL could not be used and what to do about it, for errors
 * raised while connecting or migrating.
 */
export function explainDatabaseError(error: unknown, databaseUrl: string): string {
  const target = describeDatabaseUrl(databaseUrl);
  const where = `PostgreSQL at ${target.host}:${target.port}`;
  const code = (error as { code?: string } | null)?.code;
  const detail = error instanceof Error ? error.message : String(error);
  switch (code) {
    case 'ECONNREFUSED':
      return `Cannot connect to ${where}: nothing accepts connections there. Start PostgreSQL, or point DATABASE_URL at a running server.`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Cannot resolve the host "${target.host}" of DATABASE_URL. Check the host name, or the DNS of this machine.`;
    case 'ETIMEDOUT':
      return `Connecting to ${where} timed out. Check that the host is reachable from here (firewall, network policy).`;
    case '28P01':
    case '28000':
      return `${where} refused the credentials of DATABASE_URL (${detail}). Fix the user name and password in DATABASE_URL.`;
    case '3D000':
      return `The database "${target.database}" does not exist on ${where}. Run the migration (node libs/adapters/dist/postgres/migrate-cli.js) to create it.`;
    case '42501':
      return `The user of DATABASE_URL lacks a privilege on ${where} (${detail}). Grant it, or migrate as a user who owns the database.`;
    default:
      return `${where} failed: ${detail}`;
  }
}
