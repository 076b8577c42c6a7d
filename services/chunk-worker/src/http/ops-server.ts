import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricsHandler, runReadinessChecks, type ReadinessChecks, type Registry } from '@tessera/adapters';
import type { Logger } from '../logger';

export type { ReadinessChecks };

export interface OpsServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  readiness: ReadinessChecks;
  registry: Registry;
  logger: Logger;
}

export interface OpsServer {
  /** The port it listens on (the one picked, when asked for 0). */
  readonly port: number;
  /** From now on `/readyz` answers 503 `stopping`: the worker takes no new jobs. */
  draining(): void;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/**
 * The chunk-worker's own small HTTP server: `/healthz` (the process runs), `/readyz`
 * (PostgreSQL, Redis and the blob store answer, as the gateway's readiness), `/metrics`
 * (Prometheus). Resolves once listening; rejects if the port is taken.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  let stopping = false;
  const metrics = metricsHandler(options.registry, (error) => options.logger.warn({ err: error }, 'collecting metrics failed; answered 500'));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const readable = req.method === 'GET' || req.method === 'HEAD';
    if (readable && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (readable && path === '/readyz') {
      if (stopping) return sendJson(res, 503, { status: 'stopping', checks: {} }, { 'retry-after': '5' });
      return void readiness(options.readiness, options.logger).then(({ ready, checks }) =>
        sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not-ready', checks }, ready ? {} : { 'retry-after': '5' }),
      );
    }
    if (path === '/metrics') return metrics(req, res);
    sendJson(res, 404, {
      type: 'not-found',
      title: 'Not found',
      status: 404,
      detail: `${req.method} ${path} is not served here; the chunk-worker answers /healthz, /readyz and /metrics.`,
    });
  });
  // Probes and scrapes only: a silent connection has nothing to say.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.listen(options.port, options.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([error]) => Promise.reject(error))]);
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    port,
    draining() {
      stopping = true;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function readiness(checks: ReadinessChecks, logger: Logger): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const results = await runReadinessChecks(checks);
  const report: Record<string, string> = {};
  for (const { name, error } of results) {
    if (error === null) {
      report[name] = 'ok';
    } else {
      report[name] = `down: ${(error as Error)?.message ?? String(error)}`;
      logger.warn({ err: error, dependency: name }, `not ready: ${name} does not answer`);
    }
  }
  return { ready: results.every((r) => r.error === null), checks: report };
}

function sendJson(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  const type = status === 404 ? 'application/problem+json' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
