import type { ExtendedError } from 'socket.io';
import type { NotifierSocket } from './protocol';

export interface ConnectionLimits {
  /** Sockets this process holds at most. */
  maxSockets: number;
  /** Sockets one owner may hold at once in this process. */
  maxSocketsPerOwner: number;
}

export const TOO_MANY_CONNECTIONS = 'too-many-connections';

/**
 * Socket.IO middleware, after authentication: refuses a socket past the process's or its
 * owner's limit, so one client opening sockets in a loop cannot exhaust memory or file
 * descriptors for everybody. A refused client sees connect_error `too-many-connections`.
 */
export function limitConnections(limits: ConnectionLimits) {
  let total = 0;
  const perOwner = new Map<string, number>();
  return (socket: NotifierSocket, next: (err?: ExtendedError) => void): void => {
    const owner = socket.data.ownerId;
    const held = perOwner.get(owner) ?? 0;
    if (total >= limits.maxSockets) return next(refusal(`This server holds its most sockets (${limits.maxSockets}); retry in a moment, another replica may take you.`));
    if (held >= limits.maxSocketsPerOwner) return next(refusal(`You already hold ${held} sockets, the most one owner may; one socket can watch many uploads.`));
    total += 1;
    perOwner.set(owner, held + 1);
    socket.once('disconnect', () => {
      total -= 1;
      const left = (perOwner.get(owner) ?? 1) - 1;
      if (left > 0) perOwner.set(owner, left);
      else perOwner.delete(owner);
    });
    next();
  };
}

function refusal(detail: string): ExtendedError {
  const error: ExtendedError = new Error(TOO_MANY_CONNECTIONS);
  error.data = { type: TOO_MANY_CONNECTIONS, detail };
  return error;
}
