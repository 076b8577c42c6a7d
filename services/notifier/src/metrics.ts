import { createMetricsRegistry, metricOf, type Registry } from '@tessera/adapters';
import type { EventDelivery, UploadEvent } from '@tessera/domain';
import { Counter, Gauge, Histogram } from 'prom-client';
import { roomOf, type NotifierIo } from './socket/protocol';

/** Seconds from a worker's publish to this notifier's emit: Redis pub/sub is milliseconds, a backlog is not. */
const LAG_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface NotifierMetrics {
  readonly registry: Registry;
  /** Reports the sockets and subscriptions of `io` (this process's), counted when scraped. */
  watch(io: NotifierIo): void;
  /** One event emitted to its room: counted by type, its lag observed when the message says when it was published. */
  relayed(event: UploadEvent, delivery?: EventDelivery): void;
}

/**
 * The notifier's metrics: the process registry (`service="notifier"`, default process
 * metrics), `tessera_socket_connections` and `tessera_socket_subscriptions` (read from
 * Socket.IO when scraped, so they cannot drift), `tessera_events_relayed_total{type}` and
 * `tessera_event_relay_lag_seconds` (publish → emit; clocks of different hosts may differ, a
 * negative lag counts as 0).
 */
export function notifierMetrics(now: () => number = Date.now): NotifierMetrics {
  const registry = createMetricsRegistry('notifier');
  let io: NotifierIo | null = null;
  const roomPrefix = roomOf('');
  metricOf(
    registry,
    'tessera_socket_connections',
    () =>
      new Gauge({
        name: 'tessera_socket_connections',
        help: 'Socket.IO connections open on this notifier.',
        registers: [registry],
        collect() {
          this.set(io ? io.of('/').sockets.size : 0);
        },
      }),
  );
  metricOf(
    registry,
    'tessera_socket_subscriptions',
    () =>
      new Gauge({
        name: 'tessera_socket_subscriptions',
        help: 'Upload subscriptions (a socket in an upload room) on this notifier.',
        registers: [registry],
        collect() {
          let subscriptions = 0;
          for (const [room, sockets] of io?.of('/').adapter.rooms ?? []) if (room.startsWith(roomPrefix)) subscriptions += sockets.size;
          this.set(subscriptions);
        },
      }),
  );
  const relayedTotal = metricOf(
    registry,
    'tessera_events_relayed_total',
    () => new Counter({ name: 'tessera_events_relayed_total', help: 'Upload events emitted to their room, by type.', labelNames: ['type'], registers: [registry] }),
  );
  const lag = metricOf(
    registry,
    'tessera_event_relay_lag_seconds',
    () =>
      new Histogram({
        name: 'tessera_event_relay_lag_seconds',
        help: 'Time from an event being published to Redis to this notifier emitting it, seconds.',
        buckets: LAG_BUCKETS,
        registers: [registry],
      }),
  );
  return {
    registry,
    watch(watched) {
      io = watched;
    },
    relayed(event, delivery) {
      relayedTotal.inc({ type: event.type });
      if (delivery?.publishedAt != null) lag.observe(Math.max(0, now() - delivery.publishedAt) / 1000);
    },
  };
}
