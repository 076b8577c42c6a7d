import { z } from 'zod';
import { UPLOAD_STATES } from './upload.types';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const MIN_CHUNK_SIZE = 64 * KiB;
export const MAX_CHUNK_SIZE = 64 * MiB;
export const DEFAULT_CHUNK_SIZE = 8 * MiB;
/**
 * Most chunks one upload may have. Every snapshot lists the missing indices, so this
 * bounds the work and memory one upload can cost (100 GiB at the default 8 MiB is 12,800).
 */
export const MAX_CHUNK_COUNT = 16_384;

// C0/C1 controls, and the bidirectional overrides that make `gpj.exe` display as `exe.jpg`.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * What is kept of a client's filename: control characters go, and so does anything up to
 * the last `/` or `\`, so a name can never address a path on any system.
 */
export function sanitizeFilename(raw: string): string {
  // NFC: the same name typed on macOS (decomposed) and elsewhere (composed) is one name.
  const noControls = raw.normalize('NFC').replace(CONTROL_CHARS, '');
  return noControls.slice(Math.max(noControls.lastIndexOf('/'), noControls.lastIndexOf('\\')) + 1).trim();
}

export const filenameSchema = z
  .string()
  .max(4096)
  .transform(sanitizeFilename)
  .pipe(z.string().min(1, 'filename is empty once path and control characters are removed').max(255));

/** A MIME type such as `video/mp4` or `text/plain; charset=utf-8`. */
export const contentTypeSchema = z
  .string()
  .max(255)
  .regex(/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[^\u0000-\u001f\u007f]*)?$/, 'not a MIME type like "application/octet-stream"');

export const sha256HexSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 is 64 hexadecimal characters')
  .transform((s) => s.toLowerCase());

// PostgreSQL's jsonb cannot hold U+0000, so it is refused up front rather than failing the insert.
const metadataText = (max: number) => z.string().max(max).refine((s) => !s.includes('\u0000'), 'must not contain the NUL character (U+0000)');

export const metadataSchema = z
  .record(metadataText(64).pipe(z.string().min(1)), metadataText(1024))
  .refine((m) => Object.keys(m).length <= 32, 'at most 32 metadata entries');

/** Body of `POST /v1/uploads`. */
export const createUploadBodySchema = z.strictObject({
  filename: filenameSchema,
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  contentType: contentTypeSchema.optional(),
  chunkSize: z.number().int().min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE).optional(),
  sha256: sha256HexSchema.optional(),
  metadata: metadataSchema.optional(),
});
export type CreateUploadBody = z.infer<typeof createUploadBodySchema>;

/** Query of `GET /v1/uploads`. */
export const listUploadsQuerySchema = z.object({
  state: z.enum(UPLOAD_STATES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
export type ListUploadsQuery = z.infer<typeof listUploadsQuerySchema>;

/** An upload as every API and the subscribe ack show it. */
export const uploadViewSchema = z.object({
  id: z.string(),
  filename: z.string(),
  size: z.number().nullable(),
  contentType: z.string(),
  chunkSize: z.number(),
  chunkCount: z.number().nullable(),
  state: z.enum(UPLOAD_STATES),
  protocol: z.string(),
  bytesReceived: z.number(),
  bytesStored: z.number(),
  chunksStored: z.number(),
  missing: z.array(z.number()),
  declaredSha256: z.string().optional(),
  sha256: z.string().optional(),
  metadata: z.record(z.string(), z.string()),
  seq: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  expiresAt: z.string(),
  completedAt: z.string().optional(),
});
export type UploadView = z.infer<typeof uploadViewSchema>;
