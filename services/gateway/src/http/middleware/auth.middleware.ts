import { UnauthorizedError, type TokenVerifier } from '@tessera/domain';
import type { RequestHandler } from 'express';

/** Requires `Authorization: Bearer <JWT>`; the token's subject becomes `res.locals.ownerId`. */
export function requireOwner(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) throw new UnauthorizedError(header ? 'The Authorization header is not a Bearer token.' : 'No Authorization header.');
    const principal = await verifier.verify(match[1]);
    res.locals.ownerId = principal.ownerId;
    next();
  };
}

export function ownerOf(res: { locals: Record<string, unknown> }): string {
  return res.locals.ownerId as string;
}
