import { loadConfigOrExit, QUEUES } from '@tessera/domain';
import { loadConfig } from './config';
import { buildContainer } from './container';
import { startOpsServer } from './http/ops-server';
import { createLogger } from './logger';
import { startWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadConfig());
  const logger = createLogger(config.logLevel);
  // Anything that escapes a job is a bug: log it as JSON like the rest, then let the
  // orchestrator restart a clean process (in-flight jobs stall and run again elsewhere).
  const crash = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, `chunk-worker crashed on an ${kind}; exiting so it is restarted`);
    process.exit(1);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));

  const container = await buildContainer(config, logger);
  // Health, readiness and metrics answer while the workers connect; a taken port stops the start.
  const ops = await startOpsServer({ ...config.http, readiness: container.readiness, registry: container.metrics.registry, logger });
  logger.info({ port: ops.port }, `chunk-worker health and metrics on http://${config.http.host}:${ops.port} (/healthz, /readyz, /metrics)`);
  const worker = await startWorker(config, container, logger);
  logger.info(
    { prefix: config.redisPrefix, concurrency: { [QUEUES.chunks]: config.workerConcurrency, [QUEUES.finalize]: config.finalizeConcurrency } },
    `chunk-worker consuming queues "${QUEUES.chunks}" (concurrency ${config.workerConcurrency}) and "${QUEUES.finalize}" (concurrency ${config.finalizeConcurrency}) under Redis prefix "${config.redisPrefix}"`,
  );

  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${signal} received: taking no new jobs, letting running ones finish, then closing Redis and PostgreSQL`);
    const deadline = setTimeout(() => {
      logger.error(
        { timeoutMs: config.shutdownTimeoutMs },
        'shutdown did not finish within SHUTDOWN_TIMEOUT_MS; exiting with jobs still running (they stall and run again on another worker)',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    // Not ready from now on; liveness and metrics answer until the last job is done.
    ops.draining();
    try {
      await worker.stop();
      await ops.close();
    } catch (error) {
      logger.error({ err: error }, 'releasing a connection failed during shutdown; exiting anyway');
      process.exit(1);
    }
    clearTimeout(deadline);
    logger.info('chunk-worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));
}

main().catch((error: unknown) => {
  // Before the logger exists, or a dependency refused at start-up: say why and let the
  // orchestrator restart the process.
  process.stderr.write(`chunk-worker failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
