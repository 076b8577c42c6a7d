import { ConfigError } from '@tessera/domain';
import { loadConfig } from './config';

const SECRET = 'x'.repeat(32);

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe(loadConfig.name, () => {
  it('fills defaults for everything but the secret', () => {
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET })).toMatchObject({
      port: 3000,
      maxUploadBytes: 100 * 1024 ** 3,
      defaultChunkSize: 8 * 1024 ** 2,
      uploadTtlMs: 86_400_000,
      chunkJobAttempts: 5,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tessera',
    });
  });

  it('lists every bad variable in one message', () => {
    const problems = problemsOf({ PORT: 'abc', DEFAULT_CHUNK_SIZE: '10', DATABASE_URL: 'mysql://x', AUTH_JWT_SECRET: 'short' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['AUTH_JWT_SECRET', 'DATABASE_URL', 'DEFAULT_CHUNK_SIZE', 'PORT']);
  });

  it('reads the abuse limits and the CORS allow-list', () => {
    expect(
      loadConfig({
        AUTH_JWT_SECRET: SECRET,
        MAX_UNFINISHED_UPLOADS_PER_OWNER: '3',
        RATE_LIMIT_PER_SECOND: '2.5',
        RATE_LIMIT_BURST: '10',
        CORS_ORIGIN: 'https://app.example, http://localhost:5173',
      }),
    ).toMatchObject({
      maxUnfinishedPerOwner: 3,
      rateLimit: { perSecond: 2.5, burst: 10 },
      corsOrigins: ['https://app.example', 'http://localhost:5173'],
    });
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET }).corsOrigins).toEqual([]);
  });

  it('refuses a CORS origin that is not scheme://host[:port]', () => {
    for (const origin of ['https://app.example/path', 'app.example']) {
      const problems = problemsOf({ AUTH_JWT_SECRET: SECRET, CORS_ORIGIN: origin });
      expect(problems.length).toBeGreaterThan(0);
      expect(problems.every((p) => p.startsWith('CORS_ORIGIN'))).toBe(true);
    }
  });

  it('refuses to start without a secret', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: required/)]);
  });
});
