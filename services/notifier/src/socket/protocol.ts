import type { UploadEvent, UploadEventType, UploadView } from '@tessera/domain';
import type { Server, Socket } from 'socket.io';

/** The room whose sockets receive an upload's events. */
export const roomOf = (uploadId: string): string => `upload:${uploadId}`;

export interface AckError {
  type: string;
  detail?: string;
}

export type SubscribeAck = { ok: true; upload: UploadView } | { ok: false; error: AckError };
export type UnsubscribeAck = { ok: true } | { ok: false; error: AckError };

// Clients are untrusted: the handlers take whatever arrives and validate it themselves.
export interface ClientToServerEvents {
  subscribe: (...args: unknown[]) => void;
  unsubscribe: (...args: unknown[]) => void;
}

export type ServerToClientEvents = Record<UploadEventType, (event: UploadEvent) => void>;

export interface SocketData {
  /** The verified token's subject; set by the handshake before any event is handled. */
  ownerId: string;
}

export type NotifierIo = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type NotifierSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
