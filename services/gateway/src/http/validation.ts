import { isUuid, ValidationError } from '@tessera/domain';
import type { z } from 'zod';

/** Parses `input` with `schema`, or throws ValidationError naming every bad field. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message }));
  throw new ValidationError(`The ${what} is not valid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}.`, issues);
}

export function parseUploadId(raw: unknown): string {
  if (typeof raw !== 'string' || !isUuid(raw)) {
    throw new ValidationError('The upload id in the path is not a UUID.', [{ path: 'id', message: 'not a UUID' }]);
  }
  return raw.toLowerCase();
}

export function parseChunkIndex(raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d{1,9}$/.test(raw)) {
    throw new ValidationError('The chunk index in the path must be a whole number from 0.', [{ path: 'index', message: 'not a chunk index' }]);
  }
  return Number(raw);
}

/**
 * The SHA-256 from an RFC 9530 `Content-Digest` header (`sha-256=:<base64>:`), as hex.
 * Other algorithms are ignored; a malformed sha-256 member is refused.
 */
export function parseContentDigest(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const member = header
    .split(',')
    .map((m) => m.trim())
    .find((m) => m.toLowerCase().startsWith('sha-256='));
  if (!member) return undefined;
  const match = /^sha-256=:([A-Za-z0-9+/]{43}=):$/i.exec(member);
  if (!match?.[1]) {
    throw new ValidationError('Content-Digest has a malformed sha-256 member; expected sha-256=:<base64 of 32 bytes>:.', [
      { path: 'Content-Digest', message: 'malformed sha-256' },
    ]);
  }
  return Buffer.from(match[1], 'base64').toString('hex');
}

/** The declared body length, or undefined when the request has none. */
export function declaredLength(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header)) {
    throw new ValidationError('Content-Length is not a byte count.', [{ path: 'Content-Length', message: 'not a number' }]);
  }
  return Number(header);
}
