import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { loadConfigOrExit } from '@tessera/domain';
import { createApp } from './app';
import { closeGracefully, createHttpServer } from './http-server';
import { loadConfig } from './config';
import { buildContainer } from './container';
import { createLogger } from './logger';
import { serveMetrics } from './metrics-server';

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadConfig());
  const logger = createLogger(config.logLevel);
  const container = await buildContainer(config, logger);
  const server = createHttpServer(createApp(container)).listen(config.port, config.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  logger.info({ port }, `gateway listening on http://${config.host}:${port} (API at /v1/uploads)`);
  const metricsServer = config.metricsPort === null || !container.metrics ? null : await serveMetrics(container.metrics, config.metricsPort, config.host, logger);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'gateway stopping: no new connections; waiting for requests in flight');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'gateway did not stop in time; exiting with requests still open');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // PostgreSQL and Redis stay open until the last request is answered: those in flight need them.
    await Promise.all([closeGracefully(server), metricsServer ? closeGracefully(metricsServer) : undefined]);
    await container.close();
    logger.info('gateway stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`gateway failed to start: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
