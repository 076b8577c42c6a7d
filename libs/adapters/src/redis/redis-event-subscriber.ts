import type { Redis } from 'ioredis';
import { uploadEventSchema, type EventDelivery, type EventSubscriber, type UploadEvent } from '@tessera/domain';
import { redisConnection } from '../queue/redis-connection';

/** The pub/sub channel of upload events for a deployment's Redis prefix. */
export const eventChannel = (prefix: string): string => `${prefix}:events`;

export interface RedisEventSubscriberOptions {
  redisUrl: string;
  channel: string;
  /** Told about each message that is not a valid upload event; it is dropped either way. */
  onInvalid?: (raw: string, error: unknown) => void;
  /** Told about connection errors (ioredis reconnects and re-subscribes by itself). */
  onError?: (error: Error) => void;
}

/**
 * Delivers upload events from a Redis channel. Each subscription has its own connection:
 * a connection in subscriber mode can run no other command.
 */
export class RedisEventSubscriber implements EventSubscriber {
  private readonly stops = new Set<() => Promise<void>>();
  private probe: Redis | null = null;

  constructor(private readonly options: RedisEventSubscriberOptions) {}

  /**
   * Resolves once subscribed. `handler` gets only valid events, in publication order, with
   * when each was published (null for a message of an older publisher, which lacks it), and
   * must not throw (it runs inside the connection's message dispatch).
   */
  async subscribe(handler: (event: UploadEvent, delivery: EventDelivery) => void): Promise<() => Promise<void>> {
    const { channel, onInvalid } = this.options;
    const connection = this.connect('subscriber');
    connection.on('message', (from: string, raw: string) => {
      if (from !== channel) return;
      const event = parseEvent(raw);
      if (event.ok) handler(event.value, { publishedAt: event.publishedAt });
      else onInvalid?.(raw, event.error);
    });
    try {
      await connection.subscribe(channel);
    } catch (error) {
      connection.disconnect();
      throw error;
    }
    let stopping: Promise<void> | null = null;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        this.stops.delete(stop);
        await connection.unsubscribe(channel);
        await connection.quit();
      })();
      return stopping;
    };
    this.stops.add(stop);
    return stop;
  }

  /** Throws when Redis does not answer (after one reconnect attempt, not indefinitely). */
  async ping(): Promise<void> {
    this.probe ??= this.connect('probe', { maxRetriesPerRequest: 1 });
    await this.probe.ping();
  }

  /** Stops every subscription and closes every connection. */
  async close(): Promise<void> {
    const probe = this.probe;
    this.probe = null;
    await Promise.all([...this.stops].map((stop) => stop()));
    if (probe) await probe.quit();
  }

  private connect(role: string, extra: { maxRetriesPerRequest?: number } = {}): Redis {
    const connection = redisConnection(this.options.redisUrl, { connectionName: `${this.options.channel}:${role}`, ...extra });
    if (this.options.onError) connection.on('error', this.options.onError);
    return connection;
  }
}

function parseEvent(raw: string): { ok: true; value: UploadEvent; publishedAt: number | null } | { ok: false; error: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    return { ok: false, error };
  }
  // The schema drops `publishedAt` (and any other key it does not know) from the event itself.
  const parsed = uploadEventSchema.safeParse(json);
  return parsed.success ? { ok: true, value: parsed.data, publishedAt: publishedAtOf(json) } : { ok: false, error: parsed.error };
}

/** The envelope's publish time, if it carries a plausible one. */
function publishedAtOf(json: unknown): number | null {
  const at = (json as { publishedAt?: unknown }).publishedAt;
  return typeof at === 'number' && Number.isFinite(at) && at > 0 ? at : null;
}
