import { isUuid, ValidationError } from '@tessera/domain';

/** Where a listing page ended: the (created_at, id) of its last upload. */
export interface ListPosition {
  createdAt: Date;
  id: string;
}

/** An opaque token for the page after `position`. */
export function encodeListCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString('base64url');
}

/** The position a cursor from `encodeListCursor` names; a ValidationError for anything else. */
export function decodeListCursor(cursor: string): ListPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string' && isUuid(parsed[1])) {
      const createdAt = new Date(parsed[0]);
      // Only the plain four-digit years this server writes; PostgreSQL refuses JavaScript's extended ones.
      const year = createdAt.getUTCFullYear();
      if (!Number.isNaN(createdAt.getTime()) && year >= 1 && year <= 9999) return { createdAt, id: parsed[1].toLowerCase() };
    }
  } catch {
    // Not base64url JSON: the same answer as any other cursor this server did not issue.
  }
  throw new ValidationError('cursor is not one this server issued', [{ path: 'cursor', message: 'pass back the nextCursor of a previous page, unchanged' }]);
}
