import { ERROR_CODES, isDomainError, ServiceUnavailableError, type ErrorCode } from '@tessera/domain';
import { isDependencyUnavailable } from '@tessera/adapters';
import type { Response } from 'express';

/** Problem types only HTTP knows about. */
export const HTTP_PROBLEMS = {
  LENGTH_REQUIRED: 'length-required',
  RANGE_NOT_SATISFIABLE: 'range-not-satisfiable',
  UNSUPPORTED_MEDIA_TYPE: 'unsupported-media-type',
  RATE_LIMITED: 'rate-limited',
  EXPECTATION_FAILED: 'expectation-failed',
  HEADERS_TOO_LARGE: 'headers-too-large',
  TUS_VERSION_UNSUPPORTED: 'tus-version-unsupported',
  FORBIDDEN: 'forbidden',
  INTERNAL: 'internal-error',
} as const;

type ProblemType = ErrorCode | (typeof HTTP_PROBLEMS)[keyof typeof HTTP_PROBLEMS];

/** The one table from problem type to status and title. */
const PROBLEMS: Record<ProblemType, { status: number; title: string }> = {
  [ERROR_CODES.NOT_FOUND]: { status: 404, title: 'Not found' },
  [ERROR_CODES.VALIDATION_FAILED]: { status: 400, title: 'The request is not valid' },
  [ERROR_CODES.PAYLOAD_TOO_LARGE]: { status: 413, title: 'Too large' },
  [ERROR_CODES.CHUNK_ALREADY_RECEIVED]: { status: 409, title: 'Chunk already received' },
  [ERROR_CODES.CHUNK_INDEX_OUT_OF_RANGE]: { status: 400, title: 'Chunk index out of range' },
  [ERROR_CODES.CHUNK_LENGTH_MISMATCH]: { status: 400, title: 'Wrong chunk length' },
  [ERROR_CODES.CHUNK_INCOMPLETE]: { status: 400, title: 'Chunk body incomplete' },
  [ERROR_CODES.UPLOAD_NOT_RECEIVING]: { status: 409, title: 'Upload is not receiving' },
  [ERROR_CODES.UPLOAD_EXPIRED]: { status: 410, title: 'Upload expired' },
  [ERROR_CODES.TOO_MANY_UPLOADS]: { status: 429, title: 'Too many unfinished uploads' },
  [ERROR_CODES.REQUEST_TIMEOUT]: { status: 408, title: 'Request body timed out' },
  [ERROR_CODES.UPLOAD_NOT_COMPLETED]: { status: 409, title: 'Upload is not completed' },
  [ERROR_CODES.UNAUTHORIZED]: { status: 401, title: 'Unauthorized' },
  [ERROR_CODES.SERVICE_UNAVAILABLE]: { status: 503, title: 'Service unavailable' },
  [ERROR_CODES.OFFSET_MISMATCH]: { status: 409, title: 'Offset mismatch' },
  [ERROR_CODES.UPLOAD_LOCKED]: { status: 423, title: 'Upload locked by another request' },
  [ERROR_CODES.CHECKSUM_MISMATCH]: { status: 460, title: 'Checksum mismatch' },
  [ERROR_CODES.CHECKSUM_ALGORITHM_UNSUPPORTED]: { status: 400, title: 'Checksum algorithm not supported' },
  [ERROR_CODES.FINAL_UPLOAD_NOT_WRITABLE]: { status: 403, title: 'Final upload takes no bytes' },
  [HTTP_PROBLEMS.LENGTH_REQUIRED]: { status: 411, title: 'Content-Length required' },
  [HTTP_PROBLEMS.RANGE_NOT_SATISFIABLE]: { status: 416, title: 'Range not satisfiable' },
  [HTTP_PROBLEMS.UNSUPPORTED_MEDIA_TYPE]: { status: 415, title: 'Unsupported media type' },
  [HTTP_PROBLEMS.RATE_LIMITED]: { status: 429, title: 'Too many requests' },
  [HTTP_PROBLEMS.EXPECTATION_FAILED]: { status: 417, title: 'Expectation failed' },
  [HTTP_PROBLEMS.HEADERS_TOO_LARGE]: { status: 431, title: 'Request headers too large' },
  [HTTP_PROBLEMS.TUS_VERSION_UNSUPPORTED]: { status: 412, title: 'tus version not supported' },
  [HTTP_PROBLEMS.FORBIDDEN]: { status: 403, title: 'Forbidden' },
  [HTTP_PROBLEMS.INTERNAL]: { status: 500, title: 'Internal error' },
};

/** An error the HTTP layer raises itself, with a problem type from the table. */
export class HttpProblem extends Error {
  constructor(
    readonly type: ProblemType,
    detail: string,
    readonly extras: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'HttpProblem';
  }
}

export interface Problem {
  type: ProblemType;
  title: string;
  status: number;
  detail: string;
  [extra: string]: unknown;
}

/** The client closed the connection or cut its body short: its fault, and nobody is listening. */
function isClientGone(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  return error.name === 'AbortError' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNABORTED' || (code === 'ECONNRESET' && error.message === 'aborted');
}

/** Turns any error into a problem document; `internal` is true for the ones that are bugs. */
export function toProblem(error: unknown): { problem: Problem; headers: Record<string, string>; internal: boolean } {
  if (error instanceof HttpProblem) {
    const { status, title } = PROBLEMS[error.type];
    return { problem: { type: error.type, title, status, detail: error.message, ...error.extras }, headers: error.headers, internal: false };
  }
  if (isDomainError(error)) {
    const { status, title } = PROBLEMS[error.code];
    // A tus upload locked by another PATCH is free again once that request ends: clients may retry soon.
    const headers: Record<string, string> =
      error instanceof ServiceUnavailableError ? { 'Retry-After': String(error.retryAfterSeconds) } : error.code === ERROR_CODES.UPLOAD_LOCKED ? { 'Retry-After': '1' } : {};
    return { problem: { type: error.code, title, status, detail: error.message, ...(error.details ?? {}) }, headers, internal: false };
  }
  const parserProblem = fromBodyParser(error);
  if (parserProblem) return parserProblem;
  if (isClientGone(error)) {
    return toProblem(new HttpProblem(ERROR_CODES.CHUNK_INCOMPLETE, 'The request body ended before all its bytes arrived; nothing of it was kept.'));
  }
  if (isDependencyUnavailable(error)) {
    const unavailable = new ServiceUnavailableError('A storage dependency (PostgreSQL, Redis or the blob store)');
    return toProblem(unavailable);
  }
  return {
    problem: { type: HTTP_PROBLEMS.INTERNAL, title: PROBLEMS[HTTP_PROBLEMS.INTERNAL].title, status: 500, detail: 'The server failed unexpectedly; the failure is logged. Retry, and report it if it persists.' },
    headers: {},
    internal: true,
  };
}

/** Errors from express itself and express.json() (a bad path encoding, a bad body) carry a client status. */
function fromBodyParser(error: unknown): ReturnType<typeof toProblem> | null {
  const e = error as { type?: unknown; status?: unknown };
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return null;
  if (error instanceof URIError) return toProblem(new HttpProblem(ERROR_CODES.VALIDATION_FAILED, 'The path has a malformed percent-encoding.'));
  if (e.type === 'entity.too.large') {
    return toProblem(new HttpProblem(ERROR_CODES.PAYLOAD_TOO_LARGE, 'The JSON body is larger than this endpoint accepts.'));
  }
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    return toProblem(new HttpProblem(HTTP_PROBLEMS.UNSUPPORTED_MEDIA_TYPE, 'Send the body as UTF-8 JSON.'));
  }
  return toProblem(new HttpProblem(ERROR_CODES.VALIDATION_FAILED, 'The body is not valid JSON.'));
}

export function sendProblem(res: Response, problem: Problem, headers: Record<string, string> = {}): void {
  res.status(problem.status).set(headers).type('application/problem+json').send(JSON.stringify(problem));
}
