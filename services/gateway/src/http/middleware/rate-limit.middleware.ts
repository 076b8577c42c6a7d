import type { RequestHandler } from 'express';
import { HTTP_PROBLEMS, HttpProblem } from '../problem';
import { ownerOf } from './auth.middleware';

export interface RateLimit {
  /** Requests per second an owner may keep up. */
  perSecond: number;
  /** Requests an owner may send at once after being idle. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many owners, buckets that are full again (idle owners) are dropped to bound memory. */
const MAX_TRACKED_OWNERS = 100_000;

/**
 * A token bucket per owner, per gateway process: with N replicas an owner gets up to N times
 * the rate, which is what this is for (keeping one client from starving the others), not
 * billing. Over the limit a request gets 429 with the seconds until a token is back.
 */
export function rateLimitPerOwner(limit: RateLimit, now: () => number = () => performance.now()): RequestHandler {
  const buckets = new Map<string, Bucket>();
  const refill = (bucket: Bucket, t: number) => {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((t - bucket.at) / 1000) * limit.perSecond);
    bucket.at = t;
  };
  const forgetIdle = (t: number) => {
    for (const [owner, bucket] of buckets) {
      refill(bucket, t);
      if (bucket.tokens >= limit.burst) buckets.delete(owner);
    }
  };

  return (_req, res, next) => {
    const owner = ownerOf(res);
    const t = now();
    let bucket = buckets.get(owner);
    if (!bucket) {
      if (buckets.size >= MAX_TRACKED_OWNERS) forgetIdle(t);
      bucket = { tokens: limit.burst, at: t };
      buckets.set(owner, bucket);
    }
    refill(bucket, t);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return next();
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
    throw new HttpProblem(
      HTTP_PROBLEMS.RATE_LIMITED,
      `Too many requests: this server takes ${limit.perSecond} per second from one owner (bursts of ${limit.burst}). Retry after ${retryAfter} s.`,
      { retryAfterSeconds: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  };
}
