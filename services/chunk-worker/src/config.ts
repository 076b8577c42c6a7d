import { commonEnvSchema, jobEnvSchema, parseEnv, toCommonConfig, toJobConfig, type CommonConfig, type JobConfig } from '@tessera/domain';
import { z } from 'zod';

const workerEnvSchema = commonEnvSchema.extend(jobEnvSchema.shape).extend({
  /** Chunk jobs one process runs at once (each streams one staged chunk: memory stays small). */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  /** Finalize jobs one process runs at once (each reads a whole upload from the blob store). */
  FINALIZE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

export type WorkerConfig = Readonly<
  CommonConfig & JobConfig & {
    workerConcurrency: number;
    finalizeConcurrency: number;
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
  });
}
