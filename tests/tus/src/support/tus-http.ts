import { request, type ClientRequest, type IncomingHttpHeaders } from 'node:http';

/**
 * A tiny raw HTTP client for protocol tests: exactly the headers the caller gives (plus Host,
 * and Content-Length when a body is given without one), no redirects, no retries, a fresh
 * connection per request (so an aborted or refused request never poisons the next one).
 */

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body as UTF-8 text ('' for HEAD and 204). */
  body: string;
}

export interface HttpRequest {
  method: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** The request fails if no complete answer arrived by then (default 15 s). */
  timeoutMs?: number;
}

/** A response header as one string (repeated headers joined with ', '), or undefined. */
export function header(answer: HttpAnswer, name: string): string | undefined {
  const value = answer.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((key) => key.toLowerCase() === name);
}

function answerOf(req: ClientRequest, what: string, timeoutMs: number): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`${what}: no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.once('response', (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      res.once('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') });
      });
    });
  });
}

/** Sends one request with its whole body and resolves with the complete answer. */
export function send(url: string, options: HttpRequest): Promise<HttpAnswer> {
  const headers = { ...(options.headers ?? {}) };
  if (options.body !== undefined && !hasHeader(headers, 'content-length')) headers['Content-Length'] = String(Buffer.byteLength(options.body));
  const req = request(url, { method: options.method, headers, agent: false });
  const answer = answerOf(req, `${options.method} ${url}`, options.timeoutMs ?? 15_000);
  req.end(options.body);
  return answer;
}

/** A request whose body the caller streams piece by piece, and may cut off. */
export interface OpenRequest {
  /** Resolves once `data` is handed to the kernel. */
  write(data: Buffer): Promise<void>;
  /** Sends `data` (if any), ends the body and resolves with the answer. */
  end(data?: Buffer): Promise<HttpAnswer>;
  /** Destroys the connection mid-body, as a client that crashes or loses its network. */
  abort(): void;
  /** The answer; it may come before the body ends. Rejects once the request is aborted. */
  readonly answer: Promise<HttpAnswer>;
  /** True once a complete answer arrived. */
  readonly answered: boolean;
}

/**
 * Starts a request and sends its headers at once, leaving the body to the caller. Give the
 * Content-Length in `headers` (otherwise Node sends the body chunked).
 */
export function open(url: string, options: Omit<HttpRequest, 'body'>): OpenRequest {
  const req = request(url, { method: options.method, headers: { ...(options.headers ?? {}) }, agent: false });
  let answered = false;
  const answer = answerOf(req, `${options.method} ${url}`, options.timeoutMs ?? 60_000).then((a) => {
    answered = true;
    return a;
  });
  // A caller that aborts need not await the rejection.
  answer.catch(() => undefined);
  req.flushHeaders();
  return {
    write: (data) => new Promise<void>((resolve, reject) => req.write(data, (error) => (error ? reject(error) : resolve()))),
    end: (data) => {
      req.end(data);
      return answer;
    },
    abort: () => req.destroy(),
    answer,
    get answered() {
      return answered;
    },
  };
}
