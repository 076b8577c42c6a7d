import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../logger';
import { awaitingContinue } from '../continue';
import { HttpProblem, sendProblem, toProblem } from '../problem';
import { requestContext } from './request-log.middleware';
import { ERROR_CODES } from '@tessera/domain';

/** The one place errors become responses: problem+json, never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { problem, headers, internal } = toProblem(error);
    const log = { ...requestContext(req, res), method: req.method, path: req.originalUrl.split('?')[0], status: problem.status };
    if (internal) logger.error({ ...log, err: error }, 'request failed unexpectedly; answered 500');
    else if (problem.status >= 500) logger.warn({ ...log, detail: problem.detail, cause: (error as Error)?.message }, 'dependency unavailable; answered 503');
    else logger.debug({ ...log, type: problem.type }, 'request refused');
    if (res.headersSent) {
      // Too late for a problem document: cut the response so the client sees it failed.
      res.destroy();
      return;
    }
    if (problem.type === ERROR_CODES.REQUEST_TIMEOUT) {
      // A client that went silent mid-body would hold the connection forever: close it.
      res.setHeader('Connection', 'close');
    } else if (!req.complete) {
      discardBody(req, res);
    }
    sendProblem(res, problem, headers);
  };
}

/** Bodies up to this size are read and dropped after a refusal, so the client sees the answer. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

/**
 * Deals with the unread rest of a refused request's body. Most clients read the answer only
 * after sending everything, so closing at once would show them a broken pipe instead of
 * the problem; a bounded body is read and dropped instead. A larger or unbounded one
 * closes the connection once the answer is sent.
 */
function discardBody(req: Request, res: Response): void {
  if (awaitingContinue(req, res)) {
    // The client holds its body back; the connection cannot carry another request.
    res.setHeader('Connection', 'close');
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared <= DISCARD_LIMIT_BYTES) {
    req.unpipe();
    req.resume();
  } else {
    res.setHeader('Connection', 'close');
  }
}

export const notFoundHandler: RequestHandler = (req) => {
  throw new HttpProblem(ERROR_CODES.NOT_FOUND, `Nothing is served at ${req.method} ${req.path}.`);
};
