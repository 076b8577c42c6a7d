import type { UploadSettings } from '../use-cases/upload-settings';

export interface TusSettings extends UploadSettings {
  /** A PATCH holds its upload's lock for this long between renewals; a crashed writer's lock lapses after it, ms. */
  lockLeaseMs: number;
}

/** Checksum algorithms of the tus checksum extension that this server verifies. */
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256'] as const;
export type TusChecksumAlgorithm = (typeof TUS_CHECKSUM_ALGORITHMS)[number];
