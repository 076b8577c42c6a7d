import type { Readable } from 'node:stream';
import { createUploadBodySchema, listUploadsQuerySchema, type AbortUpload, type AcceptChunk, type CreateUpload, type GetUpload, type ListUploads } from '@tessera/domain';
import express, { Router, type Request, type Response } from 'express';
import { ownerOf } from '../middleware/auth.middleware';
import { sendContinue } from '../continue';
import { firstFilePart } from '../multipart';
import { HttpProblem, HTTP_PROBLEMS } from '../problem';
import { declaredLength, parseChunkIndex, parseContentDigest, parseUploadId, parseWith } from '../validation';

export interface UploadsRouteDeps {
  createUpload: CreateUpload;
  acceptChunk: AcceptChunk;
  getUpload: GetUpload;
  listUploads: ListUploads;
  abortUpload: AbortUpload;
  /** Largest chunk a multipart part may carry, bytes. */
  maxChunkBytes: number;
}

/** An AbortSignal that fires when the client goes away before the response is sent. */
function clientGone(res: Response): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
  });
  return controller.signal;
}

function requireLength(req: Request): number {
  const length = declaredLength(req.headers['content-length']);
  if (length === undefined) {
    throw new HttpProblem(HTTP_PROBLEMS.LENGTH_REQUIRED, 'A chunk request needs a Content-Length header (chunked transfer encoding is not accepted here).');
  }
  return length;
}

export function uploadsRouter(deps: UploadsRouteDeps): Router {
  const router = Router();

  router.post('/', (req, res, next) => (sendContinue(req, res), next()), express.json({ limit: '64kb', strict: true, type: () => true }), async (req, res) => {
    const body = parseWith(createUploadBodySchema, req.body, 'upload description');
    const upload = await deps.createUpload.execute(ownerOf(res), body);
    res.status(201).location(`${req.baseUrl}/${upload.id}`).json(upload);
  });

  router.get('/', async (req, res) => {
    const query = parseWith(listUploadsQuerySchema, req.query, 'query');
    res.json(await deps.listUploads.execute(ownerOf(res), query));
  });

  router.get('/:id', async (req, res) => {
    res.json(await deps.getUpload.execute(ownerOf(res), parseUploadId(req.params.id)));
  });

  router.delete('/:id', async (req, res) => {
    await deps.abortUpload.execute(ownerOf(res), parseUploadId(req.params.id));
    res.status(204).end();
  });

  router.put('/:id/chunks/:index', async (req, res) => {
    const uploadId = parseUploadId(req.params.id);
    const index = parseChunkIndex(req.params.index);
    const contentLength = requireLength(req);
    const expectedSha256 = parseContentDigest(req.header('content-digest'));
    const result = await deps.acceptChunk.execute({
      ownerId: ownerOf(res),
      uploadId,
      index,
      contentLength,
      body: req,
      signal: clientGone(res),
      onClaimed: () => sendContinue(req, res),
      ...(expectedSha256 ? { expectedSha256 } : {}),
    });
    res.status(202).json(result);
  });

  router.post('/:id/chunks/:index', async (req, res) => {
    const uploadId = parseUploadId(req.params.id);
    const index = parseChunkIndex(req.params.index);
    requireLength(req);
    const expectedSha256 = parseContentDigest(req.header('content-digest'));
    const ownerId = ownerOf(res);
    // Everything that can be refused is refused before a byte of the body is parsed.
    await deps.acceptChunk.check({ ownerId, uploadId, index });
    sendContinue(req, res);
    const part = await firstFilePart(req, { maxFileBytes: deps.maxChunkBytes });
    const result = await deps.acceptChunk.execute({
      ownerId,
      uploadId,
      index,
      body: part.stream as Readable,
      signal: clientGone(res),
      ...(expectedSha256 ? { expectedSha256 } : {}),
    });
    res.status(202).json(result);
  });

  return router;
}
