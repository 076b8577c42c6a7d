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

  it('refuses to start without a secret', () => {
    expect(problemsOf({})).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: required/)]);
  });
});
