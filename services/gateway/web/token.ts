/** The readable part of a JWT: who it names and when it ends. Not verified here (the server does that). */
export interface TokenClaims {
  sub?: string;
  exp?: number;
}

export function claimsOf(token: string): TokenClaims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '='));
    const claims = JSON.parse(json) as unknown;
    return claims && typeof claims === 'object' ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

const SESSION_KEY = 'tessera.token';

/** A token typed by the person, kept for this tab only (sessionStorage), never in the bundle. */
export const storedToken = {
  get(): string | null {
    try {
      return sessionStorage.getItem(SESSION_KEY);
    } catch {
      return null;
    }
  },
  set(token: string): void {
    try {
      sessionStorage.setItem(SESSION_KEY, token);
    } catch {
      // storage refused (private mode): the token lives in memory only
    }
  },
  clear(): void {
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // nothing stored
    }
  },
};

/**
 * The bearer token the client asks for before each request. A development token (handed
 * out by the gateway in development) is fetched again shortly before it expires.
 */
export class TokenSource {
  private current: string | null;

  constructor(
    initial: string | null,
    private readonly renew: (() => Promise<string | null>) | null,
  ) {
    this.current = initial;
  }

  get token(): string | null {
    return this.current;
  }

  set(token: string | null): void {
    this.current = token;
  }

  /** For the client: the current token, renewed when it has less than a minute left. */
  readonly get = async (): Promise<string> => {
    if (this.renew && this.current) {
      const exp = claimsOf(this.current)?.exp;
      if (exp !== undefined && exp * 1000 - Date.now() < 60_000) this.current = (await this.renew()) ?? this.current;
    }
    if (!this.current) throw new Error('No access token: sign in first.');
    return this.current;
  };
}
