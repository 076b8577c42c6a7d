import { redisConnection } from '@tessera/adapters';
import { QUEUES } from '@tessera/domain';
import type { Stack } from '../../../e2e/src/support/stack';

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** Reads BullMQ's lists of the stack's queues directly, so a count needs no worker and no Queue object. */
export class QueueProbe {
  private readonly redis: ReturnType<typeof redisConnection>;

  constructor(private readonly stack: Stack) {
    this.redis = redisConnection(stack.redisUrl, { maxRetriesPerRequest: 1 });
    this.redis.on('error', () => undefined);
  }

  async counts(queue: QueueName): Promise<QueueCounts> {
    const key = (part: string) => `${this.stack.redisPrefix}:${queue}:${part}`;
    const [waiting, active, delayed, failed] = await Promise.all([
      this.redis.llen(key('wait')),
      this.redis.llen(key('active')),
      this.redis.zcard(key('delayed')),
      this.redis.zcard(key('failed')),
    ]);
    return { waiting, active, delayed, failed };
  }

  /** Why each failed job of `queue` failed, for a readable assertion. */
  async failedReasons(queue: QueueName): Promise<string[]> {
    const ids = await this.redis.zrange(`${this.stack.redisPrefix}:${queue}:failed`, '0', '-1');
    return Promise.all(ids.map(async (id) => `${id}: ${await this.redis.hget(`${this.stack.redisPrefix}:${queue}:${id}`, 'failedReason')}`));
  }

  /**
   * Stalls of the jobs that finished (completed or failed): BullMQ counts on each job how
   * often the process running it died before it finished (its lock expired).
   */
  async stalls(queue: QueueName): Promise<{ jobs: number; total: number; most: number }> {
    const key = (part: string) => `${this.stack.redisPrefix}:${queue}:${part}`;
    const ids = [...(await this.redis.zrange(key('completed'), '0', '-1')), ...(await this.redis.zrange(key('failed'), '0', '-1'))];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(key(id), 'stc');
    const counts = ((await pipeline.exec()) ?? []).map(([, value]) => Number(value ?? 0));
    return { jobs: counts.filter((n) => n > 0).length, total: counts.reduce((a, b) => a + b, 0), most: Math.max(0, ...counts) };
  }

  /** A job's attempts so far and where it ended up, or null if Redis no longer has it. */
  async job(queue: QueueName, id: string): Promise<{ attemptsMade: number; returnValue: unknown; failedReason: string | null; state: string } | null> {
    const key = (part: string) => `${this.stack.redisPrefix}:${queue}:${part}`;
    const hash = await this.redis.hgetall(key(id));
    if (Object.keys(hash).length === 0) return null;
    const [completed, failed] = await Promise.all([this.redis.zscore(key('completed'), id), this.redis.zscore(key('failed'), id)]);
    return {
      attemptsMade: Number(hash.atm ?? 0),
      returnValue: hash.returnvalue === undefined ? undefined : JSON.parse(hash.returnvalue),
      failedReason: hash.failedReason ?? null,
      state: completed !== null ? 'completed' : failed !== null ? 'failed' : 'unfinished',
    };
  }

  close(): void {
    this.redis.disconnect();
  }
}
