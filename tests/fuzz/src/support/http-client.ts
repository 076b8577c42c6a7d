import { Agent, request, type IncomingHttpHeaders } from 'node:http';

export interface Exchange {
  method: string;
  /** Sent as is: no normalisation of `..`, `%2e` or anything else, unlike fetch. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Send the body with chunked transfer encoding, that is without a Content-Length. */
  chunked?: boolean;
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** A request that got no answer in time is a hang, which this suite counts as a failure. */
const ANSWER_TIMEOUT_MS = 15_000;

let sent = 0;

/** Requests sent by this test file so far (HTTP and raw socket ones). */
export function requestsSent(): number {
  return sent;
}

export function countRequest(): void {
  sent += 1;
}

/**
 * An HTTP client over one keep-alive agent: a few reused sockets let thousands of requests
 * finish quickly without exhausting ephemeral ports.
 */
export class HttpClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private readonly host: string;
  private readonly port: number;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.host = url.hostname;
    this.port = Number(url.port);
  }

  send(exchange: Exchange): Promise<Answer> {
    countRequest();
    const body = typeof exchange.body === 'string' ? Buffer.from(exchange.body) : exchange.body;
    const headers: Record<string, string | string[]> = { ...(exchange.headers ?? {}) };
    const hasLength = Object.keys(headers).some((h) => h.toLowerCase() === 'content-length');
    if (body && !exchange.chunked && !hasLength) headers['content-length'] = String(body.length);
    return new Promise<Answer>((resolve, reject) => {
      const req = request({ agent: this.agent, host: this.host, port: this.port, method: exchange.method, path: exchange.path, headers });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`no answer to ${exchange.method} ${exchange.path} within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      let answered = false;
      req.once('response', (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.once('end', () => {
          clearTimeout(timer);
          const data = Buffer.concat(parts);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, text: data.toString('utf8') });
        });
        res.once('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
      });
      req.on('error', (error) => {
        // A refusal may close the connection while the body is still being written; the answer counts.
        if (answered) return;
        clearTimeout(timer);
        reject(new Error(`${exchange.method} ${exchange.path} failed: ${error.message}`));
      });
      if (body && body.length > 0) req.write(body);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
