import { createServer, type Server as HttpServer } from 'node:http';
import type { EventSubscriber, TokenVerifier } from '@tessera/domain';
import { Server } from 'socket.io';
import type { Logger } from '../logger';
import type { NotifierMetrics } from '../metrics';
import { limitConnections, type ConnectionLimits } from './connection-limits';
import { authenticate } from './handshake-auth';
import { healthRoutes, type ReadinessChecks } from './health';
import type { NotifierIo } from './protocol';
import { relayEvents } from './relay';
import { handleSubscriptions, type SubscriptionDeps } from './subscriptions';

export interface NotifierServerDeps {
  getUpload: SubscriptionDeps['getUpload'];
  tokens: TokenVerifier;
  events: EventSubscriber;
  readiness: ReadinessChecks;
  logger: Logger;
  corsOrigin: '*' | readonly string[];
  maxSubscriptionsPerSocket: number;
  connectionLimits: ConnectionLimits;
  /** Served at /metrics, and told of sockets and relayed events; none without it. */
  metrics?: NotifierMetrics;
}

export interface NotifierServer {
  /** Not listening yet: the caller picks the port. */
  readonly httpServer: HttpServer;
  readonly io: NotifierIo;
  /** Stops accepting, disconnects every socket and stops the relay. */
  close(): Promise<void>;
}

// Clients send only tiny subscribe messages; a large frame is abuse, not traffic.
const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

/** Builds the HTTP + Socket.IO server and starts relaying events before any client can connect. */
export async function startNotifierServer(deps: NotifierServerDeps): Promise<NotifierServer> {
  const httpServer = createServer(healthRoutes(deps.readiness, deps.logger, deps.metrics?.registry));
  const io: NotifierIo = new Server(httpServer, {
    serveClient: false,
    maxHttpBufferSize: MAX_CLIENT_MESSAGE_BYTES,
    cors: { origin: deps.corsOrigin === '*' ? '*' : [...deps.corsOrigin] },
  });
  io.use(authenticate(deps.tokens, deps.logger));
  io.use(limitConnections(deps.connectionLimits));
  io.on('connection', (socket) => handleSubscriptions(socket, deps));
  deps.metrics?.watch(io);
  const stopRelay = await relayEvents(io, deps.events, deps.metrics);

  return {
    httpServer,
    io,
    async close() {
      const httpClosed = new Promise((resolve) => httpServer.once('close', resolve));
      // Disconnects every socket, then closes the HTTP server (and its idle keep-alive connections).
      await io.close();
      await httpClosed;
      await stopRelay();
    },
  };
}
