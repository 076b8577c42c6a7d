import { isUuid, TUS_CHECKSUM_ALGORITHMS, ValidationError, type TusConcatRequest } from '@tessera/domain';

export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'creation-defer-length',
  'termination',
  'checksum',
  'expiration',
  'concatenation',
  'concatenation-unfinished',
];
export const TUS_CHECKSUM_HEADER_VALUE = TUS_CHECKSUM_ALGORITHMS.join(',');
export const TUS_CONTENT_TYPE = 'application/offset+octet-stream';

/** Request headers tus clients send and response headers they read: for CORS. */
export const TUS_REQUEST_HEADERS = ['Tus-Resumable', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Offset', 'Upload-Metadata', 'Upload-Concat', 'Upload-Checksum', 'X-HTTP-Method-Override', 'X-Requested-With'];
export const TUS_RESPONSE_HEADERS = ['Upload-Offset', 'Upload-Length', 'Upload-Defer-Length', 'Upload-Metadata', 'Upload-Expires', 'Upload-Concat', 'Tus-Resumable', 'Tus-Version', 'Tus-Extension', 'Tus-Max-Size', 'Tus-Checksum-Algorithm'];

function invalid(header: string, message: string): never {
  throw new ValidationError(`${header} ${message}.`, [{ path: header, message }]);
}

/** A non-negative byte count header, or undefined when absent. */
export function byteCount(header: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) invalid(header, 'must be a whole number of bytes');
  return Number(raw);
}

/** `Upload-Length` or `Upload-Defer-Length: 1` at creation: exactly one of them. */
export function creationLength(length: string | undefined, defer: string | undefined, isFinal: boolean): number | null {
  if (isFinal) {
    if (length !== undefined || defer !== undefined) invalid('Upload-Length', 'is not sent for a final upload: its length is the sum of its parts');
    return null;
  }
  if (defer !== undefined) {
    if (defer !== '1') invalid('Upload-Defer-Length', 'must be 1');
    if (length !== undefined) invalid('Upload-Length', 'cannot be sent with Upload-Defer-Length');
    return null;
  }
  const value = byteCount('Upload-Length', length);
  if (value === undefined) invalid('Upload-Length', 'is required (or Upload-Defer-Length: 1 when the length is not known yet)');
  return value;
}

/** `Upload-Checksum: <algorithm> <base64 digest>`. */
export function uploadChecksum(raw: string | undefined): { algorithm: string; digest: Buffer } | undefined {
  if (raw === undefined) return undefined;
  const match = /^\s*([A-Za-z0-9-]+) +([A-Za-z0-9+/]+={0,2})\s*$/.exec(raw);
  if (!match?.[1] || !match[2]) invalid('Upload-Checksum', 'must be "<algorithm> <base64 digest>"');
  return { algorithm: match[1].toLowerCase(), digest: Buffer.from(match[2], 'base64') };
}

/** An upload URL of this endpoint: `/files/<id>`, alone or after a scheme and host. */
const PART_URL = /^(?:https?:\/\/[^/\s]+)?\/files\/([0-9a-fA-F-]{36})\/?$/;

/** `Upload-Concat: partial` or `final;<url> <url> …` (space-separated `/files/<id>` paths or absolute URLs). */
export function uploadConcat(raw: string | undefined): TusConcatRequest {
  if (raw === undefined) return { kind: 'none' };
  const value = raw.trim();
  if (value === 'partial') return { kind: 'partial' };
  if (!value.startsWith('final;')) invalid('Upload-Concat', 'must be "partial" or "final;<url> <url> …"');
  const parts = value
    .slice('final;'.length)
    .trim()
    .split(/ +/)
    .filter(Boolean)
    .map((url) => {
      const id = PART_URL.exec(url)?.[1];
      if (!id || !isUuid(id)) invalid('Upload-Concat', `names "${url.slice(0, 120)}", which is not an upload URL of this endpoint (/files/<id>, space-separated)`);
      return id.toLowerCase();
    });
  return { kind: 'final', parts };
}

/** An HTTP date (RFC 9110 IMF-fixdate), as `Upload-Expires` carries it. */
export function httpDate(date: Date): string {
  return date.toUTCString();
}
