import { ConfigError } from '@tessera/domain';
import { loadConfig } from './config';

const SECRET = 'a-secret-that-is-at-least-32-characters-long';

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
    const config = loadConfig({ AUTH_JWT_SECRET: SECRET });

    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 3001,
      corsOrigin: '*',
      maxSubscriptionsPerSocket: 1000,
      auth: { secret: SECRET, clockToleranceSeconds: 30 },
      redisUrl: 'redis://127.0.0.1:6379',
      redisPrefix: 'tessera',
      shutdownTimeoutMs: 10_000,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every variable it owns', () => {
    const config = loadConfig({
      AUTH_JWT_SECRET: SECRET,
      HOST: '127.0.0.1',
      PORT: '4001',
      CORS_ORIGIN: 'https://app.example.com, http://localhost:5173',
      MAX_SUBSCRIPTIONS_PER_SOCKET: '5',
      DATABASE_URL: 'postgres://db/tessera',
      REDIS_PREFIX: 'staging',
    });

    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 4001,
      corsOrigin: ['https://app.example.com', 'http://localhost:5173'],
      maxSubscriptionsPerSocket: 5,
      databaseUrl: 'postgres://db/tessera',
      redisPrefix: 'staging',
    });
  });

  it('requires the JWT secret and says the gateway shares it', () => {
    const problems = problemsOf({});

    expect(problems).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: required: .*shared by the gateway and the notifier/)]);
  });

  it('treats an empty variable as unset', () => {
    expect(problemsOf({ AUTH_JWT_SECRET: '' })).toEqual([expect.stringMatching(/^AUTH_JWT_SECRET: required/)]);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET, PORT: '' }).port).toBe(3001);
  });

  it('lists every bad variable in one error', () => {
    const problems = problemsOf({
      AUTH_JWT_SECRET: 'short',
      PORT: 'eighty',
      CORS_ORIGIN: 'app.example.com',
      MAX_SUBSCRIPTIONS_PER_SOCKET: '0',
      REDIS_URL: 'http://redis',
    });

    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['AUTH_JWT_SECRET', 'CORS_ORIGIN', 'MAX_SUBSCRIPTIONS_PER_SOCKET', 'PORT', 'REDIS_URL'].sort(),
    );
    expect(() => loadConfig({ PORT: '-1' })).toThrow(/notifier cannot start[\s\S]*AUTH_JWT_SECRET[\s\S]*PORT/);
  });
});
