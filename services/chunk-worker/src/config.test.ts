import { ConfigError } from '@tessera/domain';
import { loadConfig } from './config';

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

describe(loadConfig.name, () => {
  it('applies the defaults and returns a frozen camelCase config', () => {
    const config = loadConfig({});

    expect(config).toEqual({
      nodeEnv: 'development',
      logLevel: 'info',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tessera',
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'tessera',
      blobDir: './data/blobs',
      shutdownTimeoutMs: 10_000,
      blobStore: { kind: 'fs', dir: './data/blobs' },
      workerConcurrency: 8,
      finalizeConcurrency: 2,
      sweepIntervalMs: 60_000,
      sweepBlobGraceMs: 3_600_000,
      chunkJobAttempts: 5,
      chunkRetryBackoffMs: 1000,
      http: { host: '0.0.0.0', port: 3002 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the worker variables', () => {
    const config = loadConfig({ WORKER_CONCURRENCY: '16', FINALIZE_CONCURRENCY: '1', CHUNK_JOB_ATTEMPTS: '1', CHUNK_RETRY_BACKOFF_MS: '0' });

    expect(config).toMatchObject({ workerConcurrency: 16, finalizeConcurrency: 1, chunkJobAttempts: 1, chunkRetryBackoffMs: 0 });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ WORKER_CONCURRENCY: '' }).workerConcurrency).toBe(8);
  });

  it('lists every bad variable in one error', () => {
    const problems = problemsOf({
      WORKER_CONCURRENCY: '0',
      FINALIZE_CONCURRENCY: 'two',
      CHUNK_JOB_ATTEMPTS: '1.5',
      CHUNK_RETRY_BACKOFF_MS: '-1',
      REDIS_URL: 'http://redis',
    });

    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['CHUNK_JOB_ATTEMPTS', 'CHUNK_RETRY_BACKOFF_MS', 'FINALIZE_CONCURRENCY', 'REDIS_URL', 'WORKER_CONCURRENCY'].sort(),
    );
    expect(() => loadConfig({ WORKER_CONCURRENCY: 'x' })).toThrow(/^chunk-worker cannot start[\s\S]*- WORKER_CONCURRENCY: /);
  });
});
