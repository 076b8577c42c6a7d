import { z } from 'zod';

/** Queue names, shared by the producer (gateway, worker) and the consumer (worker). */
export const QUEUES = { chunks: 'chunks', finalize: 'finalize', sweep: 'sweep' } as const;

/** Payload of a `chunks` job: one staged chunk to verify and commit. */
export const storeChunkJobSchema = z.strictObject({
  uploadId: z.string().uuid(),
  index: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
  /** Names this attempt's staging file, so a re-sent chunk never collides with an older job. */
  stagingToken: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  /** Hex SHA-256 of the staged bytes, computed while they were written. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Hex SHA-256 the client declared in `Content-Digest`, if any. */
  expectedSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
});
export type StoreChunkJob = z.infer<typeof storeChunkJobSchema>;

/** Payload of a `finalize` job (its job id is the upload id, so it runs once). */
export const finalizeJobSchema = z.strictObject({ uploadId: z.string().uuid() });
export type FinalizeJob = z.infer<typeof finalizeJobSchema>;
