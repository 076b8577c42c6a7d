import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  createMetricsRegistry,
  isDependencyUnavailable,
  MeteredUploadRepository,
  metricOf,
  registerQueueMetrics,
  uploadMetrics,
  type InspectedQueue,
  type QueueMetricsOptions,
  type Registry,
  type UploadMetrics,
} from '@tessera/adapters';
import { QUEUES, type UploadRepository } from '@tessera/domain';
import { Counter, Histogram } from 'prom-client';
import { attemptInfo } from './processors/attempts';

/**
 * How a chunk job's attempt ended, as `tessera_chunk_processing_seconds{outcome}` says it:
 * the StoreChunk results (`stored`, `duplicate` — a redelivery found it stored, `rejected`,
 * `skipped` — its upload was closed meanwhile), `retried` when the attempt threw and runs
 * again (including a postponement during an outage), `failed` when it threw for good.
 */
export const CHUNK_OUTCOMES = ['stored', 'duplicate', 'rejected', 'skipped', 'retried', 'failed'] as const;

/** Seconds; a chunk job hashes nothing (the gateway did), it checks, commits and records. */
const CHUNK_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly uploads: UploadMetrics;
  readonly chunkProcessing: Histogram<'outcome'>;
  readonly jobFailures: Counter<'queue' | 'reason'>;
  /** The repository, counting the uploads it settles (completed, failed) and expires. */
  meter(repo: UploadRepository): UploadRepository;
  /** Reports the depth and oldest waiting job of `queues`, read at scrape time. */
  watchQueues(queues: readonly InspectedQueue[], options?: QueueMetricsOptions): void;
}

/**
 * The chunk-worker's metrics: the process registry (`service="chunk-worker"`, default
 * process metrics), uploads completed / failed / expired, chunk processing time by outcome,
 * job failures by queue and reason, and the queues' depth.
 */
export function workerMetrics(): WorkerMetrics {
  const registry = createMetricsRegistry('chunk-worker');
  const uploads = uploadMetrics(registry, { outcomes: ['completed', 'failed', 'expired'] });
  const chunkProcessing = metricOf(
    registry,
    'tessera_chunk_processing_seconds',
    () =>
      new Histogram({
        name: 'tessera_chunk_processing_seconds',
        help: 'Time one attempt of a chunk job took, by outcome (stored, duplicate, rejected, skipped, retried, failed), seconds.',
        labelNames: ['outcome'],
        buckets: CHUNK_BUCKETS,
        registers: [registry],
      }),
  );
  for (const outcome of ['stored', 'duplicate', 'rejected', 'retried']) chunkProcessing.zero({ outcome });
  const jobFailures = metricOf(
    registry,
    'tessera_job_failures_total',
    () =>
      new Counter({
        name: 'tessera_job_failures_total',
        help: 'Job attempts that failed, by queue and reason (the error code, dependency-unavailable, stalled, or unexpected).',
        labelNames: ['queue', 'reason'],
        registers: [registry],
      }),
  );
  return {
    registry,
    uploads,
    chunkProcessing,
    jobFailures,
    meter: (repo) => new MeteredUploadRepository(repo, uploads),
    watchQueues: (queues, options = {}) => registerQueueMetrics(registry, queues, options),
  };
}

/** A queue's processor, timed (chunk jobs) and its failures counted by reason; it behaves exactly as `processor`. */
export function instrumented<R>(metrics: WorkerMetrics, queue: string, processor: (job: Job, token?: string) => Promise<R>): (job: Job, token?: string) => Promise<R> {
  const timed = queue === QUEUES.chunks;
  return async (job, token) => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    let result: R;
    try {
      result = await processor(job, token);
    } catch (error) {
      const final = error instanceof UnrecoverableError || (!(error instanceof DelayedError) && attemptInfo(job).final);
      if (timed) metrics.chunkProcessing.observe({ outcome: final ? 'failed' : 'retried' }, seconds());
      metrics.jobFailures.inc({ queue, reason: failureReason(error) });
      throw error;
    }
    if (timed) metrics.chunkProcessing.observe({ outcome: String(result) }, seconds());
    return result;
  };
}

/**
 * A short, bounded name for why a job attempt failed: the error's slug (`staging-lost`,
 * domain error codes), `dependency-unavailable` (PostgreSQL, Redis or the network away;
 * the job was postponed), `malformed-payload`, or `unexpected` for anything else (a bug:
 * see the log line of the attempt).
 */
export function failureReason(error: unknown): string {
  // Only an outage postpones a job (see postpone.ts).
  if (error instanceof DelayedError || isDependencyUnavailable(error)) return 'dependency-unavailable';
  if (error instanceof UnrecoverableError) return /^malformed/.test(error.message) ? 'malformed-payload' : 'unrecoverable';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[a-z][a-z0-9-]{0,63}$/.test(code)) return code;
  return 'unexpected';
}

/** The upload a job concerns, from its id: a chunk job's is `<uploadId>_<index>_<token>`, a finalize job's the upload id. */
export function uploadIdOfJob(jobId: string | undefined): string | undefined {
  const match = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:_|$)/i.exec(jobId ?? '');
  return match?.[1];
}
