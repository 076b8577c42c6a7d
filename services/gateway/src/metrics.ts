import {
  createMetricsRegistry,
  MeteredUploadRepository,
  receivedBytesObserver,
  registerQueueMetrics,
  uploadMetrics,
  type InspectedQueue,
  type Registry,
  type UploadMetrics,
} from '@tessera/adapters';
import type { IntakeObserver, UploadProtocol, UploadRepository } from '@tessera/domain';

/**
 * The gateway's metrics: the process registry (`service="gateway"`, default process
 * metrics), HTTP requests (counted by the app's middleware), uploads created by protocol,
 * bytes received by protocol, uploads aborted, and — read from Redis at scrape time — the
 * depth of every queue, so the queues stay visible while no worker runs (scaled to zero).
 */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly uploads: UploadMetrics;
  /** The repository, counting the uploads it creates and aborts. */
  meter(repo: UploadRepository): UploadRepository;
  /** Counts the bytes of each chunk staged over `protocol`. */
  received(protocol: UploadProtocol): IntakeObserver;
}

export interface GatewayMetricsOptions {
  /** BullMQ queues to report (`tessera_queue_jobs`, `tessera_queue_oldest_waiting_age_seconds`); none by default. */
  queues?: readonly InspectedQueue[];
  onQueueError?: (error: unknown) => void;
  /** How long one reading of the queues serves scrapes, ms (default 2000). */
  queueCacheMs?: number;
}

export function gatewayMetrics(options: GatewayMetricsOptions = {}): GatewayMetrics {
  const registry = createMetricsRegistry('gateway');
  const uploads = uploadMetrics(registry, { intake: true, outcomes: ['aborted'] });
  if (options.queues?.length) {
    registerQueueMetrics(registry, options.queues, {
      ...(options.onQueueError ? { onError: options.onQueueError } : {}),
      ...(options.queueCacheMs !== undefined ? { cacheMs: options.queueCacheMs } : {}),
    });
  }
  return {
    registry,
    uploads,
    meter: (repo) => new MeteredUploadRepository(repo, uploads),
    received: (protocol) => receivedBytesObserver(uploads, protocol),
  };
}
