/**
 * Stable error codes. They double as the `type` slug of HTTP problem documents and
 * as rejection reasons across process boundaries, so they never change once published.
 */
export const ERROR_CODES = {
  NOT_FOUND: 'not-found',
  VALIDATION_FAILED: 'validation-failed',
  PAYLOAD_TOO_LARGE: 'payload-too-large',
  CHUNK_ALREADY_RECEIVED: 'chunk-already-received',
  CHUNK_INDEX_OUT_OF_RANGE: 'chunk-index-out-of-range',
  CHUNK_LENGTH_MISMATCH: 'chunk-length-mismatch',
  CHUNK_INCOMPLETE: 'chunk-incomplete',
  UPLOAD_NOT_RECEIVING: 'upload-not-receiving',
  UPLOAD_EXPIRED: 'upload-expired',
  TOO_MANY_UPLOADS: 'too-many-uploads',
  REQUEST_TIMEOUT: 'request-timeout',
  UPLOAD_NOT_COMPLETED: 'upload-not-completed',
  UNAUTHORIZED: 'unauthorized',
  SERVICE_UNAVAILABLE: 'service-unavailable',
  OFFSET_MISMATCH: 'offset-mismatch',
  UPLOAD_LOCKED: 'upload-locked',
  CHECKSUM_MISMATCH: 'checksum-mismatch',
  CHECKSUM_ALGORITHM_UNSUPPORTED: 'checksum-algorithm-unsupported',
  FINAL_UPLOAD_NOT_WRITABLE: 'final-upload-not-writable',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/**
 * An expected, operational failure: bad input, a missing upload, a conflict. Transports
 * map `code` to a status in one table; anything that is not a DomainError is a bug.
 */
export abstract class DomainError extends Error {
  abstract readonly code: ErrorCode;

  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    // `name` survives duplicate package copies and serialization, unlike instanceof.
    this.name = new.target.name;
  }
}

export const isDomainError = (e: unknown): e is DomainError =>
  e instanceof Error && typeof (e as Partial<DomainError>).code === 'string' &&
  Object.values(ERROR_CODES).includes((e as DomainError).code);
