import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES } from '@tessera/domain';
import type { Express } from 'express';
import { HTTP_PROBLEMS } from './http/problem';

interface ShutdownState {
  closing: boolean;
  /** Responses not yet finished, so a shutdown can ask each to close its connection when done. */
  open: Set<ServerResponse>;
}

const states = new WeakMap<Server, ShutdownState>();

/** The gateway's HTTP server around `app`, with the settings large uploads need. Not yet listening. */
export function createHttpServer(app: Express): Server {
  const state: ShutdownState = { closing: false, open: new Set() };
  let server: Server;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    state.open.add(res);
    res.once('close', () => {
      state.open.delete(res);
      // The connection turns idle only after this answer is out: close it then, so that
      // no keep-alive connection holds the shutdown open.
      if (state.closing) setImmediate(() => server.closeIdleConnections());
    });
    // A request that arrives on a kept-alive connection after shutdown began is still
    // answered, but its connection closes behind it.
    if (state.closing) res.setHeader('Connection', 'close');
    app(req, res);
  };
  server = createServer(handle);
  // Routes answer `Expect: 100-continue` themselves, once they know the body is wanted.
  server.on('checkContinue', handle);
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const problem = {
      type: HTTP_PROBLEMS.EXPECTATION_FAILED,
      title: 'Expectation failed',
      status: 417,
      detail: 'The only Expect this server knows is "100-continue"; send the request without the other.',
    };
    res.writeHead(417, { 'Content-Type': 'application/problem+json', Connection: 'close' }).end(JSON.stringify(problem));
  });
  server.on('clientError', answerBrokenRequest);
  // Big chunks on slow links take long, so no cap on a whole request; a connection that
  // sends nothing for two minutes is cut instead, releasing its file handle and claim.
  server.requestTimeout = 0;
  server.timeout = 120_000;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  states.set(server, state);
  return server;
}

/**
 * Requests Node's parser refuses before express sees them (a malformed Content-Length,
 * oversized headers, a garbled request line) still get a problem document, then the
 * connection closes: nothing after such a request can be parsed reliably.
 */
function answerBrokenRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  // As Node itself does: answer unless a response to this request has already begun.
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || pending?.headersSent) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = tooLarge ? 431 : timedOut ? 408 : 400;
  const problem = {
    type: tooLarge ? HTTP_PROBLEMS.HEADERS_TOO_LARGE : timedOut ? ERROR_CODES.REQUEST_TIMEOUT : ERROR_CODES.VALIDATION_FAILED,
    title: tooLarge ? 'Request headers too large' : timedOut ? 'Request timed out' : 'Malformed HTTP request',
    status,
    detail: tooLarge
      ? 'The request headers are larger than this server accepts (16 KiB).'
      : timedOut
        ? 'The request headers did not arrive in time.'
        : 'The request is not valid HTTP/1.1 (its request line, a header or its framing is malformed).',
  };
  const body = JSON.stringify(problem);
  const reason = tooLarge ? 'Request Header Fields Too Large' : timedOut ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Stops accepting connections, lets every request in flight finish, and resolves once the
 * last connection has closed. Idle keep-alive connections are closed at once and busy ones
 * right after their answer, which carries `Connection: close`; without that, clients that
 * keep their connections open (every HTTP/1.1 client) would hold the server open until
 * their keep-alive timeout, and could keep sending new requests on them.
 */
export function closeGracefully(server: Server): Promise<void> {
  const state = states.get(server);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if (state && !state.closing) {
    state.closing = true;
    for (const res of state.open) if (!res.headersSent) res.setHeader('Connection', 'close');
  }
  server.closeIdleConnections();
  return closed;
}
