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
  constructor(state?: string) {
    super(state ? `The upload is ${state} and takes no more chunks.` : 'The upload takes no more chunks.', state ? { state } : undefined);
  }
}

/** The client stopped sending a body part-way; what arrived was dropped. */
export class BodyTimeoutError extends DomainError {
  readonly code = ERROR_CODES.REQUEST_TIMEOUT;
  constructor(idleMs: number) {
    super(`No bytes of the body arrived for ${Math.round(idleMs / 1000)} s, so the request was given up and nothing of it was kept. Send it again.`, {
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
