import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { withTimeout } from '../system/readiness';
import { metricOf } from './registry';

/** The states `tessera_queue_jobs` reports, always all of them (0 when empty). */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** What the collector asks of a BullMQ queue. */
export type InspectedQueue = Pick<Queue, 'name' | 'getJobCounts' | 'getWaiting'>;

export interface QueueMetricsOptions {
  /**
   * Scrapes within this long of the last one reuse its answer, so several Prometheus
   * servers (or a dashboard refreshing fast) cost Redis one round of reads, ms (default 2000).
   */
  cacheMs?: number;
  /** A Redis read slower than this fails the round and the queue gauges are left out of that scrape, ms (default 2000). */
  timeoutMs?: number;
  /** Told when a round of reads fails (Redis away); the scrape still answers, without the queue gauges. */
  onError?: (error: unknown) => void;
  /** Epoch ms; a test may fix it. */
  now?: () => number;
}

interface QueueSnapshot {
  queue: string;
  counts: Record<QueueState, number>;
  oldestWaitingAgeSeconds: number;
}

/**
 * Registers `tessera_queue_jobs{queue,state}` and `tessera_queue_oldest_waiting_age_seconds{queue}`,
 * read from BullMQ when Prometheus scrapes (`getJobCounts`, and the timestamp of the job at
 * the head of the wait list), through a short cache. Prioritized jobs count as waiting; the
 * age of the oldest waiting job is measured from when it was added (0 when none waits).
 */
export function registerQueueMetrics(registry: Registry, queues: readonly InspectedQueue[], options: QueueMetricsOptions = {}): void {
  const cacheMs = options.cacheMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const now = options.now ?? Date.now;
  let cached: { at: number; pending: boolean; snapshot: Promise<QueueSnapshot[] | null> } | null = null;

  // One round of reads serves both gauges of a scrape, and every scrape within the cache time.
  const snapshot = (): Promise<QueueSnapshot[] | null> => {
    const at = now();
    if (cached && (cached.pending || at - cached.at < cacheMs)) return cached.snapshot;
    const entry: { at: number; pending: boolean; snapshot: Promise<QueueSnapshot[] | null> } = { at, pending: true, snapshot: Promise.resolve(null) };
    entry.snapshot = withTimeout(Promise.all(queues.map((queue) => read(queue, now))), timeoutMs, 'the queues did not answer')
      .catch((error: unknown) => {
        options.onError?.(error);
        return null;
      })
      .finally(() => {
        entry.pending = false;
      });
    cached = entry;
    return entry.snapshot;
  };

  metricOf(
    registry,
    'tessera_queue_jobs',
    () =>
      new Gauge({
        name: 'tessera_queue_jobs',
        help: 'Jobs in each BullMQ queue by state (waiting includes prioritized), read from Redis at scrape time.',
        labelNames: ['queue', 'state'],
        registers: [registry],
        async collect() {
          this.reset();
          for (const { queue, counts } of (await snapshot()) ?? []) {
            for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state]);
          }
        },
      }),
  );
  metricOf(
    registry,
    'tessera_queue_oldest_waiting_age_seconds',
    () =>
      new Gauge({
        name: 'tessera_queue_oldest_waiting_age_seconds',
        help: 'Age of the oldest job waiting in each BullMQ queue (since it was added), seconds; 0 when none waits.',
        labelNames: ['queue'],
        registers: [registry],
        async collect() {
          this.reset();
          for (const { queue, oldestWaitingAgeSeconds } of (await snapshot()) ?? []) this.set({ queue }, oldestWaitingAgeSeconds);
        },
      }),
  );
}

async function read(queue: InspectedQueue, now: () => number): Promise<QueueSnapshot> {
  const [counts, oldest] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed'),
    // The wait list's tail: the job added first among those still waiting.
    queue.getWaiting(0, 0),
  ]);
  const timestamp = oldest[0]?.timestamp;
  return {
    queue: queue.name,
    counts: {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    },
    oldestWaitingAgeSeconds: typeof timestamp === 'number' && timestamp > 0 ? Math.max(0, (now() - timestamp) / 1000) : 0,
  };
}

