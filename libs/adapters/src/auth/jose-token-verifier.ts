import { jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { UnauthorizedError, type Principal, type TokenVerifier } from '@tessera/domain';

export interface JoseTokenVerifierOptions {
  /** The shared HS256 secret. */
  secret: string;
  /** When set, the token's `iss` must equal it. */
  issuer?: string;
  /** When set, the token's `aud` must contain it. */
  audience?: string;
  /** Leeway for `exp` and `nbf`, seconds (default 0). */
  clockToleranceSeconds?: number;
  /** The claim holding the token's roles (default `roles`); see {@link rolesOf}. */
  rolesClaim?: string;
}

/** Where roles are read from when no other claim is configured. */
export const DEFAULT_ROLES_CLAIM = 'roles';

const encoder = new TextEncoder();

function keyOf(secret: string): Uint8Array {
  if (secret.length === 0) throw new Error('An HS256 secret must not be empty; set AUTH_JWT_SECRET.');
  return encoder.encode(secret);
}

/** The value at `path` (`a.b.c`) inside nested plain objects, own properties only; undefined when any step is missing. */
function nested(payload: Record<string, unknown>, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * The roles a token's claims grant under `claim`: an array of strings (other entries are
 * ignored), or one string holding whitespace-separated roles (as OAuth's `scope`). A claim
 * with exactly that name wins (Auth0 names them `https://example.com/roles`); otherwise a
 * dotted name reaches into nested objects (Keycloak's `realm_access.roles`). Anything else,
 * or no such claim: no roles.
 */
export function rolesOf(payload: Record<string, unknown>, claim: string): string[] {
  const value = Object.hasOwn(payload, claim) ? payload[claim] : claim.includes('.') ? nested(payload, claim) : undefined;
  if (typeof value === 'string') return value.split(/\s+/).filter((role) => role.length > 0);
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string' && role.length > 0);
  return [];
}

/** Why jose refused a token, in words safe to return to the client (never the token itself). */
function reasonFor(error: unknown): string {
  const { code, claim } = (error ?? {}) as { code?: string; claim?: string };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'The token has expired.';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'nbf') return 'The token is not valid yet.';
      if (claim === 'iss' || claim === 'aud') return 'The token was issued for another service.';
      if (claim === 'exp') return 'The token has no valid expiry ("exp"); ask for one that expires.';
      return `The token's "${claim ?? 'claims'}" claim is invalid.`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'The token signature is invalid.';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'The token must be signed with HS256.';
    default:
      return 'The token is malformed.';
  }
}

/** A token whose signature and claims checked out, kept until its time claims say otherwise. */
interface Verified {
  principal: Principal;
  exp: number | undefined;
  nbf: number | undefined;
}

/** How many verified tokens are remembered; a client sends the same one with every chunk. */
const REMEMBERED_TOKENS = 10_000;

/**
 * Verifies HS256 bearer tokens with jose. The algorithm is pinned, so neither `none` nor
 * another HMAC size is accepted; `sub` names the owner and the roles claim (`rolesClaim`) its
 * roles. Every failure is an UnauthorizedError.
 * A token that passed is remembered (WebCrypto costs ≈ 0.3 ms per check here, on every
 * chunk request); a remembered one is still refused once its `exp` or before its `nbf`.
 */
export class JoseTokenVerifier implements TokenVerifier {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, Verified>();

  constructor(private readonly options: JoseTokenVerifierOptions) {
    this.key = keyOf(options.secret);
  }

  async verify(token: string): Promise<Principal> {
    const known = this.verified.get(token);
    if (known && this.inTime(known)) return known.principal;
    this.verified.delete(token);
    const verified = await this.verifyWithJose(token);
    if (this.verified.size >= REMEMBERED_TOKENS) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, verified);
    return verified.principal;
  }

  /** The same time checks as jose's, with the same tolerance. */
  private inTime({ exp, nbf }: Verified): boolean {
    const now = Math.floor(Date.now() / 1000);
    const tolerance = this.options.clockToleranceSeconds ?? 0;
    return (exp === undefined || exp > now - tolerance) && (nbf === undefined || nbf <= now + tolerance);
  }

  private async verifyWithJose(token: string): Promise<Verified> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        // A token that never expires cannot be taken back short of rotating the secret.
        requiredClaims: ['exp'],
        ...(this.options.issuer !== undefined ? { issuer: this.options.issuer } : {}),
        ...(this.options.audience !== undefined ? { audience: this.options.audience } : {}),
        clockTolerance: this.options.clockToleranceSeconds ?? 0,
      }));
    } catch (error) {
      throw new UnauthorizedError(reasonFor(error));
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new UnauthorizedError('The token names no subject ("sub").');
    }
    const roles = Object.freeze(rolesOf(payload, this.options.rolesClaim ?? DEFAULT_ROLES_CLAIM));
    return { principal: { ownerId: payload.sub, roles }, exp: payload.exp, nbf: payload.nbf };
  }
}

/**
 * Signs an HS256 token for `subject`: for development and tests. `expiresIn` takes jose
 * time spans such as '1h' or '15 minutes' (default '1h'); `claims` are added to the payload
 * (e.g. `{ roles: ['admin'] }`), below the registered ones set here.
 */
export async function signToken(
  secret: string,
  subject: string,
  options: { expiresIn?: string; issuer?: string; audience?: string; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const jwt = new SignJWT({ ...(options.claims ?? {}) })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h');
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(keyOf(secret));
}
