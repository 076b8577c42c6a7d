import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import { isDomainError, PayloadTooLargeError, ValidationError } from '@tessera/domain';
import type { Request } from 'express';
import { HttpProblem, HTTP_PROBLEMS } from './problem';

export interface FilePart {
  stream: Readable;
  filename: string;
  mimeType: string;
}

export interface FilePartOptions {
  /** Only a file part with this field name counts; others are skipped. Any name when absent. */
  field?: string;
  /** Largest file accepted, bytes; a longer part fails with PayloadTooLargeError. */
  maxFileBytes: number;
}

/**
 * Resolves with the first (matching) file part of a multipart request as a stream, as soon
 * as its headers arrive; later parts are read and discarded. Rejects when the request is
 * not multipart, is malformed, or ends without such a part.
 */
export function firstFilePart(req: Request, options: FilePartOptions): Promise<FilePart> {
  let parser: busboy.Busboy;
  try {
    // preservePath: the filename reaches the domain's one sanitizing rule as sent; busboy's own
    // basename would also turn "." and ".." into "" and refuse names the JSON route keeps.
    parser = busboy({ headers: req.headers, preservePath: true, limits: { fileSize: options.maxFileBytes, fields: 50, fieldSize: 64 * 1024, parts: 100 }, highWaterMark: 1024 * 1024 });
  } catch {
    return Promise.reject(new HttpProblem(HTTP_PROBLEMS.UNSUPPORTED_MEDIA_TYPE, 'Send the file as multipart/form-data with a boundary.'));
  }
  const wanted = options.field ? `a file part named "${options.field}"` : 'a file part';
  return new Promise<FilePart>((resolve, reject) => {
    let found = false;
    parser.on('file', (name, stream, info) => {
      if (found || (options.field && name !== options.field)) {
        // A skipped part still fails when the body ends inside it; unheard, that failure
        // would crash the process.
        stream.on('error', () => {});
        stream.resume();
        return;
      }
      found = true;
      resolve({ stream: clientFacing(stream, options.maxFileBytes), filename: info.filename ?? '', mimeType: info.mimeType || 'application/octet-stream' });
    });
    parser.once('error', (error) => {
      if (!found) reject(new ValidationError(`The multipart body is malformed: ${(error as Error).message}.`));
    });
    parser.once('close', () => {
      if (!found) reject(new ValidationError(`The multipart body has no ${wanted}.`, [{ path: options.field ?? 'file', message: 'missing' }]));
    });
    req.pipe(parser);
  });
}

/**
 * The part's bytes, failing only with errors that name the client's mistake: busboy ends
 * a part quietly at its size limit (a silent truncation would look like a whole file) and
 * fails a cut-off body with a bare Error, which would otherwise read as a server fault.
 */
function clientFacing(part: Readable, maxFileBytes: number): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  // The consumer starts reading only after a few database round trips; a body cut off
  // meanwhile fails `out` first, and an 'error' nobody listens to would crash the gateway.
  // The failure stays on the stream (`errored`), so the consumer still meets it.
  out.on('error', () => {});
  part.once('limit', () => out.destroy(new PayloadTooLargeError(maxFileBytes + 1, maxFileBytes)));
  part.once('error', (error) => {
    out.destroy(isDomainError(error) ? error : new ValidationError(`The multipart body ended early or is malformed: ${error.message}.`));
  });
  // Once the consumer has failed, the rest of the part is read and dropped.
  out.once('close', () => part.resume());
  part.pipe(out);
  return out;
}
