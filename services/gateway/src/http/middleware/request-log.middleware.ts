import { randomUUID } from 'node:crypto';
import { isUuid } from '@tessera/domain';
import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../logger';

/** Paths and `Location`s that name one upload: the native API's and tus's. */
const UPLOAD_PATH = /\/(?:v1\/uploads|files)\/([^/?#]+)/;

/**
 * What every log line about a request carries: its id, and once known the owner (from the
 * token) and the upload it concerns (from the path, or the `Location` of one just created).
 */
export function requestContext(req: Request, res: Response): { requestId: string; ownerId?: string; uploadId?: string } {
  const ownerId = res.locals.ownerId as string | undefined;
  const location = res.getHeader('location');
  const named = UPLOAD_PATH.exec(req.originalUrl)?.[1] ?? (typeof location === 'string' ? UPLOAD_PATH.exec(location)?.[1] : undefined);
  const uploadId = named !== undefined && isUuid(named) ? named.toLowerCase() : undefined;
  return {
    requestId: res.locals.requestId as string,
    ...(ownerId !== undefined ? { ownerId } : {}),
    ...(uploadId !== undefined ? { uploadId } : {}),
  };
}

/** Gives every request an id (kept from `X-Request-Id` when sane) and logs its outcome. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      logger.debug({ ...requestContext(req, res), method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms) }, 'request');
    });
    next();
  };
}
