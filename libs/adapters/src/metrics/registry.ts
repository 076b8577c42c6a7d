import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type { Registry } from 'prom-client';

export interface MetricsRegistryOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC, handles); on by default. */
  defaultMetrics?: boolean;
}

/**
 * The one metrics registry of a process: every series it exports carries the constant
 * label `service` (gateway, chunk-worker, notifier), and the default process metrics are
 * collected into it.
 */
export function createMetricsRegistry(service: string, options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The metric `name` of `registry`, created by `create` the first time: lets several parts
 * of one process ask for the same family without registering it twice.
 */
export function metricOf<M extends Counter<string> | Gauge<string> | Histogram<string>>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

/**
 * A plain Node request handler for `GET /metrics` in the Prometheus text format (express
 * accepts it as a route handler too). A collector that fails makes the answer a 500, which
 * Prometheus records as a failed scrape (`up` = 0).
 */
export function metricsHandler(registry: Registry, onError?: (error: unknown) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed: scrape with GET.\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        onError?.(error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('metrics collection failed\n');
      },
    );
  };
}
