import { z } from 'zod';

/** Environment variables every service reads; each service extends this with its own. */
export const commonEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** PostgreSQL connection string. */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').default('postgres://postgres@127.0.0.1:5432/tessera'),
  /** Redis connection string (queues and events). */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').default('redis://127.0.0.1:6379'),
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  REDIS_PREFIX: z.string().regex(/^[\w:.-]{1,64}$/).default('tessera'),
  BLOB_STORE: z.enum(['fs']).default('fs'),
  /** Root folder of the filesystem blob store (staging/ and blobs/ live under it). */
  BLOB_DIR: z.string().min(1).default('./data/blobs'),
  /** How long a graceful shutdown may take before the process exits anyway, in ms. */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
});

/**
 * Retry policy of queued jobs. A job keeps the options it was queued with, so every
 * producer (the gateway queues chunk jobs, the worker finalize jobs) reads the same values.
 */
export const jobEnvSchema = z.object({
  /** Tries per job before it fails for good; the last failed try of a chunk job rejects the chunk (count; 1 = no retry). */
  CHUNK_JOB_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(5),
  /** First retry delay, doubled at each further retry, ms. */
  CHUNK_RETRY_BACKOFF_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
});

/** Bearer-token settings shared by the gateway and the notifier. */
export const authEnvSchema = z.object({
  /** HS256 secret, at least 32 characters; the same value in the gateway and the notifier. */
  AUTH_JWT_SECRET: z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? 'required: the HS256 secret (32+ characters) shared by the gateway and the notifier; `npm start` makes one for development'
          : undefined,
    })
    .min(32, 'must be at least 32 characters'),
  /** When set, a token's `iss` must equal it. */
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  /** When set, a token's `aud` must contain it. */
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
  /** Clock skew tolerated on `exp` and `nbf`, seconds; bounded so an expired token cannot live on. */
  AUTH_CLOCK_TOLERANCE_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
});

/** How bearer tokens are checked, as code reads it. */
export interface AuthConfig {
  secret: string;
  issuer?: string;
  audience?: string;
  clockToleranceSeconds: number;
}

export function toAuthConfig(e: z.infer<typeof authEnvSchema>): AuthConfig {
  return {
    secret: e.AUTH_JWT_SECRET,
    ...(e.AUTH_JWT_ISSUER !== undefined ? { issuer: e.AUTH_JWT_ISSUER } : {}),
    ...(e.AUTH_JWT_AUDIENCE !== undefined ? { audience: e.AUTH_JWT_AUDIENCE } : {}),
    clockToleranceSeconds: e.AUTH_CLOCK_TOLERANCE_SECONDS,
  };
}

/** The settings every service shares, as code reads them. */
export interface CommonConfig {
  nodeEnv: 'development' | 'test' | 'production';
  logLevel: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  blobDir: string;
  shutdownTimeoutMs: number;
}

export function toCommonConfig(e: z.infer<typeof commonEnvSchema>): CommonConfig {
  return {
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    blobDir: e.BLOB_DIR,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  };
}

/** The job retry policy, as code reads it. */
export interface JobConfig {
  chunkJobAttempts: number;
  chunkRetryBackoffMs: number;
}

export function toJobConfig(e: z.infer<typeof jobEnvSchema>): JobConfig {
  return { chunkJobAttempts: e.CHUNK_JOB_ATTEMPTS, chunkRetryBackoffMs: e.CHUNK_RETRY_BACKOFF_MS };
}

export class ConfigError extends Error {
  constructor(
    service: string,
    readonly problems: string[],
  ) {
    super(`${service} cannot start: fix these environment variables and start it again:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Runs a service's `loadConfig`; on a ConfigError prints its message for the operator and
 * exits 1 before anything starts. Any other error is a bug and is rethrown.
 */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
}

/** Validates `env` against `schema`, reporting every bad variable at once. */
export function parseEnv<S extends z.ZodType>(service: string, schema: S, env: Record<string, string | undefined>): z.infer<S> {
  // An empty variable means "not set" (compose and k8s often pass `FOO=`).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      service,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  return parsed.data;
}
