// Test doubles and contract suites for the domain's ports. Test code only: production
// code never imports "@tessera/domain/testing".
export { RecordingChunkQueue, RecordingPublisher, FixedClock, SequentialIds } from './fakes/recording-doubles';
export { InMemoryUploadRepository } from './fakes/in-memory-upload-repository';
export { InMemoryBlobStore } from './fakes/in-memory-blob-store';
export { InMemoryTusRepository } from './fakes/in-memory-tus-repository';
export { describeUploadRepositoryContract } from './contracts/upload-repository.contract';
export { describeBlobStoreContract } from './contracts/blob-store.contract';
