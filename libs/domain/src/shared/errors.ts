import { DomainError, ERROR_CODES } from './domain-error';

export class NotFoundError extends DomainError {
  readonly code = ERROR_CODES.NOT_FOUND;
  constructor(what = 'upload') {
    super(`No ${what} with this id is visible to you.`);
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export class ValidationError extends DomainError {
  readonly code = ERROR_CODES.VALIDATION_FAILED;
  constructor(
    message: string,
    readonly issues: ValidationIssue[] = [],
  ) {
    super(message, { issues });
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly code = ERROR_CODES.PAYLOAD_TOO_LARGE;
  constructor(size: number, limit: number) {
    super(`The upload is ${size} bytes; this server accepts at most ${limit} bytes.`, { size, limit });
  }
}

export class ChunkAlreadyReceivedError extends DomainError {
  readonly code = ERROR_CODES.CHUNK_ALREADY_RECEIVED;
  constructor(index: number) {
    super(`Chunk ${index} is already received, stored or being received; send only the indices listed in "missing".`, { index });
  }
}

export class ChunkIndexOutOfRangeError extends DomainError {
  readonly code = ERROR_CODES.CHUNK_INDEX_OUT_OF_RANGE;
  constructor(index: number, chunkCount: number) {
    super(`Chunk index ${index} is out of range: this upload has chunks 0..${chunkCount - 1}.`, { index, chunkCount });
  }
}

export class ChunkLengthMismatchError extends DomainError {
  readonly code = ERROR_CODES.CHUNK_LENGTH_MISMATCH;
  constructor(index: number, expected: number, actual: number) {
    super(`Chunk ${index} must be exactly ${expected} bytes; the request declares ${actual}.`, { index, expected, actual });
  }
}

/** The client stopped sending, or sent more or fewer bytes than it declared. */
export class ChunkIncompleteError extends DomainError {
  readonly code = ERROR_CODES.CHUNK_INCOMPLETE;
  constructor(message: string) {
    super(`${message} Nothing was kept; send the chunk again.`);
  }
}

export class UploadNotReceivingError extends DomainError {
  readonly code = ERROR_CODES.UPLOAD_NOT_RECEIVING;
  constructor(state?: string, message?: string) {
    super(message ?? (state ? `The upload is ${state} and takes no more chunks.` : 'The upload takes no more chunks.'), state ? { state } : undefined);
  }
}

/** The client stopped sending a body part-way; what arrived was dropped. */
export class BodyTimeoutError extends DomainError {
  readonly code = ERROR_CODES.REQUEST_TIMEOUT;
  /** @param kept whether what arrived before was kept (a tus PATCH keeps its durable bytes) */
  constructor(idleMs: number, kept = false) {
    const what = kept ? 'what arrived before is kept: ask for the offset with HEAD and resume from there' : 'nothing of it was kept. Send it again';
    super(`No bytes of the body arrived for ${Math.round(idleMs / 1000)} s, so the request was given up; ${what}.`, {
      idleTimeoutMs: idleMs,
    });
  }
}

/** The owner already has as many unfinished uploads as allowed. */
export class TooManyUploadsError extends DomainError {
  readonly code = ERROR_CODES.TOO_MANY_UPLOADS;
  constructor(limit: number) {
    super(`You already have ${limit} unfinished uploads, the most this server allows at once; finish or delete some (DELETE /v1/uploads/:id) and try again.`, {
      limit,
    });
  }
}

/** The upload outlived its time to live unfinished; it is (or is about to be) swept away. */
export class UploadExpiredError extends DomainError {
  readonly code = ERROR_CODES.UPLOAD_EXPIRED;
  constructor(expiresAt: Date) {
    super(`The upload expired unfinished at ${expiresAt.toISOString()} and takes no more chunks; create a new upload and send the file again.`, {
      expiresAt: expiresAt.toISOString(),
    });
  }
}

export class UploadNotCompletedError extends DomainError {
  readonly code = ERROR_CODES.UPLOAD_NOT_COMPLETED;
  constructor(state: string) {
    super(`The upload is ${state}; its content can be read once it is completed.`, { state });
  }
}

export class UnauthorizedError extends DomainError {
  readonly code = ERROR_CODES.UNAUTHORIZED;
  constructor(reason: string) {
    super(`${reason} Send "Authorization: Bearer <token>" with a valid token.`);
  }
}

/** A dependency (PostgreSQL, Redis, the blob store) did not answer; the request may be retried. */
export class ServiceUnavailableError extends DomainError {
  readonly code = ERROR_CODES.SERVICE_UNAVAILABLE;
  constructor(dependency: string, readonly retryAfterSeconds = 5) {
    super(`${dependency} is unavailable right now; retry shortly.`, { dependency });
  }
}

/** A tus PATCH that does not start where the upload's durable bytes end. */
export class OffsetMismatchError extends DomainError {
  readonly code = ERROR_CODES.OFFSET_MISMATCH;
  constructor(expected: number, actual: number) {
    super(`The upload's offset is ${expected}, not ${actual}: ask for it with HEAD and send the bytes from there.`, { expected, actual });
  }
}

/** Another request is writing to the same upload; one writer at a time keeps offsets exact. */
export class UploadLockedError extends DomainError {
  readonly code = ERROR_CODES.UPLOAD_LOCKED;
  constructor() {
    super('Another request is writing to this upload right now; wait for it to end (or for its lock to lapse), then HEAD and resume.');
  }
}

/** The bytes of a request do not match the checksum the client sent with them. */
export class ChecksumMismatchError extends DomainError {
  readonly code = ERROR_CODES.CHECKSUM_MISMATCH;
  constructor(algorithm: string) {
    super(`The request's bytes do not match its ${algorithm} checksum; none of them were kept. Send them again from the same offset.`, { algorithm });
  }
}

export class ChecksumAlgorithmUnsupportedError extends DomainError {
  readonly code = ERROR_CODES.CHECKSUM_ALGORITHM_UNSUPPORTED;
  constructor(algorithm: string, supported: readonly string[]) {
    super(`Checksum algorithm "${algorithm}" is not supported; use one of ${supported.join(', ')}.`, { algorithm, supported });
  }
}

/** A concatenated (final) upload is made of other uploads' bytes; it takes none of its own. */
export class FinalUploadNotWritableError extends DomainError {
  readonly code = ERROR_CODES.FINAL_UPLOAD_NOT_WRITABLE;
  constructor() {
    super('This upload is the concatenation of partial uploads and takes no bytes of its own; write to its partial uploads instead.');
  }
}
