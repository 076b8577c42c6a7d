import type { TesseraError } from '../index';

/** Duck-typed (style guide: check errors by name, duplicate package copies break instanceof). */
export function isTesseraError(error: unknown): error is TesseraError {
  return typeof error === 'object' && error !== null && (error as Error).name === 'TesseraError' && typeof (error as TesseraError).type === 'string';
}

export interface ExplainContext {
  baseUrl: string;
  /** The upload the command was about, for "not found" answers. */
  uploadId?: string;
}

/**
 * What went wrong, in words for the person at the terminal: the problem document's detail
 * and what to do next. Returns lines without a trailing newline.
 */
export function explain(error: unknown, context: ExplainContext): string {
  if (!isTesseraError(error)) {
    const err = error as NodeJS.ErrnoException;
    if (err?.code === 'ENOENT') return `${err.path ?? 'a file'} does not exist.`;
    if (err?.code === 'EACCES' || err?.code === 'EPERM') return `Permission denied: ${err.path ?? ''}.`;
    if (err?.code === 'ENOSPC') return 'The disk is full.';
    return `Unexpected error: ${err?.message ?? String(error)}`;
  }
  const detail = error.detail?.replace(/\.?$/, '.') ?? '';
  switch (true) {
    case error.type === 'network':
      return `Could not reach the gateway at ${context.baseUrl}: ${detail}\nCheck TESSERA_URL and that the service is running (\`npm start\` runs it at http://localhost:3000).`;
    case error.status === 401 || error.type === 'unauthorized':
      return `The gateway refused the token: ${detail}\nSet TESSERA_TOKEN to a valid, unexpired token (with \`npm start\` in development, use the token it prints).`;
    case error.status === 403:
      return `Not allowed: ${detail}`;
    case error.status === 404 || error.type === 'not-found':
      return context.uploadId
        ? `No upload ${context.uploadId} is visible to you: it does not exist, was deleted, or belongs to another owner.\n\`tessera ls\` lists your uploads.`
        : `Not found: ${detail}`;
    case error.type === 'sha256-mismatch':
      return `The downloaded bytes do not match the upload's SHA-256: ${detail}\nNothing was saved. Try the download again; if it keeps failing, the stored copy may be damaged.`;
    case error.type === 'payload-too-large' || error.status === 413:
      return `The server refuses a file this large: ${detail}`;
    case error.status === 429 || error.status === 503:
      return `The service is busy or partly unavailable (${error.status}): ${detail}\nIt was retried several times; try again in a minute.`;
    case error.status >= 500:
      return `The server failed (${error.status} ${error.type}): ${detail}\nTry again; if it persists, the gateway's log has the cause.`;
    case error.status >= 400:
      return `The server refused the request (${error.status} ${error.type}): ${detail}`;
    default:
      return `${error.type}: ${detail}`;
  }
}
