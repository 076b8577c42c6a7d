import {
  BullmqChunkQueue,
  eventChannel,
  createBlobStore,
  initOrm,
  JoseTokenVerifier,
  MikroOrmTusRepository,
  MikroOrmUploadRepository,
  openQueueHandles,
  redisConnection,
  RedisProgressPublisher,
  signToken,
  SystemClock,
  UuidV7Ids,
} from '@tessera/adapters';
import { MAX_CHUNK_SIZE, type TusSettings } from '@tessera/domain';
import type { AppDeps } from './app';
import type { GatewayConfig } from './config';
import type { Logger } from './logger';
import { gatewayMetrics } from './metrics';
import { gatewayUseCases } from './use-cases';

export interface GatewayContainer extends AppDeps {
  close(): Promise<void>;
}

/** The gateway's composition root: adapters from configuration, injected into the use cases. */
export async function buildContainer(config: GatewayConfig, logger: Logger): Promise<GatewayContainer> {
  const orm = await initOrm({ databaseUrl: config.databaseUrl });
  const repo = new MikroOrmUploadRepository(orm);
  const blobs = await createBlobStore(config.blobStore);
  const queue = new BullmqChunkQueue({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    attempts: config.chunkJobAttempts,
    backoffMs: config.chunkRetryBackoffMs,
    onError: (error) => logger.warn({ err: error }, 'Redis connection of the job queue failed; chunk requests answer 503 until it is back'),
  });
  // Bounded retries: a publish or readiness check must fail, not hang, while Redis is down.
  const redis = redisConnection(config.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error) => logger.warn({ err: error }, 'Redis connection for events failed; progress events are not sent until it is back'));
  const publisher = new RedisProgressPublisher(redis, eventChannel(config.redisPrefix));
  // The queue dashboard's own handles on every queue (chunks, finalize, sweep).
  const dashboardQueues = openQueueHandles({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    onError: (error) => logger.warn({ err: error }, 'Redis connection of the queue dashboard failed; it answers errors until it is back'),
  });
  // Queue gauges are read through the dashboard's handles too: no connection of their own.
  const metrics = gatewayMetrics({
    queues: dashboardQueues.queues,
    onQueueError: (error) => logger.warn({ err: error }, 'reading the queues for /metrics failed; this scrape has no queue gauges'),
  });
  const ids = new UuidV7Ids();
  const clock = new SystemClock();
  const settings: TusSettings = {
    maxUploadBytes: config.maxUploadBytes,
    defaultChunkSize: config.defaultChunkSize,
    uploadTtlMs: config.uploadTtlMs,
    chunkClaimLeaseMs: config.chunkClaimLeaseMs,
    maxUnfinishedPerOwner: config.maxUnfinishedPerOwner,
    bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    lockLeaseMs: config.tusLockLeaseMs,
  };

  return {
    logger,
    verifier: new JoseTokenVerifier({ ...config.auth, rolesClaim: config.queueDashboard.adminClaim }),
    limits: { maxUploadBytes: config.maxUploadBytes, maxChunkBytes: MAX_CHUNK_SIZE, rateLimit: config.rateLimit },
    corsOrigins: config.corsOrigins,
    publicUrl: config.publicUrl,
    page: {
      notifierPublicUrl: config.page.notifierPublicUrl,
      devToken: config.page.devTokenSubject === null ? null : devTokenMinter(config, config.page.devTokenSubject),
    },
    queueDashboard: {
      queues: dashboardQueues.queues,
      adminRole: config.queueDashboard.adminRole,
      readOnly: config.queueDashboard.readOnly,
      publicUrl: config.publicUrl,
    },
    useCases: gatewayUseCases(
      { repo: metrics.meter(repo), tus: new MikroOrmTusRepository(orm), blobs, queue, publisher, ids, clock, intakeObserver: metrics.received },
      settings,
    ),
    metrics: metrics.registry,
    metricsOnApi: config.metricsPort === null,
    readiness: {
      postgres: () => repo.ping(),
      redis: async () => {
        await redis.ping();
      },
      blobStore: () => blobs.ping(),
    },
    async close() {
      await queue.close();
      await dashboardQueues.close();
      redis.disconnect();
      await orm.close();
    },
  };
}

/** Development only (`DEV_TOKEN_SUBJECT`, refused in production): a fresh 1 h token for the page, as a login would give. */
function devTokenMinter(config: GatewayConfig, subject: string): () => Promise<string> {
  const { secret, issuer, audience } = config.auth;
  return () => signToken(secret, subject, { expiresIn: '1h', ...(issuer !== undefined ? { issuer } : {}), ...(audience !== undefined ? { audience } : {}) });
}
