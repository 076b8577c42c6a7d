import { ERROR_CODES, isDomainError, isUuid, type GetUpload } from '@tessera/domain';
import { z } from 'zod';
import type { Logger } from '../logger';
import { roomOf, type AckError, type NotifierSocket, type SubscribeAck, type UnsubscribeAck } from './protocol';
import { ConcurrencyLimit } from './concurrency-limit';
import { SerialByKey } from './serial-by-key';

export interface SubscriptionDeps {
  getUpload: Pick<GetUpload, 'execute'>;
  maxSubscriptionsPerSocket: number;
  logger: Logger;
}

/**
 * Upload reads one socket may have in flight; its other subscribes wait their turn. Without
 * it one client flooding subscribes holds up to `maxSubscriptionsPerSocket` reads at once,
 * queueing every other client's behind them for the database pool (a second or more).
 */
export const MAX_READS_IN_FLIGHT_PER_SOCKET = 4;

const uploadRefSchema = z.object({
  uploadId: z
    .string()
    .refine(isUuid, 'must be a UUID')
    // Rooms are keyed by the id as PostgreSQL prints it, which is what events carry.
    .transform((id) => id.toLowerCase()),
});

/** Handles `subscribe` and `unsubscribe` for one authenticated socket. */
export function handleSubscriptions(socket: NotifierSocket, deps: SubscriptionDeps): void {
  const { ownerId } = socket.data;
  // Uploads this socket has joined or is joining; its size is what the limit counts.
  const subscribed = new Set<string>();
  // A subscribe and an unsubscribe of one upload must not interleave, or the socket
  // could end up in a room its client believes it left.
  const serial = new SerialByKey();
  const reads = new ConcurrencyLimit(MAX_READS_IN_FLIGHT_PER_SOCKET);
  // A socket that left while its reads waited their turn needs neither the reads nor an answer.
  const read = (uploadId: string) => reads.run(() => (socket.disconnected ? Promise.resolve(null) : deps.getUpload.execute(ownerId, uploadId)));

  const subscribe = async (uploadId: string): Promise<SubscribeAck | null> => {
    const wasSubscribed = subscribed.has(uploadId);
    if (!wasSubscribed && subscribed.size >= deps.maxSubscriptionsPerSocket) {
      return failure({
        type: 'too-many-subscriptions',
        detail: `A socket may watch at most ${deps.maxSubscriptionsPerSocket} uploads; unsubscribe from some first.`,
      });
    }
    subscribed.add(uploadId);
    try {
      if (!wasSubscribed) {
        // Ownership is checked before joining, so not one event of a stranger's upload
        // is ever sent to this socket.
        const visible = await read(uploadId);
        if (!visible || socket.disconnected) return null;
        await socket.join(roomOf(uploadId));
      }
      // Read after joining: any event newer than this snapshot is already on its way to
      // the socket, and the client drops the older ones by `seq`.
      const upload = await read(uploadId);
      return upload ? { ok: true, upload } : null;
    } catch (error) {
      subscribed.delete(uploadId);
      await socket.leave(roomOf(uploadId));
      return failure(ackErrorOf(error, deps.logger, uploadId, ownerId));
    }
  };

  const unsubscribe = async (uploadId: string): Promise<UnsubscribeAck> => {
    subscribed.delete(uploadId);
    await socket.leave(roomOf(uploadId));
    return { ok: true };
  };

  socket.on('subscribe', (...args) => {
    const { uploadId, ack, invalid } = readRequest(args);
    if (invalid) return reply(ack, failure(invalid));
    void serial.run(uploadId, () => subscribe(uploadId)).then((answer) => reply(ack, answer));
  });

  socket.on('unsubscribe', (...args) => {
    const { uploadId, ack, invalid } = readRequest(args);
    if (invalid) return reply(ack, failure(invalid));
    void serial.run(uploadId, () => unsubscribe(uploadId)).then((answer) => reply(ack, answer));
  });
}

type Request =
  | { uploadId: string; ack: Ack | null; invalid?: undefined }
  | { uploadId?: undefined; ack: Ack | null; invalid: AckError };
type Ack = (answer: unknown) => void;

/** Socket.IO passes the ack callback last; a client may omit it or send anything at all. */
function readRequest(args: unknown[]): Request {
  const last = args[args.length - 1];
  const ack = typeof last === 'function' ? (last as Ack) : null;
  const parsed = uploadRefSchema.safeParse(typeof args[0] === 'function' ? undefined : args[0]);
  if (parsed.success) return { uploadId: parsed.data.uploadId, ack };
  const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
  return { ack, invalid: { type: ERROR_CODES.VALIDATION_FAILED, detail: `Send {uploadId: "<uuid>"}. ${detail}.` } };
}

function reply(ack: Ack | null, answer: SubscribeAck | UnsubscribeAck | null): void {
  if (ack && answer) ack(answer);
}

function failure(error: AckError): { ok: false; error: AckError } {
  return { ok: false, error };
}

function ackErrorOf(error: unknown, logger: Logger, uploadId: string, ownerId: string): AckError {
  // A stranger learns nothing from the answer, not even a sentence.
  if (isDomainError(error) && error.code === ERROR_CODES.NOT_FOUND) return { type: ERROR_CODES.NOT_FOUND };
  if (isDomainError(error)) return { type: error.code, detail: error.message };
  logger.error({ err: error, uploadId, ownerId }, 'could not read an upload for a subscription; is PostgreSQL reachable?');
  return { type: ERROR_CODES.SERVICE_UNAVAILABLE, detail: 'The upload could not be read right now; subscribe again shortly.' };
}
