import { loadConfigOrExit } from '@tessera/domain';
import { loadConfig } from './config';
import { buildContainer } from './container';
import { createLogger, type Logger } from './logger';
import { startNotifierServer } from './socket/notifier-server';

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadConfig());
  const logger = createLogger(config.logLevel);

  const container = await buildContainer(config, logger);
  const server = await startNotifierServer({
    ...container,
    logger,
    corsOrigin: config.corsOrigin,
    maxSubscriptionsPerSocket: config.maxSubscriptionsPerSocket,
    connectionLimits: config.connectionLimits,
  });
  await new Promise<void>((resolve, reject) => {
    server.httpServer.once('error', reject);
    server.httpServer.listen(config.port, config.host, resolve);
  });
  logger.info(`notifier listening on http://${config.host}:${config.port} (socket.io path /socket.io)`);

  const shutdown = once(async (signal: NodeJS.Signals) => {
    logger.info({ signal }, `${signal} received: disconnecting sockets, then closing Redis and PostgreSQL`);
    // Past the deadline the process leaves anyway; k8s would kill it a little later.
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting anyway');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await settle(logger, 'closing the socket server', server.close());
    await settle(logger, 'closing Redis and PostgreSQL', container.close());
    clearTimeout(deadline);
    logger.info('notifier stopped');
    process.exit(0);
  });
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

function once<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => void {
  let called = false;
  return (...args) => {
    if (called) return;
    called = true;
    void fn(...args);
  };
}

async function settle(logger: Logger, what: string, work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (error) {
    logger.error({ err: error }, `${what} failed during shutdown`);
  }
}

main().catch((error: unknown) => {
  // Before the logger exists, or a dependency refused at start-up: say why and let the
  // orchestrator restart the process.
  process.stderr.write(`notifier failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
