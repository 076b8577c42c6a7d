import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsHandler, type Registry } from '@tessera/adapters';
import type { Logger } from './logger';

/**
 * `/metrics` on a port of its own (METRICS_PORT), so Prometheus scrapes it inside the
 * cluster while the public port behind the Ingress does not show it.
 */
export async function serveMetrics(registry: Registry, port: number, host: string, logger: Logger): Promise<Server> {
  const metrics = metricsHandler(registry, (error) => logger.warn({ err: error }, 'collecting metrics failed; answered 500'));
  const server = createServer((req, res) => {
    if ((req.method === 'GET' || req.method === 'HEAD') && (req.url ?? '').split('?')[0] === '/metrics') return metrics(req, res);
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'not-found', title: 'Not found', status: 404, detail: 'This port serves GET /metrics only.' }));
  });
  server.listen(port, host);
  await once(server, 'listening');
  logger.info({ port: (server.address() as AddressInfo).port }, 'gateway metrics on their own port (/metrics)');
  return server;
}
