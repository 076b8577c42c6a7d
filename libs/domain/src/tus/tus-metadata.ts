import { ValidationError } from '../shared/errors';
import { contentTypeSchema, filenameSchema, metadataSchema } from '../upload/upload.schemas';

export interface TusMetadata {
  /** Text values, as the upload's metadata; binary or over-long values are left out. */
  metadata: Record<string, string>;
  filename: string | null;
  contentType: string | null;
}

const KEY = /^[\x21-\x7e]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(value: string, key: string): string | null {
  if (!BASE64.test(value) || value.length % 4 !== 0) {
    throw new ValidationError(`Upload-Metadata: the value of "${key}" is not base64.`, [{ path: `Upload-Metadata.${key}`, message: 'not base64' }]);
  }
  try {
    return utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    return null;
  }
}

/**
 * Reads `Upload-Metadata` (comma-separated `key base64value` pairs, the value optional).
 * `filename` (or `name`) and `filetype` (or `type`) name the file, as tus-js-client and
 * Uppy send them. Values that are not text are kept only in the header echoed by HEAD.
 */
export function parseTusMetadata(header: string | undefined): TusMetadata {
  const entries = new Map<string, string>();
  const seen = new Set<string>();
  if (header !== undefined && header.trim() !== '') {
    for (const pair of header.split(',')) {
      const [key, value, ...rest] = pair.trim().split(' ');
      if (!key || !KEY.test(key) || rest.length > 0) {
        throw new ValidationError('Upload-Metadata must be comma-separated "key base64value" pairs with non-empty keys and no spaces inside a key or value.', [
          { path: 'Upload-Metadata', message: `bad pair "${pair.trim().slice(0, 80)}"` },
        ]);
      }
      if (seen.has(key)) throw new ValidationError(`Upload-Metadata names "${key}" twice.`, [{ path: `Upload-Metadata.${key}`, message: 'duplicate key' }]);
      seen.add(key);
      const text = value === undefined ? '' : decode(value, key);
      if (text !== null) entries.set(key, text);
    }
  }
  const kept = Object.fromEntries([...entries].filter(([key, text]) => metadataSchema.safeParse({ [key]: text }).success).slice(0, 32));
  const rawName = entries.get('filename') ?? entries.get('name');
  const name = rawName === undefined ? null : filenameSchema.safeParse(rawName);
  const type = contentTypeSchema.safeParse(entries.get('filetype') ?? entries.get('type'));
  return { metadata: kept, filename: name?.success ? name.data : null, contentType: type.success ? type.data : null };
}
