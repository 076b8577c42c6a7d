import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../../logger';
import { HttpProblem, sendProblem, toProblem } from '../problem';
import { ERROR_CODES } from '@tessera/domain';

/** The one place errors become responses: problem+json, never a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const { problem, headers, internal } = toProblem(error);
    const log = { requestId: res.locals.requestId, method: req.method, path: req.path, status: problem.status };
    if (internal) logger.error({ ...log, err: error }, 'request failed unexpectedly; answered 500');
    else if (problem.status >= 500) logger.warn({ ...log, detail: problem.detail, cause: (error as Error)?.message }, 'dependency unavailable; answered 503');
    else logger.debug({ ...log, type: problem.type }, 'request refused');
    if (res.headersSent) {
      // Too late for a problem document: cut the response so the client sees it failed.
      res.destroy();
      return;
    }
    // A body we never read must not be taken as the next request on this connection.
    if (!req.complete) res.setHeader('Connection', 'close');
    sendProblem(res, problem, headers);
  };
}

export const notFoundHandler: RequestHandler = (req) => {
  throw new HttpProblem(ERROR_CODES.NOT_FOUND, `Nothing is served at ${req.method} ${req.path}.`);
};
