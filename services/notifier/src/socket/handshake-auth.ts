import { isDomainError, ERROR_CODES, type TokenVerifier } from '@tessera/domain';
import type { ExtendedError } from 'socket.io';
import type { Logger } from '../logger';
import type { NotifierSocket } from './protocol';

/**
 * Socket.IO middleware: a socket connects only with a valid bearer token, taken from
 * `auth.token` (browsers cannot set headers on WebSocket) or an `Authorization` header.
 * A refused client sees connect_error with message `unauthorized`.
 */
export function authenticate(tokens: TokenVerifier, logger: Logger) {
  return (socket: NotifierSocket, next: (err?: ExtendedError) => void): void => {
    const token = tokenOf(socket.handshake);
    if (!token) {
      next(refusal('No token: connect with io(url, {auth: {token}}) or an "Authorization: Bearer <token>" header.'));
      return;
    }
    tokens.verify(token).then(
      (principal) => {
        socket.data.ownerId = principal.ownerId;
        next();
      },
      (error: unknown) => {
        if (!isDomainError(error)) logger.error({ err: error }, 'token verification failed unexpectedly; the socket was refused');
        next(refusal(isDomainError(error) ? error.message : 'The token could not be verified.'));
      },
    );
  };
}

function tokenOf(handshake: NotifierSocket['handshake']): string | null {
  const fromAuth: unknown = (handshake.auth as Record<string, unknown> | undefined)?.token;
  if (typeof fromAuth === 'string' && fromAuth.length > 0) return fromAuth;
  const header = handshake.headers.authorization;
  return (header && /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]) || null;
}

function refusal(detail: string): ExtendedError {
  const error: ExtendedError = new Error(ERROR_CODES.UNAUTHORIZED);
  error.data = { type: ERROR_CODES.UNAUTHORIZED, detail };
  return error;
}
