export interface PartSpec {
  name: string;
  /** Present: a file part (even when empty); absent: a plain field. */
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** A multipart/form-data body (RFC 7578), closed with the final boundary unless told not to. */
export function multipartBody(boundary: string, parts: PartSpec[], options: { close?: boolean; newline?: string } = {}): Buffer {
  const nl = options.newline ?? '\r\n';
  const pieces: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const headers = [`Content-Disposition: ${disposition}`, ...(part.contentType ? [`Content-Type: ${part.contentType}`] : [])];
    pieces.push(Buffer.from(`--${boundary}${nl}${headers.join(nl)}${nl}${nl}`), part.data, Buffer.from(nl));
  }
  if (options.close ?? true) pieces.push(Buffer.from(`--${boundary}--${nl}`));
  return Buffer.concat(pieces);
}
