import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Histogram, type Registry } from 'prom-client';
import { metricOf } from './registry';

/** Seconds; from a health probe to a large chunk on a slow link. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** The `route` of a request no route or mounted router took (the 404s of unknown paths). */
export const UNMATCHED_ROUTE = 'unmatched';

/** The `status` of a request whose client went away before its answer was complete (as nginx logs it). */
export const CLIENT_CLOSED_STATUS = '499';

type Labels = 'method' | 'route' | 'status';

export interface HttpMetrics {
  requests: Counter<Labels>;
  duration: Histogram<Labels>;
}

/** `tessera_http_requests_total` and `tessera_http_request_duration_seconds` of `registry`. */
export function httpMetrics(registry: Registry): HttpMetrics {
  const labelNames: Labels[] = ['method', 'route', 'status'];
  return {
    requests: metricOf(
      registry,
      'tessera_http_requests_total',
      () => new Counter({ name: 'tessera_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status.', labelNames, registers: [registry] }),
    ),
    duration: metricOf(
      registry,
      'tessera_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'tessera_http_request_duration_seconds',
          help: 'Time from a request arriving to its answer being sent, by method, route pattern and status, seconds.',
          labelNames,
          buckets: HTTP_DURATION_BUCKETS,
          registers: [registry],
        }),
    ),
  };
}

/** What the middleware reads of an express request (kept structural: this library does not depend on express). */
type RoutedRequest = IncomingMessage & { route?: unknown; baseUrl?: string };

/**
 * An express middleware (put it first) that counts every request and times it, labelled by
 * the route pattern that handled it (`/v1/uploads/:id/chunks/:index`, never the concrete
 * path, so the number of series stays bounded). A request refused inside a mounted router
 * before any of its routes matched (a missing token, a tus version check) is labelled by
 * the mount: `/v1/uploads/*`; one nothing took at all is `unmatched`.
 */
export function httpMetricsMiddleware(registry: Registry): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const { requests, duration } = httpMetrics(registry);
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const route = trackRoute(req as RoutedRequest);
    let done = false;
    const record = (status: string): void => {
      if (done) return;
      done = true;
      const labels = { method: req.method ?? 'UNKNOWN', route: route(), status };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', () => record(String(res.statusCode)));
    res.once('close', () => record(res.writableFinished ? String(res.statusCode) : CLIENT_CLOSED_STATUS));
    next();
  };
}

/**
 * Watches express set `req.route` (when a route matches) and `req.baseUrl` (when a mounted
 * router is entered): the pattern must be read while the router that matched is still in
 * charge, since express restores `baseUrl` once a router is left, for example on the way
 * to the error handler.
 */
function trackRoute(req: RoutedRequest): () => string {
  let baseUrl = req.baseUrl ?? '';
  let mount = '';
  let route: unknown = req.route;
  let pattern: string | null = null;
  Object.defineProperty(req, 'baseUrl', {
    configurable: true,
    enumerable: true,
    get: () => baseUrl,
    set: (value: string) => {
      baseUrl = value;
      if (typeof value === 'string' && value.length > mount.length) mount = value;
    },
  });
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: unknown) => {
      route = value;
      const path = (value as { path?: unknown } | undefined)?.path;
      if (path !== undefined) pattern = joinPattern(baseUrl, path);
    },
  });
  return () => pattern ?? (mount ? `${mount}/*` : UNMATCHED_ROUTE);
}

function joinPattern(base: string, path: unknown): string {
  const one = (p: string): string => (p === '/' && base !== '' ? base : `${base}${p}`);
  if (Array.isArray(path)) return path.map((p) => one(String(p))).join(',');
  return one(String(path));
}
