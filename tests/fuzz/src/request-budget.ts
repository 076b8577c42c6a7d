/**
 * Issue 4 asks for at least 10,000 generated requests per CI run. Each test file checks
 * that it sent its share of HTTP requests; the shares add up to the whole (the notifier's
 * Socket.IO messages come on top).
 */
export const REQUEST_SHARES = {
  'create-upload': 2_500,
  chunks: 2_500,
  reads: 2_500,
  auth: 2_200,
  notifier: 400,
  tus: 4_000,
} as const;

export const REQUESTS_PER_RUN = 10_000;

const total = Object.values(REQUEST_SHARES).reduce((sum, share) => sum + share, 0);
if (total < REQUESTS_PER_RUN) throw new Error(`the request shares add up to ${total}, less than the ${REQUESTS_PER_RUN} a run must send`);
