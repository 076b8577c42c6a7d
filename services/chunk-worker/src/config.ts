import { commonEnvSchema, jobEnvSchema, parseEnv, toCommonConfig, toJobConfig, type CommonConfig, type JobConfig } from '@tessera/domain';
import { z } from 'zod';

const workerEnvSchema = commonEnvSchema.extend(jobEnvSchema.shape).extend({
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
});

export type WorkerConfig = Readonly<
  CommonConfig & JobConfig & {
    workerConcurrency: number;
    finalizeConcurrency: number;
    sweepIntervalMs: number;
    sweepBlobGraceMs: number;
  }
>;

/** Reads and checks the chunk-worker's environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const e = parseEnv('chunk-worker', workerEnvSchema, env);
  return Object.freeze({
    ...toCommonConfig(e),
    ...toJobConfig(e),
    workerConcurrency: e.WORKER_CONCURRENCY,
    finalizeConcurrency: e.FINALIZE_CONCURRENCY,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    sweepBlobGraceMs: e.SWEEP_BLOB_GRACE_MS,
  });
}
