import { authEnvSchema, commonEnvSchema, parseEnv, toCommonConfig, toAuthConfig, type AuthConfig, type CommonConfig } from '@tessera/domain';
import { z } from 'zod';

const notifierEnvSchema = commonEnvSchema.extend(authEnvSchema.shape).extend({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  /** Origins browsers may connect from: `*`, or a comma-separated list of origins. */
  CORS_ORIGIN: z
    .string()
    .default('*')
    .transform((value, ctx) => {
      if (value.trim() === '*') return '*' as const;
      const origins = value.split(',').map((o) => o.trim()).filter(Boolean);
      const bad = origins.filter((o) => !/^https?:\/\/[^/\s]+$/.test(o));
      if (origins.length === 0 || bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `must be * or comma-separated origins like https://app.example.com (bad: ${bad.join(', ') || 'empty'})` });
        return z.NEVER;
      }
      return origins;
    }),
  /** Uploads one socket may watch at once; bounds the rooms a single client can hold. */
  MAX_SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Sockets one notifier process holds at most; more are refused with too-many-connections. */
  MAX_SOCKETS: z.coerce.number().int().min(1).default(10_000),
  /** Sockets one owner may hold at once, per notifier process. */
  MAX_SOCKETS_PER_OWNER: z.coerce.number().int().min(1).default(100),
});

export type NotifierConfig = Readonly<
  CommonConfig & {
    host: string;
    port: number;
    auth: AuthConfig;
    corsOrigin: '*' | readonly string[];
    maxSubscriptionsPerSocket: number;
    connectionLimits: { maxSockets: number; maxSocketsPerOwner: number };
  }
>;

/** Reads and checks the notifier's environment once; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): NotifierConfig {
  const e = parseEnv('notifier', notifierEnvSchema, env);
  return Object.freeze({
    ...toCommonConfig(e),
    host: e.HOST,
    port: e.PORT,
    auth: toAuthConfig(e),
    corsOrigin: e.CORS_ORIGIN === '*' ? '*' : Object.freeze([...e.CORS_ORIGIN]),
    maxSubscriptionsPerSocket: e.MAX_SUBSCRIPTIONS_PER_SOCKET,
    connectionLimits: { maxSockets: e.MAX_SOCKETS, maxSocketsPerOwner: e.MAX_SOCKETS_PER_OWNER },
  });
}
