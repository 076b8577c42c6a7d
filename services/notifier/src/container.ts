import { eventChannel, initOrm, JoseTokenVerifier, MikroOrmUploadRepository, RedisEventSubscriber } from '@tessera/adapters';
import { GetUpload, type EventSubscriber, type TokenVerifier } from '@tessera/domain';
import type { NotifierConfig } from './config';
import type { Logger } from './logger';
import { notifierMetrics, type NotifierMetrics } from './metrics';
import type { ReadinessChecks } from './socket/health';

export interface Container {
  getUpload: GetUpload;
  tokens: TokenVerifier;
  events: EventSubscriber;
  readiness: ReadinessChecks;
  /** The process's metrics, served at /metrics. */
  metrics: NotifierMetrics;
  /** Releases the PostgreSQL pool and the Redis connection. */
  close(): Promise<void>;
}

/** The notifier's composition root: adapters from config, wired into the use case. */
export async function buildContainer(config: NotifierConfig, logger: Logger): Promise<Container> {
  const orm = await initOrm({ databaseUrl: config.databaseUrl });
  const uploads = new MikroOrmUploadRepository(orm);
  const events = new RedisEventSubscriber({
    redisUrl: config.redisUrl,
    channel: eventChannel(config.redisPrefix),
    onInvalid: (raw, error) =>
      logger.warn({ err: error, raw: raw.slice(0, 200) }, 'dropped a malformed upload event from Redis; is a publisher running another version?'),
    // ioredis reconnects and re-subscribes by itself. Events published meanwhile are lost:
    // the next upload.progress carries the full counts again, and a reconnecting client
    // gets a fresh snapshot.
    onError: (error) => logger.warn({ err: error }, 'Redis event subscription connection error; reconnecting'),
  });
  return {
    getUpload: new GetUpload(uploads),
    tokens: new JoseTokenVerifier(config.auth),
    events,
    readiness: { redis: () => events.ping(), postgres: () => uploads.ping() },
    metrics: notifierMetrics(),
    async close() {
      // Both are released even when one fails; the first failure is reported.
      const results = await Promise.allSettled([events.close(), orm.close()]);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
