import { Queue, Worker } from 'bullmq';
import { redisConnection } from '@tessera/adapters';
import { QUEUES } from '@tessera/domain';
import type { WorkerConfig } from './config';
import type { WorkerContainer } from './container';
import type { Logger } from './logger';
import { instrumented, uploadIdOfJob } from './metrics';
import { finalizeProcessor } from './processors/finalize.processor';
import { storeChunkProcessor } from './processors/store-chunk.processor';
import { sweepProcessor } from './processors/sweep.processor';

export interface RunningWorker {
  /** Stops taking jobs, lets the running ones finish, then releases the container. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts consuming the `chunks`, `finalize` and `sweep` queues and makes sure the sweep is
 * scheduled; resolves once every worker is connected.
 */
export async function startWorker(config: WorkerConfig, container: WorkerContainer, logger: Logger): Promise<RunningWorker> {
  // One connection for both workers' regular commands (BullMQ duplicates it for each
  // blocking fetch). Commands wait through reconnects, which BullMQ Workers require.
  const connection = redisConnection(config.redisUrl, { connectionName: `${config.redisPrefix}:worker` });
  const common = { connection, prefix: config.redisPrefix };
  // A job whose worker died runs again within seconds (the lock is renewed every half
  // lockDuration while its worker lives), and as often as workers die: jobs are idempotent,
  // so a job killed twice must run a third time, not fail and strand its chunk.
  const recovery = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 1_000 };
  const workers = [
    new Worker(QUEUES.chunks, instrumented(container.metrics, QUEUES.chunks, storeChunkProcessor(container.storeChunk, logger)), { ...common, ...recovery, concurrency: config.workerConcurrency }),
    new Worker(QUEUES.finalize, instrumented(container.metrics, QUEUES.finalize, finalizeProcessor(container.finalizeUpload, logger)), { ...common, ...recovery, concurrency: config.finalizeConcurrency }),
    new Worker(QUEUES.sweep, instrumented(container.metrics, QUEUES.sweep, sweepProcessor(container.sweepUploads, logger)), { ...common, concurrency: 1 }),
  ];
  for (const worker of workers) {
    const queue = worker.name;
    worker.on('error', (error) =>
      logger.error({ err: error, queue }, 'queue worker error (most often Redis unreachable); it keeps reconnecting and resumes by itself'),
    );
    worker.on('stalled', (jobId) => {
      container.metrics.jobFailures.inc({ queue, reason: 'stalled' });
      logger.warn(
        { jobId, queue, uploadId: uploadIdOfJob(jobId) },
        'a job stalled (the process running it died or blocked) and runs again; jobs are idempotent, no action needed unless this repeats',
      );
    });
  }
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  // Every replica upserts the same scheduler id: one schedule, whose runs go to one worker each.
  const sweeps = new Queue(QUEUES.sweep, common);
  try {
    await sweeps.upsertJobScheduler('sweep', { every: config.sweepIntervalMs }, { name: 'sweep', opts: { removeOnComplete: 10, removeOnFail: 50 } });
  } finally {
    await sweeps.close();
  }

  let stopping: Promise<void> | null = null;
  return {
    stop() {
      stopping ??= (async () => {
        const results: PromiseSettledResult<unknown>[] = await Promise.allSettled(workers.map((worker) => worker.close()));
        results.push(...(await Promise.allSettled([connection.quit(), container.close()])));
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      })();
      return stopping;
    },
  };
}
