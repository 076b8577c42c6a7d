import { TesseraError } from './errors';
import { backoffMs, call, type HttpOptions } from './http';

const policy = { retries: 3, minDelayMs: 100, maxDelayMs: 1000 };

function httpWith(answers: Array<Response | Error>): { http: HttpOptions; calls: RequestInit[] } {
  const calls: RequestInit[] = [];
  const fetch = (async (_input: unknown, init?: RequestInit) => {
    calls.push(init ?? {});
    const next = answers.shift();
    if (!next) throw new Error('no answer left');
    if (next instanceof Error) throw next;
    return next;
  }) as typeof globalThis.fetch;
  return { http: { baseUrl: 'http://gateway.test/', token: async () => 'tok', retry: { ...policy, minDelayMs: 1 }, fetch, timeoutMs: 5000 }, calls };
}

const problem = (status: number, type: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ type, status, title: type, detail: `${type} detail` }), { status, headers: { 'content-type': 'application/problem+json', ...headers } });

describe('backoffMs', () => {
  it('doubles from the minimum up to the maximum, with jitter of at most half', () => {
    for (let attempt = 1; attempt <= 6; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** (attempt - 1));
      const delay = backoffMs(policy, attempt);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(backoffMs(policy, 1, 7)).toBe(7000);
  });
});

describe('call', () => {
  it('sends the bearer token and returns the first 2xx answer', async () => {
    const { http, calls } = httpWith([new Response('{}', { status: 200 })]);
    const response = await call(http, { method: 'GET', path: 'v1/uploads' });
    expect(response.status).toBe(200);
    expect((calls[0]!.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('retries network errors, 429 and 503, then succeeds, reporting each retry with its cause', async () => {
    const { http, calls } = httpWith([new TypeError('fetch failed'), problem(429, 'rate-limited', { 'retry-after': '0' }), problem(503, 'service-unavailable'), new Response('ok')]);
    const retries: string[] = [];
    await call(http, { method: 'PUT', path: 'x', onRetry: (r) => retries.push(`${r.attempt}:${r.error.type}`) });
    expect(retries).toEqual(['1:network', '2:rate-limited', '3:service-unavailable']);
    expect(calls).toHaveLength(4);
  });

  it('gives up after the configured retries with the last failure', async () => {
    const { http } = httpWith([problem(503, 'service-unavailable'), problem(503, 'service-unavailable'), problem(503, 'service-unavailable'), problem(503, 'service-unavailable')]);
    await expect(call(http, { method: 'GET', path: 'x' })).rejects.toMatchObject({ status: 503, type: 'service-unavailable' });
  });

  it('does not retry a refusal, and carries its problem document', async () => {
    const { http, calls } = httpWith([problem(409, 'chunk-already-received')]);
    const failure = (await call(http, { method: 'PUT', path: 'x' }).catch((e: unknown) => e)) as TesseraError;
    expect(failure).toBeInstanceOf(TesseraError);
    expect(failure).toMatchObject({ status: 409, type: 'chunk-already-received', detail: 'chunk-already-received detail' });
    expect(failure.problem).toMatchObject({ type: 'chunk-already-received' });
    expect(calls).toHaveLength(1);
  });

  it('describes an answer that is not a problem document by its status', async () => {
    const { http } = httpWith([new Response('<html>bad gateway</html>', { status: 404 })]);
    await expect(call(http, { method: 'GET', path: 'x' })).rejects.toMatchObject({ status: 404, type: 'http-404' });
  });

  it('gives up a try that gets no answer within the timeout, and retries it', async () => {
    let tries = 0;
    const fetch = ((_input: unknown, init?: RequestInit) => {
      tries += 1;
      if (tries > 1) return Promise.resolve(new Response('ok'));
      // Hangs until aborted, like a gateway that accepted the connection and went silent.
      return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    }) as typeof globalThis.fetch;
    const retries: string[] = [];
    const http: HttpOptions = { baseUrl: 'http://gateway.test/', token: async () => 'tok', retry: { ...policy, minDelayMs: 1 }, fetch, timeoutMs: 50 };
    await call(http, { method: 'PUT', path: 'x', onRetry: (r) => retries.push(r.error.detail) });
    expect(retries).toEqual(['no answer within 0.05 s']);
    expect(tries).toBe(2);
  });

  it('stops at once when its signal aborts, with the abort reason', async () => {
    const controller = new AbortController();
    const { http } = httpWith([problem(503, 'service-unavailable', { 'retry-after': '30' })]);
    const pending = call(http, { method: 'GET', path: 'x', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('paused')), 20);
    await expect(pending).rejects.toThrow('paused');
  });
});
