import { blobStoreEnvSchema, toBlobStoreConfig, type BlobStoreConfig, commonEnvSchema, jobEnvSchema, parseEnv, toCommonConfig, toJobConfig, type CommonConfig, type JobConfig } from '@tessera/domain';
import { z } from 'zod';

const workerEnvSchema = commonEnvSchema.extend(jobEnvSchema.shape).extend(blobStoreEnvSchema.shape).extend({
  /**
   * Chunk jobs one process runs at once. A job waits on the disk and PostgreSQL, not the CPU
   * (the gateway hashed the bytes), so a few more than cores keeps the queue short.
   */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  /** Finalize jobs one process runs at once (each reads a whole upload from the blob store). */
  FINALIZE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Period of the sweep (expires abandoned uploads, removes unused staging and unrecorded blobs), ms. */
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(60_000),
  /**
   * Age after which blob bytes without a row count as left by a crash and are deleted, ms.
   * Keep it far above the longest chunk transaction (a commit links the bytes before its row is visible).
   */
  SWEEP_BLOB_GRACE_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /** Interface of the small HTTP server (/healthz, /readyz, /metrics), as the other services' HOST. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Port of that server; 0 picks a free one (logged). Several workers on one host need one each. */
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(3002),
});

export type WorkerConfig = Readonly<
  CommonConfig & JobConfig & {
    blobStore: BlobStoreConfig;
    workerConcurrency: number;
    finalizeConcurrency: number;
    sweepIntervalMs: number;
    sweepBlobGraceMs: number;
    /** The health and metrics server. */
    http: { host: string; port: number };
  }
>;

/** Reads and checks the chunk-worker's environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const e = parseEnv('chunk-worker', workerEnvSchema, env);
  return Object.freeze({
    ...toCommonConfig(e),
    ...toJobConfig(e),
    blobStore: toBlobStoreConfig(e, 'chunk-worker'),
    workerConcurrency: e.WORKER_CONCURRENCY,
    finalizeConcurrency: e.FINALIZE_CONCURRENCY,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    sweepBlobGraceMs: e.SWEEP_BLOB_GRACE_MS,
    http: { host: e.HOST, port: e.HTTP_PORT },
  });
}
