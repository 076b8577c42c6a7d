import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { startStack, type Stack } from '../../../e2e/src/support/stack';

/**
 * The per-owner rate limit is not under test here, and a few thousand requests of one owner
 * in seconds would otherwise be answered 429 instead of reaching the code under test.
 */
const UNTHROTTLED = { RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000' };

export interface FuzzStack extends Stack {
  /** The secret the gateway and notifier verify with, so tests can sign expired or odd tokens. */
  readonly secret: string;
  /** A valid HS256 token for `owner`, as a real client holds it. */
  tokenFor(owner: string): Promise<string>;
}

/**
 * The e2e stack, with a secret this suite knows: forging an expired token that is
 * otherwise perfectly signed needs it. `Stack.token` signs with the stack's own secret,
 * which the services no longer use here, so it is not exposed.
 */
export async function startFuzzStack(overrides: Record<string, string> = {}): Promise<FuzzStack> {
  const secret = randomBytes(32).toString('base64url');
  const stack = await startStack({ AUTH_JWT_SECRET: secret, ...UNTHROTTLED, ...overrides });
  return {
    ...stack,
    token: () => Promise.reject(new Error('use tokenFor: the services of a fuzz stack verify with FuzzStack.secret')),
    secret,
    tokenFor: (owner) => signWith(secret, { sub: owner }),
  };
}

/** An HS256 token with exactly `claims` (plus a one-hour expiry unless `claims` sets `exp`). */
export function signWith(secret: string, claims: JWTPayload, header: { alg: string } = { alg: 'HS256' }): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iat: now, exp: now + 3600, ...claims }).setProtectedHeader(header).sign(new TextEncoder().encode(secret));
}
