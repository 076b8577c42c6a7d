import { filenameSchema, type ReceiveFileStream } from '@tessera/domain';
import { Router } from 'express';
import { ownerOf } from '../middleware/auth.middleware';
import { sendContinue } from '../continue';
import { firstFilePart } from '../multipart';
import { parseWith } from '../validation';

/** `POST /upload`: one whole file as the multipart field `file`, cut into chunks as it streams in. */
export function formUploadRouter(receive: ReceiveFileStream, maxUploadBytes: number): Router {
  const router = Router();

  router.post('/', async (req, res) => {
    sendContinue(req, res);
    const part = await firstFilePart(req, { field: 'file', maxFileBytes: maxUploadBytes });
    let filename: string;
    try {
      filename = parseWith(filenameSchema, part.filename, 'file name');
    } catch (error) {
      part.stream.resume();
      throw error;
    }
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
    });
    const upload = await receive.execute({
      ownerId: ownerOf(res),
      filename,
      contentType: part.mimeType,
      source: part.stream,
      protocol: 'form',
      signal: controller.signal,
    });
    res.status(201).location(`/v1/uploads/${upload.id}`).json(upload);
  });

  return router;
}
