import { z } from 'zod';

/** Reasons a chunk is refused by the worker; the index may be sent again. */
export const REJECTION_REASONS = ['digest-mismatch', 'staging-lost'] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** Reasons an upload fails at finalize. */
export const FAILURE_REASONS = ['sha256-mismatch'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

const base = { uploadId: z.string(), seq: z.number().int().positive() };

export const uploadEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('chunk.stored'), ...base, index: z.number().int(), size: z.number().int(), sha256: z.string() }),
  z.object({ type: z.literal('chunk.rejected'), ...base, index: z.number().int(), reason: z.enum(REJECTION_REASONS) }),
  z.object({
    type: z.literal('upload.progress'),
    ...base,
    chunksStored: z.number().int(),
    chunkCount: z.number().int().nullable(),
    bytesStored: z.number().int(),
    size: z.number().int().nullable(),
    percent: z.number().int().min(0).max(100),
  }),
  z.object({ type: z.literal('upload.completed'), ...base, sha256: z.string(), size: z.number().int() }),
  z.object({ type: z.literal('upload.failed'), ...base, reason: z.enum(FAILURE_REASONS) }),
  z.object({ type: z.literal('upload.aborted'), ...base }),
  z.object({ type: z.literal('upload.expired'), ...base }),
]);

export type UploadEvent = z.infer<typeof uploadEventSchema>;
export type UploadEventType = UploadEvent['type'];
export type UploadEventOf<T extends UploadEventType> = Extract<UploadEvent, { type: T }>;
