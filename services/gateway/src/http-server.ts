import { createServer, type Server } from 'node:http';
import type { Express } from 'express';

/** The gateway's HTTP server around `app`, with the settings large uploads need. Not yet listening. */
export function createHttpServer(app: Express): Server {
  const server = createServer(app);
  // Routes answer `Expect: 100-continue` themselves, once they know the body is wanted.
  server.on('checkContinue', (req, res) => app(req, res));
  // Big chunks on slow links take long, so no cap on a whole request; a connection that
  // sends nothing for two minutes is cut instead, releasing its file handle and claim.
  server.requestTimeout = 0;
  server.timeout = 120_000;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  return server;
}
