import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { QueueHandles } from '@tessera/adapters';
import { ERROR_CODES, UnauthorizedError, type Principal, type TokenVerifier } from '@tessera/domain';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { HTTP_PROBLEMS, HttpProblem } from '../problem';

/** Where the dashboard lives; Bull Board writes it into the page's `<base href>`, so it is fixed. */
export const DASHBOARD_PATH = '/admin/queues';
/** `GET`: a sign-in form; `POST {token}`: exchanges an admin token for the session cookie; `DELETE`: signs out. */
export const SESSION_PATH = '/admin/session';
/** The cookie carrying the admin's token to the dashboard, its assets and its API. */
export const SESSION_COOKIE = 'tessera_admin';
/** Only requests under here carry the cookie. */
const COOKIE_PATH = '/admin';
/** A browser keeps the session at most a working day; the token's own expiry still applies on every request. */
export const SESSION_MAX_AGE_MS = 8 * 3600_000;
/** Longer than any bearer token we expect; keeps a pasted novel out of a cookie. */
const MAX_TOKEN_CHARS = 8192;

export interface QueueDashboardOptions {
  /** BullMQ handles on the queues shown (chunks, finalize, sweep: `openQueueHandles`). */
  queues: QueueHandles['queues'];
  /** The role a token's roles claim must carry (ADMIN_ROLE; the claim itself is the verifier's ADMIN_CLAIM). */
  adminRole: string;
  /** Bull Board's read-only mode, and every method but GET/HEAD refused here first (QUEUE_DASHBOARD_READ_ONLY). */
  readOnly: boolean;
  /** PUBLIC_URL: when it is https, the cookie is Secure whatever a request looks like behind the proxy. */
  publicUrl?: string | null;
}

/**
 * The dashboard's own Content-Security-Policy (the API keeps helmet's `default-src 'none'`).
 * Bull Board's UI is a bundle of scripts, styles and a Web Worker (syntax highlighting) under
 * its `static/` path, fetches its JSON API and locale files from the same origin and shows
 * `data:` SVG icons. Styles need 'unsafe-inline': the loading placeholder of its page carries
 * inline styles and its JSON editor (CodeMirror) injects `<style>` elements at run time;
 * scripts stay 'self' only, no inline script, no eval. The page links Google Fonts: not
 * allowed, it falls back to local fonts and no admin's browser calls Google from here.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The sign-in form's policy: no script, no style, it may only post to this origin. */
const SIGN_IN_CSP = ["default-src 'none'", "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"].join('; ');

const SIGN_IN_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Tessera queue dashboard: sign in</title>
</head>
<body>
<h1>Tessera queue dashboard</h1>
<p>Paste a bearer token whose claims carry the administrator role. It is kept in an HttpOnly cookie for this browser session (at most 8 hours, never past the token's expiry).</p>
<form method="post" action="${SESSION_PATH}">
<label for="token">Token</label>
<input id="token" name="token" type="password" required autocomplete="off" spellcheck="false">
<button type="submit">Open the dashboard</button>
</form>
</body>
</html>
`;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The value of cookie `name` in the request's Cookie header(s); the first (most specific path) wins. */
export function cookieOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    const value = pair.slice(at + 1).trim();
    return value.length > 0 ? value : undefined;
  }
  return undefined;
}

/** Whether the browser reached us over https: directly, behind a proxy saying so, or per PUBLIC_URL. Erring towards Secure only ever withholds the cookie. */
function overHttps(req: Request, publicUrl: string | null | undefined): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return req.secure || first === 'https' || (publicUrl ?? '').startsWith('https:');
}

/**
 * A state-changing request a browser sent from another site is refused. SameSite=Strict
 * already keeps the cookie off such requests; this holds even for a browser that ignores it.
 * Clients that are not browsers send no Sec-Fetch-Site and are not concerned.
 */
const sameOriginOnly: RequestHandler = (req, _res, next) => {
  const site = req.headers['sec-fetch-site'];
  if (SAFE_METHODS.has(req.method) || site === undefined || site === 'same-origin' || site === 'none') return next();
  throw new HttpProblem(HTTP_PROBLEMS.FORBIDDEN, 'A request from another site may not change the dashboard session or its queues.');
};

/** Verifies `token` and checks its roles: 401 (UnauthorizedError) for a bad token, 403 for one without the admin role. */
async function adminPrincipal(verifier: TokenVerifier, token: string, adminRole: string): Promise<Principal> {
  const principal = await verifier.verify(token);
  if (!principal.roles.includes(adminRole)) {
    throw new HttpProblem(HTTP_PROBLEMS.FORBIDDEN, 'The queue dashboard needs a token whose roles claim (ADMIN_CLAIM) carries the administrator role (ADMIN_ROLE).');
  }
  return principal;
}

/**
 * Lets through requests that carry an admin token: `Authorization: Bearer <JWT>` (programs),
 * else the session cookie (browsers, which cannot add a header to a navigation). A header
 * that is present decides: a bad one is not rescued by the cookie.
 */
export function requireAdmin(verifier: TokenVerifier, adminRole: string): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    let token: string | undefined;
    if (header !== undefined) {
      token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      if (!token) throw new UnauthorizedError('The Authorization header is not a Bearer token.');
    } else {
      token = cookieOf(req, SESSION_COOKIE);
      if (!token) throw new UnauthorizedError(`No token: send "Authorization: Bearer <token>", or sign in at ${SESSION_PATH} for a browser session.`);
    }
    const principal = await adminPrincipal(verifier, token, adminRole);
    res.locals.ownerId = principal.ownerId;
    next();
  };
}

function tokenFrom(body: unknown): string {
  const token = (body as { token?: unknown } | undefined)?.token;
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) {
    throw new HttpProblem(ERROR_CODES.VALIDATION_FAILED, `Send the token as {"token": "<JWT>"} (JSON) or as the form field "token", at most ${MAX_TOKEN_CHARS} characters.`);
  }
  return token;
}

function cookieOptions(req: Request, publicUrl: string | null | undefined) {
  return { httpOnly: true, sameSite: 'strict', secure: overHttps(req, publicUrl), path: COOKIE_PATH } as const;
}

/** The sign-in form and the session cookie: `GET`, `POST {token}`, `DELETE` on SESSION_PATH. */
function sessionRoutes(verifier: TokenVerifier, options: QueueDashboardOptions): Router {
  const router = Router();
  const noStore: RequestHandler = (_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  };
  router.get(SESSION_PATH, noStore, (_req, res) => {
    res.setHeader('Content-Security-Policy', SIGN_IN_CSP);
    res.type('html').send(SIGN_IN_PAGE);
  });
  router.post(
    SESSION_PATH,
    noStore,
    sameOriginOnly,
    express.json({ limit: '16kb' }),
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 }),
    async (req: Request, res: Response) => {
      const form = Boolean(req.is('application/x-www-form-urlencoded'));
      if (!form && !req.is('application/json')) {
        throw new HttpProblem(HTTP_PROBLEMS.UNSUPPORTED_MEDIA_TYPE, 'Send {"token": "<JWT>"} as application/json, or the form field "token".');
      }
      const token = tokenFrom(req.body);
      const principal = await adminPrincipal(verifier, token, options.adminRole);
      res.locals.ownerId = principal.ownerId;
      res.cookie(SESSION_COOKIE, token, { ...cookieOptions(req, options.publicUrl), maxAge: SESSION_MAX_AGE_MS });
      // The form goes on to the dashboard (303: GET it); a program just learns it worked.
      if (form) res.redirect(303, `${DASHBOARD_PATH}/`);
      else res.status(204).end();
    },
  );
  router.delete(SESSION_PATH, noStore, sameOriginOnly, (req, res) => {
    res.clearCookie(SESSION_COOKIE, cookieOptions(req, options.publicUrl));
    res.status(204).end();
  });
  return router;
}

/**
 * The queue dashboard (Bull Board) at DASHBOARD_PATH with every queue, and its session
 * routes. Everything under DASHBOARD_PATH (the page, its static assets and its JSON API)
 * needs an admin token; refusals are the usual problem documents with the API's strict CSP,
 * only the authorised answers get the dashboard's CSP.
 */
export function adminRouter(verifier: TokenVerifier, options: QueueDashboardOptions): Router {
  const board = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Tessera queues' } },
  });
  const boardApp = board.getRouter() as express.Express;
  boardApp.disable('x-powered-by');

  const readOnly: RequestHandler = (req, _res, next) => {
    if (!options.readOnly || SAFE_METHODS.has(req.method)) return next();
    throw new HttpProblem(HTTP_PROBLEMS.FORBIDDEN, 'The queue dashboard is read-only (QUEUE_DASHBOARD_READ_ONLY=true): it shows the queues but changes nothing.');
  };
  const dashboardHeaders: RequestHandler = (req, res, next) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    // Job data and the page are for this admin only; the hashed static bundle may be cached.
    if (!req.path.startsWith('/static/')) res.setHeader('Cache-Control', 'no-store');
    next();
  };

  const router = Router();
  router.use(sessionRoutes(verifier, options));
  router.use(DASHBOARD_PATH, sameOriginOnly, requireAdmin(verifier, options.adminRole), readOnly, dashboardHeaders, boardApp);
  return router;
}
