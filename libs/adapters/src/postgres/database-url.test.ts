import { describeDatabaseUrl, explainDatabaseError, managementUrl } from './database-url';

describe('describeDatabaseUrl', () => {
  it('names host, port and database, and never shows the password', () => {
    expect(describeDatabaseUrl('postgres://app:s3cret@db.internal:6543/tessera')).toEqual({
      host: 'db.internal',
      port: '6543',
      database: 'tessera',
      redacted: 'postgres://app:***@db.internal:6543/tessera',
    });
    expect(describeDatabaseUrl('postgresql://127.0.0.1/x')).toMatchObject({ port: '5432', database: 'x' });
  });

  it.each([
    ['not a URL', 'not a url', /not a URL/],
    ['another scheme', 'mysql://h/db', /must start with postgres/],
    ['no database', 'postgres://h:5432', /names no database/],
  ])('refuses %s', (_case, url, message) => {
    expect(() => describeDatabaseUrl(url)).toThrow(message);
  });

  it('points the management URL at the postgres database of the same server', () => {
    expect(managementUrl('postgres://u:p@h:1/app?sslmode=require')).toBe('postgres://u:p@h:1/postgres?sslmode=require');
  });
});

describe('explainDatabaseError', () => {
  const url = 'postgres://app:s3cret@db.internal:6543/tessera';
  const failure = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

  it.each([
    ['ECONNREFUSED', /Cannot connect to PostgreSQL at db\.internal:6543.*Start PostgreSQL/],
    ['ENOTFOUND', /Cannot resolve the host "db\.internal"/],
    ['28P01', /refused the credentials/],
    ['3D000', /database "tessera" does not exist.*migrate-cli/],
  ])('explains %s with what to do', (code, message) => {
    const text = explainDatabaseError(failure(code), url);
    expect(text).toMatch(message);
    expect(text).not.toContain('s3cret');
  });

  it('falls back to the driver message', () => {
    expect(explainDatabaseError(new Error('disk full'), url)).toBe('PostgreSQL at db.internal:6543 failed: disk full');
  });
});
