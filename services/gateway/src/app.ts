import type { AbortUpload, AcceptChunk, CreateTusUpload, CreateUpload, GetUpload, ListUploads, ReadContent, ReceiveFileStream, TokenVerifier, TusStatus, WriteTusBytes } from '@tessera/domain';
import { httpMetricsMiddleware, metricsHandler, type Registry } from '@tessera/adapters';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger } from './logger';
import { requireOwner } from './http/middleware/auth.middleware';
import { corsFor } from './http/middleware/cors.middleware';
import { errorHandler, notFoundHandler } from './http/middleware/error.middleware';
import { rateLimitPerOwner, type RateLimit } from './http/middleware/rate-limit.middleware';
import { requestLog } from './http/middleware/request-log.middleware';
import { contentRouter } from './http/routes/content.routes';
import { formUploadRouter } from './http/routes/form-upload.routes';
import { healthRouter, type ReadinessChecks } from './http/routes/health.routes';
import { adminRouter, type QueueDashboardOptions } from './http/routes/admin.routes';
import { pageRouter, type PageOptions } from './http/routes/page.routes';
import { uploadsRouter } from './http/routes/uploads.routes';
import { tusRouter } from './http/tus/tus.routes';

export interface GatewayUseCases {
  createUpload: CreateUpload;
  acceptChunk: AcceptChunk;
  getUpload: GetUpload;
  listUploads: ListUploads;
  abortUpload: AbortUpload;
  readContent: ReadContent;
  receiveFileStream: ReceiveFileStream;
  createTusUpload: CreateTusUpload;
  writeTusBytes: WriteTusBytes;
  tusStatus: TusStatus;
}

export interface AppDeps {
  useCases: GatewayUseCases;
  verifier: TokenVerifier;
  readiness: ReadinessChecks;
  logger: Logger;
  limits: { maxUploadBytes: number; maxChunkBytes: number; rateLimit?: RateLimit };
  /** Origins whose browser scripts may call the API (`*`: any); none by default. */
  corsOrigins?: readonly string[];
  /** Base of the upload URLs handed to tus clients; by default the request's own scheme and host. */
  publicUrl?: string | null;
  /** The upload web page at `/`: where it finds the notifier, whether it gets a development token. */
  page?: PageOptions;
  /** The queue dashboard at /admin/queues (admin token); none without it. */
  queueDashboard?: QueueDashboardOptions;
  /** The process's metrics: every request is counted into it, and it is served at /metrics (no token); none without it. */
  metrics?: Registry;
  /** False when /metrics is served on a port of its own (METRICS_PORT) instead of the public one. */
  metricsOnApi?: boolean;
}

/** The gateway's HTTP application, without `listen`, so tests can drive it directly. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(httpMetricsMiddleware(deps.metrics));
  app.use(requestLog(deps.logger));
  // An API, not pages: no scripts, frames or sniffing; HSTS is left to the TLS terminator.
  app.use(helmet({ contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }, strictTransportSecurity: false }));
  app.use(corsFor(deps.corsOrigins ?? []));
  app.use(healthRouter(deps.readiness, (check, error) => deps.logger.warn({ check, err: error }, `readiness check ${check} failed; /readyz answers 503`)));
  if (deps.metrics && deps.metricsOnApi !== false) app.get('/metrics', metricsHandler(deps.metrics, (error) => deps.logger.warn({ err: error }, 'collecting metrics failed; answered 500')));
  // The web page and its configuration: no token needed, and their own CSP (the API keeps the strict one above).
  app.use(pageRouter(deps.page));
  // The queue dashboard and its session: admin tokens only, and its own CSP once authorised.
  if (deps.queueDashboard) app.use(adminRouter(deps.verifier, deps.queueDashboard));

  const verify = requireOwner(deps.verifier);
  const limit = deps.limits.rateLimit ? rateLimitPerOwner(deps.limits.rateLimit) : null;
  const auth = limit ? [verify, limit] : [verify];
  const { useCases } = deps;
  app.use('/v1/uploads', auth);
  app.use('/v1/uploads', contentRouter(useCases.readContent));
  app.use(
    '/v1/uploads',
    uploadsRouter({
      createUpload: useCases.createUpload,
      acceptChunk: useCases.acceptChunk,
      getUpload: useCases.getUpload,
      listUploads: useCases.listUploads,
      abortUpload: useCases.abortUpload,
      maxChunkBytes: deps.limits.maxChunkBytes,
    }),
  );
  app.use('/upload', auth, formUploadRouter(useCases.receiveFileStream, deps.limits.maxUploadBytes));
  app.use(
    '/files',
    tusRouter({
      createTusUpload: useCases.createTusUpload,
      writeTusBytes: useCases.writeTusBytes,
      tusStatus: useCases.tusStatus,
      abortUpload: useCases.abortUpload,
      maxUploadBytes: deps.limits.maxUploadBytes,
      publicUrl: deps.publicUrl ?? null,
      auth,
    }),
  );

  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}
