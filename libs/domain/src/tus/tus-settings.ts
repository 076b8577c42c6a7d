import { ChecksumAlgorithmUnsupportedError } from '../shared/errors';
import type { UploadSettings } from '../use-cases/upload-settings';

export interface TusSettings extends UploadSettings {
  /** A PATCH holds its upload's lock for this long between renewals; a crashed writer's lock lapses after it, ms. */
  lockLeaseMs: number;
}

/** Checksum algorithms of the tus checksum extension that this server verifies. */
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256'] as const;
export type TusChecksumAlgorithm = (typeof TUS_CHECKSUM_ALGORITHMS)[number];

/** Refuses an `Upload-Checksum` algorithm this server does not verify, before any byte is read. */
export function assertChecksumAlgorithm(algorithm: string | undefined): void {
  if (algorithm !== undefined && !TUS_CHECKSUM_ALGORITHMS.includes(algorithm as TusChecksumAlgorithm)) {
    throw new ChecksumAlgorithmUnsupportedError(algorithm, TUS_CHECKSUM_ALGORITHMS);
  }
}
