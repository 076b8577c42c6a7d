import {
  assertChecksumAlgorithm,
  ERROR_CODES,
  PayloadTooLargeError,
  RECEIVING_STATES,
  type AbortUpload,
  type CreateTusUpload,
  type TusStatus,
  type UploadProps,
  type WriteTusBytes,
} from '@tessera/domain';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { sendContinue } from '../continue';
import { ownerOf } from '../middleware/auth.middleware';
import { HttpProblem, HTTP_PROBLEMS } from '../problem';
import { declaredLength, parseUploadId } from '../validation';
import {
  byteCount,
  creationLength,
  httpDate,
  TUS_CHECKSUM_HEADER_VALUE,
  TUS_CONTENT_TYPE,
  TUS_EXTENSIONS,
  TUS_VERSION,
  uploadChecksum,
  uploadConcat,
} from './tus-headers';

export interface TusRouteDeps {
  createTusUpload: CreateTusUpload;
  writeTusBytes: WriteTusBytes;
  tusStatus: TusStatus;
  abortUpload: AbortUpload;
  maxUploadBytes: number;
  /** Base of the URLs handed to clients (`Location`); null: the request's own scheme and host. */
  publicUrl: string | null;
  /** Token check (and rate limit) for everything but OPTIONS. */
  auth: RequestHandler[];
}

const OVERRIDABLE = new Set(['PATCH', 'DELETE', 'POST', 'GET']);

/**
 * tus 1.0.0 at `/files/`. A tus upload is an ordinary upload: the same id, chunks, queue,
 * worker and events; this router only speaks the protocol's headers.
 */
export function tusRouter(deps: TusRouteDeps): Router {
  const router = Router();

  // Clients behind proxies that allow only GET and POST send the real method in a header.
  // A HEAD sent as a POST keeps its method: Node would otherwise withhold a body it announced.
  router.use((req, res, next) => {
    // Set first, so answers of the earliest refusals (a path that does not decode) carry it too.
    if (req.method !== 'OPTIONS') res.setHeader('Tus-Resumable', TUS_VERSION);
    const override = req.header('x-http-method-override')?.toUpperCase();
    if (req.method === 'POST' && override === 'HEAD') res.locals.headOverPost = true;
    else if (req.method === 'POST' && override && OVERRIDABLE.has(override)) req.method = override;
    next();
  });

  router.options(['/', '/:id'], (_req, res) => {
    res
      .status(204)
      .set({
        'Tus-Resumable': TUS_VERSION,
        'Tus-Version': TUS_VERSION,
        'Tus-Extension': TUS_EXTENSIONS.join(','),
        'Tus-Max-Size': String(deps.maxUploadBytes),
        'Tus-Checksum-Algorithm': TUS_CHECKSUM_HEADER_VALUE,
      })
      .end();
  });

  router.use((req, _res, next) => {
    if (req.header('tus-resumable') !== TUS_VERSION) {
      throw new HttpProblem(HTTP_PROBLEMS.TUS_VERSION_UNSUPPORTED, `This server speaks tus ${TUS_VERSION}; send "Tus-Resumable: ${TUS_VERSION}".`, {}, { 'Tus-Version': TUS_VERSION });
    }
    next();
  });
  router.use(deps.auth);

  router.post('/', async (req, res) => {
    if (res.locals.headOverPost) throw new HttpProblem(ERROR_CODES.NOT_FOUND, 'Nothing is served at HEAD /files/; HEAD names an upload: /files/<id>.');
    const concat = uploadConcat(req.header('upload-concat'));
    const length = creationLength(req.header('upload-length'), req.header('upload-defer-length'), concat.kind === 'final');
    const ownerId = ownerOf(res);
    const metadataHeader = req.header('upload-metadata');
    const withBytes = hasTusBody(req) && concat.kind !== 'final';
    // Refusable before anything is created: the checksum header and a body larger than the upload.
    const checksum = withBytes ? checksumOf(req) : {};
    const bodyBytes = withBytes ? bodyLength(req) : {};
    assertChecksumAlgorithm(checksum.checksum?.algorithm);
    if (length !== null && bodyBytes.contentLength !== undefined && bodyBytes.contentLength > length) {
      throw new PayloadTooLargeError(bodyBytes.contentLength, length);
    }
    const upload = await deps.createTusUpload.execute({ ownerId, length, concat, ...(metadataHeader !== undefined ? { metadataHeader } : {}) });
    if (withBytes) {
      // creation-with-upload: the body is the upload's first PATCH; if it is refused, so is the creation.
      const written = await deps
        .writeTusBytes.execute({ ownerId, uploadId: upload.id, offset: 0, body: req, ...bodyBytes, ...checksum, onAccepted: () => sendContinue(req, res) })
        .catch(async (error: unknown) => {
          const withdrawn = await deps.createTusUpload.withdraw(upload.id).catch(() => false);
          if (!withdrawn) await deps.abortUpload.execute(ownerId, upload.id).catch(() => undefined);
          throw error;
        });
      res.setHeader('Upload-Offset', String(written.offset));
      setExpires(res, written.upload);
    } else {
      setExpires(res, upload);
    }
    res.setHeader('Location', `${baseUrl(req, deps.publicUrl)}/files/${upload.id}`);
    res.status(201).end();
  });

  const head = async (req: Request, res: Response): Promise<void> => {
    const status = await deps.tusStatus.execute(ownerOf(res), parseUploadId(req.params.id));
    const { upload, record } = status;
    res.setHeader('Cache-Control', 'no-store');
    if (status.offset !== null) res.setHeader('Upload-Offset', String(status.offset));
    if (status.length !== null) res.setHeader('Upload-Length', String(status.length));
    else if (record.concat !== 'final') res.setHeader('Upload-Defer-Length', '1');
    if (record.metadataHeader !== null) res.setHeader('Upload-Metadata', record.metadataHeader);
    if (record.concat === 'partial') res.setHeader('Upload-Concat', 'partial');
    if (record.concat === 'final') res.setHeader('Upload-Concat', `final;${record.parts.map((id) => `/files/${id}`).join(' ')}`);
    setExpires(res, upload);
    res.status(200).end();
  };
  router.head('/:id', head);
  router.post('/:id', async (req, res, next) => (res.locals.headOverPost ? head(req, res) : next()));

  router.patch('/:id', async (req, res) => {
    const uploadId = parseUploadId(req.params.id);
    if (!hasTusBody(req)) {
      throw new HttpProblem(HTTP_PROBLEMS.UNSUPPORTED_MEDIA_TYPE, `A PATCH carries "Content-Type: ${TUS_CONTENT_TYPE}".`);
    }
    const offset = byteCount('Upload-Offset', req.header('upload-offset'));
    if (offset === undefined) throw new HttpProblem('validation-failed', 'A PATCH needs Upload-Offset: the offset HEAD reported.');
    const length = byteCount('Upload-Length', req.header('upload-length'));
    const written = await deps.writeTusBytes.execute({
      ownerId: ownerOf(res),
      uploadId,
      offset,
      body: req,
      ...bodyLength(req),
      ...checksumOf(req),
      ...(length !== undefined ? { length } : {}),
      onAccepted: () => sendContinue(req, res),
    });
    res.setHeader('Upload-Offset', String(written.offset));
    setExpires(res, written.upload);
    res.status(204).end();
  });

  router.delete('/:id', async (req, res) => {
    await deps.abortUpload.execute(ownerOf(res), parseUploadId(req.params.id));
    res.status(204).end();
  });

  return router;
}

function hasTusBody(req: Request): boolean {
  return (req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() === TUS_CONTENT_TYPE;
}

function bodyLength(req: Request): { contentLength?: number } {
  const length = declaredLength(req.headers['content-length']);
  return length === undefined ? {} : { contentLength: length };
}

function checksumOf(req: Request): { checksum?: { algorithm: string; digest: Buffer } } {
  const checksum = uploadChecksum(req.header('upload-checksum'));
  return checksum ? { checksum } : {};
}

/** `Upload-Expires` while the upload still takes bytes. */
function setExpires(res: Response, upload: UploadProps): void {
  if (RECEIVING_STATES.includes(upload.state)) res.setHeader('Upload-Expires', httpDate(upload.expiresAt));
}

function baseUrl(req: Request, publicUrl: string | null): string {
  return publicUrl ?? `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
