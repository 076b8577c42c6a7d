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
  /** Where chunk bytes and blobs live: `fs` (a folder, BLOB_DIR) or `s3` (a bucket, the S3_* variables). */
  BLOB_STORE: z.enum(['fs', 's3']).default('fs'),
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

/** The S3-compatible blob store (read when BLOB_STORE=s3); gateway and chunk-worker. */
export const blobStoreEnvSchema = z.object({
  /** Server URL of an S3-compatible store (MinIO, R2, s3rver); unset: AWS S3 of S3_REGION. */
  S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Bucket of staging objects and blobs; required when BLOB_STORE=s3. */
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name: 3..63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit')
    .optional(),
  S3_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region name such as us-east-1').default('us-east-1'),
  /** Static credentials; unset (both): the AWS default chain (environment, profile, web identity, instance role). */
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** `true`: the bucket goes in the URL path instead of the host name (MinIO and s3rver need it). */
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false').transform((v) => v === 'true'),
  /** Prefix of every key, e.g. `tessera/` (a trailing `/` is added), so several deployments can share a bucket. */
  S3_PREFIX: z
    .string()
    .max(500)
    .regex(/^(?:[A-Za-z0-9!_.*'()-]+\/)*[A-Za-z0-9!_.*'()-]*$/, "folders of A-Z a-z 0-9 ! _ . * ' ( ) - separated by single /, no leading /")
    .refine((v) => !v.split('/').some((part) => part === '.' || part === '..'), 'no "." or ".." folder')
    .default(''),
});

/** Which blob store a service uses, as code reads it. */
export type BlobStoreConfig =
  | { kind: 'fs'; dir: string }
  | {
      kind: 's3';
      bucket: string;
      region: string;
      /** null: AWS S3 of `region`. */
      endpoint: string | null;
      forcePathStyle: boolean;
      /** null: the AWS default credential chain. */
      credentials: { accessKeyId: string; secretAccessKey: string } | null;
      prefix: string;
    };

/** Checks the combination of blob store variables (`service` names the ConfigError). */
export function toBlobStoreConfig(
  e: Pick<z.infer<typeof commonEnvSchema>, 'BLOB_STORE' | 'BLOB_DIR'> & z.infer<typeof blobStoreEnvSchema>,
  service: string,
): BlobStoreConfig {
  if (e.BLOB_STORE === 'fs') return { kind: 'fs', dir: e.BLOB_DIR };
  const problems: string[] = [];
  if (e.S3_BUCKET === undefined) problems.push('S3_BUCKET: required when BLOB_STORE=s3 (the bucket that holds staging objects and blobs; it must exist)');
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push('S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both, or neither to use the AWS default credential chain');
  }
  if (problems.length > 0) throw new ConfigError(service, problems);
  return {
    kind: 's3',
    bucket: e.S3_BUCKET!,
    region: e.S3_REGION,
    endpoint: e.S3_ENDPOINT ?? null,
    forcePathStyle: e.S3_FORCE_PATH_STYLE,
    credentials: e.S3_ACCESS_KEY_ID !== undefined && e.S3_SECRET_ACCESS_KEY !== undefined ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY } : null,
    prefix: e.S3_PREFIX,
  };
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
