import { authEnvSchema, blobStoreEnvSchema, toBlobStoreConfig, type BlobStoreConfig, commonEnvSchema, ConfigError, jobEnvSchema, toCommonConfig, toAuthConfig, type AuthConfig, toJobConfig, type CommonConfig, type JobConfig, DEFAULT_CHUNK_SIZE, GiB, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, parseEnv } from '@tessera/domain';
import { z } from 'zod';

const gatewayEnvSchema = commonEnvSchema.extend(authEnvSchema.shape).extend(jobEnvSchema.shape).extend(blobStoreEnvSchema.shape).extend({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Largest accepted upload, bytes (default 100 GiB). */
  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).default(100 * GiB),
  /** Chunk size when a client names none, and for one-shot form uploads, bytes. */
  DEFAULT_CHUNK_SIZE: z.coerce.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE).default(DEFAULT_CHUNK_SIZE),
  /** How long an unfinished upload lives before the sweep expires it, seconds. */
  UPLOAD_TTL_SECONDS: z.coerce.number().int().positive().default(24 * 3600),
  /** How long a chunk request that went silent keeps its index claimed, ms. */
  CHUNK_CLAIM_LEASE_MS: z.coerce.number().int().min(1000).default(10 * 60_000),
  /** A request body that sends nothing for this long is given up with 408, ms. */
  BODY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /** Unfinished uploads one owner may have at once; more get 429 too-many-uploads. */
  MAX_UNFINISHED_UPLOADS_PER_OWNER: z.coerce.number().int().min(1).default(10_000),
  /** Requests per second one owner may keep up, per gateway process; more get 429 + Retry-After. */
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(500),
  /** Requests one owner may send in a burst after being idle, per gateway process. */
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(5000),
  /** A tus PATCH renews its upload's lock while it runs; the lock of a gateway that died lapses after this, ms. */
  TUS_LOCK_LEASE_MS: z.coerce.number().int().min(1000).max(600_000).default(10_000),
  /** Scheme, host and port clients reach the gateway at (behind a proxy), for tus Location URLs; default: taken from each request. */
  PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .regex(/^[^/]+\/\/[^/]+$/, 'scheme://host[:port], without a path')
    .optional(),
  /** Serve /metrics only on this port (an internal one Prometheus scrapes), not on PORT where the Ingress sends everyone. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Comma-separated origins whose browser scripts may call the API, or `*`; empty: same origin only. */
  CORS_ORIGIN: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(z.union([z.literal('*'), z.url({ protocol: /^https?$/ }).regex(/^[^/]+\/\/[^/]+$/, 'an origin has no path: scheme://host[:port]')]))),
  /** Where the web page's browsers reach the notifier (scheme://host[:port]); default: the page's scheme and host, port 3001. */
  NOTIFIER_PUBLIC_URL: z
    .url({ protocol: /^https?$/ })
    .regex(/^[^/]+\/\/[^/]+$/, 'scheme://host[:port], without a path')
    .optional(),
  /** Development only: the web page is handed a fresh 1 h token for this owner, without any login. Refused in production. */
  DEV_TOKEN_SUBJECT: z.string().min(1).max(255).regex(/^[^\p{Cc}]+$/u, 'no control characters').optional(),
  /** The JWT claim holding a token's roles for the queue dashboard: an array of strings or one space-separated string; a dotted name reaches a nested claim. */
  ADMIN_CLAIM: z.string().min(1).max(255).default('roles'),
  /** The role that claim must carry to open the queue dashboard. */
  ADMIN_ROLE: z.string().regex(/^\S{1,255}$/, '1..255 characters, no spaces').default('admin'),
  /** The queue dashboard shows the queues but changes nothing (no retry, clean, pause, add...). */
  QUEUE_DASHBOARD_READ_ONLY: z.enum(['true', 'false'], { error: 'true or false' }).default('true').transform((value) => value === 'true'),
});

export type GatewayConfig = Readonly<
  CommonConfig & JobConfig & {
    host: string;
    port: number;
    auth: AuthConfig;
    blobStore: BlobStoreConfig;
    maxUploadBytes: number;
    defaultChunkSize: number;
    uploadTtlMs: number;
    chunkClaimLeaseMs: number;
    maxUnfinishedPerOwner: number;
    bodyIdleTimeoutMs: number;
    rateLimit: { perSecond: number; burst: number };
    corsOrigins: readonly string[];
    tusLockLeaseMs: number;
    publicUrl: string | null;
    metricsPort: number | null;
    /** The web page's settings: where it finds the notifier, and whose development token it gets (if any). */
    page: { notifierPublicUrl: string | null; devTokenSubject: string | null };
    /** The queue dashboard at /admin/queues: who may open it (role claim and role), and whether it may change anything. */
    queueDashboard: { adminClaim: string; adminRole: string; readOnly: boolean };
  }
>;

/** Reads and checks the gateway's environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const e = parseEnv('gateway', gatewayEnvSchema, env);
  if (e.DEV_TOKEN_SUBJECT !== undefined && e.NODE_ENV === 'production') {
    throw new ConfigError('gateway', ['DEV_TOKEN_SUBJECT: hands a token to anyone who opens the page; refused when NODE_ENV=production']);
  }
  return Object.freeze({
    ...toCommonConfig(e),
    ...toJobConfig(e),
    host: e.HOST,
    port: e.PORT,
    auth: toAuthConfig(e),
    blobStore: toBlobStoreConfig(e, 'gateway'),
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    defaultChunkSize: e.DEFAULT_CHUNK_SIZE,
    uploadTtlMs: e.UPLOAD_TTL_SECONDS * 1000,
    chunkClaimLeaseMs: e.CHUNK_CLAIM_LEASE_MS,
    maxUnfinishedPerOwner: e.MAX_UNFINISHED_UPLOADS_PER_OWNER,
    bodyIdleTimeoutMs: e.BODY_IDLE_TIMEOUT_MS,
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    corsOrigins: e.CORS_ORIGIN,
    tusLockLeaseMs: e.TUS_LOCK_LEASE_MS,
    publicUrl: e.PUBLIC_URL ?? null,
    metricsPort: e.METRICS_PORT ?? null,
    page: { notifierPublicUrl: e.NOTIFIER_PUBLIC_URL ?? null, devTokenSubject: e.DEV_TOKEN_SUBJECT ?? null },
    queueDashboard: { adminClaim: e.ADMIN_CLAIM, adminRole: e.ADMIN_ROLE, readOnly: e.QUEUE_DASHBOARD_READ_ONLY },
  });
}
