import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type Request, type RequestHandler } from 'express';

/** The development notifier port (`npm start`, docker-compose): the default when no public URL is configured. */
export const DEFAULT_NOTIFIER_PORT = 3001;

/** Where `scripts/build-web.mjs` writes the page: `dist/public` of the gateway package (this file is 3 folders below it in src/ and dist/). */
export const DEFAULT_PUBLIC_DIR = join(__dirname, '..', '..', '..', 'dist', 'public');

export interface PageOptions {
  /** Folder holding the built page: `index.html` and `assets/`. */
  publicDir?: string;
  /** `scheme://host[:port]` browsers reach the notifier at; null: the page's own scheme and host, port 3001. */
  notifierPublicUrl?: string | null;
  /** Mints a development token for the page (`DEV_TOKEN_SUBJECT`); null: none, the page asks for a token. */
  devToken?: (() => Promise<string>) | null;
}

/** What `GET /page-config.json` answers. */
export interface PageConfig {
  notifierUrl: string;
  devToken?: string;
}

/** A Host header we are willing to echo into a URL and a header: a DNS name, IPv4, or bracketed IPv6. */
const SAFE_HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9-]{1,63})*\.?|\[[0-9a-f:.]+\])$/i;

/** The notifier's origin as the browser that sent `req` should reach it. */
export function notifierOriginFor(req: Request, configured: string | null | undefined): string {
  if (configured) return new URL(configured).origin;
  const host = req.hostname && SAFE_HOSTNAME.test(req.hostname) ? req.hostname : 'localhost';
  return `${req.protocol === 'https' ? 'https' : 'http'}://${host}:${DEFAULT_NOTIFIER_PORT}`;
}

/** The page's own Content-Security-Policy: its scripts and styles from here, sockets to the notifier, nothing inline, never framed. */
export function pageCsp(notifierOrigin: string): string {
  const socketOrigin = notifierOrigin.replace(/^http/, 'ws');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${notifierOrigin} ${socketOrigin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * The upload web page at `/` (built by `scripts/build-web.mjs` into `dist/public`) and
 * `GET /page-config.json`, both without authentication. Only these paths get the page's
 * CSP; everything else keeps the API's `default-src 'none'`. Assets have content-hashed
 * names and are cached for good; the page and its configuration are never cached (the
 * configuration may carry a development token).
 */
export function pageRouter(options: PageOptions = {}): Router {
  const publicDir = options.publicDir ?? DEFAULT_PUBLIC_DIR;
  const router = Router();

  const withCsp: RequestHandler = (req, res, next) => {
    res.setHeader('Content-Security-Policy', pageCsp(notifierOriginFor(req, options.notifierPublicUrl)));
    next();
  };

  const index = join(publicDir, 'index.html');
  router.get(['/', '/index.html'], withCsp, (_req, res, next) => {
    // Not built (`npm run build` makes it): the usual 404 problem rather than a crash.
    if (!existsSync(index)) return next();
    res.sendFile(index, { headers: { 'Cache-Control': 'no-cache' }, dotfiles: 'deny' }, (error) => {
      if (error && !res.headersSent) next(error);
    });
  });

  // Scripts and styles: a CSP on them would change nothing (it governs documents); the API's stays.
  router.use(
    '/assets',
    express.static(join(publicDir, 'assets'), { index: false, redirect: false, dotfiles: 'ignore', immutable: true, maxAge: '365d', fallthrough: true }),
  );

  router.get('/page-config.json', async (req, res, next) => {
    try {
      const config: PageConfig = { notifierUrl: notifierOriginFor(req, options.notifierPublicUrl) };
      if (options.devToken) config.devToken = await options.devToken();
      res.setHeader('Cache-Control', 'no-store');
      res.json(config);
    } catch (error) {
      next(error);
    }
  });

  return router;
}
