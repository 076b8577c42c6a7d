import { commonEnvSchema, jobEnvSchema, parseEnv } from '@tessera/domain';
import { z } from 'zod';

const workerEnvSchema = commonEnvSchema.extend(jobEnvSchema.shape).extend({
  /** Chunk jobs one process runs at once (each streams one staged chunk: memory stays small). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  /** Finalize jobs one process runs at once (each reads a whole upload from the blob store). */
  FINALIZE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

export type WorkerConfig = Readonly<{
  nodeEnv: 'development' | 'test' | 'production';
  logLevel: string;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  blobDir: string;
  shutdownTimeoutMs: number;
  workerConcurrency: number;
  finalizeConcurrency: number;
  chunkJobAttempts: number;
  chunkRetryBackoffMs: number;
}>;

/** Reads and checks the chunk-worker's environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const e = parseEnv('chunk-worker', workerEnvSchema, env);
  return Object.freeze({
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    blobDir: e.BLOB_DIR,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    finalizeConcurrency: e.FINALIZE_CONCURRENCY,
    chunkJobAttempts: e.CHUNK_JOB_ATTEMPTS,
    chunkRetryBackoffMs: e.CHUNK_RETRY_BACKOFF_MS,
  });
}
