import {
  BullmqChunkQueue,
  eventChannel,
  FsBlobStore,
  initOrm,
  JoseTokenVerifier,
  MikroOrmTusRepository,
  MikroOrmUploadRepository,
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
import { gatewayUseCases } from './use-cases';

export interface GatewayContainer extends AppDeps {
  close(): Promise<void>;
}

/** The gateway's composition root: adapters from configuration, injected into the use cases. */
export async function buildContainer(config: GatewayConfig, logger: Logger): Promise<GatewayContainer> {
  const orm = await initOrm({ databaseUrl: config.databaseUrl });
  const repo = new MikroOrmUploadRepository(orm);
  const blobs = new FsBlobStore(config.blobDir);
  await blobs.init();
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
    verifier: new JoseTokenVerifier(config.auth),
    limits: { maxUploadBytes: config.maxUploadBytes, maxChunkBytes: MAX_CHUNK_SIZE, rateLimit: config.rateLimit },
    corsOrigins: config.corsOrigins,
    publicUrl: config.publicUrl,
    page: {
      notifierPublicUrl: config.page.notifierPublicUrl,
      devToken: config.page.devTokenSubject === null ? null : devTokenMinter(config, config.page.devTokenSubject),
    },
    useCases: gatewayUseCases({ repo, tus: new MikroOrmTusRepository(orm), blobs, queue, publisher, ids, clock }, settings),
    readiness: {
      postgres: () => repo.ping(),
      redis: async () => {
        await redis.ping();
      },
      blobStore: () => blobs.ping(),
    },
    async close() {
      await queue.close();
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
