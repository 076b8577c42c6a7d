import { TesseraError, type Problem } from './errors';

export interface RetryPolicy {
  /** Further tries after the first (default 6). */
  retries: number;
  /** First back-off, doubled each time, ms (default 250). */
  minDelayMs: number;
  /** Longest back-off, ms (default 10 000). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 6, minDelayMs: 250, maxDelayMs: 10_000 };

/** A try that gets no answer for this long is given up and retried, ms. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export interface HttpOptions {
  baseUrl: string;
  token: () => Promise<string>;
  retry: RetryPolicy;
  fetch: typeof fetch;
  /** Per try, ms. */
  timeoutMs: number;
}

export interface Call {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  signal?: AbortSignal;
  /** Called before each retry, with the failure that caused it. */
  onRetry?: (info: { attempt: number; delayMs: number; error: TesseraError }) => void;
}

/** How long to wait before try `attempt` (1-based): exponential with jitter, at least what Retry-After asks. */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfterSeconds?: number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.minDelayMs * 2 ** (attempt - 1));
  const jittered = exponential * (0.5 + Math.random() / 2);
  return Math.max(jittered, (retryAfterSeconds ?? 0) * 1000);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function problemOf(response: Response): Promise<TesseraError> {
  const text = await response.text().catch(() => '');
  let problem: Problem | undefined;
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (parsed && typeof parsed.type === 'string') problem = { ...parsed, type: parsed.type, status: response.status };
  } catch {
    // not a problem document: described by the status below
  }
  const detail = problem?.detail ?? (text.slice(0, 200) || response.statusText || 'no detail');
  const error = new TesseraError(problem?.type ?? `http-${response.status}`, response.status, detail, problem);
  const retryAfter = Number(response.headers.get('retry-after'));
  if (Number.isFinite(retryAfter) && retryAfter >= 0) Object.assign(error, { retryAfterSeconds: retryAfter });
  return error;
}

/** Calls the API with the bearer token, retrying what is worth retrying; resolves with a 2xx response. */
export async function call(http: HttpOptions, request: Call): Promise<Response> {
  for (let attempt = 0; ; attempt += 1) {
    let failure: TesseraError;
    // Until the answer's headers arrive, not longer: a long download must not be cut off.
    const waiting = new AbortController();
    const timer = setTimeout(() => waiting.abort(new Error('timed out')), http.timeoutMs);
    const combined = anySignal(request.signal ? [request.signal, waiting.signal] : [waiting.signal]);
    try {
      const response = await http.fetch(new URL(request.path, http.baseUrl), {
        method: request.method,
        headers: { authorization: `Bearer ${await http.token()}`, ...(request.headers ?? {}) },
        ...(request.body !== undefined ? { body: request.body as BodyInit } : {}),
        signal: combined.signal,
      });
      clearTimeout(timer);
      combined.dispose();
      if (response.ok) return response;
      failure = await problemOf(response);
    } catch (error) {
      clearTimeout(timer);
      combined.dispose();
      if (request.signal?.aborted) throw request.signal.reason ?? error;
      const what = waiting.signal.aborted ? `no answer within ${http.timeoutMs / 1000} s` : `the server could not be reached (${(error as Error).message})`;
      failure = error instanceof TesseraError ? error : new TesseraError('network', 0, what, undefined, { cause: error });
    }
    if (!failure.retryable || attempt >= http.retry.retries) throw failure;
    const delayMs = backoffMs(http.retry, attempt + 1, (failure as TesseraError & { retryAfterSeconds?: number }).retryAfterSeconds);
    request.onRetry?.({ attempt: attempt + 1, delayMs, error: failure });
    await sleep(delayMs, request.signal);
  }
}

/** `call`, then the JSON body. */
export async function callJson<T>(http: HttpOptions, request: Call): Promise<T> {
  return (await (await call(http, request)).json()) as T;
}

/**
 * A signal that aborts when any of `signals` does (AbortSignal.any, for browsers that lack
 * it); `dispose` detaches it, so a long-lived signal does not collect a listener per request.
 */
function anySignal(signals: AbortSignal[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const detach: (() => void)[] = [];
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    detach.push(() => signal.removeEventListener('abort', onAbort));
  }
  return { signal: controller.signal, dispose: () => detach.forEach((off) => off()) };
}
