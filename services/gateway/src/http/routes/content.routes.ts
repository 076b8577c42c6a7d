import { pipeline } from 'node:stream/promises';
import type { ReadContent } from '@tessera/domain';
import { Router } from 'express';
import { ownerOf } from '../middleware/auth.middleware';
import { HttpProblem, HTTP_PROBLEMS } from '../problem';
import { parseRange } from '../range';
import { parseUploadId } from '../validation';

/** `attachment` with an ASCII fallback and the exact UTF-8 name (RFC 6266, RFC 8187). */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

export function contentRouter(readContent: ReadContent): Router {
  const router = Router();

  router.get('/:id/content', async (req, res) => {
    const upload = await readContent.find(ownerOf(res), parseUploadId(req.params.id));
    const size = upload.size ?? 0;
    const etag = `"${upload.sha256}"`;
    res.set({
      ETag: etag,
      'Accept-Ranges': 'bytes',
      'Content-Type': upload.contentType,
      'Content-Disposition': contentDisposition(upload.filename),
      'Cache-Control': 'private, no-cache',
    });
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    const range = parseRange(req.header('range'), size);
    if (range === 'unsatisfiable') {
      throw new HttpProblem(HTTP_PROBLEMS.RANGE_NOT_SATISFIABLE, `The range lies outside the upload's ${size} bytes.`, { size }, { 'Content-Range': `bytes */${size}` });
    }
    const content = await readContent.open(upload, range);
    if (range) {
      res.status(206).set({ 'Content-Range': `bytes ${range.start}-${range.end}/${size}`, 'Content-Length': String(range.end - range.start + 1) });
    } else {
      res.status(200).set('Content-Length', String(size));
    }
    if (req.method === 'HEAD') {
      content.body.destroy();
      res.end();
      return;
    }
    // Once bytes flow, a failure can only cut the response short (handled by the error middleware).
    await pipeline(content.body, res);
  });

  return router;
}
