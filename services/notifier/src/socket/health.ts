import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { metricsHandler, runReadinessChecks, type ReadinessChecks, type Registry } from '@tessera/adapters';
import type { Logger } from '../logger';

export type { ReadinessChecks };

/**
 * Answers the HTTP requests Socket.IO does not take: `/healthz` (the process runs),
 * `/readyz` (every dependency answers), `/metrics` (Prometheus, when given a registry),
 * and a problem+json 404 for anything else.
 */
export function healthRoutes(checks: ReadinessChecks, logger: Logger, registry?: Registry): RequestListener {
  const metrics = registry ? metricsHandler(registry, (error) => logger.warn({ err: error }, 'collecting metrics failed; answered 500')) : null;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const readable = req.method === 'GET' || req.method === 'HEAD';
    if (readable && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (readable && path === '/readyz') return void readiness(checks, logger).then((answer) => sendJson(res, answer.status, answer.body));
    if (metrics && path === '/metrics') return metrics(req, res);
    notFound(req, res);
  };
}

async function readiness(checks: ReadinessChecks, logger: Logger): Promise<{ status: number; body: object }> {
  const results = (await runReadinessChecks(checks)).map(({ name, error }) => {
    if (error === null) return [name, 'up'] as const;
    logger.warn({ err: error, dependency: name }, `not ready: ${name} does not answer`);
    return [name, 'down'] as const;
  });
  const down = results.filter(([, state]) => state === 'down').map(([name]) => name);
  const report = Object.fromEntries(results);
  if (down.length === 0) return { status: 200, body: { status: 'ok', checks: report } };
  return {
    status: 503,
    body: {
      type: 'service-unavailable',
      title: 'Service unavailable',
      status: 503,
      detail: `Not ready: ${down.join(' and ')} ${down.length > 1 ? 'do' : 'does'} not answer.`,
      checks: report,
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  sendJson(res, 404, {
    type: 'not-found',
    title: 'Not found',
    status: 404,
    detail: `${req.method} ${(req.url ?? '/').split('?')[0]} is not served here; this service answers Socket.IO at /socket.io, /healthz, /readyz and /metrics.`,
  });
}
