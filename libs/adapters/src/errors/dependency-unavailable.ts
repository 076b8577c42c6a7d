// Error codes that mean "a dependency is away, try again shortly", not "bug": network
// failures, PostgreSQL shutting down or out of connections (57P01, 57P03, 53300, class 08),
// and a transaction that lost a deadlock or a serialization race (40P01, 40001).
const CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EPIPE', '57P01', '57P03', '53300', '40P01', '40001']);
// S3-compatible stores name throttling and their own outages.
const NAMES = new Set([
  'MaxRetriesPerRequestError',
  'DeadlockException',
  'LockWaitTimeoutException',
  'ConnectionException',
  'KnexTimeoutError',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'ThrottlingException',
  // The AWS SDK's own: no connection within connectionTimeout, or a socket gone quiet.
  'TimeoutError',
  'NetworkingError',
]);
// What the drivers say, without a code, when a connection died under a query or a transaction.
const MESSAGES =
  /Connection is closed|connect ECONNREFUSED|Connection terminated|Timeout acquiring a connection|Client has encountered a connection error|Transaction query already complete|Client was closed and is not queryable/i;

/**
 * True when `error` says PostgreSQL, Redis or the network is unreachable or briefly
 * refusing work: the operation may simply be tried again later, and the caller should
 * answer 503 or postpone its job, not report a bug.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CODES.has(code) || code.startsWith('08'))) return true;
  if (NAMES.has(error.name)) return true;
  // An AWS SDK error from a store answering 5xx.
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 500) return true;
  if (MESSAGES.test(error.message)) return true;
  return error.cause !== undefined && error.cause !== error && isDependencyUnavailable(error.cause);
}
