/** A problem document (RFC 9457) as the API sends it. */
export interface Problem {
  type: string;
  title?: string;
  status: number;
  detail?: string;
  [extra: string]: unknown;
}

/**
 * Every failure of the client: `status` is the HTTP status (0 when no answer came), `type`
 * the problem slug (`not-found`, `payload-too-large`, …) or one of the client's own:
 * `network`, `canceled`, `sha256-mismatch`, `upload-failed`.
 */
export class TesseraError extends Error {
  constructor(
    readonly type: string,
    readonly status: number,
    readonly detail: string,
    readonly problem?: Problem,
    options?: { cause?: unknown },
  ) {
    super(status ? `${status} ${type}: ${detail}` : `${type}: ${detail}`, options);
    this.name = 'TesseraError';
  }

  /** Worth another try later: the network, a timeout, rate limits, an unavailable dependency. */
  get retryable(): boolean {
    return this.type === 'network' || [408, 429, 502, 503, 504].includes(this.status);
  }
}
