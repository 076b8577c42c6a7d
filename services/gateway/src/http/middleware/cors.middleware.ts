import type { RequestHandler } from 'express';
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from '../tus/tus-headers';

/** Response headers a browser script may read: ours and the ones resumable clients need. */
const EXPOSED = ['Location', 'X-Request-Id', 'Retry-After', 'Content-Range', 'Content-Disposition', 'ETag', ...TUS_RESPONSE_HEADERS];
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Content-Digest', 'X-Request-Id', 'Range', ...TUS_REQUEST_HEADERS];
const ALLOWED_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * CORS for an allow-list of origins (`*` allows any). An origin not on the list gets no CORS
 * headers, so the browser keeps its same-origin rule; requests themselves are not refused
 * (a non-browser client ignores CORS anyway). Preflights are answered here, before auth.
 */
export function corsFor(allowed: readonly string[]): RequestHandler {
  const any = allowed.includes('*');
  const origins = new Set(allowed);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (!origin || (!any && !origins.has(origin))) return next();
    res.setHeader('Access-Control-Allow-Origin', any ? '*' : origin);
    if (!any) res.append('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', EXPOSED.join(', '));
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS.join(', '));
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  };
}
