import type { Request, Response } from 'express';

/**
 * Answers `Expect: 100-continue` once the request is known to be acceptable, so a client
 * that asked first never uploads a body that would be refused. The server hands such
 * requests over without answering (see main.ts); every route that reads a body calls this.
 */
export function sendContinue(req: Request, res: Response): void {
  if (res.locals.continued || req.headers.expect?.toLowerCase() !== '100-continue') return;
  res.locals.continued = true;
  res.writeContinue();
}

/** True when the client is still waiting for `100 Continue` and so will not send its body. */
export function awaitingContinue(req: Request, res: Response): boolean {
  return req.headers.expect?.toLowerCase() === '100-continue' && !res.locals.continued;
}
