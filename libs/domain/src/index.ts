export { DomainError, ERROR_CODES, isDomainError, type ErrorCode } from './shared/domain-error';
export {
  NotFoundError,
  ValidationError,
  PayloadTooLargeError,
  ChunkAlreadyReceivedError,
  ChunkIndexOutOfRangeError,
  ChunkLengthMismatchError,
  ChunkIncompleteError,
  UploadNotReceivingError,
  UploadExpiredError,
  TooManyUploadsError,
  BodyTimeoutError,
  UploadNotCompletedError,
  UnauthorizedError,
  ServiceUnavailableError,
  OffsetMismatchError,
  UploadLockedError,
  ChecksumMismatchError,
  ChecksumAlgorithmUnsupportedError,
  FinalUploadNotWritableError,
  type ValidationIssue,
} from './shared/errors';
export { isUuid, EMPTY_SHA256 } from './shared/ids';
export { digestStream } from './shared/hashing';

export { UPLOAD_STATES, UPLOAD_PROTOCOLS, type UploadState, type UploadProtocol, type ChunkState, type UploadProps, type StoredChunk } from './upload/upload.types';
export { chunkCountFor, expectedChunkLength, progressPercent } from './upload/chunk-math';
export { canTransition, newUpload, isVisibleTo, assertReceiving, assertCompleted, RECEIVING_STATES, HIDDEN_STATES, type NewUpload } from './upload/upload.entity';
export {
  KiB,
  MiB,
  GiB,
  MIN_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_COUNT,
  sanitizeFilename,
  filenameSchema,
  contentTypeSchema,
  sha256HexSchema,
  metadataSchema,
  createUploadBodySchema,
  listUploadsQuerySchema,
  uploadViewSchema,
  type CreateUploadBody,
  type ListUploadsQuery,
  type UploadView,
} from './upload/upload.schemas';
export { toUploadView } from './upload/upload.view';

export { uploadEventSchema, REJECTION_REASONS, FAILURE_REASONS, type UploadEvent, type UploadEventType, type UploadEventOf, type RejectionReason, type FailureReason } from './events/upload-event';
export { progressEvent, terminalEvent } from './events/event-factory';
export { QUEUES, storeChunkJobSchema, finalizeJobSchema, type StoreChunkJob, type FinalizeJob } from './jobs/jobs';
export { commonEnvSchema, authEnvSchema, jobEnvSchema, parseEnv, loadConfigOrExit, ConfigError, toCommonConfig, toJobConfig, toAuthConfig, type CommonConfig, type JobConfig, type AuthConfig } from './config/config.schemas';
export { blobStoreEnvSchema, toBlobStoreConfig, type BlobStoreConfig } from './config/config.schemas';

export type * from './ports';

export type { UploadSettings } from './use-cases/upload-settings';
export { ChunkIntake, type IntakeRequest } from './use-cases/chunk-intake';
export { ChunkSplitter } from './use-cases/chunk-splitter';
export { CreateUpload } from './use-cases/create-upload.use-case';
export { AcceptChunk, type AcceptChunkInput } from './use-cases/accept-chunk.use-case';
export { ReceiveFileStream, type ReceiveFileStreamInput } from './use-cases/receive-file-stream.use-case';
export { StoreChunk, StagingLostError, type StoreChunkResult } from './use-cases/store-chunk.use-case';
export { FinalizeUpload, type FinalizeResult } from './use-cases/finalize-upload.use-case';
export { GetUpload, ListUploads } from './use-cases/query-uploads.use-case';
export { AbortUpload } from './use-cases/abort-upload.use-case';
export { SweepUploads, type SweepReport, type SweepSettings } from './use-cases/sweep-uploads.use-case';
export { ReadContent, type Content } from './use-cases/read-content.use-case';

export { ConcatenateFinals } from './tus/concatenate-finals.use-case';
export { CreateTusUpload, type CreateTusUploadInput, type TusConcatRequest } from './tus/create-tus-upload.use-case';
export { TusStatus, durableOffset, type TusStatusView } from './tus/tus-status.use-case';
export { WriteTusBytes, type WriteTusBytesInput, type TusWriteResult } from './tus/write-tus-bytes.use-case';
export { parseTusMetadata, type TusMetadata } from './tus/tus-metadata';
export { TUS_CHECKSUM_ALGORITHMS, assertChecksumAlgorithm, type TusChecksumAlgorithm, type TusSettings } from './tus/tus-settings';
